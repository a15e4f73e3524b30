"""The session state table: which frame may come when, and which requests are open.

Rules (after h11's `_state.py`):
1. Everything that decides whether a frame is allowed lives in this module, as data:
   `TRANSITIONS` maps (side, state, frame kind) to the next state. A pair that is not in the
   table is a protocol error.
2. This module does no I/O and keeps no clock. The server and the client feed it the frames
   they receive and send, and act on what it returns.

Theory of operation. A socket starts in `AWAITING_HANDSHAKE`. The WebSocket client sends the
handshake under messageId 0 and the server answers it under the same id (docs/openicf.md §1.3);
both sides are then `OPEN`. A request before the handshake is refused ("Connection received
request before handshake"), but the socket stays usable: a peer's mistake costs it one answer,
not its connection. In `OPEN`, the requester picks each request's messageId (1 and up, unique
among its open requests); every response part reuses it. A `cancel` names the request it stops
and has an id of its own. The server remembers recently finished ids, so that a cancel racing an
answer gets `cancelled: false` instead of an error.
"""

from __future__ import annotations

from collections import deque
from enum import Enum
from typing import Final

from protocol.errors import ProtocolError
from protocol.frames import (
    HANDSHAKE_MESSAGE_ID,
    CancelRequest,
    Frame,
    RequestFrame,
)


class Side(Enum):
    SERVER = "server"
    CLIENT = "client"


class State(Enum):
    AWAITING_HANDSHAKE = "AWAITING_HANDSHAKE"
    OPEN = "OPEN"
    CLOSED = "CLOSED"


_RECEIVED, _SENT = "received", "sent"

TRANSITIONS: Final[dict[tuple[Side, str, State, str], State]] = {
    # The server waits for the client's handshake, then answers it.
    (Side.SERVER, _RECEIVED, State.AWAITING_HANDSHAKE, "request.handshake"): State.OPEN,
    (Side.SERVER, _SENT, State.OPEN, "response.handshake"): State.OPEN,
    (Side.SERVER, _RECEIVED, State.OPEN, "request.control"): State.OPEN,
    (Side.SERVER, _RECEIVED, State.OPEN, "request.operation"): State.OPEN,
    (Side.SERVER, _RECEIVED, State.OPEN, "request.cancel"): State.OPEN,
    # The client sends its handshake first and may pipeline requests behind it.
    (Side.CLIENT, _SENT, State.AWAITING_HANDSHAKE, "request.handshake"): State.AWAITING_HANDSHAKE,
    (Side.CLIENT, _RECEIVED, State.AWAITING_HANDSHAKE, "response.handshake"): State.OPEN,
    (Side.CLIENT, _RECEIVED, State.AWAITING_HANDSHAKE, "response.error"): State.AWAITING_HANDSHAKE,
}
"""(side, direction, state, frame kind) -> next state. Absent pairs are protocol errors.

In `OPEN`, a side may always send and receive the frames the other side's rows allow; those
pairs are filled in below rather than spelled out twice.
"""
for _kind in ("control", "operation", "cancel", "error"):
    TRANSITIONS[(Side.SERVER, _SENT, State.OPEN, f"response.{_kind}")] = State.OPEN
    TRANSITIONS[(Side.CLIENT, _RECEIVED, State.OPEN, f"response.{_kind}")] = State.OPEN
for _kind in ("control", "operation", "cancel"):
    TRANSITIONS[(Side.CLIENT, _SENT, State.OPEN, f"request.{_kind}")] = State.OPEN
    TRANSITIONS[(Side.CLIENT, _SENT, State.AWAITING_HANDSHAKE, f"request.{_kind}")] = (
        State.AWAITING_HANDSHAKE
    )
# The server answers a request before the handshake with an error, and stays where it is.
TRANSITIONS[(Side.SERVER, _SENT, State.AWAITING_HANDSHAKE, "response.error")] = (
    State.AWAITING_HANDSHAKE
)

RECENTLY_FINISHED: Final = 1024
"""How many finished request ids a server remembers for late cancels."""


