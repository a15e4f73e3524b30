"""The OpenICF 1.5 session, sans I/O: what each `RemoteMessage` means, and which may come when.

One `Session` per socket and side; it sees every message in both directions (`receive`, `sent`)
and turns each received one into an event the server or the client acts on. The sockets a peer
opens to the same counterpart form a connection group, keyed by the peer's sessionId
(docs/openicf-rpc.md §3): requests, answers and cancels of one group may travel
on any of its sockets, so the request ids live in the `Group` the sockets share, not in a socket.

Rules (docs/openicf-rpc.md §2, §3):
- The WebSocket client sends `request.handshakeMessage` under messageId 0 on every socket; the
  server answers with its own under the same id. Anything else before the handshake is refused
  ("Connection received request before handshake"), and the socket goes on.
- Each side numbers its own requests from 1 within the group; the same id may be in flight in
  both directions at once, a request and a response tell them apart. Every answer, stream part
  and cancel reuses the request's id.
- `ControlRequest`s go both ways; each is answered with a `controlResponse` (CONNECTOR_INFO
  with the hosted connectors, or empty: the keepalive).
- A `configurationChangeEvent` is an operation request under messageId 0 that gets no answer.

This module keeps no clock and does no I/O; keepalive timing is the caller's.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from typing import Final, TypeAlias

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from protocol.errors import ConnectorException, ProtocolError
from protocol.openicf.proto.operations_pb2 import OperationRequest, OperationResponse
from protocol.openicf.proto.rpc_pb2 import (
    ControlRequest,
    ControlResponse,
    ExceptionMessage,
    HandshakeMessage,
    RemoteMessage,
)
from protocol.session import Side

__all__ = [
    "CancelRequested",
    "ConfigurationChanged",
    "ControlAnswered",
    "ControlRequested",
    "Dropped",
    "ErrorAnswered",
    "Event",
    "Group",
    "HandshakeAnswered",
    "HandshakeRequested",
    "OperationAnswered",
    "OperationRequested",
    "Refused",
    "Session",
    "Side",
    "SocketState",
    "session_id_of",
]

HANDSHAKE_ID: Final = 0
"""The handshake and the configurationChangeEvent travel under messageId 0."""
RECENTLY_FINISHED: Final = 1024
"""How many finished peer request ids a group remembers (a late cancel is then no error)."""


def session_id_of(public_key_der: bytes) -> str:
    """A peer's sessionId: the uppercase hex SHA-1 of its public key's DER."""
    return hashlib.sha1(public_key_der, usedforsecurity=False).hexdigest().upper()


def new_handshake() -> HandshakeMessage:
    """A handshake of our own: a fresh EC secp521r1 public key (X.509 DER) and its sessionId.

    The key serves only to name the peer; nothing is ever encrypted with it
    (docs/openicf-rpc.md §3). A process makes one and keeps it, so that every socket of its
    connection group carries the same sessionId.
    """
    key = ec.generate_private_key(ec.SECP521R1())
    der = key.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return HandshakeMessage(
        sessionId=session_id_of(der), serverType=HandshakeMessage.JAVA, publicKey=der
    )


class SocketState(Enum):
    AWAITING_HANDSHAKE = "AWAITING_HANDSHAKE"
    OPEN = "OPEN"
    CLOSED = "CLOSED"


# -- events -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class HandshakeRequested:
    """The client's handshake (server side): join its group, then send `handshake_answer`."""

    message_id: int
    session_id: str
    public_key: bytes


@dataclass(frozen=True)
class HandshakeAnswered:
    """The server's handshake answer (client side): the socket is open."""

    session_id: str
    public_key: bytes


@dataclass(frozen=True)
class ControlRequested:
    message_id: int
    request: ControlRequest

    @property
    def wants_connector_info(self) -> bool:
        return ControlRequest.CONNECTOR_INFO in self.request.infoLevel


@dataclass(frozen=True)
class ControlAnswered:
    message_id: int
    response: ControlResponse


@dataclass(frozen=True)
class OperationRequested:
    message_id: int
    request: OperationRequest


@dataclass(frozen=True)
class ConfigurationChanged:
    """A pushed configurationChangeEvent (messageId 0, no answer)."""

    facade_key: bytes
    change: bytes


@dataclass(frozen=True)
class CancelRequested:
    """Stop request `message_id` of this group (it may have come on another socket)."""

    message_id: int
    open: bool
    """False when the request is not running (finished already, or never seen)."""


