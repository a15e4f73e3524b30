"""The OpenICF 1.5 wire under `RcsClient`: the client IDM embeds, as it behaves on the wire.

docs/openicf-rpc.md describes the protocol; this module does what the Java client does there:

- two WebSockets to `/openicf`, each asking for the subprotocol `v1.openicf.forgerock.org`
  with HTTP Basic `anonymous:<key>`, and a handshake on each carrying this process's EC
  secp521r1 public key (its sessionId is the uppercase hex SHA-1 of the key's DER);
- the sockets form one connection group: requests alternate between them, answers and
  stream parts are taken from either, a cancel may go on the other;
- right after the handshakes it asks for CONNECTOR_INFO; the server's own control requests
  are answered: CONNECTOR_INFO with an empty legacy `List` (a client hosts no connectors),
  the keepalive with an empty answer;
- every operation carries the facade key: the server's default `APIConfiguration` for the
  connector (from CONNECTOR_INFO) with the provisioner file's values set, confidential ones
  as GuardedStrings, legacy-serialized and Base64-encoded;
- search and sync parts are put back in sequence order, and a stream ends only when every
  part up to the final message's sequence has arrived (the final message may come first).

Everything above the wire (Facade, SearchResults, the exceptions) is `client.connection`'s,
unchanged: a caller picks the wire with `RcsClient.connect(..., protocol="openicf")`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from client.connection import RcsClient, open_socket
from protocol.codec import error_response, exception_from
from protocol.configuration import ConfigurationValue, ConnectorKey, InlineConfiguration
from protocol.errors import (
    ConfigurationException,
    ConnectionBrokenException,
    ConnectionFailedException,
    ConnectorException,
    ProtocolError,
    UnsupportedOperationException,
)
from protocol.frames import (
    ControlResponse,
    ErrorCause,
    ErrorResponse,
    OperationResponse,
    RequestFrame,
    ResponseBody,
    ResponseFrame,
)
from protocol.info import ConfigurationPropertyInfo, ConnectorInfo
from protocol.openicf import legacy, objects
from protocol.openicf.messages import decode_operation, decode_stream_part, encode_operation
from protocol.openicf.proto.rpc_pb2 import (
    ControlRequest,
    ExceptionMessage,
    HandshakeMessage,
    RemoteMessage,
)
from protocol.openicf.session import (
    HANDSHAKE_ID,
    ConfigurationChanged,
    ControlAnswered,
    ControlRequested,
    ErrorAnswered,
    Event,
    Group,
    HandshakeAnswered,
    OperationAnswered,
    OperationRequested,
    Refused,
    Session,
    Side,
    new_handshake,
)
from protocol.openicf.wire import WireFormatError, parse_message, serialize_message
from protocol.versions import VersionRange, parse_version

SUBPROTOCOL: Final = "v1.openicf.forgerock.org"
SOCKETS: Final = 2
"""Sockets per connection group: the Java client's `expectedConnectionCount`."""
LOCALE: Final = "en"
"""The locale every operation request carries (the Java client sent `language: "en"`)."""
EMPTY_CONNECTOR_LIST: Final = legacy.encode([])
"""A client's answer to the server's CONNECTOR_INFO: it hosts nothing."""


# -- this process's identity ----------------------------------------------------------------------


@functools.cache
def handshake_message() -> HandshakeMessage:
    """This process's handshake, one for its life, as the Java client has."""
    return new_handshake()


# -- the facade key -----------------------------------------------------------------------------