def frame_kind(frame: Frame) -> str:
    """`request.<kind>` or `response.<kind>`, as `TRANSITIONS` keys frames."""
    if isinstance(frame, RequestFrame):
        return f"request.{frame.request.kind}"
    return f"response.{frame.response.kind}"


class Session:
    """One socket's protocol state, for either side."""

    def __init__(self, side: Side) -> None:
        self.side = side
        self.state = State.AWAITING_HANDSHAKE
        self.open_requests: set[int] = set()
        """Requests received (server) or sent (client) and not yet finished."""
        self._finished: deque[int] = deque(maxlen=RECENTLY_FINISHED)
        self._finished_set: set[int] = set()
        self._next_id = 1

    # -- the table ------------------------------------------------------------------------

    def _advance(self, direction: str, frame: Frame) -> None:
        self._advance_kind(direction, frame_kind(frame))

    def _advance_kind(self, direction: str, kind: str) -> None:
        following = TRANSITIONS.get((self.side, direction, self.state, kind))
        if following is None:
            if self.state is State.AWAITING_HANDSHAKE and direction == _RECEIVED:
                raise ProtocolError("Connection received request before handshake", field="request")
            if kind == "request.handshake" and direction == _RECEIVED:
                raise ProtocolError("the handshake was already done", field="request.handshake")
            raise ProtocolError(
                f"a {kind} frame is not allowed in state {self.state.value} ({direction})",
                field=kind,
            )
        self.state = following

    def receive(self, frame: Frame) -> None:
        """Check a frame from the peer against the table and the request ids; raise if wrong."""
        if isinstance(frame, RequestFrame):
            is_handshake = frame.request.handshake is not None
            if is_handshake != (frame.messageId == HANDSHAKE_MESSAGE_ID):
                raise ProtocolError(
                    "messageId 0 is for the handshake and the handshake is messageId 0",
                    field="messageId",
                )
        self._advance(_RECEIVED, frame)
        if not isinstance(frame, RequestFrame) or frame.request.handshake is not None:
            return
        if frame.messageId in self.open_requests:
            raise ProtocolError(
                f"messageId {frame.messageId} is already in use by an open request",
                field="messageId",
            )
        if frame.request.operation is not None:
            self.open_requests.add(frame.messageId)

    def sent(self, frame: Frame) -> None:
        """Check a frame this side is about to send against the table; raise if wrong."""
        self._advance(_SENT, frame)
        if isinstance(frame, RequestFrame):
            if frame.request.operation is not None:
                self.open_requests.add(frame.messageId)
        elif frame.response.operation is not None:
            self._check_open(frame.messageId)

    def sent_part(self, message_id: int) -> None:
        """`sent` for an operation response part written as text without a frame model (the
        server's search parts: each object is serialised once, straight into the part)."""
        self._advance_kind(_SENT, "response.operation")
        self._check_open(message_id)

    def _check_open(self, message_id: int) -> None:
        if self.side is Side.SERVER and message_id not in self.open_requests:
            raise ProtocolError(
                f"an operation answer for messageId {message_id}, which is not an open request",
                field="messageId",
            )

    # -- request ids ----------------------------------------------------------------------

    def next_request_id(self) -> int:
        """A fresh id for a request this side sends (1 and up, never 0)."""
        while self._next_id in self.open_requests:
            self._next_id += 1
        request_id, self._next_id = self._next_id, self._next_id + 1
        return request_id

    def finish(self, request_id: int) -> None:
        """The request's last frame went out (server) or came in (client)."""
        self.open_requests.discard(request_id)
        if request_id not in self._finished_set:
            if len(self._finished) == self._finished.maxlen:
                self._finished_set.discard(self._finished[0])
            self._finished.append(request_id)
            self._finished_set.add(request_id)

    def cancel_target(self, cancel: CancelRequest) -> bool:
        """Whether the cancelled request is open (True) or finished recently (False).

        Raises `ProtocolError` for an id this session never saw or forgot long ago.
        """
        if cancel.requestId in self.open_requests:
            return True
        if cancel.requestId in self._finished_set:
            return False
        raise ProtocolError(f"no open request {cancel.requestId} to cancel", field="requestId")

    def close(self) -> None:
        self.state = State.CLOSED
        self.open_requests.clear()