@dataclass(frozen=True)
class OperationAnswered:
    """A part or the whole of an answer to our request (client side)."""

    message_id: int
    response: OperationResponse


@dataclass(frozen=True)
class ErrorAnswered:
    message_id: int
    error: ExceptionMessage


@dataclass(frozen=True)
class Refused:
    """The message breaks the protocol: answer `error` under `message_id`; the socket goes on."""

    message_id: int
    error: ConnectorException


@dataclass(frozen=True)
class Dropped:
    """Nothing to do (an answer to a request that is not ours, say); `reason` is for the log."""

    message_id: int
    reason: str


Event: TypeAlias = (
    HandshakeRequested
    | HandshakeAnswered
    | ControlRequested
    | ControlAnswered
    | OperationRequested
    | ConfigurationChanged
    | CancelRequested
    | OperationAnswered
    | ErrorAnswered
    | Refused
    | Dropped
)


# -- the group ----------------------------------------------------------------------------------


class Group:
    """What the sockets of one connection group share: the request ids of both sides."""

    def __init__(self, peer_session_id: str) -> None:
        self.peer_session_id = peer_session_id
        self.peer_open: set[int] = set()
        """The peer's operation requests we received and have not finished answering."""
        self.own_open: dict[int, str] = {}
        """Our requests awaiting an answer, by id: `control` or `operation`."""
        self._next_id = 1
        self._finished: deque[int] = deque(maxlen=RECENTLY_FINISHED)
        self._finished_set: set[int] = set()

    def next_request_id(self) -> int:
        """A fresh id for a request of ours (1 and up, never one that is still open)."""
        while self._next_id in self.own_open:
            self._next_id += 1
        request_id, self._next_id = self._next_id, self._next_id + 1
        return request_id

    def finish_peer(self, message_id: int) -> None:
        """Our last answer to the peer's request `message_id` went out."""
        self.peer_open.discard(message_id)
        if message_id not in self._finished_set:
            if len(self._finished) == self._finished.maxlen:
                self._finished_set.discard(self._finished[0])
            self._finished.append(message_id)
            self._finished_set.add(message_id)

    def finish_own(self, message_id: int) -> None:
        """Our request `message_id` has its whole answer (or we gave up on it)."""
        self.own_open.pop(message_id, None)

    def recently_finished(self, message_id: int) -> bool:
        return message_id in self._finished_set


# -- the socket ---------------------------------------------------------------------------------


