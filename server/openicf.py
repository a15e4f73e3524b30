"""The OpenICF 1.5 wire (protobuf `RemoteMessage`s in binary frames), as IDM speaks it.

docs/openicf-rpc.md describes the wire. The shape here:

- `OpenICFHub`, one per server: this process's handshake identity (an EC secp521r1 key made at
  start; the sessionId is the uppercase hex SHA-1 of its DER), and the connection groups by the
  peer's sessionId.
- `ConnectionGroup`: the sockets one peer opened (IDM opens two). Requests, answers and cancels of
  a group may travel on any of its sockets, so its operations are keyed by messageId within the
  group (sessionId + messageId), its own requests (our CONNECTOR_INFO request and the keepalive)
  are numbered in the group, and an answer goes out on the socket that carried the request, or
  on another of the group when that one is gone.
- `OpenICFConnection`, one per socket: a reader that never waits on an operation; each message
  goes through the socket's sans-I/O `protocol.openicf.session.Session` in both directions.

Operations run through the same `Operations`/`OperationRunner` and pools as the JSON wire: the
facade key is decoded into an inline configuration (`server.facades`), and the answer comes
back through `OpenICFSink`, which encodes each typed answer as the Java server would
(`protocol.openicf.messages`). An abrupt EOF is a normal end of a socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, Final

import structlog
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from protocol.errors import ConnectorException, RetryableException
from protocol.frames import OperationResponse
from protocol.info import ConfigurationPropertyInfo
from protocol.openicf import messages, objects
from protocol.openicf.proto.rpc_pb2 import ControlRequest, RemoteMessage
from protocol.openicf.session import (
    CancelRequested,
    ConfigurationChanged,
    ControlAnswered,
    ControlRequested,
    Dropped,
    ErrorAnswered,
    Event,
    Group,
    HandshakeAnswered,
    HandshakeRequested,
    OperationAnswered,
    OperationRequested,
    Refused,
    Session,
    Side,
    new_handshake,
)
from protocol.openicf.wire import WireFormatError, parse_message, serialize_message
from protocol.values import (
    ConnectorObject,
    GuardedString,
    OperationName,
    SearchResult,
    SyncDelta,
    SyncToken,
)
from server.connection import frame_bucket
from server.facades import Facades
from server.logs import get_logger
from server.metrics import ServerMetrics
from server.runner import OperationRunner, Operations, Replies, cut_off
from server.settings import ServerSettings

log = get_logger("server.openicf")

KEEPALIVE_FIRST_S: Final = 60.0
"""The first keepalive ControlRequest, after the group's start (docs/openicf-rpc.md §3)."""
KEEPALIVE_EVERY_S: Final = 240.0
"""Then every 4 minutes, as the Java peers do."""


@dataclass(frozen=True)
class Origin:
    """Which group and facade key the running operation came from: where a configuration
    change that the operation causes is pushed (docs/openicf-rpc.md §9.8)."""

    group: ConnectionGroup
    connection: OpenICFConnection
    """The socket the request came on: the change goes out on it, so it precedes the answer."""
    facade_key: bytes
    properties: Sequence[ConfigurationPropertyInfo]
    """The connector's configuration properties: a change goes out with their metadata."""


current_origin: contextvars.ContextVar[Origin | None] = contextvars.ContextVar(
    "openicf_origin", default=None
)


async def push_configuration_change(property_name: str, value: GuardedString) -> None:
    """`Configurations.facade_persist`: a connector stored a property (a rotated refresh token)
    of a configuration that came as a facade key. Push it to the group the running operation
    came from, before that operation's answer (docs/openicf-rpc.md §9.8).
    The value is never written to disk here: the peer stores it."""
    origin = current_origin.get()
    if origin is None:
        log.warning("openicf.configuration_change_lost", property=property_name)
        return
    event = objects.encode_configuration_change({property_name: value}, origin.properties)
    try:
        await origin.group.push_configuration_change(origin.facade_key, event, origin.connection)
    except ConnectionClosed:
        log.warning("openicf.configuration_change_lost", property=property_name)
        return
    log.info("openicf.configuration_change", property=property_name)


class Identity:
    """This server's handshake, made once: every group of its peers sees the same sessionId."""

    def __init__(self) -> None:
        self.handshake = new_handshake()
        self.session_id = self.handshake.sessionId


