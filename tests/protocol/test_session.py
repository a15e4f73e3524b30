"""The session state table, driven with frames and no sockets."""

from __future__ import annotations

import pytest

from protocol.codec import decode, error_frame
from protocol.errors import ProtocolError
from protocol.frames import (
    CancelRequest,
    Handshake,
    RequestBody,
    RequestFrame,
    ResponseBody,
    ResponseFrame,
)
from protocol.session import Session, Side, State

HANDSHAKE = RequestFrame(messageId=0, request=RequestBody(handshake=Handshake(sessionId="s")))
HANDSHAKE_ANSWER = ResponseFrame(
    messageId=0, response=ResponseBody(handshake=Handshake(sessionId="srv"))
)


def operation(message_id: int) -> RequestFrame:
    frame = decode(
        f'{{"messageId": {message_id}, "request": {{"operation": {{"connectorKey": '
        '{"bundleName": "b", "bundleVersion": "1", "connectorName": "c"}, '
        '"configuration": {"name": "x"}, "test": {}}}}'
    )
    assert isinstance(frame, RequestFrame)
    return frame


def cancel(message_id: int, target: int) -> RequestFrame:
    return RequestFrame(
        messageId=message_id, request=RequestBody(cancel=CancelRequest(requestId=target))
    )


def open_server() -> Session:
    session = Session(Side.SERVER)
    session.receive(HANDSHAKE)
    session.sent(HANDSHAKE_ANSWER)
    return session


def test_handshake_opens_the_session() -> None:
    session = open_server()
    assert session.state is State.OPEN


def test_request_before_handshake_is_refused_and_the_session_can_still_open() -> None:
    session = Session(Side.SERVER)
    with pytest.raises(ProtocolError, match="before handshake"):
        session.receive(operation(1))
    session.sent(error_frame(1, ProtocolError("x")))
    assert session.state is State.AWAITING_HANDSHAKE
    session.receive(HANDSHAKE)
    assert session.state.value == "OPEN"


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (
            RequestFrame(messageId=3, request=RequestBody(handshake=Handshake(sessionId="s"))),
            "messageId 0",
        ),
        (operation(0), "messageId 0"),
        (HANDSHAKE, "already done"),
        (HANDSHAKE_ANSWER, "not allowed"),
    ],
    ids=["handshake under another id", "operation under id 0", "second handshake", "a response"],
)
def test_frames_out_of_place(frame: RequestFrame | ResponseFrame, message: str) -> None:
    session = open_server()
    with pytest.raises(ProtocolError, match=message):
        session.receive(frame)
    assert session.state is State.OPEN


def test_request_ids_must_be_unique_among_open_requests() -> None:
    session = open_server()
    session.receive(operation(5))
    with pytest.raises(ProtocolError, match="already in use"):
        session.receive(operation(5))
    session.finish(5)
    session.receive(operation(5))


def test_cancel_knows_open_finished_and_unknown_requests() -> None:
    session = open_server()
    session.receive(operation(1))
    session.receive(operation(2))
    session.finish(2)
    assert session.cancel_target(CancelRequest(requestId=1)) is True
    assert session.cancel_target(CancelRequest(requestId=2)) is False
    with pytest.raises(ProtocolError, match="no open request 9"):
        session.cancel_target(CancelRequest(requestId=9))
    session.receive(cancel(3, 1))
    assert session.open_requests == {1}


def test_finished_ids_are_forgotten_after_a_while() -> None:
    session = open_server()
    for request_id in range(1, 2000):
        session.receive(operation(request_id))
        session.finish(request_id)
    with pytest.raises(ProtocolError):
        session.cancel_target(CancelRequest(requestId=1))
    assert session.cancel_target(CancelRequest(requestId=1999)) is False


def test_client_allocates_fresh_ids_and_may_pipeline_behind_its_handshake() -> None:
    session = Session(Side.CLIENT)
    session.sent(HANDSHAKE)
    first = session.next_request_id()
    session.sent(operation(first))
    assert first == 1 and session.next_request_id() == 2
    session.receive(HANDSHAKE_ANSWER)
    assert session.state is State.OPEN
    assert session.open_requests == {1}
