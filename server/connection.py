"""One WebSocket connection: a reader that never waits on an operation, and a task per operation.

The lessons of docs/openicf.md §1.11 (OpenICF #107-#110, #112/#114): frames are decoded in
arrival order by one reader, each operation runs as its own task, and a cancel is handled on the
reader's path, so it acts at any time: while the operation waits for a pooled instance, while it
runs, while its results stream. The reader never awaits a send either: its own answers
(handshake, control, errors, cancels) go out from small tasks, in order, because a send writes
its bytes before its first await (websockets `send_context`).

A bad frame costs one error frame, never the connection (docs/protocol.md "Errors"); so does a
frame beyond the connection's rate (`max_frames_per_second`, a token bucket: the per-connection
message rate limit docs/hardening.md §B1 advises, which websockets does not provide).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

import structlog
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from protocol.codec import FrameError, decode, encode, error_frame
from protocol.errors import (
    ConnectorException,
    OperationTimeoutException,
    ProtocolError,
    RetryableException,
)
from protocol.frames import (
    PROTOCOL_VERSION,
    CancelRequest,
    CancelResponse,
    ControlRequest,
    ControlResponse,
    Handshake,
    OperationRequest,
    ResponseBody,
    ResponseFrame,
)
from protocol.session import Session, Side
from server import dispatch
from server.logs import get_logger

if TYPE_CHECKING:
    from server.app import ConnectorServer

log = get_logger("server.connection")

PEER_NAME = "hubspot-rcs"


class FrameBucket:
    """`rate` frames a second on average, `burst` at once: a token bucket on the monotonic clock."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = float(burst)
        self._tokens = self.burst
        self._updated = time.monotonic()

    def take(self) -> bool:
        """Spend a token for one frame; False when none is left (the frame is refused)."""
        now = time.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
        self._updated = now
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True