class OpenICFHub:
    """Every OpenICF connection group of the server."""

    def __init__(
        self,
        runner: OperationRunner,
        facades: Facades,
        *,
        settings: ServerSettings,
        metrics: ServerMetrics,
        keepalive_first_s: float = KEEPALIVE_FIRST_S,
        keepalive_every_s: float = KEEPALIVE_EVERY_S,
    ) -> None:
        self.identity = Identity()
        self.runner = runner
        self.facades = facades
        self.settings = settings
        self.metrics = metrics
        self.keepalive_first_s = keepalive_first_s
        self.keepalive_every_s = keepalive_every_s
        self.groups: dict[str, ConnectionGroup] = {}

    def connection(self, ws: ServerConnection, conn_id: str) -> OpenICFConnection:
        return OpenICFConnection(self, ws, conn_id)

    def join(self, session_id: str, connection: OpenICFConnection) -> ConnectionGroup:
        group = self.groups.get(session_id)
        if group is None:
            group = ConnectionGroup(self, session_id)
            self.groups[session_id] = group
            log.info("openicf.group_open", peer_session=session_id)
        group.add(connection)
        return group

    async def leave(self, group: ConnectionGroup, connection: OpenICFConnection) -> None:
        if group.remove(connection):
            if self.groups.get(group.session_id) is group:
                del self.groups[group.session_id]
            await group.close()
            log.info("openicf.group_close", peer_session=group.session_id)


class ConnectionGroup:
    """The sockets of one peer, its operations, and our own requests to it."""

    def __init__(self, hub: OpenICFHub, session_id: str) -> None:
        self.hub = hub
        self.session_id = session_id
        self.ids = Group(session_id)
        self.operations: Operations = hub.runner.operations()
        self.sockets: list[OpenICFConnection] = []
        self._keepalive: asyncio.Task[None] | None = None
        self._asked_info = False
        self.streams: dict[int, tuple[str, OpenICFSink]] = {}
        """Running searches and syncs: a cancel still sends their final message."""
        self.cancelling: set[int] = set()

    def add(self, connection: OpenICFConnection) -> None:
        self.sockets.append(connection)
        if self._keepalive is None:
            loop = asyncio.get_running_loop()
            self._keepalive = loop.create_task(
                self._keep_alive(), name=f"keepalive-{self.session_id}"
            )

    def remove(self, connection: OpenICFConnection) -> bool:
        """Forget a closed socket; True when it was the group's last."""
        with contextlib.suppress(ValueError):
            self.sockets.remove(connection)
        return not self.sockets

    def after_handshake(self, connection: OpenICFConnection) -> None:
        """Ask the peer for its connectors once per group, as the Java server does; the
        answer (an empty list from IDM) is only read."""
        if not self._asked_info:
            self._asked_info = True
            request = connection.session.control_request([ControlRequest.CONNECTOR_INFO])
            connection.spawn(connection.send(request))

    async def send(self, message: RemoteMessage, prefer: OpenICFConnection | None) -> None:
        """Send on `prefer` while it is open, else on any open socket of the group."""
        candidates = [prefer] if prefer is not None else []
        candidates += [s for s in self.sockets if s is not prefer]
        for connection in candidates:
            if connection.open:
                await connection.send(message)
                return
        raise ConnectionClosed(None, None)

    async def _keep_alive(self) -> None:
        """A ControlRequest with no info level about a minute after start, then every 4
        minutes; the peer answers it with an empty ControlResponse."""
        await asyncio.sleep(self.hub.keepalive_first_s)
        while True:
            open_sockets = [s for s in self.sockets if s.open]
            if open_sockets:
                connection = open_sockets[0]
                with contextlib.suppress(ConnectionClosed):
                    await connection.send(connection.session.control_request())
            await asyncio.sleep(self.hub.keepalive_every_s)

    async def close(self) -> None:
        if self._keepalive is not None:
            self._keepalive.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._keepalive
        await self.operations.stop_all()

    async def push_configuration_change(
        self, facade_key: bytes, event: bytes, prefer: OpenICFConnection | None
    ) -> None:
        """A configurationChangeEvent: messageId 0, the facade key and the event, no answer."""
        await self.send(messages.configuration_change(facade_key, event), prefer)


