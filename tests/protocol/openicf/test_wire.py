"""The protobuf envelope against every recorded binary frame."""

from __future__ import annotations

import pytest
from google.protobuf.json_format import MessageToDict

from protocol.openicf.wire import WireFormatError, parse_message, serialize_message
from tests.protocol.openicf.vectors import Frame, binary_frames

FRAMES = binary_frames()


def test_the_vectors_hold_every_recorded_binary_message() -> None:
    assert len(FRAMES) == 288


@pytest.mark.parametrize("frame", FRAMES, ids=lambda f: f.id)
def test_every_recorded_message_reserialises_to_the_same_bytes(frame: Frame) -> None:
    assert serialize_message(parse_message(frame.payload)) == frame.payload


@pytest.mark.parametrize("frame", FRAMES, ids=lambda f: f.id)
def test_the_parsed_message_is_the_one_the_recording_decoded(frame: Frame) -> None:
    # The recording renders the envelope in the protobuf JSON mapping with the peer's field
    # names; the facade key is replaced there by a note, so it is compared apart.
    ours = MessageToDict(parse_message(frame.payload), preserving_proto_field_name=True)
    theirs = frame.decoded["envelope"]
    op = ours.get("request", {}).get("operationRequest", {})
    if "connectorFacadeKey" in op:
        op["connectorFacadeKey"] = theirs["request"]["operationRequest"]["connectorFacadeKey"]
    assert ours == theirs


def test_a_truncated_message_is_a_wire_format_error() -> None:
    whole = next(f.payload for f in FRAMES if len(f.payload) > 100)
    with pytest.raises(WireFormatError, match="malformed OpenICF RemoteMessage"):
        parse_message(whole[:50])


def test_an_unknown_field_is_kept_and_written_back() -> None:
    # field 15, varint 1: a newer peer's field survives a parse and a re-serialisation
    data = bytes([0x08, 0x05, 0x78, 0x01])
    message = parse_message(data)
    assert message.messageId == 5
    assert serialize_message(message) == data
