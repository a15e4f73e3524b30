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
