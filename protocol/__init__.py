"""The hubspot-rcs wire protocol: frames, values and the session state table, with no I/O.

Nothing in this package imports asyncio, websockets, aiohttp or socket
(`tests/protocol/test_purity.py` holds it to that): the server and the client feed it text and
act on what it returns, as websockets and h11 keep their protocols (docs/hardening.md §A1).
"""

from protocol.codec import decode, encode, error_frame, exception_from
from protocol.errors import ConnectorException, ProtocolError
from protocol.frames import PROTOCOL_VERSION, Frame, RequestFrame, ResponseFrame
from protocol.session import Session, Side, State

__all__ = [
    "PROTOCOL_VERSION",
    "ConnectorException",
    "Frame",
    "ProtocolError",
    "RequestFrame",
    "ResponseFrame",
    "Session",
    "Side",
    "State",
    "decode",
    "encode",
    "error_frame",
    "exception_from",
]
