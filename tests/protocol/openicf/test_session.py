"""The OpenICF session: handshake, request ids per connection group, cancel, control, refusals."""

from __future__ import annotations

import pytest

from protocol.errors import ProtocolError
from protocol.openicf.proto.rpc_pb2 import ControlRequest, HandshakeMessage, RemoteMessage
from protocol.openicf.session import (
    CancelRequested,
    ConfigurationChanged,
    ControlAnswered,
    ControlRequested,
    Dropped,
    ErrorAnswered,
    Group,
    HandshakeAnswered,
    HandshakeRequested,
    OperationAnswered,
    OperationRequested,
    Refused,
    Session,
    Side,
    SocketState,
    session_id_of,
)

SERVER_HELLO = HandshakeMessage(sessionId="S" * 40, serverType=HandshakeMessage.JAVA)
CLIENT_HELLO = HandshakeMessage(sessionId="C" * 40, serverType=HandshakeMessage.JAVA)


def handshake_request(session_id: str = CLIENT_HELLO.sessionId) -> RemoteMessage:
    message = RemoteMessage()
    message.request.handshakeMessage.sessionId = session_id
    message.request.handshakeMessage.publicKey = b"key"
    return message


def operation(message_id: int) -> RemoteMessage:
    message = RemoteMessage(messageId=message_id)
    message.request.operationRequest.testOpRequest.SetInParent()
    return message


def open_server(group: Group | None = None) -> Session:
    session = Session(Side.SERVER, SERVER_HELLO)
    event = session.receive(handshake_request())
    assert isinstance(event, HandshakeRequested)
    session.join(group or Group(event.session_id))
    session.sent(session.handshake_answer(event.message_id))
    assert session.state is SocketState.OPEN
    return session


def test_session_id_is_the_uppercase_sha1_of_the_key() -> None:
    assert session_id_of(b"") == "DA39A3EE5E6B4B0D3255BFEF95601890AFD80709"


def test_the_handshake_opens_the_socket_and_names_the_peer() -> None:
    session = Session(Side.SERVER, SERVER_HELLO)
    event = session.receive(handshake_request())
    assert event == HandshakeRequested(0, CLIENT_HELLO.sessionId, b"key")
    with pytest.raises(ProtocolError):
        session.sent(session.handshake_answer(0))  # no group yet: nobody to answer for
    session.join(Group(event.session_id))
    answer = session.handshake_answer(0)
    session.sent(answer)
    assert answer.response.handshakeMessage == SERVER_HELLO
    assert session.state is SocketState.OPEN


@pytest.mark.parametrize(
    ("message", "says"),
    [
        (operation(1), "Connection received request before handshake"),
        (RemoteMessage(messageId=4), "Unknown RemoteMessage"),
    ],
)
def test_before_the_handshake_requests_are_refused_and_the_socket_stays(
    message: RemoteMessage, says: str
) -> None:
    session = Session(Side.SERVER, SERVER_HELLO)
    event = session.receive(message)
    assert isinstance(event, Refused) and event.error.message == says
    assert event.error.wire_class.endswith("ConnectorException")
    assert isinstance(session.receive(handshake_request()), HandshakeRequested)


def test_a_handshake_without_session_id_is_refused() -> None:
    event = Session(Side.SERVER, SERVER_HELLO).receive(handshake_request(""))
    assert isinstance(event, Refused) and "sessionId" in event.error.message


def test_requests_and_cancels_of_a_group_count_on_any_socket() -> None:
    group = Group(CLIENT_HELLO.sessionId)
    first, second = open_server(group), open_server(group)
    assert first.receive(operation(2)) == OperationRequested(
        2, operation(2).request.operationRequest
    )
    cancel = RemoteMessage(messageId=2)
    cancel.request.cancelOpRequest.SetInParent()
    assert second.receive(cancel) == CancelRequested(2, open=True)
    duplicate = second.receive(operation(2))
    assert isinstance(duplicate, Refused) and "already in use" in duplicate.error.message
    group.finish_peer(2)
    assert second.receive(cancel) == CancelRequested(2, open=False)
    assert group.recently_finished(2)


def test_an_answer_for_no_open_request_is_a_bug_of_ours() -> None:
    session = open_server()
    answer = RemoteMessage(messageId=9)
    answer.response.operationResponse.testOpResponse.SetInParent()
    with pytest.raises(ProtocolError, match="not an open request"):
        session.sent(answer)
    session.receive(operation(9))
    session.sent(answer)


def test_control_requests_go_both_ways_with_their_own_ids() -> None:
    session = open_server()
    ours = session.control_request([ControlRequest.CONNECTOR_INFO])
    session.sent(ours)
    assert ours.messageId == 1 and list(ours.request.controlRequest.remoteRequestId) == [1]
    # The peer's own request 1 is a different request: a request, not a response.
    theirs = RemoteMessage(messageId=1)
    theirs.request.controlRequest.infoLevel.append(ControlRequest.CONNECTOR_INFO)
    event = session.receive(theirs)
    assert isinstance(event, ControlRequested) and event.wants_connector_info
    answer = RemoteMessage(messageId=1)
    answer.response.controlResponse.SetInParent()
    assert isinstance(session.receive(answer), ControlAnswered)
    # Answered once: a second answer is dropped, and the next id is fresh.
    assert isinstance(session.receive(answer), Dropped)
    keepalive = session.control_request()
    assert keepalive.messageId == 2 and not keepalive.request.controlRequest.infoLevel


def test_configuration_change_events_need_no_answer() -> None:
    session = open_server()
    event = RemoteMessage()
    event.request.operationRequest.connectorFacadeKey = b"key"
    event.request.operationRequest.configurationChangeEvent.configurationPropertyChange = b"x"
    assert session.receive(event) == ConfigurationChanged(b"key", b"x")
    assert session.group is not None and not session.group.peer_open
    session.sent(event)  # pushing one opens nothing either
    assert not session.group.own_open


def test_a_client_session_sees_its_answers() -> None:
    client = Session(Side.CLIENT, CLIENT_HELLO)
    client.sent(client.handshake_request())
    hello = RemoteMessage()
    hello.response.handshakeMessage.CopyFrom(SERVER_HELLO)
    event = client.receive(hello)
    assert isinstance(event, HandshakeAnswered) and event.session_id == SERVER_HELLO.sessionId
    client.join(Group(event.session_id))
    request = operation(client.group.next_request_id() if client.group else 0)
    client.sent(request)
    part = RemoteMessage(messageId=request.messageId)
    part.response.operationResponse.testOpResponse.SetInParent()
    assert isinstance(client.receive(part), OperationAnswered)
    failure = RemoteMessage(messageId=request.messageId)
    failure.response.error.exceptionClass = "java.lang.IllegalStateException"
    assert isinstance(client.receive(failure), ErrorAnswered)
    assert client.group is not None and not client.group.own_open
