"""The per-socket protocol, driven with raw frames: bad input, cancel, limits, liveness.

Each bad frame must cost exactly one error frame: the same connection, and the others, go on.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosedError

from client.connection import RcsClient
from connector.memory import MemoryStore
from server.app import ConnectorServer, HostedConfiguration
from server.settings import ServerSettings
from tests.conftest import KEY, MEMORY_KEY, hosted, memory_configuration, settings

KEY_JSON = MEMORY_KEY.model_dump()
ILLEGAL = "java.lang.IllegalArgumentException"


class RawPeer:
    """A client that writes frames by hand and reads every answer."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws

    async def send(self, frame: dict[str, Any] | str) -> None:
        await self.ws.send(frame if isinstance(frame, str) else json.dumps(frame))

    async def receive(self) -> dict[str, Any]:
        answer: dict[str, Any] = json.loads(await self.ws.recv())
        return answer

    async def handshake(self) -> None:
        await self.send({"messageId": 0, "request": {"handshake": {"sessionId": "raw"}}})
        assert "handshake" in (await self.receive())["response"]

    async def operation(self, message_id: int, configuration: str, **op: Any) -> None:
        body = {"connectorKey": KEY_JSON, "configuration": {"name": configuration}, **op}
        await self.send({"messageId": message_id, "request": {"operation": body}})

    async def cancel(self, message_id: int, target: int) -> None:
        await self.send({"messageId": message_id, "request": {"cancel": {"requestId": target}}})

    async def open_requests(self, message_id: int) -> list[int]:
        await self.send(
            {"messageId": message_id, "request": {"control": {"infoLevel": ["REQUESTS"]}}}
        )
        while True:
            frame = await self.receive()
            if frame["messageId"] == message_id:
                ids: list[int] = frame["response"]["control"].get("requestIds", [])
                return ids

    async def until(self, message_id: int) -> list[dict[str, Any]]:
        """Every frame up to and including the first one under `message_id`."""
        frames = []
        while True:
            frame = await self.receive()
            frames.append(frame)
            if frame["messageId"] == message_id:
                return frames


def error_of(frame: dict[str, Any]) -> dict[str, Any]:
    error: dict[str, Any] = frame["response"]["error"]
    return error


async def store_of(server: ConnectorServer, name: str) -> MemoryStore:
    pool = next(p for p in server.pools if p.key.configuration_name == name)
    assert isinstance(pool.shared, MemoryStore)
    return pool.shared


@pytest.fixture
async def peer(rcs: ConnectorServer) -> AsyncIterator[RawPeer]:
    async with connect(rcs.url, additional_headers={"Authorization": f"Bearer {KEY}"}) as ws:
        yield RawPeer(ws)


@pytest.fixture
def configurations() -> dict[str, HostedConfiguration]:
    return {
        "memory": hosted("memory", memory_configuration(seed=25, pageSize=10)),
        "slow": hosted("slow", memory_configuration(blockOn=["SEARCH", "TEST"])),
        # A search that never ends by itself: only a cancel or a close stops it.
        "stream": hosted(
            "stream", memory_configuration(virtualObjects=10**9, pageSize=50, pageDelayMs=1)
        ),
        "single": hosted(
            "single",
            memory_configuration({"maxObjects": 1, "maxWait": 0}, blockOn=["TEST"]),
        ),
    }


BAD_FRAMES: list[tuple[str, str, int, str]] = [
    ("not JSON", "{nope", 0, "frame is not JSON"),
    ("not an object", "[]", 0, "JSON object"),
    ("unknown frame kind", '{"messageId": 3, "request": {"ping": {}}}', 3, "ping"),
    (
        "wrong field type",
        '{"messageId": 4, "request": {"control": {"infoLevel": "REQUESTS"}}}',
        4,
        "infoLevel",
    ),
    (
        "unknown operation field",
        json.dumps(
            {
                "messageId": 5,
                "request": {
                    "operation": {
                        "connectorKey": KEY_JSON,
                        "configuration": {"name": "memory"},
                        "search": {"objectClass": "contact", "options": {"pagesize": 2}},
                    }
                },
            }
        ),
        5,
        "pagesize",
    ),
    (
        "a response from the client",
        '{"messageId": 6, "response": {"cancel": {"requestId": 1, "cancelled": true}}}',
        6,
        "not allowed",
    ),
]


