"""Every operation end to end: the client library against a real server over a real socket."""

from __future__ import annotations

import asyncio

import pytest

from client.connection import RcsClient
from protocol.configuration import ConfigurationRef
from protocol.errors import (
    AlreadyExistsException,
    ConfigurationException,
    ConnectorException,
    OperationTimeoutException,
    PreconditionFailedException,
    UnknownUidException,
    UnsupportedOperationException,
)
from protocol.filters import And, Equals, StartsWith
from protocol.values import NAME, CountPolicy, SortKey, Uid, UpdateType
from server.app import ConnectorServer
from tests.conftest import KEY, MEMORY_KEY, memory_configuration


async def test_connector_info_lists_connectors_and_named_configurations(
    client: RcsClient,
) -> None:
    info = await client.connector_info()
    assert [c.connectorKey for c in info.connectorInfos or []] == [MEMORY_KEY]
    names = {c.name: c.connectorRef for c in info.configurations or []}
    assert names == {"memory": MEMORY_KEY, "slow": MEMORY_KEY}
    memory = (info.connectorInfos or [])[0]
    assert "SEARCH" in memory.supportedOperations
    secret = next(p for p in memory.configurationProperties if p.name == "apiKey")
    assert secret.confidential and secret.defaultValue is None


async def test_test_validate_and_schema(client: RcsClient) -> None:
    memory = await client.facade("memory")
    await memory.test()
    await memory.validate()
    schema = await memory.schema()
    assert {c.type for c in schema.objectClasses} == {"contact", "company"}


async def test_create_get_update_delete_round_trip(client: RcsClient) -> None:
    memory = await client.facade("memory")
    uid = await memory.create("company", {NAME: ["Acme"], "tags": ["a"]})
    found = await memory.get("company", uid.value)
    assert found is not None and found.name == "Acme" and found.attributes["tags"] == ["a"]

    uid = await memory.update("company", uid, {"tags": ["b"]}, UpdateType.ADD)
    uid = await memory.update("company", uid, {"tags": ["a"]}, UpdateType.REMOVE)
    uid = await memory.update("company", uid, {"industry": ["tools"]})
    found = await memory.get("company", uid)
    assert found is not None
    assert found.attributes == {"tags": ["b"], "industry": ["tools"]}
    assert found.uid.revision == uid.revision == "4"

    with pytest.raises(PreconditionFailedException):
        await memory.update("company", Uid(value=uid.value, revision="1"), {"industry": ["y"]})
    with pytest.raises(AlreadyExistsException) as exists:
        await memory.create("company", {NAME: ["Acme"]})
    assert exists.value.wire_class.endswith(".AlreadyExistsException")

    await memory.delete("company", uid)
    assert await memory.get("company", uid) is None
    with pytest.raises(UnknownUidException):
        await memory.delete("company", uid)


async def test_search_streams_every_object_then_the_result(client: RcsClient) -> None:
    memory = await client.facade("memory")
    async with memory.search("contact") as results:
        names = [obj.name async for obj in results]
    assert len(names) == 25 and names[0] == "user0000001@example.com"
    assert results.result is not None and results.result.pagedResultsCookie is None
    # 25 objects in connector pages of 10: one part per page, then the result.
    assert results.parts == 4


async def test_search_with_filter_paging_and_sorting(client: RcsClient) -> None:
    memory = await client.facade("memory")
    flt = And(
        filters=[
            StartsWith(attribute=NAME, value="user000001"),
            Equals(attribute="lifecyclestage", value="lead"),
        ]
    )
    async with memory.search(
        "contact",
        flt,
        pageSize=4,
        sortKeys=[SortKey(field="firstname", ascending=False)],
        totalPagedResultsPolicy=CountPolicy.EXACT,
    ) as first:
        page = [o.uid.value async for o in first]
    # user0000010 .. user0000019, sorted by firstname descending (string order).
    assert page == ["19", "18", "17", "16"]
    assert first.result is not None
    assert first.result.remainingPagedResults == 6 and first.result.totalPagedResults == 10
    async with memory.search(
        "contact",
        flt,
        pageSize=4,
        pagedResultsCookie=first.result.pagedResultsCookie,
        sortKeys=[SortKey(field="firstname", ascending=False)],
    ) as second:
        assert [o.uid.value async for o in second] == ["15", "14", "13", "12"]


async def test_attributes_to_get_projects_results(client: RcsClient) -> None:
    memory = await client.facade("memory")
    async with memory.search("contact", attributesToGet=["firstname"]) as results:
        first = await anext(results)
    assert set(first.attributes) == {"firstname"} and first.name is not None