class Connection:
    """The protocol on one authenticated socket."""

    def __init__(self, server: ConnectorServer, ws: ServerConnection, conn_id: str) -> None:
        self.server = server
        self.ws = ws
        self.conn_id = conn_id
        self.session = Session(Side.SERVER)
        self.operations: dict[int, asyncio.Task[None]] = {}
        self._answered: set[int] = set()
        self._cancelled_by_peer: set[int] = set()
        self._replies: set[asyncio.Task[None]] = set()
        self.operations_run = 0
        settings = server.settings
        self._bucket = (
            None
            if settings.max_frames_per_second is None
            else FrameBucket(settings.max_frames_per_second, settings.frame_burst)
        )

    # -- the reader -----------------------------------------------------------------------

    async def serve(self) -> None:
        """Read frames until the socket closes; then stop what still runs."""
        try:
            async for message in self.ws:
                self.receive(message)
        except ConnectionClosed:
            pass
        finally:
            await self.stop_operations()

    def receive(self, message: str | bytes) -> None:
        """Act on one frame; never awaits."""
        try:
            frame = decode(message)
        except FrameError as exc:
            self._reply(error_frame(exc.message_id or 0, exc))
            return
        if self._bucket is not None and not self._bucket.take():
            # Decoded first, so the error names the frame's messageId; not acted on.
            self.server.metrics.refused_frames.inc()
            limit = self.server.settings.max_frames_per_second
            refused = RetryableException(
                f"too many frames on this connection (limit {limit:g} a second); slow down"
            )
            self._reply(error_frame(frame.messageId, refused))
            return
        try:
            self.session.receive(frame)
        except ProtocolError as exc:
            self._reply(error_frame(frame.messageId, exc))
            return
        if isinstance(frame, ResponseFrame):  # pragma: no cover - the table refuses these
            return
        body = frame.request
        if body.handshake is not None:
            self._reply(self._handshake(body.handshake))
        elif body.control is not None:
            self._reply(self._control(frame.messageId, body.control))
        elif body.operation is not None:
            self._start(frame.messageId, body.operation)
        elif body.cancel is not None:
            self._cancel(frame.messageId, body.cancel)

    def _handshake(self, peer: Handshake) -> ResponseFrame:
        structlog.contextvars.bind_contextvars(peer_name=peer.peerName or None)
        log.info("connection.handshake", protocol_version=peer.protocolVersion)
        answer = Handshake(
            sessionId=uuid.uuid4().hex, protocolVersion=PROTOCOL_VERSION, peerName=PEER_NAME
        )
        return ResponseFrame(messageId=0, response=ResponseBody(handshake=answer))

    def _control(self, message_id: int, control: ControlRequest) -> ResponseFrame:
        response = ControlResponse()
        if "CONNECTOR_INFO" in control.infoLevel:
            response = response.model_copy(
                update={
                    "connectorInfos": self.server.connector_infos(),
                    "configurations": self.server.configuration_infos(),
                }
            )
        if "REQUESTS" in control.infoLevel:
            response = response.model_copy(
                update={"requestIds": sorted(self.session.open_requests)}
            )
        return ResponseFrame(messageId=message_id, response=ResponseBody(control=response))

    # -- operations -------------------------------------------------------------------------

    def _start(self, message_id: int, request: OperationRequest) -> None:
        try:
            self.server.admit(self, request)
        except ConnectorException as exc:
            self.session.finish(message_id)
            self._reply(error_frame(message_id, exc))
            return
        task = asyncio.get_running_loop().create_task(
            self._operation(message_id, request), name=f"operation-{self.conn_id}-{message_id}"
        )
        self.operations[message_id] = task
        self.operations_run += 1

    async def _operation(self, message_id: int, request: OperationRequest) -> None:
        """Run one operation to its last frame, and write its canonical log line."""
        structlog.contextvars.bind_contextvars(
            request_id=message_id,
            operation=request.operation_name,
            object_class=request.object_class,
        )
        started = time.perf_counter()
        outbox = dispatch.Outbox(message_id, self._send, lambda: self._answered.add(message_id))
        outcome = "ok"
        error: BaseException | None = None
        answered = False
        metrics = self.server.metrics
        metrics.in_flight.inc()
        try:
            await self.server.execute(request, outbox)
        except asyncio.CancelledError:
            if message_id not in self._answered:
                outcome = "cancelled" if message_id in self._cancelled_by_peer else "stopped"
                raise
            # The last frame went out before the cancel landed: the operation is complete.
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
            if outbox.objects:
                metrics.objects.labels(name).inc(outbox.objects)
            fields: dict[str, Any] = {
                "duration_ms": round(elapsed * 1000, 3),
                "objects": outbox.objects,
                "outcome": outcome,
            }
            if error is not None:
                fields["error"] = (
                    error.wire_class if isinstance(error, ConnectorException) else "internal"
                )
            log.info("operation", **fields)
            answered = message_id in self._answered
            self._answered.discard(message_id)
            self._cancelled_by_peer.discard(message_id)
            self.operations.pop(message_id, None)
            self.session.finish(message_id)
        if error is not None and not answered:
            # Nothing awaits between finish() above and this write: a cancel cannot slip in.
            with contextlib.suppress(ConnectionClosed):
                await outbox.final(error_frame(message_id, error))
            self._answered.discard(message_id)

    async def _send(self, text: bytes) -> None:
        await self.ws.send(text, text=True)

    def _cancel(self, message_id: int, cancel: CancelRequest) -> None:
        target = cancel.requestId
        try:
            is_open = self.session.cancel_target(cancel)
        except ProtocolError as exc:
            self._reply(error_frame(message_id, exc))
            return
        task = self.operations.get(target)
        if not is_open or task is None or target in self._answered:
            self._reply(self._cancel_answer(message_id, target, False))
            return
        self._cancelled_by_peer.add(target)
        task.cancel("cancelled by the peer")

        async def answer_when_stopped() -> None:
            # Answer only once the operation has stopped: nothing of it may follow the answer.
            await asyncio.wait([task])
            stopped = task.cancelled()
            await self._send(encode(self._cancel_answer(message_id, target, stopped)).encode())

        self._spawn(answer_when_stopped())

    @staticmethod
    def _cancel_answer(message_id: int, target: int, cancelled: bool) -> ResponseFrame:
        answer = CancelResponse(requestId=target, cancelled=cancelled)
        return ResponseFrame(messageId=message_id, response=ResponseBody(cancel=answer))

    async def fail_operations(self, exc: ConnectorException) -> None:
        """Stop every running operation and answer each with `exc` (a drain that ran out)."""
        for message_id, task in list(self.operations.items()):
            if message_id not in self._answered:
                self._cancelled_by_peer.discard(message_id)
                task.cancel()
                self._spawn(self._fail_after(message_id, task, exc))
        await self._wait_replies()

    async def _fail_after(
        self, message_id: int, task: asyncio.Task[None], exc: ConnectorException
    ) -> None:
        await asyncio.wait([task])
        if task.cancelled():
            await self._send(encode(error_frame(message_id, exc)).encode())

    async def stop_operations(self) -> None:
        """The socket is gone: cancel what runs (their leases go back) and wait for it."""
        tasks = list(self.operations.values())
        for task in tasks:
            task.cancel("connection closed")
        if tasks:
            await asyncio.wait(tasks)
        for reply in list(self._replies):
            reply.cancel()
        await self._wait_replies()
        self.session.close()

    # -- replies from the reader ------------------------------------------------------------

    def _reply(self, frame: ResponseFrame) -> None:
        with contextlib.suppress(ProtocolError):
            self.session.sent(frame)
        self._spawn(self._send(encode(frame).encode()))

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(_quietly(coroutine))
        self._replies.add(task)
        task.add_done_callback(self._replies.discard)

    async def _wait_replies(self) -> None:
        if self._replies:
            await asyncio.wait(list(self._replies))


async def _quietly(coroutine: Coroutine[Any, Any, None]) -> None:
    """A reply to a peer that has gone away is simply not sent."""
    with contextlib.suppress(ConnectionClosed):
        await coroutine
