"""The server as a whole: drain on shutdown, reloading named configurations."""

from __future__ import annotations

import asyncio

import pytest

from client.connection import RcsClient
from connector.memory import MemoryStore
from protocol.errors import RetryableException
from server.app import ConnectorServer
from tests.conftest import KEY, hosted, memory_configuration, registry, settings
from tests.server.test_auth import http_get


async def test_drain_lets_running_work_finish_and_refuses_new_work() -> None:
    configurations = {
        "slow": hosted("slow", memory_configuration(seed=30, pageSize=10, pageDelayMs=20)),
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
