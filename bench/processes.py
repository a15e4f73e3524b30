"""The server as users run it: `hubspot-rcs serve` in its own process, with a conf directory of
its own (a temporary one) holding one HubSpot configuration for a running emulator; and the
benchmark's client side run in another process.

The benchmark process only orchestrates: emulator, server and client each have their own
interpreter (and event loop), as in a deployment.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.hubspot_common import configuration_properties
from connector.hubspot import HubspotConnector
from server.keyhash import hash_key

KEY = "bench-key"


@dataclass(frozen=True)
class Server:
    url: str
    pid: int


@contextlib.asynccontextmanager
async def running_server(info: dict[str, Any], **overrides: str) -> AsyncIterator[Server]:
    """`hubspot-rcs serve` for the emulator `info` describes; yields its URL and process id."""
    with tempfile.TemporaryDirectory() as directory:
        conf = Path(directory)
        (conf / "ConnectorServer.properties").write_text(
            f"connectorserver.port=0\nconnectorserver.key={hash_key(KEY)}\n"
        )
        provisioner = {
            "connectorRef": HubspotConnector.connector_key.model_dump(),
            "configurationProperties": configuration_properties(info, **overrides),
            "poolConfigOption": {"maxObjects": 20, "maxIdle": 20},
        }
        (conf / "provisioner.openicf-hubspot.json").write_text(json.dumps(provisioner))
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "server.cli",
            "serve",
            "--conf",
            str(conf),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            env=os.environ | {"RCS_LOG_FORMAT": "json"},
        )
        assert process.stdout is not None
        drain: asyncio.Task[None] | None = None
        try:
            port = None
            async for line in process.stdout:
                event = json.loads(line)
                if event.get("event") == "server.listening":
                    port = event["port"]
                    break
            if port is None:
                raise RuntimeError("the server exited before it listened")
            drain = asyncio.create_task(_discard(process.stdout))
            yield Server(f"ws://127.0.0.1:{port}/openicf", process.pid)
        finally:
            process.terminate()
            await process.wait()
            if drain is not None:
                drain.cancel()


async def _discard(stream: asyncio.StreamReader) -> None:
    """Read the server's log so that a full pipe never blocks it."""
    while await stream.read(65536):
        pass


async def run_python(module: str, *args: str) -> dict[str, Any]:
    """Run `python -m module args` (a benchmark's client side); its last stdout line is JSON."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        module,
        *args,
        stdout=asyncio.subprocess.PIPE,
        env=os.environ | {"RCS_KEY": KEY},
    )
    out, _ = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"{module} {' '.join(args)} exited with {process.returncode}")
    result: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    return result
