"""Running operations: the one thing a connection needs from the server.

A connection (any wire) decodes a request into an `OperationRequest`, hands it to its
`Operations` with a key of its choosing and an `AnswerSink`, and may cancel it by that key. The
`OperationRunner` behind it admits the operation (draining, the in-flight limit), resolves its
pool through the configurations, applies the operationTimeout, runs it, and writes the canonical
log line and the metrics. Nothing here knows a wire.

One `Operations` serves one peer: a JSON connection, or an OpenICF connection group (whose
requests and cancels may arrive on any of its sockets, docs/openicf-rpc.md §3).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import weakref
from collections.abc import Callable, Coroutine, Hashable
from typing import Any, Final

import structlog
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from protocol.configuration import InlineConfiguration
from protocol.errors import ConnectorException, OperationTimeoutException, RetryableException
from protocol.frames import OperationRequest
from server import dispatch
from server.logs import get_logger
from server.metrics import ServerMetrics
from server.pool import ConnectorPool

log = get_logger("server.connection")

SHUTTING_DOWN: Final = "the server is shutting down; retry on another server"

Resolve = Callable[[OperationRequest], tuple[ConnectorPool, InlineConfiguration]]
"""An operation's connector and configuration -> its pool and configuration."""


class OperationRunner:
    """Admits and runs operations for every peer of the server."""

    def __init__(self, resolve: Resolve, metrics: ServerMetrics, *, max_in_flight: int) -> None:
        self._resolve = resolve
        self.metrics = metrics
        self.max_in_flight = max_in_flight
        self.draining = False
        self._peers: weakref.WeakSet[Operations] = weakref.WeakSet()

    def operations(self) -> Operations:
        """A new in-flight set for one peer."""
        operations = Operations(self)
        self._peers.add(operations)
        return operations

    @property
    def running(self) -> set[asyncio.Task[None]]:
        return {t for peer in list(self._peers) for t in peer.tasks.values()}

    async def fail_all(self, exc: ConnectorException) -> None:
        """Stop every running operation and answer each with `exc` (a drain that ran out)."""
        await asyncio.gather(*(peer.fail_all(exc) for peer in list(self._peers)))

    def admit(self, peer: Operations) -> None:
        """The one place a new operation is let in, or refused with a clear error."""
        if self.draining:
            self.metrics.refused_operations.labels("draining").inc()
            raise RetryableException(SHUTTING_DOWN)
        if len(peer.tasks) >= self.max_in_flight:
            self.metrics.refused_operations.labels("in_flight_limit").inc()
            raise RetryableException(
                f"too many operations in flight on this connection (limit {self.max_in_flight}); "
                "wait for some to finish or open another connection"
            )

    async def execute(self, request: OperationRequest, sink: dispatch.AnswerSink) -> None:
        """Run an admitted operation under its operationTimeout and hand over its answer."""
        pool, configuration = self._resolve(request)
        timeout_ms = configuration.timeout_ms(request.operation_name)
        # -1 is ICF's NO_TIMEOUT; 0 would time out at once, which nobody means: no limit either.
        deadline = timeout_ms / 1000 if timeout_ms > 0 else None
        try:
            async with asyncio.timeout(deadline) as scope:
                async with pool.lease() as connector:
                    await dispatch.run(connector, request, configuration.resultsHandlerConfig, sink)
        except TimeoutError:
            if not scope.expired():
                raise
            raise OperationTimeoutException(
                f"{request.operation_name} ran past its operationTimeout of {timeout_ms} ms "
                "and was stopped"
            ) from None


class AnsweredSink:
    """Wraps a sink to note when its last call began (after it, a cancel finds nothing)."""

    def __init__(self, sink: dispatch.AnswerSink, on_final: Callable[[], None]) -> None:
        self._sink = sink
        self._on_final = on_final

    @property
    def objects(self) -> int:
        return self._sink.objects

    @objects.setter
    def objects(self, value: int) -> None:
        self._sink.objects = value

    async def answer(self, response: Any) -> None:
        self._on_final()
        await self._sink.answer(response)

    async def search_page(self, objects: Any) -> None:
        await self._sink.search_page(objects)

    async def search_done(self, result: Any) -> None:
        self._on_final()
        await self._sink.search_done(result)

    async def sync_page(self, deltas: Any) -> None:
        await self._sink.sync_page(deltas)

    async def sync_done(self, token: Any) -> None:
        self._on_final()
        await self._sink.sync_done(token)

    async def fail(self, error: BaseException) -> None:
        self._on_final()
        await self._sink.fail(error)