@pytest.mark.parametrize(
    ("case", "text", "message_id", "says"), BAD_FRAMES, ids=[c[0] for c in BAD_FRAMES]
)
async def test_a_bad_frame_costs_one_error_frame(
    peer: RawPeer, client: RcsClient, case: str, text: str, message_id: int, says: str
) -> None:
    memory = await client.facade("memory")  # another connection, open all along
    await peer.handshake()
    await peer.send(text)
    answer = await peer.receive()
    assert answer["messageId"] == message_id
    assert error_of(answer)["exceptionClass"] == ILLEGAL
    assert says in error_of(answer)["message"]
    # The same connection goes on, and so do the others.
    await peer.operation(9, "memory", test={})
    assert (await peer.receive()) == {"messageId": 9, "response": {"operation": {"test": {}}}}
    await memory.test()


async def test_a_request_before_the_handshake_is_refused_and_the_socket_stays(
    peer: RawPeer,
) -> None:
    await peer.operation(1, "memory", test={})
    answer = await peer.receive()
    assert answer["messageId"] == 1
    assert error_of(answer)["message"] == "Connection received request before handshake"
    await peer.handshake()
    await peer.operation(1, "memory", test={})
    assert "operation" in (await peer.receive())["response"]


async def test_unknown_connector_and_configuration(peer: RawPeer) -> None:
    await peer.handshake()
    await peer.operation(1, "nope", test={})
    unknown = error_of(await peer.receive())
    assert unknown["exceptionClass"].endswith(".ConfigurationException")
    assert "unknown configuration 'nope'" in unknown["message"]
    wrong_key = {**KEY_JSON, "connectorName": "org.example.Missing"}
    body = {"connectorKey": wrong_key, "configuration": {"name": "memory"}, "test": {}}
    await peer.send({"messageId": 2, "request": {"operation": body}})
    missing = error_of(await peer.receive())
    assert missing["message"].startswith("Connector not found")


async def test_cancel_of_an_unknown_request_is_an_error(peer: RawPeer) -> None:
    await peer.handshake()
    await peer.cancel(2, 77)
    answer = await peer.receive()
    assert answer["messageId"] == 2
    assert "no open request 77" in error_of(answer)["message"]


async def test_cancel_mid_stream_stops_the_connector(peer: RawPeer, rcs: ConnectorServer) -> None:
    await peer.handshake()
    await peer.operation(1, "stream", search={"objectClass": "contact"})
    first = await peer.receive()
    assert first["response"]["operation"]["search"]["sequence"] == 1
    await peer.cancel(2, 1)
    frames = await peer.until(2)
    assert frames[-1]["response"] == {"cancel": {"requestId": 1, "cancelled": True}}
    parts = [f for f in frames[:-1] if f["messageId"] == 1]
    assert all("result" not in f["response"]["operation"]["search"] for f in parts)
    # Nothing of request 1 follows the cancel's answer, and the server forgot it.
    assert await peer.open_requests(3) == []
    store = await store_of(rcs, "stream")
    assert "SEARCH" in store.cancelled


async def test_cancel_before_the_operation_starts(peer: RawPeer, rcs: ConnectorServer) -> None:
    await peer.handshake()
    await peer.operation(1, "single", test={})  # holds the only instance (maxObjects 1)
    await peer.operation(2, "single", test={})  # waits for it
    assert await peer.open_requests(3) == [1, 2]
    await peer.cancel(4, 2)
    assert (await peer.until(4))[-1]["response"]["cancel"] == {"requestId": 2, "cancelled": True}
    store = await store_of(rcs, "single")
    assert store.created == 1  # request 2 never got an instance
    await peer.cancel(5, 1)
    assert (await peer.until(5))[-1]["response"]["cancel"]["cancelled"] is True
    assert store.cancelled == ["TEST"]


