"""Defect 2: the in-memory connector is hosted only when the server's settings say so, and no
work a peer asks of it holds the event loop. `hubspot-rcs serve` as a process, on a conf
directory of the test's own."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path

from client.connection import RcsClient
from protocol.configuration import InlineConfiguration
from tests.conftest import KEY, KEY_HASH, MEMORY_KEY, command
from tests.server.test_cli import next_event, serve


def write_conf(conf: Path, *, enabled: bool, provisioner: bool) -> None:
    lines = ["connectorserver.port=0", f"connectorserver.key={KEY_HASH}"]
    if enabled:
        lines.append("connectorserver.memoryConnectorEnabled=true")
    (conf / "ConnectorServer.properties").write_text("\n".join(lines) + "\n")
    if provisioner:
        document = {"connectorRef": MEMORY_KEY.model_dump(), "configurationProperties": {}}
        (conf / "provisioner.openicf-memory.json").write_text(json.dumps(document))


def test_a_server_not_told_to_host_it_refuses_a_configuration_using_it(tmp_path: Path) -> None:
    write_conf(tmp_path, enabled=False, provisioner=True)
    result = subprocess.run(
        [*command("hubspot-rcs"), "serve", "--conf", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "memoryConnectorEnabled=true" in result.stderr
    assert "'memory'" in result.stderr


async def serving(conf: Path) -> tuple[subprocess.Popen[str], str]:
    process = serve(conf)
    port = (await asyncio.to_thread(next_event, process, "server.listening"))["port"]
    return process, f"ws://127.0.0.1:{port}/openicf"


async def test_a_server_not_told_to_host_it_does_not_offer_it(tmp_path: Path) -> None:
    write_conf(tmp_path, enabled=False, provisioner=False)
    process, url = await serving(tmp_path)
    try:
        async with await RcsClient.connect(url, KEY) as client:
            assert MEMORY_KEY not in [c.connectorKey for c in await client.connectors()]
    finally:
        process.terminate()
        process.wait(timeout=30)


async def livez(url: str) -> bytes:
    port = int(url.split(":")[2].split("/")[0])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /livez HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    answer = await reader.read()
    writer.close()
    return answer


async def test_livez_answers_while_a_peer_makes_it_seed_its_largest_store(tmp_path: Path) -> None:
    """A peer asks for the largest seed the connector allows, inline: the server answers its
    health probe while the objects are being made, not after."""
    write_conf(tmp_path, enabled=True, provisioner=False)
    process, url = await serving(tmp_path)
    try:
        async with await RcsClient.connect(url, KEY) as client:
            largest = InlineConfiguration.model_validate(
                {"configurationProperties": {"seed": 100_000}}
            )
            finished: list[str] = []

            async def seeded() -> None:
                await client.facade_for(MEMORY_KEY, largest).test()
                finished.append("test")

            async def probed() -> None:
                assert (await livez(url)).startswith(b"HTTP/1.1 200")
                finished.append("livez")

            seeding = asyncio.create_task(seeded())
            await asyncio.sleep(0.2)  # the test frame is on its way; the seeding begins
            await asyncio.gather(probed(), seeding)
            assert finished == ["livez", "test"]
    finally:
        process.terminate()
        process.wait(timeout=30)