def configured(
    default: legacy.LegacyObject, configuration: InlineConfiguration
) -> legacy.LegacyObject:
    """The server's default `APIConfiguration` with a provisioner file's settings applied.

    What IDM does before it calls the connector: every configuration property named in the
    file gets the file's value under the property's Java type (`GuardedString` for a secret);
    the pool, the results handlers and the operation timeouts are set too. A property the
    connector lacks, or a value its type cannot hold, is a `ConfigurationException` naming it.
    """
    sealed = [
        name
        for name, value in configuration.configurationProperties.items()
        if isinstance(value, dict) and "$crypto" in value
    ]
    if sealed:
        raise ConfigurationException(
            f"{', '.join(sealed)}: encrypted at rest ($crypto) in this file, which only the "
            "server that holds its key can read; on the OpenICF protocol the client sends every "
            "value itself, so give a file with the plain values, or use --protocol json to name "
            "the server's configuration"
        )
    try:
        api = objects.set_property_values(default, configuration.configurationProperties)
    except WireFormatError as exc:
        raise ConfigurationException(
            f"the configuration does not fit the connector: {exc}"
        ) from None
    fields = dict(api.fields)
    option = configuration.poolConfigOption
    fields["connectorPoolConfiguration"] = legacy.LegacyObject(
        "ObjectPoolConfiguration",
        {
            "maxObjects": option.maxObjects,
            "maxIdle": option.maxIdle,
            "maxWait": legacy.Long(option.maxWait),
            "minEvictableIdleTimeMillis": legacy.Long(option.minEvictableIdleTimeMillis),
            "minIdle": option.minIdle,
        },
    )
    fields["resultsHandlerConfiguration"] = legacy.LegacyObject(
        "ResultsHandlerConfiguration", configuration.resultsHandlerConfig.model_dump()
    )
    if configuration.operationTimeout:
        fields["timeoutMap"] = legacy.JavaMap(
            [
                (legacy.ClassRef(objects.API_OPERATION_OF[name]), timeout)
                for name, timeout in configuration.operationTimeout.items()
                if name in objects.API_OPERATION_OF
            ]
        )
    return legacy.LegacyObject(api.type, fields, list(api.items))


def facade_key(default: legacy.LegacyObject, configuration: InlineConfiguration) -> bytes:
    """`connectorFacadeKey`: the UTF-8 of the Base64 of the configured `APIConfiguration`."""
    return objects.facade_key(configured(default, configuration))


def resolve_key(ref: ConnectorKey, hosted: Sequence[ConnectorKey]) -> ConnectorKey:
    """The hosted connector a `connectorRef` means: same names, the highest version in range."""
    wanted = VersionRange.parse(ref.bundleVersion)
    candidates = [
        key
        for key in hosted
        if key.bundleName == ref.bundleName
        and key.connectorName == ref.connectorName
        and parse_version(key.bundleVersion) in wanted
    ]
    if not candidates:
        listed = "; ".join(str(k) for k in hosted) or "none"
        raise ConnectorException(f"Connector not found: {ref} (the server hosts: {listed})")
    return max(candidates, key=lambda k: parse_version(k.bundleVersion))


# -- the connection group ---------------------------------------------------------------------


@dataclass
class _Reorder:
    """The parts of one search or sync, back in sequence order.

    Objects (or deltas) carry their sequence from 1; the final message carries the count
    (docs/openicf-rpc.md §10). Parts wait here until every earlier one has come, and
    the final one until the count is reached: it may arrive before the last object.
    """

    delivered: int = 0
    held: dict[int, OperationResponse] = field(default_factory=dict)
    final: OperationResponse | None = None
    expected: int | None = None

    def add(self, sequence: int, part: OperationResponse, *, last: bool) -> list[OperationResponse]:
        if last:
            self.final, self.expected = part, sequence
        else:
            self.held[sequence] = part
        ready: list[OperationResponse] = []
        while self.delivered + 1 in self.held:
            self.delivered += 1
            ready.append(self.held.pop(self.delivered))
        if self.final is not None and self.expected is not None and self.delivered >= self.expected:
            ready.append(self.final)
            self.final = None
        return ready


