"""Shared fixtures: a real connector server on 127.0.0.1 port 0, and clients of it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
from prometheus_client import CollectorRegistry

from client.connection import RcsClient
from connector.base import ConnectorContext, PersistProperty
from connector.hubspot import HubspotConnector
from connector.hubspot.configuration import HubspotConfiguration
from connector.memory import MemoryConnector
from connector.registry import ConnectorRegistry
from emulator import Emulator, EmulatorSettings, run_emulator
from protocol.configuration import InlineConfiguration
from protocol.values import GuardedString
from server import keyhash
from server.app import ConnectorServer, HostedConfiguration
from server.settings import ServerSettings
from tests.faulty_connector import FaultyConnector

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
    """The tests' connectors: the in-memory one with fault injection (tests/faulty_connector.py),
    under the memory connector's key."""
    return ConnectorRegistry([FaultyConnector])


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


# -- the HubSpot emulator: one way to start it in a test, one fixture ----------------------------

MakeConnector = Callable[..., Awaitable[HubspotConnector]]


@pytest.fixture
def emulator_settings() -> EmulatorSettings:
    """Seeded data; HubSpot's rate limits off unless a test turns them on. A module or a
    test (`@pytest.mark.parametrize("emulator_settings", [...])`) overrides it."""
    return EmulatorSettings(contacts=60, companies=12, seed=11, rate_limits_enabled=False)


@pytest.fixture
async def emu(emulator_settings: EmulatorSettings) -> AsyncIterator[Emulator]:
    """A real emulator on 127.0.0.1 port 0, in this test's event loop."""
    async with run_emulator(emulator_settings) as running:
        yield running


def properties_for(emu: Emulator, **overrides: Any) -> dict[str, Any]:
    """configurationProperties as an IDM provisioner file writes them (strings included)."""
    properties: dict[str, Any] = {
        "clientId": emu.client_id,
        "clientSecret": emu.client_secret,
        "refreshToken": emu.refresh_token,
        "apiBaseUrl": emu.base_url,
        "permitsPerSecond": "1000",
        "searchRequestsPerSecond": "1000",
        "requestTimeoutSeconds": "10",
    }
    properties.update(overrides)
    return properties


@pytest.fixture
async def make_connector(emu: Emulator) -> AsyncIterator[MakeConnector]:
    """Build initialised HubSpot connectors for `emu`; each gets its own shared resources,
    closed at the end."""
    opened: list[HubspotConnector] = []

    async def make(
        *,
        scripting_enabled: bool = False,
        persisted: dict[str, GuardedString] | None = None,
        persist_property: PersistProperty | None = None,
        metrics: CollectorRegistry | None = None,
        **overrides: Any,
    ) -> HubspotConnector:
        config = HubspotConfiguration.from_properties(properties_for(emu, **overrides))

        async def persist(name: str, value: GuardedString) -> None:
            if persisted is not None:
                persisted[name] = value

        context = ConnectorContext(
            configuration=config,
            configuration_name="hubspot",
            scripting_enabled=scripting_enabled,
            persist_property=persist_property or persist,
            metrics=metrics,
        )
        shared = await HubspotConnector.open_shared(context)
        connector = HubspotConnector(context, shared)
        await connector.init()
        opened.append(connector)
        return connector

    yield make
    for connector in opened:
        await connector.shared.aclose()
