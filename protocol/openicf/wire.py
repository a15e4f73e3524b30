"""The OpenICF 1.5 envelope: one protobuf `RemoteMessage` per binary WebSocket frame.

docs/openicf-rpc.md §1 and §2: a frame carries exactly one `RemoteMessage{messageId, request |
response}`; parsing is all-or-nothing, and whatever the bytes, the caller gets a message or a
`WireFormatError` naming what was wrong, never a protobuf exception.
"""

from __future__ import annotations

from typing import Final

from google.protobuf.message import DecodeError

from protocol.errors import ProtocolError
from protocol.openicf.proto.rpc_pb2 import RemoteMessage

MAX_MESSAGE_BYTES: Final = 16 * 1024 * 1024
"""The largest frame we parse (docs/openicf-rpc.md §1); a facade key is about 5 KB."""


class WireFormatError(ProtocolError):
    """OpenICF bytes that do not decode: a bad protobuf message or a bad legacy blob.

    `field` names where it went wrong (`RemoteMessage`, `legacy: Set/Attribute.Values`).
    """


def parse_message(data: bytes) -> RemoteMessage:
    """One frame's bytes as a `RemoteMessage`; raises `WireFormatError` for anything else."""
    if len(data) > MAX_MESSAGE_BYTES:
        raise WireFormatError(
            f"OpenICF message of {len(data)} bytes is over the {MAX_MESSAGE_BYTES}-byte limit",
            field="RemoteMessage",
        )
    message = RemoteMessage()
    try:
        message.ParseFromString(data)
    except (DecodeError, RuntimeError, ValueError) as exc:
        raise WireFormatError(
            f"malformed OpenICF RemoteMessage: {exc}", field="RemoteMessage"
        ) from None
    return message


def serialize_message(message: RemoteMessage) -> bytes:
    """The frame bytes of `message`, in field-number order as the Java peer writes them."""
    return message.SerializeToString()


def _varint(value: int) -> bytes:
    value &= 0xFFFFFFFFFFFFFFFF  # int64 as protobuf writes it: negative numbers take 10 bytes
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _field(key: int, payload: bytes) -> bytes:
    return bytes([key]) + _varint(len(payload)) + payload


def search_hit_message(
    message_id: int, sequence: int, object_class: str, attributes: bytes
) -> bytes:
    """The bytes of `RemoteMessage{messageId, response.operationResponse.searchOpResponse{
    sequence, connectorObject{objectClass, attributes}}}`, written directly.

    A search sends one message per object (docs/openicf-rpc.md §10); this skips building four
    protobuf objects for each, and gives the bytes `serialize_message` would give.
    """
    hit = _field(0x0A, object_class.encode("utf-8")) if object_class else b""
    if attributes:
        hit += _field(0x12, attributes)
    search = (b"\x08" + _varint(sequence) if sequence else b"") + _field(0x1A, hit)
    response = _field(0x1A, _field(0x52, search))  # RPCResponse.operationResponse.searchOpResponse
    head = b"\x08" + _varint(message_id) if message_id else b""
    return head + _field(0x1A, response)
