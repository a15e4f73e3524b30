"""The JSON wire on one WebSocket: a reader that never waits on an operation, a task per operation.

The lessons of docs/openicf.md §1.11 (OpenICF #107-#110, #112/#114): frames are decoded in
arrival order by one reader, each operation runs as its own task, and a cancel is handled on the
reader's path, so it acts at any time: while the operation waits for a pooled instance, while it
runs, while its results stream. The reader never awaits a send either: its own answers
(handshake, control, errors, cancels) go out from small tasks, in order, because a send writes
its bytes before its first await (websockets `send_context`).

The reader hands each operation to the server's `Operations` (server.runner) with a `JsonSink`,
which writes its answer as JSON frames: search objects are serialised once each, straight into
the text of a part, cut at `search_frame_max_objects` objects and about `search_frame_max_bytes`
(docs/protocol.md "search"); the text is what `protocol.codec.encode` would produce for the
same frame (a test holds it to that). Every frame in both directions goes through the socket's
`protocol.session.Session`.

A bad frame costs one error frame, never the connection (docs/protocol.md "Errors"); so does a
frame beyond the connection's rate (`max_frames_per_second`, a token bucket: the per-connection
message rate limit docs/hardening.md §B1 advises, which websockets does not provide).

The reader's own answers are bounded per connection, as search parts are: a peer that keeps
sending and never reads would otherwise have them pile up in memory. Past
`max_pending_replies` unsent answers the connection is cut off (closed with 1008), and nothing
more it sends is read.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass

import structlog
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from connector.ratelimit import TokenBucket
from protocol.codec import FrameError, decode, encode, encode_object, error_frame
from protocol.errors import ConnectorException, ProtocolError, RetryableException
from protocol.frames import (
    PROTOCOL_VERSION,
    CancelRequest,
    CancelResponse,
    ControlRequest,
    ControlResponse,
    Handshake,
    OperationRequest,
    OperationResponse,
    ResponseBody,
    ResponseFrame,
    SearchOpResponse,
    SyncOpResponse,
)
from protocol.session import Session, Side
from protocol.values import ConnectorObject, SearchResult, SyncDelta, SyncToken
from server.configurations import Configurations
from server.logs import get_logger
from server.metrics import ServerMetrics
from server.runner import Operations, Replies, cut_off
from server.settings import ServerSettings

log = get_logger("server.connection")

SendText = Callable[[bytes], Awaitable[None]]
"""Send one frame's UTF-8 text and wait until the socket has room (flow control)."""


@dataclass(frozen=True)
class Limits:
    """How search parts are cut (ServerSettings.search_frame_max_objects / _bytes)."""

    max_objects: int
    max_bytes: int


def search_part(
    message_id: int, sequence: int, objects: Sequence[bytes], scanned: int | None = None
) -> bytes:
    """The text of a search part holding already-serialised objects (no result)."""
    extra = b"" if scanned is None else b'"scanned":%d,' % scanned
    return b"".join(
        (
            b'{"messageId":%d,"response":{"operation":{"search":{"sequence":%d,%s'
            b'"connectorObjects":[' % (message_id, sequence, extra),
            b",".join(objects),
            b"]}}}}",
        )
    )


class JsonSink:
    """One operation's answer as JSON frames under its messageId."""

    def __init__(self, message_id: int, send: SendText, session: Session, limits: Limits) -> None:
        self.message_id = message_id
        self._send = send
        self._session = session
        self._limits = limits
        self._sequence = 0
        self.objects = 0
        self.scanned: int | None = None

    async def _frame(self, frame: ResponseFrame) -> None:
        self._session.sent(frame)
        await self._send(encode(frame).encode())

    async def answer(self, response: OperationResponse) -> None:
        await self._frame(
            ResponseFrame(messageId=self.message_id, response=ResponseBody(operation=response))
        )

    async def search_page(self, objects: Sequence[ConnectorObject]) -> None:
        limits = self._limits
        batch: list[bytes] = []
        size = 0
        for obj in objects:
            data = encode_object(obj)
            if batch and (len(batch) >= limits.max_objects or size + len(data) > limits.max_bytes):
                await self._part(batch)
                batch, size = [], 0
            batch.append(data)
            size += len(data) + 1
        if batch:
            await self._part(batch)

    async def _part(self, batch: list[bytes]) -> None:
        self._sequence += 1
        self.objects += len(batch)
        self._session.sent_part(self.message_id)
        await self._send(search_part(self.message_id, self._sequence, batch, self.scanned))

    async def search_done(self, result: SearchResult | None) -> None:
        last = SearchOpResponse(
            sequence=self._sequence + 1, result=result or SearchResult(), scanned=self.scanned
        )
        await self.answer(OperationResponse(search=last))

    async def sync_page(self, deltas: Sequence[SyncDelta]) -> None:
        step = self._limits.max_objects
        for start in range(0, len(deltas), step):
            self._sequence += 1
            chunk = list(deltas[start : start + step])
            self.objects += len(chunk)
            part = SyncOpResponse(sequence=self._sequence, syncDeltas=chunk)
            await self.answer(OperationResponse(sync=part))

    async def sync_done(self, token: SyncToken | None) -> None:
        last = SyncOpResponse(sequence=self._sequence + 1, token=token, last=True)
        await self.answer(OperationResponse(sync=last))

    async def fail(self, error: BaseException) -> None:
        await self._frame(error_frame(self.message_id, error))