class OpenIcfClient(RcsClient):
    """`RcsClient` over OpenICF 1.5: one connection group of `SOCKETS` WebSockets."""

    protocol: Literal["openicf"] = "openicf"

    def __init__(self, sockets: Sequence[ClientConnection], *, stream_queue_frames: int) -> None:
        super().__init__(sockets[0], stream_queue_frames=stream_queue_frames)
        self.sockets = list(sockets)
        hello = handshake_message()
        self.sessions = [Session(Side.CLIENT, hello) for _ in self.sockets]
        """One sans-I/O session per socket; they share `group` once the server has answered."""
        self.group: Group | None = None
        self.server_session_id: str | None = None
        self.configuration_changes: list[dict[str, ConfigurationValue]] = []
        """What the server pushed with `configurationChangeEvent`: property name -> new value."""
        self._answered = [asyncio.Event() for _ in self.sockets]
        self._turn = 0
        self._kinds: dict[int, str] = {}
        self._streams: dict[int, _Reorder] = {}
        self._defaults: dict[ConnectorKey, legacy.LegacyObject] = {}
        self._facade_keys: dict[tuple[ConnectorKey, str], bytes] = {}
        self._readers: list[asyncio.Task[None]] = []

    @classmethod
    async def open(
        cls,
        url: str,
        key: str,
        *,
        ssl: Any,
        auth: Literal["basic", "bearer"],
        open_timeout_s: float,
        max_frame_bytes: int,
        stream_queue_frames: int,
        sockets: int = SOCKETS,
    ) -> OpenIcfClient:
        """Open the group's sockets, do the handshake on each, and return the client."""
        opened: list[ClientConnection] = []
        try:
            for _ in range(sockets):
                ws = await open_socket(
                    url,
                    key,
                    ssl=ssl,
                    auth=auth,
                    open_timeout_s=open_timeout_s,
                    max_frame_bytes=max_frame_bytes,
                    subprotocol=SUBPROTOCOL,
                )
                opened.append(ws)
                if ws.subprotocol != SUBPROTOCOL:
                    raise ConnectionFailedException(
                        f"the server at {url} does not speak OpenICF 1.5: it did not accept "
                        f"the subprotocol {SUBPROTOCOL}"
                    )
        except BaseException:
            for ws in opened:
                await ws.close()
            raise
        client = cls(opened, stream_queue_frames=stream_queue_frames)
        loop = asyncio.get_running_loop()
        client._readers = [loop.create_task(client._read_socket(i)) for i in range(sockets)]
        try:
            async with asyncio.timeout(open_timeout_s):
                await client._handshake_all()
                await client.connector_info()  # as the Java client does, right away
        except TimeoutError:
            await client.aclose()
            raise ConnectionFailedException(
                f"the server at {url} did not answer the OpenICF handshake and CONNECTOR_INFO "
                f"in {open_timeout_s} s"
            ) from None
        except BaseException:
            await client.aclose()
            raise
        return client

    async def _handshake_all(self) -> None:
        for index, session in enumerate(self.sessions):
            await self._send_message(index, session.handshake_request())
        for answered in self._answered:
            await answered.wait()
        if self._closed_error is not None:
            raise self._closed_error

    async def aclose(self) -> None:
        for ws in self.sockets:
            await ws.close()
        for pending in self._pending.values():
            pending.abandon()
        if self._readers:
            await asyncio.wait(self._readers)

    # -- ids ------------------------------------------------------------------------------------

    def _next_id(self) -> int:
        if self.group is None:
            raise ConnectionBrokenException("the OpenICF handshake has not been answered")
        return self.group.next_request_id()

    def _finished(self, message_id: int) -> None:
        self._kinds.pop(message_id, None)
        self._streams.pop(message_id, None)
        if self.group is not None:
            self.group.finish_own(message_id)

    # -- sending ----------------------------------------------------------------------------------

    async def _send_message(self, index: int, message: RemoteMessage) -> None:
        self.sessions[index].sent(message)
        try:
            await self.sockets[index].send(serialize_message(message))
        except ConnectionClosed:
            raise self._closed_error or ConnectionBrokenException("the connection closed") from None

    def _next_socket(self) -> int:
        """Requests alternate between the group's sockets, as the Java client spreads them."""
        self._turn = (self._turn + 1) % len(self.sockets)
        return self._turn

    async def _send(self, frame: RequestFrame) -> None:
        body = frame.request
        message = RemoteMessage(messageId=frame.messageId)
        if body.control is not None:
            control = message.request.controlRequest
            if "CONNECTOR_INFO" in body.control.infoLevel:
                control.infoLevel.append(ControlRequest.CONNECTOR_INFO)
            if "REQUESTS" in body.control.infoLevel:
                raise UnsupportedOperationException(
                    "the OpenICF protocol does not list a connection's open requests"
                )
            control.remoteRequestId.append(frame.messageId)
        elif body.operation is not None:
            operation = body.operation
            configuration = operation.configuration
            if not isinstance(configuration, InlineConfiguration):
                raise ConfigurationException(_NO_NAMED_CONFIGURATIONS)
            exact = await self._exact_key(operation.connectorKey)
            request = message.request.operationRequest
            request.CopyFrom(encode_operation(operation))
            request.connectorKey.bundleName = exact.bundleName
            request.connectorKey.bundleVersion = exact.bundleVersion
            request.connectorKey.connectorName = exact.connectorName
            request.connectorFacadeKey = await self._facade_key(exact, configuration)
            request.locale.language = LOCALE
            self._kinds[frame.messageId] = operation.kind
            if operation.kind in ("search", "sync"):
                self._streams[frame.messageId] = _Reorder()
        else:
            raise ProtocolError(f"this client does not send {body.kind} requests on OpenICF")
        await self._send_message(self._next_socket(), message)

    async def _defaults_by_key(self) -> dict[ConnectorKey, legacy.LegacyObject]:
        if not self._defaults:
            await self.connector_info()
        return self._defaults

    async def _exact_key(self, ref: ConnectorKey) -> ConnectorKey:
        return resolve_key(ref, list(await self._defaults_by_key()))

    async def _facade_key(self, key: ConnectorKey, configuration: InlineConfiguration) -> bytes:
        cache_key = (key, configuration.model_dump_json())
        found = self._facade_keys.get(cache_key)
        if found is None:
            default = (await self._defaults_by_key())[key]
            found = self._facade_keys[cache_key] = facade_key(default, configuration)
        return found

    # -- receiving --------------------------------------------------------------------------------

    async def _read_socket(self, index: int) -> None:
        ws, session = self.sockets[index], self.sessions[index]
        error: ConnectorException = ConnectionBrokenException("the connection closed")
        try:
            async for data in ws:
                if isinstance(data, str):
                    continue  # text frames are not part of this protocol: ignored, as Java does
                try:
                    message = parse_message(data)
                except WireFormatError:
                    continue  # nothing to answer: we cannot read its messageId
                await self._on_event(index, message, session.receive(message))
        except ConnectionClosed as exc:
            error = ConnectionBrokenException(f"the connection closed ({exc})")
        finally:
            # One socket of the group gone: its answers may never come, so the client stops.
            if self._closed_error is None:
                self._closed_error = error
            for pending in self._pending.values():
                pending.fail(self._closed_error)
            for answered in self._answered:
                answered.set()
            for other in self.sockets:
                if other is not ws:
                    with contextlib.suppress(Exception):
                        await other.close()

    async def _on_event(self, index: int, message: RemoteMessage, event: Event) -> None:
        if isinstance(event, HandshakeAnswered):
            self._joined(index, event)
        elif isinstance(event, ControlRequested):
            answer = RemoteMessage(messageId=event.message_id)
            control = answer.response.controlResponse
            if event.wants_connector_info:
                control.connectorInfos = EMPTY_CONNECTOR_LIST
            else:
                control.SetInParent()  # the keepalive: an empty answer
            await self._send_message(index, answer)
        elif isinstance(event, ControlAnswered):
            await self._deliver(event.message_id, ResponseBody(control=self._control(event)))
        elif isinstance(event, OperationAnswered):
            await self._answer(event)
        elif isinstance(event, ErrorAnswered) and event.message_id == HANDSHAKE_ID:
            # The server refused our handshake: the connection fails with its reason.
            self._closed_error = exception_from(_error(event.error))
            self._answered[index].set()
        elif isinstance(event, ErrorAnswered):
            await self._deliver(event.message_id, ResponseBody(error=_error(event.error)))
        elif isinstance(event, ConfigurationChanged):
            self.configuration_changes.append(_changes(event.change))
        elif isinstance(event, (OperationRequested, Refused)) and message.HasField("request"):
            refusal = (
                event.error
                if isinstance(event, Refused)
                else UnsupportedOperationException("a client runs no operations")
            )
            answer = RemoteMessage(messageId=event.message_id)
            answer.response.error.CopyFrom(_exception_message(refusal))
            with contextlib.suppress(ConnectorException):
                await self._send_message(index, answer)

    def _joined(self, index: int, event: HandshakeAnswered) -> None:
        if self.group is None:
            self.group = Group(event.session_id)
            self.server_session_id = event.session_id
        elif event.session_id != self.group.peer_session_id:
            # Two servers behind one address (a balancer without affinity): not one group.
            self._closed_error = ConnectionFailedException(
                "the sockets reached different connector servers (sessionIds "
                f"{self.group.peer_session_id} and {event.session_id})"
            )
        self.sessions[index].join(self.group)
        self._answered[index].set()

    async def _deliver(self, message_id: int, body: ResponseBody) -> None:
        pending = self._pending.get(message_id)
        if pending is not None:
            # Built from parts this module made and checked: no second validation per object.
            await pending.put(ResponseFrame.model_construct(messageId=message_id, response=body))

    def _control(self, event: ControlAnswered) -> ControlResponse:
        if not event.response.connectorInfos:
            return ControlResponse(connectorInfos=[])
        infos, defaults = decode_connector_infos(event.response.connectorInfos)
        self._defaults = defaults
        return ControlResponse(connectorInfos=infos)

    async def _answer(self, event: OperationAnswered) -> None:
        message_id, response = event.message_id, event.response
        kind = self._kinds.get(message_id)
        if kind is None:
            return
        try:
            streamed = self._streams.get(message_id)
            if streamed is None:
                await self._deliver(
                    message_id, ResponseBody(operation=decode_operation(kind, response))
                )
                return
            sequence, part, last = decode_stream_part(kind, response)
            parts = streamed.add(sequence, part, last=last)
        except ConnectorException as exc:
            await self._deliver(message_id, ResponseBody(error=error_response(exc)))
            return
        for ready in parts:
            await self._deliver(message_id, ResponseBody.model_construct(operation=ready))

    # -- what this wire does differently ----------------------------------------------------------

    async def facade(self, configuration_name: str) -> Any:
        """The OpenICF wire names no configuration: each request carries its own."""
        raise ConfigurationException(_NO_NAMED_CONFIGURATIONS)

    async def open_requests(self) -> list[int]:
        raise UnsupportedOperationException(
            "the OpenICF protocol does not list a connection's open requests"
        )

    async def cancel(self, request_id: int, *, timeout_s: float | None = 30.0) -> bool:
        """Stop request `request_id`: a `cancelOpRequest` under its id, which has no answer.

        True when the request was still open here; the server may still send its final part.
        """
        pending = self._pending.get(request_id)
        if pending is not None:
            pending.abandon()
        open_here = self.group is not None and request_id in self.group.own_open
        message = RemoteMessage(messageId=request_id)
        message.request.cancelOpRequest.SetInParent()
        await self._send_message(self._next_socket(), message)
        return open_here


