"""Property: any text decodes to a frame or raises our ProtocolError, nothing else."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.codec import decode, encode, encode_object
from protocol.errors import ProtocolError
from protocol.frames import (
    OperationResponse,
    RequestFrame,
    ResponseBody,
    ResponseFrame,
    SearchOpResponse,
)
from protocol.values import ConnectorObject, GuardedString, Uid

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
# Frames that are nearly right reach deeper into the models than random text does.
KEYS = [
    "messageId",
    "request",
    "response",
    "operation",
    "handshake",
    "control",
    "cancel",
    "connectorKey",
    "configuration",
    "search",
    "objectClass",
    "filter",
    "type",
    "attribute",
    "value",
    "filters",
    "options",
    "pageSize",
    "uid",
    "attributes",
    "$guarded",
    "sessionId",
]
near_frames = st.recursive(
    st.none() | st.integers(-2, 5) | st.sampled_from(["", "contact", "and", "equals", "1"]),
    lambda inner: (
        st.dictionaries(st.sampled_from(KEYS), inner, max_size=4) | st.lists(inner, max_size=3)
    ),
    max_leaves=25,
)


def _check(text: str | bytes) -> None:
    try:
        frame = decode(text)
    except ProtocolError:
        return
    assert isinstance(frame, RequestFrame | ResponseFrame)
    assert decode(encode(frame)) == frame


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_any_text(text: str) -> None:
    _check(text)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=100))
def test_any_bytes(data: bytes) -> None:
    _check(data)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_any_json(value: Any) -> None:
    _check(json.dumps(value))


@settings(max_examples=500, deadline=None)
@given(near_frames)
def test_near_frames(value: Any) -> None:
    _check(json.dumps(value))


def test_deep_nesting_is_refused_not_crashed() -> None:
    _check("[" * 100_000 + "]" * 100_000)
    _check('{"messageId": 1, "request": ' + '{"a":' * 5000 + "1" + "}" * 5001)


attribute_values = (
    st.none()
    | st.booleans()
    | st.integers()  # past 64 bits too
    | st.floats()  # NaN and the infinities too
    | st.text()
    | st.text().map(GuardedString)
)
connector_objects = st.builds(
    ConnectorObject.model_construct,
    objectClass=st.text(min_size=1),
    uid=st.builds(Uid, value=st.text(min_size=1), revision=st.none() | st.text()),
    name=st.none() | st.text(),
    attributes=st.dictionaries(st.text(), st.lists(attribute_values, max_size=4), max_size=6),
)


@settings(max_examples=400, deadline=None)
@given(connector_objects)
def test_encode_object_writes_what_encode_writes(obj: ConnectorObject) -> None:
    """The search path's fast encoding is the codec's, byte for byte, for every value type."""
    part = SearchOpResponse(sequence=1, connectorObjects=[obj])
    frame = ResponseFrame(
        messageId=1, response=ResponseBody(operation=OperationResponse(search=part))
    )
    whole = encode(frame).encode()
    assert b'"connectorObjects":[' + encode_object(obj) + b"]" in whole
