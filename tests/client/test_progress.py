"""`hubspot-rcs-client search` shows its progress on a terminal, and nothing elsewhere."""

from __future__ import annotations

import asyncio
import io
import itertools
import json
import os
from collections.abc import AsyncIterator

import pytest

from client.progress import Progress
from connector.hubspot import HubspotConnector
from connector.registry import ConnectorRegistry
from emulator import EmulatorSettings, run_emulator
from protocol.configuration import InlineConfiguration
from server.app import ConnectorServer, HostedConfiguration
from tests.conftest import KEY, command, properties_for, settings


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_line_and_summary(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = itertools.count()  # one second per reading
    monkeypatch.setattr("client.progress.time.monotonic", lambda: float(next(clock)))
    terminal = Terminal()
    progress = Progress(terminal)
    progress.update(1500, scanned=6000)
    progress.update(1800)
    progress.done(2000, scanned=6000)
    assert terminal.getvalue() == (
        "\r1,500 objects (1,500/s), 6,000 scanned\x1b[K"
        "\r1,800 objects (900/s)\x1b[K"
        "\r\x1b[K2,000 objects in 3.0 s (667/s), 6,000 scanned\n"
    )
    quiet = io.StringIO()
    Progress(quiet).update(10)
    Progress(quiet).done(10)
    assert quiet.getvalue() == ""


@pytest.fixture
async def server_url() -> AsyncIterator[str]:
    emulator = EmulatorSettings(contacts=300, companies=2, seed=5, rate_limits_enabled=False)
    async with run_emulator(emulator) as emu:
        configuration = InlineConfiguration.model_validate(
            {"configurationProperties": properties_for(emu)}
        )
        hosted = HostedConfiguration(
            name="hubspot",
            connector_ref=HubspotConnector.connector_key,
            configuration=configuration,
        )
        registry = ConnectorRegistry([HubspotConnector])
        async with ConnectorServer(settings(), registry, {"hubspot": hosted}) as server:
            yield server.url


async def search(url: str, *, terminal: bool) -> tuple[list[str], str]:
    """The CLI's stdout lines, and what it wrote to stderr (a pseudo-terminal, or a pipe)."""
    args = [
        *command("hubspot-rcs-client"), "--url", url, "--key", KEY, "search", "hubspot",
        "contact", "--query-filter", '!(firstname sw "A")',
    ]  # fmt: skip
    if terminal:
        primary, secondary = os.openpty()
        process = await asyncio.create_subprocess_exec(
            *args, stdout=asyncio.subprocess.PIPE, stderr=secondary
        )
        os.close(secondary)
        out, _ = await process.communicate()
        shown = b""
        while True:
            try:
                chunk = os.read(primary, 65536)
            except OSError:  # the terminal's other end is closed and drained
                break
            if not chunk:
                break
            shown += chunk
        os.close(primary)
        err = shown
    else:
        process = await asyncio.create_subprocess_exec(
            *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        out, err = await process.communicate()
    assert process.returncode == 0, err
    return out.decode().splitlines(), err.decode()


async def test_a_terminal_gets_a_summary_with_the_objects_scanned(server_url: str) -> None:
    lines, shown = await search(server_url, terminal=True)
    objects = [json.loads(line) for line in lines[:-1]]
    assert 0 < len(objects) < 300
    # A filter HubSpot cannot apply: the connector reads every contact and filters them.
    summary = shown.replace("\r\n", "\n").split("\r")[-1]
    assert summary.startswith(f"\x1b[K{len(objects)} objects in ")
    assert summary.rstrip().endswith("/s), 300 scanned")


async def test_a_pipe_gets_nothing_but_the_results(server_url: str) -> None:
    lines, err = await search(server_url, terminal=False)
    assert 1 < len(lines) < 301
    assert "totalPagedResults" in json.loads(lines[-1])["searchResult"]  # it closes the output
    assert err == ""