_NO_NAMED_CONFIGURATIONS: Final = (
    "the OpenICF protocol has no configurations held by name on the server: give the "
    "configuration itself (an IDM provisioner file), as IDM does"
)


def _exception_message(exc: ConnectorException) -> ExceptionMessage:
    return ExceptionMessage(exceptionClass=exc.wire_class, message=exc.message)


def _error(error: ExceptionMessage) -> ErrorResponse:
    """An `ExceptionMessage` as the error our exceptions are rebuilt from, by Java class name."""

    def cause(inner: ExceptionMessage.InnerCause, depth: int = 0) -> ErrorCause | None:
        if not inner.exceptionClass or depth > 8:
            return None
        return ErrorCause(
            exceptionClass=inner.exceptionClass,
            message=inner.message,
            cause=cause(inner.cause, depth + 1) if inner.HasField("cause") else None,
        )

    return ErrorResponse(
        exceptionClass=error.exceptionClass or ConnectorException.icf_class,
        message=error.message,
        cause=cause(error.innerCause) if error.HasField("innerCause") else None,
    )


def _changes(blob: bytes) -> dict[str, ConfigurationValue]:
    """A `configurationChangeEvent`'s changed properties, name -> new value."""
    try:
        return objects.decode_configuration_change(blob)
    except WireFormatError:
        return {}


