"""The codec: every documented frame round-trips; every malformed frame names what is wrong."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from protocol.codec import FrameError, decode, encode, error_frame, exception_from
from protocol.errors import (
    ConnectorException,
    InvalidAttributeValueException,
    ProtocolError,
    UnknownUidException,
)
from protocol.frames import RequestFrame, ResponseFrame
from protocol.values import GuardedString

DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"
EXAMPLES = re.findall(r"```json\n(.*?)```", DOC.read_text(), flags=re.S)

KEY = {"bundleName": "b", "bundleVersion": "1.0", "connectorName": "c"}


def op(**body: Any) -> str:
    operation = {"connectorKey": KEY, "configuration": {"name": "hubspot"}, **body}
    return json.dumps({"messageId": 4, "request": {"operation": operation}})


def test_the_protocol_page_has_an_example_of_every_frame() -> None:
    kinds = set()
    for text in EXAMPLES:
        frame = decode(text)
        body = frame.request if isinstance(frame, RequestFrame) else frame.response
        kind = body.kind
        if kind == "operation":
            kind = f"operation.{body.value.kind}"
        kinds.add(("request" if isinstance(frame, RequestFrame) else "response", kind))
    operations = {"test", "validate", "schema", "create", "get", "search", "update", "delete"}
    operations |= {"scriptOnConnector", "sync", "latestSyncToken"}
    for side in ("request", "response"):
        assert {(side, k) for k in ("handshake", "control", "cancel")} <= kinds
    assert ("response", "error") in kinds
    assert {("request", f"operation.{o}") for o in operations - {"validate"}} <= kinds
    assert ("request", "operation.validate") in kinds


@pytest.mark.parametrize("text", EXAMPLES, ids=range(len(EXAMPLES)))
def test_documented_frame_round_trips(text: str) -> None:
    frame = decode(text)
    assert decode(encode(frame)) == frame
    # What we send is what the page shows, modulo defaults the sender may leave out.
    sent = json.loads(encode(frame))
    assert sent["messageId"] == json.loads(text)["messageId"]


def test_secrets_travel_marked_and_stay_hidden_in_reprs() -> None:
    text = (
        '{"messageId": 1, "request": {"operation": {"connectorKey": {"bundleName": "b", '
        '"bundleVersion": "1", "connectorName": "c"}, "configuration": {"configurationProperties":'
        ' {"clientSecret": {"$guarded": "s3cr3t-value"}}}, "test": {}}}}'
    )
    frame = decode(text)
    assert isinstance(frame, RequestFrame) and frame.request.operation is not None
    configuration = frame.request.operation.configuration
    secret = configuration.configurationProperties["clientSecret"]  # type: ignore[union-attr]
    assert isinstance(secret, GuardedString) and secret.reveal() == "s3cr3t-value"
    assert "s3cr3t-value" not in repr(frame) and "s3cr3t-value" not in str(frame)
    assert "s3cr3t-value" not in f"{secret}"
    assert '{"$guarded":"s3cr3t-value"}' in encode(frame)


MALFORMED: list[tuple[str, str, str | None, str]] = [
    ("not json", "{", None, "not JSON"),
    ("not an object", "[1, 2]", None, "JSON object"),
    ("no body", '{"messageId": 1}', "frame", "exactly one of request, response"),
    (
        "both bodies",
        '{"messageId": 1, "request": {}, "response": {}}',
        "frame",
        "exactly one of request, response",
    ),
    ("empty request", '{"messageId": 1, "request": {}}', "request", "exactly one of"),
    ("negative id", '{"messageId": -1, "request": {"cancel": {"requestId": 2}}}', "messageId", ""),
    ("string id", '{"messageId": "1", "request": {"cancel": {"requestId": 2}}}', "messageId", ""),
    (
        "unknown frame kind",
        '{"messageId": 1, "request": {"launch": {}}}',
        "request.launch",
        "Extra inputs are not permitted",
    ),
    (
        "cancel id of the wrong type",
        '{"messageId": 1, "request": {"cancel": {"requestId": "x"}}}',
        "request.cancel.requestId",
        "valid integer",
    ),
    (
        "two operations",
        op(test={}, schema={}),
        "request.operation",
        "exactly one operation is needed",
    ),
    ("no operation", op(), "request.operation", "found: none"),
    (
        "empty object class",
        op(search={"objectClass": ""}),
        "request.operation.search.objectClass",
        "at least 1 character",
    ),
    (
        "unknown filter",
        op(search={"objectClass": "contact", "filter": {"type": "like", "attribute": "a"}}),
        "request.operation.search.filter",
        "'like'",
    ),
    (
        "misspelt option",
        op(search={"objectClass": "contact", "options": {"pagesize": 10}}),
        "request.operation.search.options.pagesize",
        "Extra inputs",
    ),
    (
        "bad page size",
        op(search={"objectClass": "contact", "options": {"pageSize": 0}}),
        "request.operation.search.options.pageSize",
        "greater than or equal to 1",
    ),
    (
        "bad update type",
        op(
            update={
                "objectClass": "c",
                "uid": {"value": "1"},
                "updateType": "MERGE",
                "attributes": {},
            }
        ),
        "request.operation.update.updateType",
        "REPLACE",
    ),
    (
        "attribute value not a list",
        op(create={"objectClass": "c", "attributes": {"email": "a@b"}}),
        "request.operation.create.attributes.email",
        "valid array",
    ),
    (
        "malformed guarded value",
        op(create={"objectClass": "c", "attributes": {"pw": [{"$guarded": 1}]}}),
        "request.operation.create.attributes.pw[0]",
        "",
    ),
    (
        "configuration neither reference nor inline",
        json.dumps(
            {
                "messageId": 4,
                "request": {
                    "operation": {"connectorKey": KEY, "configuration": {"id": "x"}, "test": {}}
                },
            }
        ),
        "request.operation.configuration",
        "",
    ),
    (
        "missing connector key",
        '{"messageId": 4, "request": {"operation": {"configuration": {"name": "h"}, "test": {}}}}',
        "request.operation.connectorKey",
        "Field required",
    ),
]


@pytest.mark.parametrize(
    ("text", "field", "fragment"), [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED]
)
def test_malformed_frame_is_a_protocol_error_naming_the_field(
    text: str, field: str | None, fragment: str
) -> None:
    with pytest.raises(ProtocolError) as caught:
        decode(text)
    assert caught.value.field == field or (
        field is not None and (caught.value.field or "").startswith(field)
    ), caught.value.field
    assert fragment in str(caught.value)


def test_frame_error_keeps_the_message_id_when_it_could_be_read() -> None:
    with pytest.raises(FrameError) as caught:
        decode(op(search={"objectClass": ""}))
    assert caught.value.message_id == 4
    with pytest.raises(FrameError) as caught:
        decode("{")
    assert caught.value.message_id is None


def test_errors_travel_under_their_icf_names_and_come_back_as_the_same_class() -> None:
    exc = UnknownUidException(
        "contact 7 does not exist", cause=InvalidAttributeValueException("inner")
    )
    frame = error_frame(9, exc)
    again = decode(encode(frame))
    assert isinstance(again, ResponseFrame) and again.response.error is not None
    assert again.response.error.exceptionClass == (
        "org.identityconnectors.framework.common.exceptions.UnknownUidException"
    )
    rebuilt = exception_from(again.response.error)
    assert type(rebuilt) is UnknownUidException and rebuilt.message == "contact 7 does not exist"
    assert type(rebuilt.cause) is InvalidAttributeValueException


def test_an_unknown_remote_class_keeps_its_name() -> None:
    frame = decode(
        '{"messageId": 1, "response": {"error": {"exceptionClass": "System.IO.IOException"}}}'
    )
    assert isinstance(frame, ResponseFrame) and frame.response.error is not None
    rebuilt = exception_from(frame.response.error)
    assert type(rebuilt) is ConnectorException and rebuilt.wire_class == "System.IO.IOException"


def test_an_internal_error_does_not_leak_its_text() -> None:
    frame = error_frame(3, RuntimeError("token=abc123 leaked"))
    assert "abc123" not in encode(frame)


def test_attribute_values_keep_their_json_types() -> None:
    # A plain string once decoded as a GuardedString (the smart union picked it): pinned here.
    frame = decode(
        op(
            create={
                "objectClass": "contact",
                "attributes": {"v": ["text", True, 1, 1.5, None, {"$guarded": "s"}]},
            }
        )
    )
    assert isinstance(frame, RequestFrame) and frame.request.operation is not None
    create = frame.request.operation.create
    assert create is not None
    values = create.attributes["v"]
    assert values[:5] == ["text", True, 1, 1.5, None]
    assert [type(v) for v in values] == [str, bool, int, float, type(None), GuardedString]
