"""Defect 9: big filters. One past the documented size is refused with an error that says so;
below it, planning and evaluation take time linear in the filter, so none holds the server."""

from __future__ import annotations

import asyncio

import pytest

from client.connection import RcsClient, SearchResults
from connector.hubspot.planner import ReadByIds, plan
from connector.hubspot.schema import builtin_catalog
from protocol.codec import FrameError, decode
from protocol.errors import ConnectorException
from protocol.filters import (
    MAX_FILTER_DEPTH,
    MAX_FILTER_NODES,
    And,
    Equals,
    Filter,
    Not,
    Or,
    Presence,
    StartsWith,
    evaluate,
    matcher,
)
from protocol.frames import SearchOpRequest
from protocol.values import ConnectorObject, OperationOptions, Uid
from server.app import ConnectorServer


def big_or(count: int, attribute: str = "lastname") -> Or:
    return Or(filters=[Equals(attribute=attribute, value=f"Last{n}") for n in range(count)])


def search_frame(node: Filter) -> str:
    return (
        '{"messageId": 7, "request": {"operation": {"connectorKey": {"bundleName": "b", '
        '"bundleVersion": "1", "connectorName": "c"}, "configuration": {"name": "memory"}, '
        '"search": {"objectClass": "contact", "filter": ' + node.model_dump_json() + "}}}}"
    )


def test_a_filter_past_the_documented_size_is_refused_when_decoded() -> None:
    """The attack's filter: an `or` of 15,000 `equals`, about 0.95 MB."""
    frame = search_frame(big_or(15_000))
    assert len(frame) > 900_000
    with pytest.raises(FrameError, match=f"more than {MAX_FILTER_NODES} nodes") as caught:
        decode(frame)
    assert caught.value.message_id == 7


def test_a_filter_nested_too_deep_is_refused() -> None:
    node: Filter = Presence(attribute="x")
    for _ in range(MAX_FILTER_DEPTH + 1):
        node = Not(filter=node)
    with pytest.raises(FrameError, match="nests deeper"):
        decode(search_frame(node))


def test_a_filter_at_the_limit_is_accepted() -> None:
    decode(search_frame(big_or(MAX_FILTER_NODES - 1)))


async def read(results: SearchResults) -> list[ConnectorObject]:
    async with results:
        return [o async for o in results]


async def test_through_the_server_a_big_filter_is_a_clear_error(
    rcs: ConnectorServer, client: RcsClient
) -> None:
    memory = await client.facade("memory")
    with pytest.raises(ValueError, match="more than 2000 nodes"):  # the client refuses it too
        memory.search("contact", big_or(MAX_FILTER_NODES + 500))
    # Sent anyway (as another client might), the server answers with the reason.
    unchecked = SearchOpRequest.model_construct(
        objectClass="contact", filter=big_or(MAX_FILTER_NODES + 500), options=OperationOptions()
    )
    results = SearchResults(client, memory.request(search=unchecked), None)
    with pytest.raises(ConnectorException, match="more than 2000 nodes"):
        await read(results)
    # The socket and the server go on: a filter just under the limit is served.
    found = await read(memory.search("contact", big_or(MAX_FILTER_NODES - 1)))
    assert sorted(str(o.attributes["lastname"][0]) for o in found) == sorted(
        f"Last{n}" for n in range(1, 26)
    )
    assert await asyncio.wait_for(client.connectors(), 5)


def test_an_or_of_many_ids_is_planned_as_a_read_by_id() -> None:
    node = Or(filters=[Equals(attribute="__UID__", value=str(n)) for n in range(1, 1501)])
    planned = plan(node, builtin_catalog("contact"))
    assert isinstance(planned, ReadByIds) and len(planned.ids) == 1500


OBJECTS = [
    ConnectorObject(
        objectClass="contact",
        uid=Uid(value=str(n)),
        name=f"u{n}@example.com",
        attributes={"lastname": [f"Last{n}", f"Alt{n}"], "score": [n, n % 2 == 0]},
    )
    for n in range(12)
]
FILTERS: list[Filter] = [
    big_or(7),
    Or(filters=[Equals(attribute="score", value=3), Equals(attribute="score", value=True)]),
    Or(filters=[Equals(attribute="score", value=1), Equals(attribute="score", value=1.0)]),
    Or(
        filters=[
            Equals(attribute="lastname", value="last3"),
            StartsWith(attribute="lastname", value="Alt1"),
        ]
    ),
    And(filters=[big_or(10), Not(filter=Equals(attribute="lastname", value="Last4"))]),
    Or(filters=[Equals(attribute="lastname", value=None), Equals(attribute="missing", value="x")]),
    Not(filter=big_or(5)),
]


@pytest.mark.parametrize("node", FILTERS)
@pytest.mark.parametrize("ci", [False, True])
def test_the_compiled_filter_keeps_what_evaluate_keeps(node: Filter, ci: bool) -> None:
    keep = matcher(node, case_insensitive=ci)
    for obj in OBJECTS:
        assert keep(obj) == evaluate(node, obj, case_insensitive=ci), obj.uid.value