async def test_cancel_sent_with_its_operation(peer: RawPeer) -> None:
    await peer.handshake()
    op = {"connectorKey": KEY_JSON, "configuration": {"name": "slow"}, "test": {}}
    await peer.ws.send(json.dumps({"messageId": 1, "request": {"operation": op}}))
    await peer.cancel(2, 1)
    frames = await peer.until(2)
    assert frames == [{"messageId": 2, "response": {"cancel": {"requestId": 1, "cancelled": True}}}]


async def test_cancel_after_the_answer_says_so(peer: RawPeer) -> None:
    await peer.handshake()
    await peer.operation(1, "memory", test={})
    await peer.receive()
    await peer.cancel(2, 1)
    assert (await peer.receive())["response"]["cancel"] == {"requestId": 1, "cancelled": False}


async def test_a_closed_socket_stops_the_connector(rcs: ConnectorServer) -> None:
    async with connect(rcs.url, additional_headers={"Authorization": f"Bearer {KEY}"}) as ws:
        peer = RawPeer(ws)
        await peer.handshake()
        await peer.operation(1, "stream", search={"objectClass": "contact"})
        await peer.receive()
    store = await store_of(rcs, "stream")
    pool = next(p for p in rcs.pools if p.key.configuration_name == "stream")
    for _ in range(1000):  # the server notices the close on its own schedule
        if store.cancelled and not pool.active:
            break
        await asyncio.sleep(0.01)
    assert store.cancelled == ["SEARCH"] and pool.active == 0


async def test_operation_timeout_stops_the_work(peer: RawPeer, rcs: ConnectorServer) -> None:
    await peer.handshake()
    configuration = memory_configuration(blockOn=["SEARCH"], timeouts={"SEARCH": 30})
    body = {
        "connectorKey": KEY_JSON,
        "configuration": configuration.model_dump(mode="json"),
        "search": {"objectClass": "contact"},
    }
    await peer.send({"messageId": 1, "request": {"operation": body}})
    error = error_of(await peer.receive())
    assert error["exceptionClass"].endswith(".OperationTimeoutException")
    pool = next(p for p in rcs.pools if p.inline)
    assert isinstance(pool.shared, MemoryStore)
    # The connector saw the cancellation before the error was sent.
    assert pool.shared.cancelled == ["SEARCH"]


async def test_duplicate_open_request_id_is_refused(peer: RawPeer) -> None:
    await peer.handshake()
    await peer.operation(1, "slow", test={})
    await peer.operation(1, "memory", test={})
    assert "already in use" in error_of(await peer.receive())["message"]
    await peer.cancel(2, 1)
    await peer.until(2)


@pytest.fixture
def server_settings() -> ServerSettings:
    return settings(max_inflight_per_connection=2, max_frame_bytes=4096)


async def test_in_flight_limit_per_connection(peer: RawPeer) -> None:
    await peer.handshake()
    await peer.operation(1, "slow", test={})
    await peer.operation(2, "slow", test={})
    await peer.operation(3, "memory", test={})
    refused = await peer.receive()
    assert refused["messageId"] == 3
    assert error_of(refused)["exceptionClass"].endswith(".RetryableException")
    assert "limit 2" in error_of(refused)["message"]
    await peer.cancel(4, 1)
    await peer.until(4)
    await peer.operation(3, "memory", test={})
    assert (await peer.receive())["messageId"] == 3


async def test_an_oversized_frame_closes_only_its_connection(
    peer: RawPeer, rcs: ConnectorServer
) -> None:
    await peer.handshake()
    async with connect(rcs.url, additional_headers={"Authorization": f"Bearer {KEY}"}) as ws:
        other = RawPeer(ws)
        await other.handshake()
        await peer.send("x" * 5000)
        with pytest.raises(ConnectionClosedError) as closed:
            await peer.receive()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
        await other.operation(1, "memory", test={})
        assert "operation" in (await other.receive())["response"]
