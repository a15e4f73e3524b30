"""Defect 4: a peer that sends and never reads is cut off; its answers are not buffered without
end, and the server keeps answering everyone else. A real server, a real socket, on the JSON
wire and on the OpenICF wire alike."""

from __future__ import annotations

import asyncio
import contextlib
import socket

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from client.connection import RcsClient
from protocol.openicf.proto.rpc_pb2 import HandshakeMessage, RemoteMessage
from server.app import ConnectorServer
from tests.conftest import KEY, registry, settings
from tests.server.openicf.peer import PEER_SESSION, SUBPROTOCOLS, basic


async def livez(port: int) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /livez HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    answer = await reader.read()
    writer.close()
    return answer


def openicf_hello() -> bytes:
    hello = RemoteMessage()
    hello.request.handshakeMessage.sessionId = PEER_SESSION
    hello.request.handshakeMessage.serverType = HandshakeMessage.JAVA
    hello.request.handshakeMessage.publicKey = b"not used"
    return hello.SerializeToString()


async def non_reader(rcs: ConnectorServer, wire: str) -> tuple[ClientConnection, str | bytes]:
    """A socket with a tiny receive buffer, and a frame each of which earns an error answer."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", rcs.port))
    sock.setblocking(False)
    if wire == "json":
        ws = await connect(
            rcs.url, sock=sock, additional_headers={"Authorization": f"Bearer {KEY}"}
        )
        return ws, '{"messageId": 1, "request": {}}'
    ws = await connect(
        rcs.url,
        sock=sock,
        subprotocols=SUBPROTOCOLS,
        additional_headers={"Authorization": basic(KEY)},
    )
    await ws.send(openicf_hello())
    return ws, b"\x08\x01\x12\xff"  # not a message


SEND_CAP = 1_000_000
"""Far more frames than the kernel's socket buffers and the server's reply bound can hold: a
server that buffered its replies instead of cutting the peer off would take them all."""


@pytest.mark.parametrize("wire", ["json", "openicf"])
async def test_a_peer_that_does_not_read_is_cut_off(wire: str) -> None:
    async with (
        asyncio.timeout(120),
        ConnectorServer(settings(max_pending_replies=50, close_timeout_s=1.0), registry()) as rcs,
    ):
        ws, junk = await non_reader(rcs, wire)
        ws.transport.pause_reading()  # from here on, nothing the server sends is read
        sent = 0
        with contextlib.suppress(ConnectionClosed):  # the server closed it under us
            while sent < SEND_CAP and rcs.connections:
                await ws.send(junk)
                sent += 1
                if sent % 100 == 0:
                    await asyncio.sleep(0)  # the server, on this loop too, takes its turn
        while rcs.connections:
            await asyncio.sleep(0.05)
        cut = rcs.metrics.registry.get_sample_value("rcs_connections_cut_off_total")
        assert cut == 1.0
        assert sent < SEND_CAP  # cut off, not buffered without end
        assert (await livez(rcs.port)).startswith(b"HTTP/1.1 200")
        async with await RcsClient.connect(rcs.url, KEY) as other:
            assert await other.connectors()
        ws.transport.abort()
