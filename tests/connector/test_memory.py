"""The in-memory connector: the SPI's reference behaviour, and its knobs."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from connector.base import ConnectorContext
from connector.memory import MAX_CHANGES, MemoryConfiguration, MemoryConnector, MemoryStore
from protocol.errors import (
    AlreadyExistsException,
    ConfigurationException,
    ConnectorIOException,
    InvalidAttributeValueException,
    InvalidCredentialException,
    PreconditionFailedException,
    UnknownUidException,
)
from protocol.filters import Equals, Presence
from protocol.values import NAME, CountPolicy, OperationOptions, SortKey, SyncToken, Uid
from tests.faulty_connector import FaultyConfiguration, FaultyConnector


async def connector(**config: Any) -> MemoryConnector:
    context = ConnectorContext(configuration=MemoryConfiguration(**config), configuration_name="m")
    instance = MemoryConnector(context, await MemoryConnector.open_shared(context))
    await instance.init()
    return instance


async def search(c: MemoryConnector, **options: Any) -> tuple[list[str], Any]:
    flt = options.pop("filter", None)
    uids, result = [], None
    async for page in c.search("contact", flt, OperationOptions(**options)):
        uids += [o.uid.value for o in page.objects]
        result = page.result or result
    return uids, result


def test_every_operation_is_supported() -> None:
    assert set(MemoryConnector.supported_operations()) == {
        "CREATE", "DELETE", "GET", "SCHEMA", "SCRIPT_ON_CONNECTOR", "SEARCH", "SYNC", "TEST",
        "UPDATE", "VALIDATE",
    }  # fmt: skip


async def test_seeded_objects_page_through_with_a_cookie() -> None:
    c = await connector(seed=10, pageSize=3)
    first, result = await search(c, pageSize=4, totalPagedResultsPolicy=CountPolicy.EXACT)
    assert first == ["1", "2", "3", "4"]
    assert result.remainingPagedResults == 6 and result.totalPagedResults == 10
    rest, last = await search(c, pageSize=10, pagedResultsCookie=result.pagedResultsCookie)
    assert rest == [str(n) for n in range(5, 11)] and last.pagedResultsCookie is None
    offset, _ = await search(c, pageSize=2, pagedResultsOffset=9)
    assert offset == ["9", "10"]
    with pytest.raises(InvalidAttributeValueException):
        await search(c, pagedResultsCookie="not-ours")


async def test_filters_and_sort_keys() -> None:
    c = await connector(seed=12)
    matched, _ = await search(c, filter=Equals(attribute="firstname", value="First7"))
    assert matched == ["7"]
    ordered, _ = await search(c, sortKeys=[SortKey(field="firstname", ascending=False)])
    assert ordered[:3] == ["9", "8", "7"]  # First9 > First8 > ... > First12 > First11 ...
    assert (await search(c, filter=Presence(attribute="industry")))[0] == []
    for refused in ({"filter": Presence(attribute="nothing")}, {"attributesToGet": ["nothing"]}):
        with pytest.raises(InvalidAttributeValueException, match="no attribute 'nothing'"):
            await search(c, **refused)
    with pytest.raises(InvalidAttributeValueException, match=r"no attribute 'nothing'.*schema"):
        await c.create("contact", {"nothing": ["x"]}, OperationOptions())


async def test_create_update_delete_semantics() -> None:
    c = await connector()
    options = OperationOptions()
    uid = await c.create("contact", {NAME: ["a@example.com"], "phone": ["1"]}, options)
    with pytest.raises(AlreadyExistsException):
        await c.create("contact", {NAME: ["a@example.com"]}, options)
    uid = await c.update("contact", uid, {"phone": [], "industry": ["CTO"]}, options)
    got = await c.get("contact", uid, options)
    assert got is not None and got.attributes == {"industry": ["CTO"]} and uid.revision == "2"
    with pytest.raises(PreconditionFailedException):
        await c.update("contact", Uid(value=uid.value, revision="1"), {}, options)
    await c.delete("contact", uid, options)
    with pytest.raises(UnknownUidException):
        await c.delete("contact", uid, options)
    with pytest.raises(InvalidAttributeValueException, match="unknown object class"):
        await c.get("nothing", uid, options)


async def faulty(**config: Any) -> FaultyConnector:
    context = ConnectorContext(configuration=FaultyConfiguration(**config), configuration_name="m")
    instance = FaultyConnector(context, await FaultyConnector.open_shared(context))
    await instance.init()
    return instance


def test_the_shipped_connector_has_no_fault_knobs() -> None:
    """Fault injection lives in the tests (tests/faulty_connector.py), not in what ships."""
    with pytest.raises(ConfigurationException, match="blockOn"):
        MemoryConfiguration.from_properties({"blockOn": ["TEST"]})
    assert MemoryConnector.reference


@pytest.mark.parametrize(
    ("knob", "value"),
    [("seed", 100_001), ("virtualObjects", 1_000_000_001), ("pageSize", 1001), ("seed", -1)],
)
def test_knobs_are_bounded(knob: str, value: int) -> None:
    with pytest.raises(ConfigurationException, match=knob):
        MemoryConfiguration.from_properties({knob: value})


@pytest.mark.parametrize("token", ["abc", "1.5", ""])
async def test_a_sync_token_not_its_own_is_a_clear_error(token: str) -> None:
    """Defect 12: a non-numeric token is the peer's mistake, said as such."""
    c = await connector()
    await c.create("contact", {NAME: ["a@example.com"]}, OperationOptions())
    with pytest.raises(InvalidAttributeValueException, match="is not one of this connector's"):
        async for _ in c.sync("contact", SyncToken(value=token), OperationOptions()):
            pass


