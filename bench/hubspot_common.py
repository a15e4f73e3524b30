"""What the HubSpot connector's benchmarks share: the emulator as a subprocess, a connector
configured for it, the machine's description, and writing a section of docs/benchmarks.md.

The emulator runs in its own process so that the connector's event loop has a core to itself,
as it would beside a real HubSpot.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import platform
import re
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from connector.base import ConnectorContext
from connector.hubspot import HubspotConnector
from connector.hubspot.configuration import HubspotConfiguration

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"


@contextlib.asynccontextmanager
async def running_emulator(flags: list[str]) -> AsyncIterator[dict[str, Any]]:
    """Start `hubspot-rcs-emulator` with `flags`; yield what its ready file says."""
    with tempfile.TemporaryDirectory() as directory:
        ready = Path(directory) / "ready.json"
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "emulator.cli",
            "--port",
            "0",
            "--ready-file",
            str(ready),
            *flags,
            stdout=asyncio.subprocess.DEVNULL,
        )
        try:
            for _ in range(2400):
                if ready.exists() and ready.stat().st_size > 0:
                    break
                if process.returncode is not None:
                    raise RuntimeError("the emulator exited")
                await asyncio.sleep(0.05)
            else:
                raise RuntimeError("the emulator did not start")
            yield json.loads(ready.read_text()) | {"pid": process.pid}
        finally:
            process.terminate()
            await process.wait()


def cpu_seconds(pid: int) -> float:
    """CPU time (user and system) a running process has used so far (Linux's /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def configuration_properties(info: dict[str, Any], **overrides: str) -> dict[str, Any]:
    return {
        "clientId": info["client_id"],
        "clientSecret": info["client_secret"],
        "refreshToken": info["refresh_token"],
        "apiBaseUrl": info["base_url"],
        **overrides,
    }


async def connector_for(info: dict[str, Any], **overrides: str) -> HubspotConnector:
    """An initialised connector for the emulator described by `info`."""
    config = HubspotConfiguration.from_properties(configuration_properties(info, **overrides))
    context = ConnectorContext(configuration=config, configuration_name="bench")
    shared = await HubspotConnector.open_shared(context)
    connector = HubspotConnector(context, shared)
    await connector.init()
    return connector


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return (
        f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}"
    )


def write_section(name: str, text: str, doc_path: Path = DOC) -> None:
    """Replace the text between `<!-- bench:name -->` and `<!-- /bench:name -->`."""
    begin, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    doc = doc_path.read_text()
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.DOTALL)
    if not pattern.search(doc):
        raise RuntimeError(f"{doc_path.name} has no {begin} section")
    doc_path.write_text(pattern.sub(lambda _: f"{begin}\n{text}\n{end}", doc))