async def test_script_sync_and_latest_token(client: RcsClient) -> None:
    memory = await client.facade("memory")
    assert await memory.script_on_connector("count", "contact") == 25
    echoed = await memory.script_on_connector("echo", "hi", {"n": 1})
    assert echoed == {"script": "hi", "arguments": {"n": 1}}
    with pytest.raises(UnsupportedOperationException):
        await memory.script_on_connector("groovy", "1")

    start = await memory.latest_sync_token("company")
    await memory.create("company", {NAME: ["Initech"]})
    await memory.create("company", {NAME: ["Umbrella"]})
    async with memory.sync("company", start) as changes:
        created = [d.connectorObject.name async for d in changes if d.connectorObject]
    assert created == ["Initech", "Umbrella"]
    assert changes.token is not None and changes.token != start


async def test_inline_configuration_runs_with_its_own_pool(
    client: RcsClient, rcs: ConnectorServer
) -> None:
    inline = client.facade_for(MEMORY_KEY, memory_configuration(seed=3))
    async with inline.search("contact") as results:
        assert len([o async for o in results]) == 3
    pools = {pool.key.configuration_name for pool in rcs.pools}
    assert any(name.startswith("inline:") for name in pools)


async def test_unknown_configuration_is_a_clear_error(client: RcsClient) -> None:
    with pytest.raises(ConfigurationException, match="unknown configuration 'nope'"):
        await client.facade("nope")
    facade = client.facade_for(MEMORY_KEY, ConfigurationRef(name="nope"))
    with pytest.raises(ConfigurationException, match="this server holds: memory, slow"):
        await facade.test()


async def test_unknown_connector_is_a_clear_error(client: RcsClient) -> None:
    other = MEMORY_KEY.model_copy(update={"bundleVersion": "[2.0,3.0)"})
    facade = client.facade_for(other, ConfigurationRef(name="memory"))
    with pytest.raises(ConnectorException, match="Connector not found"):
        await facade.test()


async def test_client_timeout_cancels_the_request(client: RcsClient, rcs: ConnectorServer) -> None:
    slow = await client.facade("slow")
    with pytest.raises(OperationTimeoutException):
        await slow.test(timeout_s=0.05)
    assert await client.open_requests() == []


async def test_server_operation_timeout_stops_the_work(client: RcsClient) -> None:
    configuration = memory_configuration(blockOn=["TEST"], timeouts={"TEST": 50})
    facade = client.facade_for(MEMORY_KEY, configuration)
    with pytest.raises(OperationTimeoutException, match="operationTimeout of 50 ms"):
        await facade.test()


async def test_many_concurrent_operations_on_one_connection(client: RcsClient) -> None:
    memory = await client.facade("memory")

    async def one(i: int) -> str | None:
        found = await memory.get("contact", str(i % 25 + 1))
        return None if found is None else found.uid.value

    async def stream() -> int:
        async with memory.search("contact") as results:
            return len([o async for o in results])

    # Up to the in-flight limit (64): gets and searches interleave on one socket.
    gets = asyncio.gather(*(one(i) for i in range(56)))
    searches = asyncio.gather(*(stream() for _ in range(8)))
    assert await gets == [str(i % 25 + 1) for i in range(56)]
    assert await searches == [25] * 8


async def test_two_clients_share_a_named_pool(rcs: ConnectorServer) -> None:
    async with (
        await RcsClient.connect(rcs.url, KEY) as one,
        await RcsClient.connect(rcs.url, KEY, auth="bearer") as two,
    ):
        first, second = await one.facade("memory"), await two.facade("memory")
        await asyncio.gather(first.test(), second.test())
    assert len([p for p in rcs.pools if p.key.configuration_name == "memory"]) == 1


async def test_pool_wait_expires_with_a_clear_error(client: RcsClient) -> None:
    pool = {"maxObjects": 1, "maxWait": 20}
    facade = client.facade_for(MEMORY_KEY, memory_configuration(pool, blockOn=["TEST"]))
    holder = asyncio.ensure_future(facade.test())
    await asyncio.sleep(0)
    with pytest.raises(ConnectorException, match="maxWait 20 ms"):
        await facade.validate()
    holder.cancel()


async def test_leaving_a_search_early_cancels_it(client: RcsClient) -> None:
    endless = client.facade_for(MEMORY_KEY, memory_configuration(virtualObjects=10**9))
    async with endless.search("contact") as results:
        async for _ in results:
            break
    assert results.result is None
    assert await client.open_requests() == []


async def test_a_stream_dropped_without_closing_frees_the_connection(client: RcsClient) -> None:
    endless = client.facade_for(MEMORY_KEY, memory_configuration(virtualObjects=10**9))
    async for _ in endless.search("contact"):  # no `async with`: a careless caller
        break
    # The client's reader is not stuck behind the abandoned stream, and the server stops it.
    assert await endless.get("contact", "7") is not None
    for _ in range(1000):
        if not await client.open_requests():
            break
        await asyncio.sleep(0.01)
    assert await client.open_requests() == []
