"""Pools of connector instances, one per configuration, with ICF's `poolConfigOption` rules.

ICF's `ObjectPoolConfiguration` (docs/openicf.md §3.2): at most `maxObjects` instances exist at
once; a borrower waits up to `maxWait` ms for one (0: forever), then gets a clear error; at most
`maxIdle` wait idle; an instance idle longer than `minEvictableIdleTimeMillis` is disposed (0:
never), but `minIdle` are kept warm. A pooled instance passes `check_alive()` before it is lent
again; instances are disposed on eviction, on failure and when the pool closes, and the shared
resources of the configuration are closed after the last one (the ConnId leaks of §5 and §7.4).

The Java RCS keys its facade cache by the whole serialized configuration (§1.4); here a pool is
keyed by connector key, configuration name and an HMAC of the configuration with its secrets
revealed only inside the HMAC, under a key drawn at random per process: equal configurations
share a pool, and the key says nothing about the secrets.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import os
import time
from collections import deque
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from connector.base import Connector, ConnectorContext, SharedResources
from protocol.configuration import InlineConfiguration, ObjectPoolConfiguration
from protocol.errors import ConnectorException, RetryableException
from server.logs import get_logger

if TYPE_CHECKING:
    from server.metrics import ServerMetrics

log = get_logger("server.pool")

_HMAC_KEY: Final = os.urandom(32)


def configuration_digest(configuration: InlineConfiguration) -> str:
    """A keyed hash of a whole configuration; secrets enter only through the HMAC."""
    canonical = configuration.model_dump_json(by_alias=True, exclude_none=False)
    return hmac.new(_HMAC_KEY, canonical.encode(), hashlib.sha256).hexdigest()[:32]


@dataclass(frozen=True)
class PoolKey:
    connector: str
    """`bundleName:bundleVersion:connectorName` of the resolved connector."""
    configuration_name: str
    digest: str

    def __str__(self) -> str:
        return f"{self.configuration_name}@{self.digest[:8]}"


@dataclass
class _Idle:
    instance: Connector
    since: float


@dataclass
class ConnectorPool:
    """The instances of one configuration."""

    key: PoolKey
    connector_class: type[Connector]
    context: ConnectorContext
    config: ObjectPoolConfiguration
    inline: bool
    last_used: float = field(default_factory=time.monotonic)
    retired: bool = False
    """Set when the configuration changed or went away: the pool closes once idle."""
    metrics: ServerMetrics | None = None

    def __post_init__(self) -> None:
        self._slots = asyncio.Semaphore(self.config.maxObjects)
        self._idle: deque[_Idle] = deque()
        self._active = 0
        self._shared: SharedResources | None = None
        self._shared_lock = asyncio.Lock()
        self._closed = False
        self._disposals: set[asyncio.Task[None]] = set()

    # -- what tests and metrics look at ----------------------------------------------------

    @property
    def shared(self) -> SharedResources | None:
        return self._shared

    @property
    def active(self) -> int:
        return self._active

    @property
    def idle(self) -> int:
        return len(self._idle)

    @property
    def closed(self) -> bool:
        return self._closed

    # -- lending ----------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def lease(self) -> AsyncIterator[Connector]:
        """Lend an instance for one operation, and take it back (or dispose of it) after."""
        if self._closed:
            raise RetryableException(f"the pool of {self.key.configuration_name} is closed")
        self.last_used = time.monotonic()
        wait_ms = self.config.maxWait
        name = self.key.configuration_name
        started = time.monotonic()
        try:
            async with asyncio.timeout(wait_ms / 1000 if wait_ms else None):
                await self._slots.acquire()
        except TimeoutError:
            if self.metrics is not None:
                self.metrics.pool_exhausted.labels(name).inc()
            raise RetryableException(
                f"no connector instance of {self.key.configuration_name} became free within "
                f"maxWait {wait_ms} ms (maxObjects {self.config.maxObjects})"
            ) from None
        if self.metrics is not None:
            self.metrics.pool_wait_seconds.labels(name).observe(time.monotonic() - started)
        self._active += 1
        instance: Connector | None = None
        try:
            instance = await self._take()
            yield instance
        finally:
            # An instance a cancel or a timeout stopped mid-call goes back too: like any other,
            # it must pass check_alive before its next loan.
            self._active -= 1
            self._slots.release()
            self.last_used = time.monotonic()
            if instance is not None:
                self._give_back(instance)

    async def _take(self) -> Connector:
        while self._idle:
            candidate = self._idle.pop().instance  # the most recently used: warmest
            try:
                await candidate.check_alive()
            except Exception as exc:
                log.warning("pool.check_alive_failed", pool=str(self.key), error=_name(exc))
                self._dispose_later(candidate)
                continue
            return candidate
        return await self._create()

    async def _create(self) -> Connector:
        shared = await self._open_shared()
        instance = self.connector_class(self.context, shared)
        try:
            await instance.init()
        except BaseException:
            self._dispose_later(instance)
            raise
        return instance

    async def _open_shared(self) -> SharedResources:
        async with self._shared_lock:
            if self._shared is None:
                self._shared = await self.connector_class.open_shared(self.context)
            return self._shared

    def _give_back(self, instance: Connector) -> None:
        if self._closed or self.retired or len(self._idle) >= self.config.maxIdle:
            self._dispose_later(instance)
        else:
            self._idle.append(_Idle(instance, time.monotonic()))
        if self.retired and self._active == 0:
            self._schedule_close()

    # -- housekeeping -----------------------------------------------------------------------

    async def evict(self) -> None:
        """Dispose of instances idle too long, keeping `minIdle` warm (ICF's evictor)."""
        if self._closed:
            return
        limit_ms = self.config.minEvictableIdleTimeMillis
        if limit_ms:
            now = time.monotonic()
            keep = self.config.minIdle
            while len(self._idle) > keep and now - self._idle[0].since > limit_ms / 1000:
                self._dispose_later(self._idle.popleft().instance)
        await self._warm()

    async def _warm(self) -> None:
        """Create idle instances until the pool holds `minIdle` (never past maxObjects)."""
        while (
            not self._closed
            and not self.retired
            and self._shared is not None  # warm only a pool that has been used
            and len(self._idle) + self._active < self.config.minIdle
            and len(self._idle) < self.config.maxIdle
            and not self._slots.locked()
        ):
            try:
                instance = await self._create()
            except Exception as exc:
                log.warning("pool.warm_failed", pool=str(self.key), error=_name(exc))
                return
            self._idle.append(_Idle(instance, time.monotonic()))

    def retire(self) -> None:
        """No new loans will come: close once the running ones are back."""
        self.retired = True
        if self._active == 0:
            self._schedule_close()

    def _schedule_close(self) -> None:
        if not self._closed:
            task = asyncio.get_running_loop().create_task(self.aclose())
            self._disposals.add(task)
            task.add_done_callback(self._disposals.discard)

    async def aclose(self) -> None:
        """Dispose of every idle instance, then the shared resources once all are back."""
        if self._closed:
            return
        self._closed = True
        while self._idle:
            self._dispose_later(self._idle.popleft().instance)
        pending = [t for t in self._disposals if t is not asyncio.current_task()]
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        if self._shared is not None:
            try:
                await self._shared.aclose()
            except Exception as exc:
                log.warning("pool.shared_close_failed", pool=str(self.key), error=_name(exc))

    def _dispose_later(self, instance: Connector) -> None:
        """Dispose in a task of its own, so a cancelled borrower cannot cut it short."""

        async def dispose() -> None:
            try:
                await instance.dispose()
            except Exception as exc:
                log.warning("pool.dispose_failed", pool=str(self.key), error=_name(exc))

        task = asyncio.get_running_loop().create_task(dispose())
        self._disposals.add(task)
        task.add_done_callback(self._disposals.discard)


class PoolManager:
    """Every pool of the server, by key."""

    def __init__(
        self,
        *,
        inline_idle_s: float,
        inline_max: int = 32,
        metrics: ServerMetrics | None = None,
    ) -> None:
        self._pools: dict[PoolKey, ConnectorPool] = {}
        self._inline_idle_s = inline_idle_s
        self._inline_max = inline_max
        self._metrics = metrics

    def __iter__(self) -> Iterator[ConnectorPool]:
        return iter(list(self._pools.values()))

    def get(
        self,
        key: PoolKey,
        connector_class: type[Connector],
        context: ConnectorContext,
        config: ObjectPoolConfiguration,
        *,
        inline: bool,
    ) -> ConnectorPool:
        pool = self._pools.get(key)
        if pool is None or pool.closed:
            if inline:
                self._make_room_for_inline()
            pool = ConnectorPool(key, connector_class, context, config, inline)
            pool.metrics = self._metrics
            self._pools[key] = pool
        return pool

    def _make_room_for_inline(self) -> None:
        """At most `inline_max` inline configurations hold a pool: a new one drops the least
        recently used that has nothing on loan, or is refused when every one is busy (each
        holds connector instances and their shared resources: 300 of them held 250 MiB)."""
        inline = [p for p in self._pools.values() if p.inline and not p.closed]
        if len(inline) < self._inline_max:
            return
        idle = [p for p in inline if p.active == 0]
        if not idle:
            raise RetryableException(
                f"this server already runs {len(inline)} inline configurations, all busy "
                "(inlineConfigurationMax); try again shortly, or use a named configuration"
            )
        oldest = min(idle, key=lambda p: p.last_used)
        del self._pools[oldest.key]
        oldest.retire()
        log.info("pool.dropped", pool=str(oldest.key), reason="least recently used inline")

    def lookup(self, key: PoolKey) -> ConnectorPool | None:
        return self._pools.get(key)

    def retire(self, key: PoolKey) -> None:
        """Retire one pool: it finishes what it lent, then closes."""
        pool = self._pools.pop(key, None)
        if pool is not None:
            pool.retire()

    def retire_named(self, name: str) -> None:
        """Retire the pools of named configuration `name` (it changed or went away)."""
        for key, pool in list(self._pools.items()):
            if not pool.inline and key.configuration_name == name:
                pool.retire()
                del self._pools[key]

    async def housekeep(self) -> None:
        """Evict idle instances; drop inline configurations unused for a while."""
        now = time.monotonic()
        for key, pool in list(self._pools.items()):
            if pool.inline and pool.active == 0 and now - pool.last_used > self._inline_idle_s:
                del self._pools[key]
                await pool.aclose()
                log.info("pool.dropped", pool=str(key), reason="inline configuration unused")
            else:
                await pool.evict()

    async def aclose(self) -> None:
        pools, self._pools = list(self._pools.values()), {}
        await asyncio.gather(*(p.aclose() for p in pools), return_exceptions=True)


def _name(exc: BaseException) -> str:
    if isinstance(exc, ConnectorException):
        return f"{type(exc).__name__}: {exc.message}"
    return type(exc).__name__