class OpenICFSink:
    """One operation's answer as OpenICF messages, under its messageId, in its group."""

    def __init__(
        self,
        group: ConnectionGroup,
        message_id: int,
        prefer: OpenICFConnection,
        supported_operations: Sequence[OperationName] = (),
    ) -> None:
        self._supported = supported_operations
        self._group = group
        self.message_id = message_id
        self._prefer = prefer
        self._sequence = 0
        self.objects = 0

    async def _send(self, message: RemoteMessage) -> None:
        await self._group.send(message, self._prefer)

    async def answer(self, response: OperationResponse) -> None:
        await self._send(messages.answer(self.message_id, response, self._supported))

    async def search_page(self, objects: Sequence[ConnectorObject]) -> None:
        for obj in objects:
            self._sequence += 1
            self.objects += 1
            await self._send(messages.search_object(self.message_id, self._sequence, obj))

    async def search_done(self, result: SearchResult | None) -> None:
        await self._send(messages.search_done(self.message_id, self._sequence, result))

    async def sync_page(self, deltas: Sequence[SyncDelta]) -> None:
        for delta in deltas:
            self._sequence += 1
            self.objects += 1
            await self._send(messages.sync_delta(self.message_id, self._sequence, delta))

    async def sync_done(self, token: SyncToken | None) -> None:
        await self._send(messages.sync_done(self.message_id, self._sequence, token))

    async def fail(self, error: BaseException) -> None:
        await self._send(messages.error(self.message_id, error))

    @property
    def sequence(self) -> int:
        return self._sequence