PEER_NAME = "hubspot-rcs"


def frame_bucket(settings: ServerSettings) -> TokenBucket | None:
    """The per-connection frame limit `max_frames_per_second` and `frame_burst` ask for (both
    wires); None when unlimited."""
    if settings.max_frames_per_second is None:
        return None
    return TokenBucket(settings.max_frames_per_second, capacity=settings.frame_burst)


class Connection:
    """The JSON protocol on one authenticated socket."""

    def __init__(
        self,
        ws: ServerConnection,
        conn_id: str,
        operations: Operations,
        configurations: Configurations,
        *,
        metrics: ServerMetrics,
        settings: ServerSettings,
    ) -> None:
        self.ws = ws
        self.conn_id = conn_id
        self.session = Session(Side.SERVER)
        self._operations = operations
        self._configurations = configurations
        self._metrics = metrics
        self._settings = settings
        self._limits = Limits(settings.search_frame_max_objects, settings.search_frame_max_bytes)
        self._cut_off = False
        self._replies = Replies(settings.max_pending_replies, self._cut_off_peer)
        self._bucket = frame_bucket(settings)

    @property
    def operations(self) -> Mapping[Hashable, asyncio.Task[None]]:
        """The operations running for this connection, by messageId."""
        return self._operations.tasks

    @property
    def operations_run(self) -> int:
        return self._operations.run

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
        if self._cut_off:
            return
        try:
            frame = decode(message)
        except FrameError as exc:
            self._reply(error_frame(exc.message_id or 0, exc))
            return
        if self._bucket is not None and not self._bucket.try_take():
            # Decoded first, so the error names the frame's messageId; not acted on.
            self._metrics.refused_frames.inc()
            limit = self._settings.max_frames_per_second
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
                    "connectorInfos": self._configurations.connector_infos(),
                    "configurations": self._configurations.configuration_infos(),
                }
            )
        if "REQUESTS" in control.infoLevel:
            response = response.model_copy(
                update={"requestIds": sorted(self.session.open_requests)}
            )
        return ResponseFrame(messageId=message_id, response=ResponseBody(control=response))

    # -- operations -------------------------------------------------------------------------

    def _start(self, message_id: int, request: OperationRequest) -> None:
        sink = JsonSink(message_id, self._send, self.session, self._limits)
        try:
            self._operations.start(
                message_id,
                request,
                sink,
                on_done=lambda: self.session.finish(message_id),
                log_fields={"request_id": message_id},
            )
        except ConnectorException as exc:
            self.session.finish(message_id)
            self._reply(error_frame(message_id, exc))

    async def _send(self, text: bytes) -> None:
        await self.ws.send(text, text=True)

    def _cancel(self, message_id: int, cancel: CancelRequest) -> None:
        target = cancel.requestId
        try:
            is_open = self.session.cancel_target(cancel)
        except ProtocolError as exc:
            self._reply(error_frame(message_id, exc))
            return
        task = self._operations.cancel(target) if is_open else None
        if task is None:
            self._reply(self._cancel_answer(message_id, target, False))
            return

        async def answer_when_stopped() -> None:
            # Answer only once the operation has stopped: nothing of it may follow the answer.
            await asyncio.wait([task])
            self._reply(self._cancel_answer(message_id, target, task.cancelled()))

        self._replies.spawn(answer_when_stopped())

    @staticmethod
    def _cancel_answer(message_id: int, target: int, cancelled: bool) -> ResponseFrame:
        answer = CancelResponse(requestId=target, cancelled=cancelled)
        return ResponseFrame(messageId=message_id, response=ResponseBody(cancel=answer))

    async def stop_operations(self) -> None:
        """The socket is gone: cancel what runs (their leases go back) and wait for it."""
        await self._operations.stop_all()
        await self._replies.cancel()
        self.session.close()

    # -- replies from the reader ------------------------------------------------------------

    def _reply(self, frame: ResponseFrame) -> None:
        with contextlib.suppress(ProtocolError):
            self.session.sent(frame)
        self._replies.spawn(self._send(encode(frame).encode()))

    def _cut_off_peer(self) -> None:
        """The peer sends and does not read: close, rather than hold its answers."""
        self._cut_off = True
        cut_off(self.ws, self._metrics, self._replies)
