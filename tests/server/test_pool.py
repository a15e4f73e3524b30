"""Connector pools: poolConfigOption limits, eviction, checkAlive, dispose, keys."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from connector.base import ConnectorContext
from connector.memory import MemoryConfiguration, MemoryConnector, MemoryStore
from protocol.configuration import InlineConfiguration, ObjectPoolConfiguration
from protocol.errors import ConnectorIOException, RetryableException
from protocol.values import GuardedString
from server.pool import ConnectorPool, PoolKey, PoolManager, configuration_digest
from tests.faulty_connector import FaultyConfiguration, FaultyConnector


def make_pool(inline: bool = False, **pool: Any) -> ConnectorPool:
    return make_pool_with(FaultyConfiguration(), inline=inline, **pool)


def make_pool_with(config: MemoryConfiguration, inline: bool = False, **pool: Any) -> ConnectorPool:
    context = ConnectorContext(configuration=config, configuration_name="test")
    return ConnectorPool(
        PoolKey("memory", "test", "0" * 32),
        FaultyConnector,
        context,
        ObjectPoolConfiguration(**pool),
        inline,
    )


def store(pool: ConnectorPool) -> MemoryStore:
    assert isinstance(pool.shared, MemoryStore)
    return pool.shared


async def settle() -> None:
    """Let the pool's disposal tasks run."""
    for _ in range(3):
        await asyncio.sleep(0)


async def test_instances_are_reused() -> None:
    pool = make_pool()
    async with pool.lease() as first:
        pass
    async with pool.lease() as second:
        assert second is first
    assert store(pool).created == 1


async def test_max_objects_then_max_wait_gives_a_clear_error() -> None:
    pool = make_pool(maxObjects=2, maxWait=10)
    async with pool.lease(), pool.lease():
        assert pool.active == 2
        with pytest.raises(RetryableException, match=r"maxWait 10 ms \(maxObjects 2\)"):
            async with pool.lease():
                pass
    assert pool.active == 0


async def test_a_waiting_borrower_gets_the_returned_instance() -> None:
    pool = make_pool(maxObjects=1, maxWait=0)
    release = asyncio.Event()

    async def hold() -> None:
        async with pool.lease():
            await release.wait()

    holder = asyncio.create_task(hold())
    await asyncio.sleep(0)
    waiter = asyncio.create_task(pool.lease().__aenter__())
    await asyncio.sleep(0)
    assert not waiter.done()
    release.set()
    await holder
    instance = await waiter
    assert isinstance(instance, MemoryConnector) and store(pool).created == 1


async def test_max_idle_disposes_the_surplus() -> None:
    pool = make_pool(maxObjects=3, maxIdle=1)
    async with pool.lease(), pool.lease(), pool.lease():
        pass
    await settle()
    assert pool.idle == 1 and store(pool).disposed == 2


async def test_eviction_disposes_idle_instances_but_keeps_min_idle() -> None:
    pool = make_pool(maxObjects=3, maxIdle=3, minIdle=1, minEvictableIdleTimeMillis=1)
    async with pool.lease(), pool.lease(), pool.lease():
        pass
    assert pool.idle == 3
    await asyncio.sleep(0.01)
    await pool.evict()
    await settle()
    assert pool.idle == 1 and store(pool).disposed == 2


async def test_min_idle_is_kept_warm() -> None:
    pool = make_pool(maxObjects=5, minIdle=3)
    async with pool.lease():
        pass
    await pool.evict()
    assert pool.idle == 3 and store(pool).created == 3


async def test_no_eviction_when_the_limit_is_zero() -> None:
    pool = make_pool(minEvictableIdleTimeMillis=0, minIdle=0)
    async with pool.lease():
        pass
    await pool.evict()
    assert pool.idle == 1


async def test_an_instance_that_fails_check_alive_is_replaced() -> None:
    pool = make_pool_with(FaultyConfiguration(failOn=["CHECK_ALIVE"]))
    async with pool.lease() as first:
        pass
    async with pool.lease() as second:
        assert second is not first
    await settle()
    assert store(pool).created == 2 and store(pool).disposed == 1


async def test_a_failed_init_leaves_the_pool_usable() -> None:
    pool = make_pool_with(FaultyConfiguration(failOn=["INIT"]), maxObjects=1)
    for _ in range(2):
        with pytest.raises(ConnectorIOException, match="INIT failed"):
            async with pool.lease():
                pass
    assert pool.active == 0


async def test_close_disposes_everything_and_the_shared_resources() -> None:
    pool = make_pool(maxObjects=2)
    async with pool.lease(), pool.lease():
        pass
    await pool.aclose()
    assert store(pool).disposed == 2 and store(pool).closed
    with pytest.raises(RetryableException, match="closed"):
        async with pool.lease():
            pass


async def test_a_retired_pool_closes_when_its_last_loan_returns() -> None:
    pool = make_pool()
    async with pool.lease():
        pool.retire()
        assert pool.active == 1  # still lent: not closed yet
    await settle()
    assert pool.closed and store(pool).disposed == 1 and store(pool).closed


async def test_unused_inline_pools_are_dropped() -> None:
    manager = PoolManager(inline_idle_s=0.001)
    context = ConnectorContext(configuration=MemoryConfiguration(), configuration_name="x")
    key = PoolKey("memory", "inline:x", "1" * 32)
    pool = manager.get(key, MemoryConnector, context, ObjectPoolConfiguration(), inline=True)
    async with pool.lease():
        pass
    await asyncio.sleep(0.01)
    await manager.housekeep()
    assert manager.lookup(key) is None and pool.closed


def test_the_digest_hides_secrets_and_follows_them() -> None:
    def config(secret: str) -> InlineConfiguration:
        return InlineConfiguration(configurationProperties={"apiKey": GuardedString(secret)})

    first = configuration_digest(config("hunter2"))
    assert first == configuration_digest(config("hunter2"))
    assert first != configuration_digest(config("hunter3"))
    assert "hunter2" not in first