# -- CONNECTOR_INFO ------------------------------------------------------------------------------


_PROPERTY_TYPES: Final = {
    "String": "string",
    "Character": "string",
    "char": "string",
    "int": "integer",
    "Integer": "integer",
    "long": "integer",
    "Long": "integer",
    "double": "number",
    "Double": "number",
    "float": "number",
    "Float": "number",
    "boolean": "boolean",
    "Boolean": "boolean",
    "GuardedString": "guardedString",
}
"""A configuration property's Java type -> its type as `protocol.info` names it."""


def _property_type(java_type: str) -> str:
    if java_type.startswith("Array<") and java_type.endswith(">"):
        return f"array<{_PROPERTY_TYPES.get(java_type[6:-1], 'string')}>"
    return _PROPERTY_TYPES.get(java_type, "string")


def connector_info(remote: objects.RemoteConnectorInfo) -> ConnectorInfo:
    """What CONNECTOR_INFO says of a connector, as the JSON wire's `ConnectorInfo` says it.

    The OpenICF wire does not list object classes (IDM takes them from its provisioner file).
    """
    configuration = remote.configuration()
    messages = remote.messages
    properties = [
        ConfigurationPropertyInfo(
            name=p.name,
            type=_property_type(p.java_type),
            required=p.required,
            confidential=p.confidential,
            defaultValue=None if p.confidential else p.value,
            displayName=messages.get(f"{p.name}.display", p.name),
            helpMessage=messages.get(f"{p.name}.help"),
            group=messages.get(f"{p.name}.group"),
            order=p.order,
        )
        for p in configuration.properties.values()
    ]
    operations = sorted(
        {objects.OPERATION_OF_API[op] for op in configuration.supported_operations}
        & set(objects.OPERATION_OF_API.values())
        if configuration.supported_operations
        else set()
    )
    return ConnectorInfo(
        connectorKey=remote.connector_key,
        displayName=remote.display_name,
        category=remote.category,
        configurationProperties=sorted(properties, key=lambda p: (p.order, p.name)),
        supportedOperations=operations,
    )


def decode_connector_infos(
    blob: bytes,
) -> tuple[list[ConnectorInfo], dict[ConnectorKey, legacy.LegacyObject]]:
    """A CONNECTOR_INFO answer: our models of the connectors, and each one's default
    `APIConfiguration`, the base of its facade keys."""
    remotes = objects.decode_connector_infos(blob)
    infos = [connector_info(r) for r in remotes]
    return infos, {r.connector_key: r.api_configuration for r in remotes}
