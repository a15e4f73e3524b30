"""The tap records exactly what crosses it: every message both ways, unmasked and whole."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import os
import struct
from typing import Any

from connector.memory import MemoryConnector
from connector.registry import ConnectorRegistry
from protocol.openicf.proto.rpc_pb2 import ControlRequest, RemoteMessage
from server.app import ConnectorServer
from tests.conftest import KEY, settings

from .peer import Peer
from .wiretap import CLIENT_TO_SERVER, SERVER_TO_CLIENT, FrameParser, Recorder, Tap

HEAD = b"GET /openicf HTTP/1.1\r\nHost: x\r\n\r\n"


def frame(opcode: int, payload: bytes, *, fin: bool = True, mask: bytes | None = None) -> bytes:
    """One RFC 6455 frame, masked when `mask` is given (as a client sends)."""
    first = (0x80 if fin else 0) | opcode
    size = len(payload)
    masked = 0x80 if mask is not None else 0
    if size < 126:
        head = bytes([first, masked | size])
    elif size < 1 << 16:
        head = bytes([first, masked | 126]) + struct.pack("!H", size)
    else:
        head = bytes([first, masked | 127]) + struct.pack("!Q", size)
    if mask is None:
        return head + payload
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def test_frames_split_anywhere_come_out_whole_and_unmasked() -> None:
    big = os.urandom(70_000)
    mask = b"\x01\x02\x03\x04"
    stream = (
        HEAD
        + frame(2, b"first ", fin=False, mask=mask)
        + frame(9, b"ping", mask=mask)  # a control frame inside a fragmented message
        + frame(0, b"part", mask=mask)
        + frame(2, big, mask=mask)
        + frame(8, b"\x03\xe8")
    )
    parser = FrameParser()
    events: list[tuple[str, Any]] = []
    for start in range(0, len(stream), 7):  # 7-byte reads cut every header and payload
        events += parser.feed(stream[start : start + 7])
    assert events == [
        ("http", HEAD),
        ("message", (9, b"ping")),
        ("message", (2, b"first part")),
        ("message", (2, big)),
        ("message", (8, b"\x03\xe8")),
    ]


async def test_a_conversation_through_the_tap_is_recorded_as_the_peers_saw_it() -> None:
    out = io.StringIO()
    async with ConnectorServer(settings(), ConnectorRegistry([MemoryConnector]), {}) as server:
        host, port = server.url.split("//")[1].split("/")[0].rsplit(":", 1)
        tap = Tap(host, int(port), Recorder(out))
        listener = await asyncio.start_server(tap.handle, "127.0.0.1", 0)
        tap_port = listener.sockets[0].getsockname()[1]
        async with listener, Peer.connect(f"ws://127.0.0.1:{tap_port}/openicf", KEY) as peer:
            info = RemoteMessage(messageId=peer.next_id())
            info.request.controlRequest.infoLevel.append(ControlRequest.CONNECTOR_INFO)
            await peer.send(info, 0)
            [answer] = await peer.answers(info.messageId)
        listener.close()
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    heads = [line for line in lines if "http" in line]
    messages = [line for line in lines if "http" not in line]
    upgrades = {(h["socket"], h["dir"]): base64.b64decode(h["http"]) for h in heads}
    for socket in (1, 2):  # the peer's two sockets
        assert upgrades[socket, CLIENT_TO_SERVER].startswith(b"GET /openicf HTTP/1.1\r\n")
        assert upgrades[socket, SERVER_TO_CLIENT].startswith(b"HTTP/1.1 101 ")
    assert [m["i"] for m in messages] == list(range(1, len(messages) + 1))
    sent = [
        RemoteMessage.FromString(base64.b64decode(m["b64"]))
        for m in messages
        if m["dir"] == CLIENT_TO_SERVER and m["opcode"] == 2
    ]
    received = [
        RemoteMessage.FromString(base64.b64decode(m["b64"]))
        for m in messages
        if m["dir"] == SERVER_TO_CLIENT and m["opcode"] == 2
    ]
    assert info in sent
    assert answer in received
    assert sum(m.request.HasField("handshakeMessage") for m in sent) == 2