class Session:
    """One socket's view of the OpenICF wire, for either side.

    `handshake` is this side's own `HandshakeMessage` (its sessionId and public key).
    """

    def __init__(self, side: Side, handshake: HandshakeMessage) -> None:
        self.side = side
        self.handshake = handshake
        self.state = SocketState.AWAITING_HANDSHAKE
        self.group: Group | None = None

    # -- what this side sends ---------------------------------------------------------------

    def handshake_request(self) -> RemoteMessage:
        """The client's first message on a socket."""
        message = RemoteMessage(messageId=HANDSHAKE_ID)
        message.request.handshakeMessage.CopyFrom(self.handshake)
        return message

    def handshake_answer(self, message_id: int) -> RemoteMessage:
        """The server's answer to a handshake; `join` the peer's group first."""
        message = RemoteMessage(messageId=message_id)
        message.response.handshakeMessage.CopyFrom(self.handshake)
        return message

    def control_request(
        self, info_levels: Iterable[ControlRequest.InfoLevel.ValueType] = ()
    ) -> RemoteMessage:
        """A ControlRequest of ours: CONNECTOR_INFO, or none at all (the keepalive).

        It lists its own id in `remoteRequestId`, as the Java peers do.
        """
        group = self._open_group()
        request_id = group.next_request_id()
        message = RemoteMessage(messageId=request_id)
        control = message.request.controlRequest
        control.infoLevel.extend(info_levels)
        control.remoteRequestId.append(request_id)
        return message

    def join(self, group: Group) -> None:
        self.group = group

    def sent(self, message: RemoteMessage) -> None:
        """Check a message this side is about to send, and record what it opens."""
        if message.HasField("response"):
            response = message.response
            if response.HasField("handshakeMessage"):
                if self.side is not Side.SERVER or self.group is None:
                    raise ProtocolError("only a server answers a handshake, once it knows the peer")
                self.state = SocketState.OPEN
                return
            if response.HasField("operationResponse"):
                group = self._open_group()
                if self.side is Side.SERVER and message.messageId not in group.peer_open:
                    raise ProtocolError(
                        f"an operation answer for messageId {message.messageId}, "
                        "which is not an open request",
                        field="messageId",
                    )
            return
        request = message.request
        if request.HasField("handshakeMessage"):
            if self.side is not Side.CLIENT:
                raise ProtocolError("only a client sends a handshake request")
            return
        group = self._open_group()
        if request.HasField("controlRequest"):
            group.own_open[message.messageId] = "control"
        elif request.HasField("operationRequest") and not request.operationRequest.HasField(
            "configurationChangeEvent"
        ):
            group.own_open[message.messageId] = "operation"

    # -- what the peer sends ----------------------------------------------------------------

    def receive(self, message: RemoteMessage) -> Event:
        """What a message from the peer means; never raises for the peer's mistakes."""
        message_id = message.messageId
        if message.HasField("request"):
            return self._request(message_id, message)
        if message.HasField("response"):
            return self._response(message_id, message)
        return Refused(message_id, ConnectorException("Unknown RemoteMessage"))

    def _request(self, message_id: int, message: RemoteMessage) -> Event:
        request = message.request
        if request.HasField("handshakeMessage"):
            if self.side is not Side.SERVER:
                return Dropped(message_id, "a handshake request sent to a client")
            hello = request.handshakeMessage
            if not hello.sessionId:
                return Refused(message_id, ProtocolError("the handshake carries no sessionId"))
            if self.group is not None and self.group.peer_session_id != hello.sessionId:
                return Refused(
                    message_id,
                    ProtocolError("a second handshake on this socket names another sessionId"),
                )
            return HandshakeRequested(message_id, hello.sessionId, bytes(hello.publicKey))
        if self.state is not SocketState.OPEN or self.group is None:
            return Refused(
                message_id, ConnectorException("Connection received request before handshake")
            )
        group = self.group
        if request.HasField("operationRequest"):
            operation = request.operationRequest
            if operation.HasField("configurationChangeEvent"):
                return ConfigurationChanged(
                    bytes(operation.connectorFacadeKey),
                    bytes(operation.configurationChangeEvent.configurationPropertyChange),
                )
            if message_id == HANDSHAKE_ID:
                return Refused(
                    message_id,
                    ProtocolError("messageId 0 is for the handshake", field="messageId"),
                )
            if message_id in group.peer_open:
                return Refused(
                    message_id,
                    ProtocolError(
                        f"messageId {message_id} is already in use by an open request",
                        field="messageId",
                    ),
                )
            group.peer_open.add(message_id)
            return OperationRequested(message_id, operation)
        if request.HasField("cancelOpRequest"):
            return CancelRequested(message_id, message_id in group.peer_open)
        if request.HasField("controlRequest"):
            return ControlRequested(message_id, request.controlRequest)
        return Refused(message_id, ConnectorException("Unknown Request message"))

    def _response(self, message_id: int, message: RemoteMessage) -> Event:
        response = message.response
        if response.HasField("handshakeMessage"):
            if self.side is not Side.CLIENT:
                return Dropped(message_id, "a handshake answer sent to a server")
            hello = response.handshakeMessage
            self.state = SocketState.OPEN
            return HandshakeAnswered(hello.sessionId, bytes(hello.publicKey))
        group = self.group
        if response.HasField("error"):
            if group is not None:
                group.finish_own(message_id)
            return ErrorAnswered(message_id, response.error)
        if self.state is not SocketState.OPEN or group is None:
            return Refused(
                message_id, ConnectorException("Connection received response before handshake")
            )
        if response.HasField("controlResponse"):
            if group.own_open.get(message_id) != "control":
                return Dropped(message_id, "a control answer to no control request of ours")
            group.finish_own(message_id)
            return ControlAnswered(message_id, response.controlResponse)
        if response.HasField("operationResponse"):
            if group.own_open.get(message_id) != "operation":
                return Dropped(message_id, "an operation answer to no operation request of ours")
            return OperationAnswered(message_id, response.operationResponse)
        return Dropped(message_id, "an empty response")

    def close(self) -> None:
        self.state = SocketState.CLOSED

    def _open_group(self) -> Group:
        if self.group is None:
            raise ProtocolError("the socket has no connection group before its handshake")
        return self.group