async def test_the_change_log_is_bounded_and_says_when_a_token_is_too_old() -> None:
    c = await connector()
    for n in range(MAX_CHANGES + 5):
        await c.create("company", {NAME: [f"c{n}"]}, OperationOptions())
    assert len(c.store.changes) == MAX_CHANGES
    with pytest.raises(InvalidAttributeValueException, match="older than"):
        async for _ in c.sync("company", SyncToken(value=1), OperationOptions()):
            pass
    latest = await c.latest_sync_token("company")
    assert latest == SyncToken(value=MAX_CHANGES + 5)
    await c.create("company", {NAME: ["last"]}, OperationOptions())
    pages = [p async for p in c.sync("company", latest, OperationOptions())]
    assert [d.uid.value for p in pages for d in p.deltas] == [str(MAX_CHANGES + 6)]


async def test_failures_on_demand() -> None:
    c = await faulty(failOn=["GET", "CHECK_ALIVE"])
    with pytest.raises(ConnectorIOException, match="GET failed on demand"):
        await c.get("contact", Uid(value="1"), OperationOptions())
    with pytest.raises(ConnectorIOException):
        await c.check_alive()
    with pytest.raises(ConnectorIOException, match="INIT"):
        await faulty(failOn=["INIT"])


async def test_a_blocked_operation_records_its_cancellation() -> None:
    c = await faulty(blockOn=["TEST"])
    task = asyncio.create_task(c.test())
    await c.store.started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert c.store.cancelled == ["TEST"]


async def test_validate_and_test_check_the_configuration() -> None:
    with pytest.raises(ConfigurationException, match="FROB"):
        await (await faulty(failOn=["FROB"])).validate()
    with pytest.raises(InvalidCredentialException):
        await (await connector(apiKey="a", expectedApiKey="b")).test()
    await (await connector(apiKey="a", expectedApiKey="a")).test()


async def test_instances_of_one_configuration_share_the_store() -> None:
    c = await connector()
    twin = MemoryConnector(c.context, c.store)
    await c.create("company", {NAME: ["Acme"]}, OperationOptions())
    assert len(twin.store.objects["company"]) == 1
    assert isinstance(c.shared, MemoryStore)


async def test_virtual_objects_are_made_up_as_a_search_reaches_them() -> None:
    c = await connector(virtualObjects=25, pageSize=10)
    pages = [len(p.objects) async for p in c.search("contact", None, OperationOptions())]
    assert pages == [10, 10, 5]
    assert c.store.objects["contact"] == {}
    found = await c.get("contact", Uid(value="25"), OperationOptions())
    assert found is not None and found.name == "user0000025@example.com"
    assert await c.get("contact", Uid(value="26"), OperationOptions()) is None
