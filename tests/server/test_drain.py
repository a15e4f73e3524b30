"""SIGTERM on a real `hubspot-rcs serve`: health through start, ready and drain; a long
search either streams to its end or ends with a clean error; the process exits 0."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest

from client.connection import Facade, RcsClient
from connector.memory import MemoryStore
from protocol.errors import ConnectionFailedException, RetryableException
from server.app import ConnectorServer
from tests.conftest import KEY, KEY_HASH, MEMORY_KEY, hosted, memory_configuration, registry
from tests.conftest import settings as server_settings_with
from tests.server.test_cli import health, next_event, serve
from tests.server.test_metrics import samples, value

BIG = 200_000
"""Objects in the long search: far more than the socket buffers between server and client
hold, so while the client does not read, the search cannot finish."""


def write_conf(conf: Path, drain_timeout_s: float) -> None:
    (conf / "ConnectorServer.properties").write_text(
        "connectorserver.port=0\n"
        f"connectorserver.key={KEY_HASH}\n"
        f"connectorserver.drainTimeoutSeconds={drain_timeout_s}\n"
        "connectorserver.memoryConnectorEnabled=true\n"
    )
    for name, properties in (
        ("big", {"virtualObjects": BIG, "pageSize": 100}),
        # A search that never ends by itself: a minute before its first page.
        ("stuck", {"virtualObjects": 10, "pageDelayMs": 60_000}),
    ):
        provisioner = {
            "connectorRef": MEMORY_KEY.model_dump(),
            "configurationProperties": properties,
        }
        (conf / f"provisioner.openicf-{name}.json").write_text(json.dumps(provisioner))


async def event(process: subprocess.Popen[str], name: str) -> dict[str, Any]:
    return await asyncio.to_thread(next_event, process, name)


async def probe(conf: Path, port: int, *options: str) -> int:
    return (await asyncio.to_thread(health, conf, port, *options)).returncode


async def start_blocked_search(client: RcsClient) -> asyncio.Task[int]:
    """A search on `stuck`, running on the server once this returns."""
    stuck = await client.facade("stuck")

    async def read() -> int:
        async with stuck.search("contact") as results:
            return len([o async for o in results])

    searching = asyncio.create_task(read())
    # Frames are read in order: once this answer is back, the search is running.
    await client.connectors()
    return searching


async def test_sigterm_lets_a_long_search_stream_to_its_end(tmp_path: Path) -> None:
    write_conf(tmp_path, drain_timeout_s=120)
    process = serve(tmp_path)
    try:
        port = (await event(process, "server.listening"))["port"]
        url = f"ws://127.0.0.1:{port}/openicf"
        async with (
            await RcsClient.connect(url, KEY) as client,
            await RcsClient.connect(url, KEY) as idle,  # open before the drain, then idle
        ):
            big: Facade = await client.facade("big")
            async with big.search("contact") as results:
                first = await anext(aiter(results))
                process.send_signal(signal.SIGTERM)
                assert (await event(process, "server.draining"))["operations"] == 1

                # Draining: not ready, still alive; new work refused, with reasons.
                assert await probe(tmp_path, port, "--ready") == 1
                assert await probe(tmp_path, port) == 0
                with pytest.raises(ConnectionFailedException, match="HTTP 503"):
                    await RcsClient.connect(url, KEY)
                # (Not on `client`: its reader waits for us to take the search's frames.)
                with pytest.raises(RetryableException, match="shutting down"):
                    await (await idle.facade("big")).get("contact", "1")

                rest = [o async for o in results]
            assert first.uid.value == "1" and len(rest) == BIG - 1
            await client.ws.wait_closed()
            assert client.ws.close_code == 1001
        assert process.wait(timeout=60) == 0
        assert process.stdout is not None
        lines = [json.loads(line) for line in process.stdout]
    finally:
        process.kill()
        process.wait()
    search = next(e for e in lines if e["event"] == "operation" and e["operation"] == "SEARCH")
    assert search["outcome"] == "ok" and search["objects"] == BIG
    assert [e["event"] for e in lines][-1] == "server.stopped"


async def test_sigterm_stops_what_outlasts_the_drain_with_a_clean_error(tmp_path: Path) -> None:
    write_conf(tmp_path, drain_timeout_s=0.5)
    process = serve(tmp_path)
    try:
        # Starting: the probes fail cleanly until the server listens, then pass.
        listening = asyncio.create_task(event(process, "server.listening"))
        while not listening.done():
            assert await probe(tmp_path, 1, "--ready") == 1  # nothing listens on port 1
            await asyncio.sleep(0.05)
        port = listening.result()["port"]
        assert await probe(tmp_path, port, "--ready") == 0
        assert await probe(tmp_path, port) == 0

        async with await RcsClient.connect(f"ws://127.0.0.1:{port}/openicf", KEY) as client:
            searching = await start_blocked_search(client)
            process.send_signal(signal.SIGTERM)
            assert (await event(process, "server.draining"))["operations"] == 1
            with pytest.raises(RetryableException, match="shutting down"):
                await searching
        assert (await event(process, "operation"))["outcome"] == "stopped"
        assert process.wait(timeout=60) == 0
    finally:
        process.kill()
        process.wait()
    assert await probe(tmp_path, port) == 1  # gone


async def test_a_second_signal_stops_the_drain_at_once(tmp_path: Path) -> None:
    write_conf(tmp_path, drain_timeout_s=3600)
    process = serve(tmp_path)
    try:
        port = (await event(process, "server.listening"))["port"]
        async with await RcsClient.connect(f"ws://127.0.0.1:{port}/openicf", KEY) as client:
            searching = await start_blocked_search(client)
            process.send_signal(signal.SIGTERM)
            await event(process, "server.draining")
            process.send_signal(signal.SIGINT)  # Ctrl-C again: stop waiting for the hour
            with pytest.raises(RetryableException, match="shutting down"):
                await searching
        assert process.wait(timeout=60) == 0
    finally:
        process.kill()
        process.wait()


async def test_a_drain_without_time_stops_running_work_at_once() -> None:
    configurations = {"stuck": hosted("stuck", memory_configuration(blockOn=["SEARCH"]))}
    server = ConnectorServer(server_settings_with(drain_timeout_s=0), registry(), configurations)
    await server.start()
    client = await RcsClient.connect(server.url, KEY)
    searching = await start_blocked_search(client)
    [pool] = list(server.pools)
    draining = asyncio.create_task(server.drain())
    with pytest.raises(RetryableException, match="shutting down"):
        await searching
    await draining
    assert pool.closed and isinstance(pool.shared, MemoryStore) and pool.shared.closed
    await client.aclose()


async def test_metrics_say_draining() -> None:
    configurations = {"stuck": hosted("stuck", memory_configuration(blockOn=["SEARCH"]))}
    server = ConnectorServer(server_settings_with(), registry(), configurations)
    await server.start()
    client = await RcsClient.connect(server.url, KEY)
    searching = await start_blocked_search(client)
    draining = asyncio.create_task(server.drain(timeout_s=3600))
    await asyncio.sleep(0)
    stuck = await client.facade("stuck")
    with pytest.raises(RetryableException, match="shutting down"):
        await stuck.test()
    found = await samples(server)
    assert value(found, "rcs_draining") == 1 and value(found, "rcs_operations_in_flight") == 1
    assert value(found, "rcs_operations_refused_total", reason="draining") == 1
    server.hurry()
    with pytest.raises(RetryableException, match="shutting down"):
        await searching
    await draining
    await client.aclose()
