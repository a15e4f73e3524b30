"""Shared fixtures: a real connector server on 127.0.0.1 port 0, and clients of it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog

from client.connection import RcsClient
from connector.memory import MemoryConnector
from connector.registry import ConnectorRegistry
from protocol.configuration import InlineConfiguration
from server import keyhash
from server.app import ConnectorServer, HostedConfiguration
from server.settings import ServerSettings

KEY = "s3cret-key"
KEY_HASH = keyhash.hash_key(KEY)
MEMORY_KEY = MemoryConnector.connector_key


def command(name: str) -> list[str]:
    """How to run one of the project's commands: its script beside this Python, or `-m`."""
    script = Path(sys.executable).parent / name
    if script.exists():
        return [str(script)]
    module = {"hubspot-rcs": "server.cli", "hubspot-rcs-client": "client.cli"}[name]
    return [sys.executable, "-m", module]


def serve(conf: Path) -> tuple[subprocess.Popen[str], str]:
    """`hubspot-rcs serve --conf conf` as a process (its conf listens on port 0), and its URL
    once it listens; the caller kills it."""
    env = os.environ | {"RCS_LOG_FORMAT": "json", "RCS_AUTH_FAILURE_DELAY_S": "0"}
    process = subprocess.Popen(
        [*command("hubspot-rcs"), "serve", "--conf", str(conf)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert process.stdout is not None
    port = None
    for line in process.stdout:
        event = json.loads(line)
        if event["event"] == "server.listening":
            port = event["port"]
            break
    assert port, process.stderr.read() if process.stderr else "no output"
    return process, f"ws://127.0.0.1:{port}/openicf"


def settings(**overrides: Any) -> ServerSettings:
    """Settings for a test server: loopback, port 0, no auth slow-down, no pings."""
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": 0,
        "key_hash": KEY_HASH,
        "auth_failure_delay_s": 0.0,
        "auth_failure_delay_max_s": 0.0,
        "ping_interval_s": None,
        "ping_timeout_s": None,
    }
    values.update(overrides)
    return ServerSettings(**values)


def memory_configuration(
    pool: dict[str, int] | None = None,
    timeouts: dict[str, int] | None = None,
    **properties: Any,
) -> InlineConfiguration:
    return InlineConfiguration.model_validate(
        {
            "configurationProperties": properties,
            "poolConfigOption": pool or {},
            "operationTimeout": timeouts or {},
        }
    )


def hosted(name: str, configuration: InlineConfiguration) -> HostedConfiguration:
    return HostedConfiguration(name=name, connector_ref=MEMORY_KEY, configuration=configuration)


def registry() -> ConnectorRegistry:
    return ConnectorRegistry([MemoryConnector])


@pytest.fixture(autouse=True)
def _fresh_structlog() -> Iterator[None]:
    """Tests capture logs; a logger cached by another test would bypass the capture."""
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()
    yield
    structlog.reset_defaults()


@pytest.fixture
def configurations() -> dict[str, HostedConfiguration]:
    """The named configurations of the `rcs` fixture; override it to change them."""
    return {
        "memory": hosted("memory", memory_configuration(seed=25, pageSize=10)),
        "slow": hosted("slow", memory_configuration(blockOn=["SEARCH", "TEST"])),
    }


@pytest.fixture
def server_settings() -> ServerSettings:
    return settings()


@pytest.fixture
async def rcs(
    server_settings: ServerSettings, configurations: dict[str, HostedConfiguration]
) -> AsyncIterator[ConnectorServer]:
    async with ConnectorServer(server_settings, registry(), configurations) as server:
        yield server


@pytest.fixture
async def client(rcs: ConnectorServer) -> AsyncIterator[RcsClient]:
    async with await RcsClient.connect(rcs.url, KEY) as connected:
        yield connected
