"""The OpenICF wire on the server: admission, handshake, control requests both ways, bad input."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key
from websockets.asyncio.client import connect

from protocol.openicf.proto.rpc_pb2 import ControlRequest, HandshakeMessage, RemoteMessage
from server.app import ConnectorServer
from tests.conftest import KEY, registry, settings
from tests.server.openicf.peer import SUBPROTOCOLS, Peer, basic

VECTORS = Path(__file__).resolve().parent / "vectors"


def recorded_heads(scenario: str) -> tuple[bytes, bytes]:
    """The first socket's upgrade request and the Java server's answer to it, as recorded."""
    lines = [
        json.loads(line) for line in (VECTORS / scenario / "upgrade.jsonl").read_text().splitlines()
    ]
    request = next(base64.b64decode(x["b64"]) for x in lines if x["dir"] == "client->server")
    response = next(base64.b64decode(x["b64"]) for x in lines if x["dir"] == "server->client")
    return request, response


def with_key(request: bytes, key: str) -> bytes:
    """A recorded upgrade request with `Authorization: Basic anonymous:<key>` added."""
    credentials = base64.b64encode(f"anonymous:{key}".encode())
    header = b"\r\nAuthorization: Basic " + credentials + b"\r\nUpgrade:"
    return request.replace(b"\r\nUpgrade:", header, 1)


async def exchange(server: ConnectorServer, request: bytes, key: str | None = None) -> bytes:
    """Send an upgrade request byte for byte (Host and key swapped in) and read the answer head."""
    head = request if key is None else with_key(request, key)
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        writer.write(head)
        await writer.drain()
        return await reader.readuntil(b"\r\n\r\n")
    finally:
        writer.close()


@pytest.mark.parametrize("scenario", ["10-auth-wrong-key", "11-auth-no-key"])
async def test_refusals_are_the_java_servers_byte_for_byte(
    rcs: ConnectorServer, scenario: str
) -> None:
    request, expected = recorded_heads(scenario)
    assert await exchange(rcs, request) == expected


async def test_the_java_clients_upgrade_is_accepted_with_the_subprotocol_once(
    rcs: ConnectorServer,
) -> None:
    request, _ = recorded_heads("11-auth-no-key")
    answer = await exchange(rcs, request, key=KEY)
    assert answer.startswith(b"HTTP/1.1 101 ")
    assert answer.count(b"Sec-WebSocket-Protocol: v1.openicf.forgerock.org\r\n") == 1


async def test_the_json_wire_keeps_its_own_answers(rcs: ConnectorServer) -> None:
    request, _ = recorded_heads("11-auth-no-key")
    json_request = request.replace(b"Sec-WebSocket-Protocol: v1.openicf.forgerock.org\r\n", b"")
    json_request = json_request.replace(b"Origin: wss://127.0.0.1:36843\r\n", b"")
    answer = await exchange(rcs, json_request)
    assert answer.startswith(b"HTTP/1.1 401 Unauthorized\r\n")
    assert b"Content-Length" in answer


async def test_the_handshake_names_this_process_by_its_key(rcs: ConnectorServer) -> None:
    async with Peer.connect(rcs.url, KEY) as peer:
        first, second = peer.handshakes
        assert first == second  # one key per process, on every socket
        assert first.serverType == HandshakeMessage.JAVA
        digest = hashlib.sha1(first.publicKey, usedforsecurity=False)
        assert first.sessionId == digest.hexdigest().upper()
        key = load_der_public_key(first.publicKey)
        assert isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp521r1"


async def test_the_server_asks_for_connector_info_once_per_group_and_keeps_alive(
    rcs: ConnectorServer,
) -> None:
    rcs.openicf.keepalive_first_s = 0.0
    rcs.openicf.keepalive_every_s = 0.05
    async with Peer.connect(rcs.url, KEY) as peer:
        while len(peer.server_requests) < 3:
            await asyncio.sleep(0.01)
        info, *keepalives = peer.server_requests
        assert list(info.request.controlRequest.infoLevel) == [ControlRequest.CONNECTOR_INFO]
        ids = [m.messageId for m in peer.server_requests]
        assert ids == sorted(set(ids)) and ids[0] >= 1
        for keepalive in keepalives:
            control = keepalive.request.controlRequest
            assert not control.infoLevel and list(control.remoteRequestId) == [keepalive.messageId]


async def test_a_keepalive_of_the_peer_gets_an_empty_answer_on_its_socket(
    rcs: ConnectorServer,
) -> None:
    async with Peer.connect(rcs.url, KEY) as peer:
        keepalive = RemoteMessage(messageId=peer.next_id())
        keepalive.request.controlRequest.remoteRequestId.append(keepalive.messageId)
        await peer.send(keepalive, socket=1)
        socket, answer = await peer.next(lambda m: m.messageId == keepalive.messageId)
        assert socket == 1
        assert answer.response.HasField("controlResponse")
        assert not answer.response.controlResponse.connectorInfos


async def test_a_request_before_the_handshake_is_refused_and_the_socket_goes_on(
    rcs: ConnectorServer,
) -> None:
    async with connect(
        rcs.url, subprotocols=SUBPROTOCOLS, additional_headers={"Authorization": basic(KEY)}
    ) as ws:
        early = RemoteMessage(messageId=3)
        early.request.operationRequest.testOpRequest.SetInParent()
        await ws.send(early.SerializeToString())
        answer = RemoteMessage.FromString(await ws.recv())  # type: ignore[arg-type]
        assert answer.messageId == 3
        assert answer.response.error.message == "Connection received request before handshake"
        hello = RemoteMessage()
        hello.request.handshakeMessage.sessionId = "A" * 40
        await ws.send(hello.SerializeToString())
        answer = RemoteMessage.FromString(await ws.recv())  # type: ignore[arg-type]
        assert answer.response.HasField("handshakeMessage")


async def test_malformed_protobuf_gets_an_error_naming_it_and_the_socket_goes_on(
    rcs: ConnectorServer,
) -> None:
    async with Peer.connect(rcs.url, KEY) as peer:
        await peer.send_raw(b"\x08\x07\x12\xff\xff", socket=0)
        _, answer = await peer.next(lambda m: m.response.HasField("error"))
        assert answer.messageId == 7
        assert "malformed OpenICF RemoteMessage" in answer.response.error.message
        assert answer.response.error.exceptionClass == "java.lang.IllegalArgumentException"
        keepalive = RemoteMessage(messageId=peer.next_id())
        keepalive.request.controlRequest.SetInParent()
        await peer.send(keepalive, socket=0)
        _, answer = await peer.next(lambda m: m.messageId == keepalive.messageId)
        assert answer.response.HasField("controlResponse")


async def test_websocket_pings_carry_an_empty_ping_message() -> None:
    """The Java peer parses a ping's payload as a PingMessage: ours is empty, so it parses."""
    async with ConnectorServer(
        settings(ping_interval_s=0.01, ping_timeout_s=5.0), registry(), {}
    ) as server:
        request, _ = recorded_heads("11-auth-no-key")
        head = with_key(request, KEY)
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        try:
            writer.write(head)
            await writer.drain()
            assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 101 ")
            assert await reader.readexactly(2) == b"\x89\x00"  # FIN, ping, no payload
        finally:
            writer.close()
