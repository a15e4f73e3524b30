"""The client against a server that misbehaves: a real WebSocket server on loopback port 0 that
answers as a test tells it to (the design review's client items)."""

from __future__ import annotations

import asyncio
import gc
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection, serve

from client.connection import RcsClient, SearchResults
from protocol.configuration import ConfigurationRef
from protocol.errors import ConnectorException, OperationTimeoutException
from tests.conftest import MEMORY_KEY

Answer = Callable[[dict[str, Any]], list[str]]
"""What the server sends back to one request frame (as parsed JSON)."""

HANDSHAKE_EXTRA = json.dumps(
    {
        "messageId": 0,
        "response": {
            "handshake": {"sessionId": "s1", "protocolVersion": "1.0", "peerName": "newer"},
            "featuresOfANewerServer": ["x"],
        },
    }
)


class FakeServer:
    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.received: list[dict[str, Any]] = []
        self.url = ""

    async def handle(self, ws: ServerConnection) -> None:
        async for message in ws:
            frame = json.loads(message)
            self.received.append(frame)
            if "handshake" in frame["request"]:
                await ws.send(HANDSHAKE_EXTRA)
                continue
            for text in self.answer(frame):
                await ws.send(text)


async def running(answer: Answer) -> AsyncIterator[FakeServer]:
    fake = FakeServer(answer)
    async with serve(fake.handle, "127.0.0.1", 0) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        fake.url = f"ws://127.0.0.1:{port}/openicf"
        yield fake


def silent(frame: dict[str, Any]) -> list[str]:
    """Never answers an operation; answers cancels."""
    cancel = frame["request"].get("cancel")
    if cancel is None:
        return []
    answer = {"cancel": {"requestId": cancel["requestId"], "cancelled": True}}
    return [json.dumps({"messageId": frame["messageId"], "response": answer})]


async def read_all(results: SearchResults) -> None:
    async with results:
        async for _ in results:
            pass


async def test_unknown_fields_are_read_past_and_an_unreadable_answer_fails_its_request() -> None:
    def answer(frame: dict[str, Any]) -> list[str]:
        mid = frame["messageId"]
        if "control" in frame["request"]:  # a shape this client cannot read, naming the request
            return [json.dumps({"messageId": mid, "response": {"control": {"connectorInfos": 7}}})]
        return []

    async with asyncio.timeout(10):
        async for fake in running(answer):
            # The handshake answer carries a field this client does not know: still connected.
            async with await RcsClient.connect(fake.url, "k") as client:
                assert client.server_session is not None
                assert client.server_session.peerName == "newer"
                with pytest.raises(ConnectorException, match="could not be read"):
                    await client.control("CONNECTOR_INFO")


async def test_every_call_has_a_finite_deadline_by_default() -> None:
    async with asyncio.timeout(10):
        async for fake in running(silent):
            async with await RcsClient.connect(fake.url, "k", call_timeout_s=0.2) as client:
                facade = client.facade_for(MEMORY_KEY, ConfigurationRef(name="memory"))
                with pytest.raises(OperationTimeoutException):
                    await facade.test()
                with pytest.raises(OperationTimeoutException):
                    await read_all(facade.search("contact"))


async def test_a_dropped_stream_is_cancelled_with_the_next_frame_not_from_the_collector() -> None:
    def answer(frame: dict[str, Any]) -> list[str]:
        mid, request = frame["messageId"], frame["request"]
        if "operation" in request and "search" in request["operation"]:
            part = {"search": {"sequence": 1, "connectorObjects": []}}
            return [json.dumps({"messageId": mid, "response": {"operation": part}})]
        if "operation" in request:
            return [json.dumps({"messageId": mid, "response": {"operation": {"test": {}}}})]
        return []

    async with asyncio.timeout(10):
        async for fake in running(answer):
            async with await RcsClient.connect(fake.url, "k") as client:
                facade = client.facade_for(MEMORY_KEY, ConfigurationRef(name="memory"))
                results = facade.search("contact")
                await results.start()
                searched = results.request_id
                del results
                gc.collect()
                await asyncio.sleep(0.1)
                assert not [f for f in fake.received if "cancel" in f["request"]]
                await facade.test()
                kinds = [next(iter(f["request"])) for f in fake.received]
                assert kinds[-2:] == ["cancel", "operation"]
                assert fake.received[-2]["request"]["cancel"]["requestId"] == searched
