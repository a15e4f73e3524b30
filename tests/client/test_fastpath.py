"""The search fast path (client/fastpath.py, client/rawparts.py) against a server that writes
its parts in other layouts than ours: a real WebSocket server on loopback port 0 answering as a
test tells it to. What a user sees is what `hubspot-rcs-client search` prints."""

from __future__ import annotations

import asyncio
import io
import json
from typing import Any

import pytest

from client.connection import RcsClient
from client.fastpath import raw_search
from client.output import Writer
from protocol.codec import FrameError
from protocol.configuration import ConfigurationRef
from protocol.values import OperationOptions
from tests.conftest import MEMORY_KEY
from tests.reliability.test_client import running

ADA = {"objectClass": "contact", "uid": {"value": "1"}, "name": "ada", "attributes": {"a": [1]}}
BOB = {"objectClass": "contact", "uid": {"value": "2", "revision": "r"}, "attributes": {}}


def search_answer(*parts: str) -> Any:
    """A server that answers a search with `parts`, each a format string for its messageId."""

    def answer(frame: dict[str, Any]) -> list[str]:
        operation = frame["request"].get("operation") or {}
        if "search" not in operation:
            return []
        return [part.replace("MID", str(frame["messageId"])) for part in parts]

    return answer


def part(objects: str, sequence: int = 1) -> str:
    return (
        '{"messageId":MID,"response":{"operation":{"search":'
        f'{{"sequence":{sequence},"connectorObjects":[{objects}]}}}}}}}}'
    )


LAST = '{"messageId":MID,"response":{"operation":{"search":{"sequence":9,"result":{}}}}}'


async def printed(*parts: str) -> list[str]:
    """What a search answered with `parts` prints on a pipe, a line each."""
    out = io.StringIO()
    writer = Writer(out, pretty=False)
    async with asyncio.timeout(10):
        async for fake in running(search_answer(*parts)):
            async with await RcsClient.connect(fake.url, "k") as client:
                facade = client.facade_for(MEMORY_KEY, ConfigurationRef(name="memory"))
                async with raw_search(facade, "contact", None, OperationOptions()) as search:
                    async for page in search.pages():
                        writer.object_lines(page)
    return out.getvalue().splitlines()


async def test_objects_are_printed_as_the_server_wrote_them_one_a_line() -> None:
    compact = json.dumps(ADA, separators=(",", ":"))
    lines = await printed(part(compact + "," + json.dumps(BOB)), LAST)
    assert lines == [compact, json.dumps(BOB)]  # the server's own text, spaces and all


async def test_an_object_written_over_several_lines_is_printed_on_one() -> None:
    lines = await printed(part(json.dumps(ADA, indent=2)), LAST)
    assert [json.loads(line) for line in lines] == [ADA]


async def test_an_object_without_attributes_is_printed_with_empty_ones() -> None:
    bare = {"objectClass": "contact", "uid": {"value": "3"}}
    lines = await printed(part(json.dumps(bare)), LAST)
    assert [json.loads(line) for line in lines] == [bare | {"attributes": {}}]


@pytest.mark.parametrize(
    "bad",
    [
        {"objectClass": "contact", "uid": {"value": 7}},
        {"objectClass": "contact"},
        {"objectClass": 1, "uid": {"value": "1"}},
        {"objectClass": "contact", "uid": {"value": "1"}, "attributes": None},
        {"objectClass": "contact", "uid": {"value": "1"}, "attributes": [1]},
        "contact",
    ],
)
async def test_an_object_without_a_connector_objects_shape_is_an_error_naming_it(
    bad: object,
) -> None:
    with pytest.raises(FrameError, match=r"connectorObjects\[1\] is not a ConnectorObject"):
        await printed(part(json.dumps(ADA) + "," + json.dumps(bad)), LAST)


async def test_a_result_that_is_not_a_search_result_is_an_error() -> None:
    last = LAST.replace('"result":{}', '"result":[1]')
    with pytest.raises(FrameError, match="result must be an object"):
        await printed(part(json.dumps(ADA)), last)


@pytest.mark.parametrize(
    ("field", "value"), [("connectorObjects", "none"), ("scanned", "x"), ("scanned", -1)]
)
async def test_a_search_part_with_a_field_of_the_wrong_type_is_an_error_naming_it(
    field: str, value: object
) -> None:
    search = {"sequence": 1, "connectorObjects": [ADA], field: value}
    wrong = json.dumps({"messageId": "MID", "response": {"operation": {"search": search}}})
    with pytest.raises(FrameError, match=field):
        await printed(wrong.replace('"MID"', "MID"), LAST)