class OpenICFConnection:
    """The OpenICF wire on one authenticated socket."""

    def __init__(self, hub: OpenICFHub, ws: ServerConnection, conn_id: str) -> None:
        self.hub = hub
        self.ws = ws
        self.conn_id = conn_id
        self.session = Session(Side.SERVER, hub.identity.handshake)
        self.group: ConnectionGroup | None = None
        self.open = True
        self._replies = Replies(hub.settings.max_pending_replies, self._cut_off_peer)
        self._bucket = frame_bucket(hub.settings)

    @property
    def operations(self) -> dict[Any, asyncio.Task[None]]:
        return {} if self.group is None else self.group.operations.tasks

    @property
    def operations_run(self) -> int:
        return 0 if self.group is None else self.group.operations.run

    async def serve(self) -> None:
        """Read messages until the socket closes (a close frame or an abrupt EOF alike)."""
        pinger = self._replace_keepalive()
        try:
            async for data in self.ws:
                if isinstance(data, str):
                    log.info("openicf.text_ignored")  # the Java peers ignore text frames too
                    continue
                self.receive(data)
        except ConnectionClosed:
            pass
        finally:
            if pinger is not None:
                pinger.cancel()
            self.open = False
            self.session.close()
            await self._replies.cancel()
            if self.group is not None:
                await self.hub.leave(self.group, self)

    def _replace_keepalive(self) -> asyncio.Task[None] | None:
        """WebSocket pings with an empty payload instead of websockets' random one: the Java
        peer parses a ping's payload as a `PingMessage` and logs a warning with a stack trace
        for every one that does not parse; an empty payload is a valid empty PingMessage."""
        if self.ws.keepalive_task is not None:
            self.ws.keepalive_task.cancel()
            self.ws.keepalive_task = None
        if self.hub.settings.ping_interval_s is None:
            return None
        return asyncio.get_running_loop().create_task(self._keep_pinging())

    async def _keep_pinging(self) -> None:
        interval = self.hub.settings.ping_interval_s
        timeout = self.hub.settings.ping_timeout_s
        assert interval is not None
        with contextlib.suppress(ConnectionClosed):
            while True:
                await asyncio.sleep(interval)
                pong = await self.ws.ping(b"")
                try:
                    async with asyncio.timeout(timeout):
                        await pong
                except TimeoutError:
                    await self.ws.close(1011, "keepalive ping timeout")
                    return

    async def send(self, message: RemoteMessage) -> None:
        self.session.sent(message)
        await self.ws.send(serialize_message(message))

    def spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        self._replies.spawn(coroutine)

    def _reply(self, message: RemoteMessage) -> None:
        self.spawn(self.send(message))

    def _cut_off_peer(self) -> None:
        """The peer sends and does not read: close, rather than hold its answers."""
        cut_off(self.ws, self.hub.metrics, self._replies)

    # -- the reader -----------------------------------------------------------------------

    def receive(self, data: bytes) -> None:
        """Act on one message; never awaits."""
        try:
            message = parse_message(data)
        except WireFormatError as exc:
            self._reply(messages.error(messages.leading_message_id(data), exc))
            return
        if self._bucket is not None and not self._bucket.try_take():
            self.hub.metrics.refused_frames.inc()
            limit = self.hub.settings.max_frames_per_second
            refused = RetryableException(
                f"too many messages on this connection (limit {limit:g} a second); slow down"
            )
            self._reply(messages.error(message.messageId, refused))
            return
        event = self.session.receive(message)
        try:
            self._act(event)
        except Exception as exc:
            # A bug of ours on one message must not cost the peer its socket.
            log.exception("openicf.internal_error")
            self._reply(messages.error(message.messageId, exc))

    def _act(self, event: Event) -> None:
        match event:
            case HandshakeRequested():
                structlog.contextvars.bind_contextvars(peer_session=event.session_id)
                if self.group is None:
                    self.group = self.hub.join(event.session_id, self)
                    self.session.join(self.group.ids)
                self._reply(self.session.handshake_answer(event.message_id))
                log.info("connection.handshake", wire="openicf")
                self.group.after_handshake(self)
            case ControlRequested():
                self._reply(self._control(event))
            case OperationRequested():
                self._start(event)
            case CancelRequested():
                self._cancel(event)
            case ControlAnswered():
                log.debug("openicf.control_answered", request_id=event.message_id)
            case ErrorAnswered():
                log.info(
                    "openicf.peer_error",
                    request_id=event.message_id,
                    error=event.error.exceptionClass,
                )
            case ConfigurationChanged():
                log.info("openicf.configuration_change_ignored")
            case Refused():
                self._reply(messages.error(event.message_id, event.error))
            case Dropped() | HandshakeAnswered() | OperationAnswered():
                log.info("openicf.dropped", request_id=getattr(event, "message_id", None))

    def _control(self, event: ControlRequested) -> RemoteMessage:
        infos = None
        if event.wants_connector_info:
            infos = self.hub.facades.connector_infos()
        return messages.control_answer(event.message_id, infos)

    # -- operations -------------------------------------------------------------------------

    def _start(self, event: OperationRequested) -> None:
        group = self.group
        assert group is not None  # the session refuses operations before the handshake
        message_id = event.message_id
        try:
            connector = self.hub.facades.connector(event.request)
            configuration = self.hub.facades.configuration(event.request)
            request = messages.operation_request(event.request, configuration)
        except ConnectorException as exc:
            group.ids.finish_peer(message_id)
            self._reply(messages.error(message_id, exc))
            return
        info = connector.info()
        sink = OpenICFSink(group, message_id, self, info.supportedOperations)
        facade_key = bytes(event.request.connectorFacadeKey)
        origin = Origin(group, self, facade_key, info.configurationProperties)

        def done() -> None:
            group.streams.pop(message_id, None)
            if message_id not in group.cancelling:
                group.ids.finish_peer(message_id)

        token = current_origin.set(origin)
        try:
            group.operations.start(
                message_id,
                request,
                sink,
                on_done=done,
                log_fields={"request_id": message_id, "wire": "openicf"},
            )
        except ConnectorException as exc:
            group.ids.finish_peer(message_id)
            self._reply(messages.error(message_id, exc))
            return
        finally:
            current_origin.reset(token)
        if request.kind in ("search", "sync"):
            group.streams[message_id] = (request.kind, sink)

    def _cancel(self, event: CancelRequested) -> None:
        """Stop the operation wherever it came in; a stopped search or sync still gets its
        final message with the count of what was sent, as the Java server sends it."""
        group = self.group
        assert group is not None
        message_id = event.message_id
        stream = group.streams.get(message_id)
        if stream is not None:
            group.cancelling.add(message_id)
        task = group.operations.cancel(message_id) if event.open else None
        if task is None:
            group.cancelling.discard(message_id)
            return
        log.info("openicf.cancel", request_id=message_id)

        async def close_stream() -> None:
            try:
                await asyncio.wait([task])
                if stream is None or not task.cancelled():
                    return
                kind, sink = stream
                if kind == "search":
                    final = messages.search_done(message_id, sink.sequence, None)
                else:
                    final = messages.sync_done(message_id, sink.sequence, None)
                await group.send(final, self)
            finally:
                group.cancelling.discard(message_id)
                group.ids.finish_peer(message_id)

        self.spawn(close_stream())
