"""The protobuf envelope against every recorded binary frame."""

from __future__ import annotations

import pytest
from google.protobuf.json_format import MessageToDict

from protocol.openicf.proto.common_pb2 import ConnectorObject
from protocol.openicf.proto.operations_pb2 import OperationResponse, SearchOpResponse
from protocol.openicf.proto.rpc_pb2 import RemoteMessage, RPCResponse
from protocol.openicf.wire import (
    WireFormatError,
    parse_message,
    search_hit_message,
    serialize_message,
)
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


@pytest.mark.parametrize(
    ("message_id", "sequence", "object_class", "attributes"),
    [(7, 1, "contact", b"\x00\x00\xfa\xfb" * 40), (0, 0, "", b""), (-1, 2**40, "ü", bytes(300))],
)
def test_a_search_hit_written_directly_is_what_protobuf_writes(
    message_id: int, sequence: int, object_class: str, attributes: bytes
) -> None:
    hit = SearchOpResponse(
        sequence=sequence,
        connectorObject=ConnectorObject(objectClass=object_class, attributes=attributes),
    )
    message = RemoteMessage(
        messageId=message_id,
        response=RPCResponse(operationResponse=OperationResponse(searchOpResponse=hit)),
    )
    direct = search_hit_message(message_id, sequence, object_class, attributes)
    assert direct == serialize_message(message)


def test_every_recorded_search_hit_is_what_the_direct_writer_writes() -> None:
    hits = [
        (f.payload, parse_message(f.payload))
        for f in FRAMES
        if parse_message(f.payload).response.operationResponse.searchOpResponse.HasField(
            "connectorObject"
        )
    ]
    assert len(hits) > 40
    for payload, message in hits:
        search = message.response.operationResponse.searchOpResponse
        written = search_hit_message(
            message.messageId,
            search.sequence,
            search.connectorObject.objectClass,
            search.connectorObject.attributes,
        )
        assert written == payload
