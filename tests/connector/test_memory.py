"""The in-memory connector: the SPI's reference behaviour, and its knobs."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from connector.base import ConnectorContext
from connector.memory import MemoryConfiguration, MemoryConnector, MemoryStore
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
from protocol.values import NAME, CountPolicy, OperationOptions, SortKey, Uid


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


async def test_failures_on_demand() -> None:
    c = await connector(failOn=["GET", "CHECK_ALIVE"])
    with pytest.raises(ConnectorIOException, match="GET failed on demand"):
        await c.get("contact", Uid(value="1"), OperationOptions())
    with pytest.raises(ConnectorIOException):
        await c.check_alive()
    with pytest.raises(ConnectorIOException, match="INIT"):
        await connector(failOn=["INIT"])


async def test_a_blocked_operation_records_its_cancellation() -> None:
    c = await connector(blockOn=["TEST"])
    task = asyncio.create_task(c.test())
    await c.store.started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert c.store.cancelled == ["TEST"]


async def test_validate_and_test_check_the_configuration() -> None:
    with pytest.raises(ConfigurationException, match="FROB"):
        await (await connector(failOn=["FROB"])).validate()
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
