"""OpenICF messages <-> our operation models: what the server reads is what the client wrote,
and what the client reads is what the server answered."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol.configuration import ConnectorKey, InlineConfiguration
from protocol.errors import (
    AlreadyExistsException,
    ConnectorException,
    UnknownUidException,
    UnsupportedOperationException,
)
from protocol.filters import And, Equals, StartsWith
from protocol.frames import (
    CreateOpResponse,
    Empty,
    GetOpResponse,
    LatestSyncTokenOpResponse,
    OperationRequest,
    OperationResponse,
    ScriptOnConnectorOpResponse,
    UpdateOpResponse,
)
from protocol.openicf import messages
from protocol.openicf.proto import common_pb2
from protocol.openicf.proto.rpc_pb2 import RemoteMessage
from protocol.values import (
    ConnectorObject,
    CountPolicy,
    GuardedString,
    OperationOptions,
    SearchResult,
    SortKey,
    SyncDelta,
    SyncDeltaType,
    SyncToken,
    Uid,
    UpdateType,
)

KEY = ConnectorKey(bundleName="b", bundleVersion="1.0", connectorName="c")
CONFIGURATION = InlineConfiguration(configurationProperties={"seed": 1})
OPTIONS = OperationOptions(
    attributesToGet=["mail"],
    pageSize=3,
    pagedResultsCookie="next",
    sortKeys=[SortKey(field="age", ascending=False)],
)

OPERATIONS: list[dict[str, Any]] = [
    {"test": {}},
    {"validate": {}},
    {"schema": {}},
    {
        "create": {
            "objectClass": "contact",
            "attributes": {
                "__NAME__": ["alice"],
                "age": [42],
                "__PASSWORD__": [GuardedString("s3cret")],
            },
            "options": OPTIONS,
        }
    },
    {"get": {"objectClass": "contact", "uid": Uid(value="7", revision="2")}},
    {
        "search": {
            "objectClass": "contact",
            "filter": And(
                filters=[
                    Equals(attribute="__NAME__", value="alice"),
                    StartsWith(attribute="mail", value="a"),
                ]
            ),
            "options": OPTIONS,
        }
    },
    {"search": {"objectClass": "contact"}},
    {
        "update": {
            "objectClass": "contact",
            "uid": Uid(value="7"),
            "updateType": UpdateType.ADD,
            "attributes": {"groups": ["qa"]},
        }
    },
    {"delete": {"objectClass": "contact", "uid": Uid(value="7")}},
    {
        "scriptOnConnector": {
            "scriptLanguage": "echo",
            "scriptText": "hi",
            "scriptArguments": {"n": 1, "names": ["a", "b"]},
        }
    },
    {"sync": {"objectClass": "contact", "token": SyncToken(value=5)}},
    {"latestSyncToken": {"objectClass": "contact"}},
]


def with_envelope(operation: OperationRequest) -> Any:
    out = messages.encode_operation(operation)
    out.connectorKey.CopyFrom(common_pb2.ConnectorKey(**KEY.model_dump()))
    out.locale.language = "en"
    return out


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda o: next(iter(o)))
def test_what_the_client_writes_the_server_reads(operation: dict[str, Any]) -> None:
    request = OperationRequest.model_validate(
        {"connectorKey": KEY, "configuration": CONFIGURATION, "locale": "en", **operation}
    )
    assert messages.operation_request(with_envelope(request), CONFIGURATION) == request


OBJECT = ConnectorObject(
    objectClass="contact", uid=Uid(value="7", revision="3"), name="alice", attributes={"age": [42]}
)
ANSWERS: list[tuple[str, OperationResponse]] = [
    ("test", OperationResponse(test=Empty())),
    ("validate", OperationResponse(validate_=Empty())),
    ("delete", OperationResponse(delete=Empty())),
    ("create", OperationResponse(create=CreateOpResponse(uid=Uid(value="7", revision="1")))),
    ("update", OperationResponse(update=UpdateOpResponse(uid=Uid(value="7")))),
    ("get", OperationResponse(get=GetOpResponse(connectorObject=OBJECT))),
    ("get", OperationResponse(get=GetOpResponse())),
    (
        "scriptOnConnector",
        OperationResponse(scriptOnConnector=ScriptOnConnectorOpResponse(result={"a": [1, "b"]})),
    ),
    (
        "latestSyncToken",
        OperationResponse(latestSyncToken=LatestSyncTokenOpResponse(token=SyncToken(value="t"))),
    ),
    ("latestSyncToken", OperationResponse(latestSyncToken=LatestSyncTokenOpResponse())),
]


@pytest.mark.parametrize(("kind", "response"), ANSWERS, ids=[k for k, _ in ANSWERS])
def test_what_the_server_answers_the_client_reads(kind: str, response: OperationResponse) -> None:
    message = messages.answer(9, response)
    assert message.messageId == 9
    assert messages.decode_operation(kind, message.response.operationResponse) == response


def test_a_get_of_nothing_is_an_empty_get_response() -> None:
    message = messages.answer(3, OperationResponse(get=GetOpResponse()))
    response = message.response.operationResponse
    assert response.HasField("GetOpResponse") and not response.GetOpResponse.connectorObject


def test_a_search_is_one_message_per_object_then_the_count() -> None:
    parts = [messages.search_object(4, n, OBJECT) for n in (1, 2)]
    result = SearchResult(
        pagedResultsCookie="c",
        totalPagedResultsPolicy=CountPolicy.EXACT,
        totalPagedResults=9,
        remainingPagedResults=7,
    )
    parts.append(messages.search_done(4, 2, result))
    decoded = [messages.decode_stream_part("search", p.response.operationResponse) for p in parts]
    assert [(sequence, last) for sequence, _, last in decoded] == [
        (1, False),
        (2, False),
        (2, True),
    ]
    assert decoded[0][1].search is not None and decoded[0][1].search.connectorObjects == [OBJECT]
    assert decoded[2][1].search is not None and decoded[2][1].search.result == result


def test_a_search_without_hits_has_no_sequence_and_no_counts() -> None:
    final = messages.search_done(4, 0, None).response.operationResponse.searchOpResponse
    assert final.sequence == 0 and not final.result.pagedResultsCookie
    assert (final.result.totalPagedResults, final.result.remainingPagedResults) == (-1, -1)


def test_a_sync_is_one_message_per_delta_then_the_token() -> None:
    delta = SyncDelta(
        token=SyncToken(value=3),
        deltaType=SyncDeltaType.UPDATE,
        objectClass="contact",
        uid=OBJECT.uid,
        connectorObject=OBJECT,
    )
    first = messages.sync_delta(5, 1, delta).response.operationResponse
    last = messages.sync_done(5, 1, SyncToken(value=4)).response.operationResponse
    _, part, done = messages.decode_stream_part("sync", first)
    assert not done and part.sync is not None and part.sync.syncDeltas == [delta]
    sequence, end, done = messages.decode_stream_part("sync", last)
    assert (sequence, done) == (1, True) and end.sync is not None
    assert end.sync.token == SyncToken(value=4)


@pytest.mark.parametrize(
    "exc",
    [UnknownUidException("no such object"), AlreadyExistsException(), ConnectorException("x")],
)
def test_errors_carry_the_java_class_both_ways(exc: ConnectorException) -> None:
    error = messages.error(6, exc).response.error
    assert error.exceptionClass == exc.icf_class
    assert error.message == exc.message  # proto3: absent when empty, as Java leaves it out
    back = messages.exception_of(error)
    assert type(back) is type(exc) and back.message == exc.message


def test_a_failure_of_ours_is_a_connector_exception_without_detail() -> None:
    error = messages.error(6, KeyError("secret detail")).response.error
    assert error.exceptionClass == ConnectorException.icf_class
    assert "secret" not in error.message + error.stackTrace


def test_an_unknown_java_class_is_kept() -> None:
    error = messages.error(1, ConnectorException("m")).response.error
    error.exceptionClass = "com.example.Odd"
    back = messages.exception_of(error)
    assert back.wire_class == "com.example.Odd" and back.message == "m"


def test_unsupported_operations_are_named_as_the_java_framework_names_them() -> None:
    request = RemoteMessage().request.operationRequest
    request.connectorKey.CopyFrom(common_pb2.ConnectorKey(**KEY.model_dump()))
    request.resolveUsernameOpRequest.username = "bob"
    with pytest.raises(UnsupportedOperationException) as caught:
        messages.operation_request(request, CONFIGURATION)
    assert str(caught.value) == (
        "Operation 'interface org.identityconnectors.framework.api.operations."
        "ResolveUsernameApiOp' not supported."
    )


@given(st.integers(min_value=0, max_value=2**63 - 1), st.binary(max_size=20))
def test_the_id_of_a_message_that_does_not_parse_is_read_when_it_is_intact(
    message_id: int, rest: bytes
) -> None:
    data = RemoteMessage(messageId=message_id).SerializeToString() + rest
    assert messages.leading_message_id(data) == message_id


def test_a_cause_travels_as_the_inner_cause() -> None:
    exc = ConnectorException("outer", cause=UnknownUidException("inner"))
    error = messages.error(2, exc).response.error
    assert error.innerCause.exceptionClass == UnknownUidException.icf_class
    assert error.innerCause.message == "inner"
