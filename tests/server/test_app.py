"""The server as a whole: drain on shutdown, reloading named configurations, keepalive, TLS."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import pytest

from client.connection import RcsClient
from connector.memory import MemoryStore
from protocol.errors import ConnectionFailedException, RetryableException
from server.app import ConnectorServer
from tests.conftest import KEY, hosted, memory_configuration, registry, settings
from tests.server.certificates import self_signed
from tests.server.test_auth import http_get


async def test_drain_lets_running_work_finish_and_refuses_new_work() -> None:
    configurations = {
        "slow": hosted("slow", memory_configuration(seed=30, pageSize=10, pageDelayMs=5)),
        "stuck": hosted("stuck", memory_configuration(blockOn=["TEST"])),
    }
    server = ConnectorServer(settings(), registry(), configurations)
    await server.start()
    client = await RcsClient.connect(server.url, KEY)
    slow, stuck = await client.facade("slow"), await client.facade("stuck")

    async def read_all() -> int:
        async with slow.search("contact") as results:
            return len([o async for o in results])

    searching = asyncio.create_task(read_all())
    blocked = asyncio.create_task(stuck.test())
    while sum(len(c.operations) for c in server.connections.values()) < 2:
        await asyncio.sleep(0.005)
    draining = asyncio.create_task(server.drain(timeout_s=1.0))
    await asyncio.sleep(0)
    assert (await http_get(server, "/readyz"))[0] == 503
    with pytest.raises(RetryableException, match="shutting down"):
        await slow.test()
    assert await searching == 30  # finished within the drain
    with pytest.raises(RetryableException, match="shutting down"):
        await blocked  # still running when the drain ran out: stopped and answered
    await draining
    await client.aclose()


async def test_a_changed_named_configuration_gets_a_new_pool() -> None:
    first = {"memory": hosted("memory", memory_configuration(seed=1))}
    async with (
        ConnectorServer(settings(), registry(), first) as server,
        await RcsClient.connect(server.url, KEY) as client,
    ):
        memory = await client.facade("memory")
        assert await memory.script_on_connector("count", "contact") == 1
        [old] = list(server.pools)
        server.set_configurations({"memory": hosted("memory", memory_configuration(seed=2))})
        assert await memory.script_on_connector("count", "contact") == 2
        for _ in range(3):
            await asyncio.sleep(0)
        assert old.closed and isinstance(old.shared, MemoryStore) and old.shared.closed
        server.set_configurations({})
        assert await client.configurations() == []


async def test_tls(tmp_path: Path) -> None:
    issued = self_signed(tmp_path, "127.0.0.1")
    cert = issued.cert
    tls = settings(use_ssl=True, tls_cert_file=cert, tls_key_file=issued.key)
    async with ConnectorServer(tls, registry(), {}) as server:
        assert server.url.startswith("wss://127.0.0.1:")
        trusted = ssl.create_default_context(cafile=str(cert))
        async with await RcsClient.connect(server.url, KEY, ssl=trusted) as client:
            assert await client.connectors()
        with pytest.raises(ConnectionFailedException):
            await RcsClient.connect(server.url, KEY, ssl=ssl.create_default_context())


async def test_a_peer_that_stops_answering_pings_is_dropped() -> None:
    keepalive = settings(ping_interval_s=0.05, ping_timeout_s=0.05, close_timeout_s=0.1)
    async with ConnectorServer(keepalive, registry()) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(
            f"GET /openicf HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
            f"Authorization: Bearer {KEY}\r\n\r\n".encode()
        )
        assert (await reader.readline()).startswith(b"HTTP/1.1 101")
        # Read the pings, never answer with a pong: the server gives up on us and closes.
        received = await reader.read()
        writer.close()
        assert b"keepalive ping timeout" in received
        for _ in range(1000):
            if not server.connections:
                break
            await asyncio.sleep(0.01)
        assert server.connections == {}
