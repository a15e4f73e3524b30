"""Running operations on a connector: JSON search parts, SPI fallbacks, unsupported operations."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from connector.base import Connector, ConnectorContext, SearchOp, SearchPage, SharedResources
from connector.memory import MemoryConfiguration, MemoryConnector, MemoryStore, seed_object
from protocol.codec import decode, encode, encode_object
from protocol.configuration import ResultsHandlerConfiguration
from protocol.errors import UnsupportedOperationException
from protocol.filters import Filter
from protocol.frames import (
    Handshake,
    OperationRequest,
    OperationResponse,
    RequestBody,
    RequestFrame,
    ResponseBody,
    ResponseFrame,
    SearchOpResponse,
)
from protocol.session import Session, Side
from protocol.values import OperationOptions
from server import connection, dispatch
from tests.conftest import MEMORY_KEY


def request(**op: Any) -> OperationRequest:
    body = {"connectorKey": MEMORY_KEY.model_dump(), "configuration": {"name": "x"}, **op}
    return OperationRequest.model_validate_json(json.dumps(body))


class Recorder:
    def __init__(self) -> None:
        self.frames: list[dict[str, Any]] = []

    async def send(self, text: bytes) -> None:
        decode(text)  # every frame we send must be a valid frame
        self.frames.append(json.loads(text))

    def outbox(self, op: OperationRequest, max_objects: int) -> connection.JsonSink:
        session = Session(Side.SERVER)
        hello = Handshake(sessionId="s")
        session.receive(RequestFrame(messageId=0, request=RequestBody(handshake=hello)))
        session.receive(RequestFrame(messageId=7, request=RequestBody(operation=op)))
        limits = connection.Limits(max_objects=max_objects, max_bytes=2048)
        return connection.JsonSink(7, self.send, session, limits)


async def memory(**config: Any) -> MemoryConnector:
    context = ConnectorContext(configuration=MemoryConfiguration(**config), configuration_name="m")
    shared = await MemoryConnector.open_shared(context)
    return MemoryConnector(context, shared)


async def run(connector: Any, op: OperationRequest, max_objects: int = 100) -> Recorder:
    recorder = Recorder()
    sink = recorder.outbox(op, max_objects)
    await dispatch.run(connector, op, ResultsHandlerConfiguration(), sink)
    return recorder


def test_a_search_part_is_what_the_codec_would_write() -> None:
    objects = [seed_object("contact", n) for n in (1, 2)]
    serialised = [encode_object(o) for o in objects]
    part = SearchOpResponse(sequence=3, connectorObjects=objects)
    frame = ResponseFrame(
        messageId=12, response=ResponseBody(operation=OperationResponse(search=part))
    )
    assert connection.search_part(12, 3, serialised) == encode(frame).encode()


async def test_parts_follow_pages_and_are_bounded_in_count_and_bytes() -> None:
    connector = await memory(seed=45, pageSize=20)
    recorder = await run(connector, request(search={"objectClass": "contact"}), max_objects=8)
    parts = [f["response"]["operation"]["search"] for f in recorder.frames]
    sizes = [len(p.get("connectorObjects", [])) for p in parts]
    # Pages of 20, 20, 5; parts of at most 8 objects and about 2 KiB, never across a page.
    assert sum(sizes) == 45 and max(sizes) <= 8
    assert [p["sequence"] for p in parts] == list(range(1, len(parts) + 1))
    assert "result" in parts[-1] and all("result" not in p for p in parts[:-1])
    for frame in recorder.frames[:-1]:
        assert len(json.dumps(frame)) < 2048 + 200
    boundaries, total = set(), 0
    for size in sizes:
        total += size
        boundaries.add(total)
    assert {20, 40} <= boundaries


async def test_an_empty_search_answers_with_the_result_alone() -> None:
    recorder = await run(await memory(), request(search={"objectClass": "contact"}))
    assert recorder.frames == [
        {
            "messageId": 7,
            "response": {
                "operation": {
                    "search": {
                        "sequence": 1,
                        "connectorObjects": [],
                        "result": {
                            "remainingPagedResults": -1,
                            "totalPagedResultsPolicy": "NONE",
                            "totalPagedResults": -1,
                        },
                    }
                }
            },
        }
    ]


class SearchOnly(Connector, SearchOp):
    """A connector with search alone: get must go through it."""

    connector_key = MEMORY_KEY
    display_name = "Search only"
    configuration_class = MemoryConfiguration

    def __init__(self, context: ConnectorContext, shared: SharedResources) -> None:
        super().__init__(context, shared)
        self.filters: list[Filter | None] = []

    async def search(
        self, object_class: str, filter: Filter | None, options: OperationOptions
    ) -> AsyncIterator[SearchPage]:
        self.filters.append(filter)
        # Inexact on purpose: the results handler must apply the uid filter itself.
        yield SearchPage([seed_object(object_class, n) for n in (1, 2, 3)], exact=False)


async def test_get_without_get_op_is_a_search_for_the_uid() -> None:
    context = ConnectorContext(configuration=MemoryConfiguration(), configuration_name="s")
    connector = SearchOnly(context, MemoryStore())
    recorder = await run(connector, request(get={"objectClass": "contact", "uid": {"value": "2"}}))
    found = recorder.frames[0]["response"]["operation"]["get"]["connectorObject"]
    assert found["uid"]["value"] == "2"
    assert connector.filters[0] is not None and connector.filters[0].type == "equals"


@pytest.mark.parametrize(
    ("op", "says"),
    [
        (
            {
                "update": {
                    "objectClass": "c",
                    "uid": {"value": "1"},
                    "updateType": "ADD",
                    "attributes": {},
                }
            },
            "UPDATE ADD",
        ),
        ({"create": {"objectClass": "c", "attributes": {}}}, "CREATE"),
        ({"test": {}}, "TEST"),
        ({"sync": {"objectClass": "c"}}, "SYNC"),
    ],
)
async def test_what_a_connector_lacks_is_unsupported(op: dict[str, Any], says: str) -> None:
    context = ConnectorContext(configuration=MemoryConfiguration(), configuration_name="s")
    with pytest.raises(UnsupportedOperationException, match=f"does not support {says}"):
        await run(SearchOnly(context, MemoryStore()), request(**op))