class Operations:
    """The operations in flight for one peer, by a key the peer's wire chooses."""

    def __init__(self, runner: OperationRunner) -> None:
        self.runner = runner
        self.tasks: dict[Hashable, asyncio.Task[None]] = {}
        self.run = 0
        """How many operations this peer started (the connection's closing log line)."""
        self._answered: set[Hashable] = set()
        self._cancelled_by_peer: set[Hashable] = set()
        self._sinks: dict[Hashable, dispatch.AnswerSink] = {}
        self._replies = Replies()

    def start(
        self,
        key: Hashable,
        request: OperationRequest,
        sink: dispatch.AnswerSink,
        *,
        on_done: Callable[[], None] | None = None,
        log_fields: dict[str, Any] | None = None,
    ) -> None:
        """Admit and start `request`; raises the refusal (`ConnectorException`) if not admitted.

        `on_done` runs when the operation has finished, before a failure is handed to the sink.
        """
        self.runner.admit(self)
        task = asyncio.get_running_loop().create_task(
            self._operation(key, request, sink, on_done, log_fields or {}),
            name=f"operation-{key}",
        )
        self.tasks[key] = task
        self._sinks[key] = sink
        self.run += 1

    def answered(self, key: Hashable) -> bool:
        return key in self._answered

    def cancel(self, key: Hashable) -> asyncio.Task[None] | None:
        """Stop the operation `key` if it runs and is not answered yet; its task, or None."""
        task = self.tasks.get(key)
        if task is None or key in self._answered:
            return None
        self._cancelled_by_peer.add(key)
        task.cancel("cancelled by the peer")
        return task

    async def _operation(
        self,
        key: Hashable,
        request: OperationRequest,
        sink: dispatch.AnswerSink,
        on_done: Callable[[], None] | None,
        log_fields: dict[str, Any],
    ) -> None:
        """Run one operation to its last answer, and write its canonical log line."""
        structlog.contextvars.bind_contextvars(
            **log_fields,
            operation=request.operation_name,
            object_class=request.object_class,
        )
        started = time.perf_counter()
        outbox = AnsweredSink(sink, lambda: self._answered.add(key))
        outcome = "ok"
        error: BaseException | None = None
        metrics = self.runner.metrics
        metrics.in_flight.inc()
        try:
            await self.runner.execute(request, outbox)
        except asyncio.CancelledError:
            if key not in self._answered:
                outcome = "cancelled" if key in self._cancelled_by_peer else "stopped"
                raise
            # The last answer went out before the cancel landed: the operation is complete.
        except OperationTimeoutException as exc:
            outcome, error = "timeout", exc
        except ConnectorException as exc:
            outcome, error = "error", exc
        except ConnectionClosed:
            outcome = "disconnected"
        except Exception as exc:
            log.exception("operation.internal_error")
            outcome, error = "error", exc
        finally:
            elapsed = time.perf_counter() - started
            # The canonical line and the metrics are the same record of the operation.
            name = request.operation_name
            metrics.in_flight.dec()
            metrics.operations.labels(name, outcome).inc()
            metrics.operation_seconds.labels(name).observe(elapsed)
            if sink.objects:
                metrics.objects.labels(name).inc(sink.objects)
            fields: dict[str, Any] = {
                "duration_ms": round(elapsed * 1000, 3),
                "objects": sink.objects,
                "outcome": outcome,
            }
            if error is not None:
                fields["error"] = (
                    error.wire_class if isinstance(error, ConnectorException) else "internal"
                )
            log.info("operation", **fields)
            answered = key in self._answered
            self._answered.discard(key)
            self._cancelled_by_peer.discard(key)
            self.tasks.pop(key, None)
            self._sinks.pop(key, None)
            if on_done is not None:
                on_done()
        if error is not None and not answered:
            # Nothing awaits between on_done() above and this write: a cancel cannot slip in.
            with contextlib.suppress(ConnectionClosed):
                await sink.fail(error)

    async def fail_all(self, exc: ConnectorException) -> None:
        """Stop every running operation and answer each with `exc`."""
        for key, task in list(self.tasks.items()):
            if key not in self._answered:
                self._cancelled_by_peer.discard(key)
                sink = self._sinks[key]
                task.cancel()
                self._replies.spawn(self._fail_after(task, sink, exc))
        await self._replies.wait()

    async def _fail_after(
        self, task: asyncio.Task[None], sink: dispatch.AnswerSink, exc: ConnectorException
    ) -> None:
        await asyncio.wait([task])
        if task.cancelled():
            await sink.fail(exc)

    async def stop_all(self) -> None:
        """The peer is gone: cancel what runs (their leases go back) and wait for it."""
        tasks = list(self.tasks.values())
        for task in tasks:
            task.cancel("connection closed")
        if tasks:
            await asyncio.wait(tasks)
        await self._replies.cancel()


class Replies:
    """Small sends that must not hold up their caller (a reader never awaits a send): each
    runs as its own task, and a reply to a peer that has gone away is simply not sent.

    Bounded per connection, as search parts are: past `limit` unsent replies the peer is not
    reading them, and `on_overflow` cuts it off (`cut_off`) instead of the server buffering
    without end."""

    def __init__(
        self, limit: int | None = None, on_overflow: Callable[[], None] | None = None
    ) -> None:
        self._tasks: set[asyncio.Task[None]] = set()
        self._limit = limit
        self._on_overflow = on_overflow
        self.overflowed = False
        self.closing: asyncio.Task[None] | None = None
        """The close of a connection cut off, kept referenced until it is done."""

    def __len__(self) -> int:
        return len(self._tasks)

    def spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        if self.overflowed or (self._limit is not None and len(self._tasks) >= self._limit):
            coroutine.close()
            if not self.overflowed:
                self.overflowed = True
                if self._on_overflow is not None:
                    self._on_overflow()
            return
        task = asyncio.get_running_loop().create_task(_quietly(coroutine))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def wait(self) -> None:
        if self._tasks:
            await asyncio.wait(list(self._tasks))

    async def cancel(self) -> None:
        """Stop what has not been sent (the socket is gone) and wait for it."""
        for task in list(self._tasks):
            task.cancel()
        await self.wait()


def cut_off(ws: ServerConnection, metrics: ServerMetrics, replies: Replies) -> None:
    """Close a connection whose peer sends and does not read its answers (either wire).

    The answers pending fail once the socket is closed; the close frame queues behind unread
    data, and websockets aborts the connection after close_timeout."""
    metrics.connections_cut_off.inc()
    reason = "the peer does not read its answers"
    log.warning("connection.cut_off", reason=reason, pending=len(replies))
    replies.closing = asyncio.get_running_loop().create_task(
        _quietly(ws.close(1008, "answers not read"))
    )


async def _quietly(coroutine: Coroutine[Any, Any, None]) -> None:
    with contextlib.suppress(ConnectionClosed):
        await coroutine
