"""The client library on the OpenICF wire: every operation answers as it does on the JSON wire.

Each transcript runs on a fresh server of ours (loopback, port 0) in front of a fresh emulator,
with the in-memory connector and the HubSpot connector; the same calls through
`protocol="json"` and `protocol="openicf"` must give the same results and the same errors.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, Final

import pytest

from client.connection import Facade, RcsClient
from client.openicf import OpenIcfClient
from connector.hubspot import HubspotConnector
from connector.memory import MemoryConnector
from connector.registry import ConnectorRegistry
from emulator import Emulator, EmulatorSettings, run_emulator
from protocol.configuration import InlineConfiguration
from protocol.errors import (
    ConfigurationException,
    ConnectorException,
    InvalidCredentialException,
)
from protocol.filters import And, Equals, StartsWith
from protocol.values import (
    NAME,
    CountPolicy,
    GuardedString,
    OperationOptions,
    SortKey,
    SyncToken,
    Uid,
    UpdateType,
)
from server.app import ConnectorServer
from tests.conftest import KEY, settings
from tests.connector.hubspot.conftest import properties_for

Step = Callable[[Facade], Awaitable[Any]]


def dump(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json", by_alias=True, exclude_none=True)
    if isinstance(value, list):
        return [dump(v) for v in value]
    return value


@asynccontextmanager
async def stack(
    protocol: str, *, rotate_refresh_tokens: bool = False
) -> AsyncIterator[tuple[RcsClient, Emulator]]:
    """A fresh emulator, a fresh server hosting both connectors, and a client on `protocol`."""
    emulator_settings = EmulatorSettings(
        contacts=30,
        companies=4,
        seed=5,
        rate_limits_enabled=False,
        rotate_refresh_tokens=rotate_refresh_tokens,
    )
    registry = ConnectorRegistry([MemoryConnector, HubspotConnector])
    async with (
        run_emulator(emulator_settings) as emu,
        ConnectorServer(settings(scripting_enabled=True), registry, {}) as server,
        await RcsClient.connect(server.url, KEY, protocol=protocol) as client,  # type: ignore[arg-type]
    ):
        yield client, emu


async def search(facade: Facade, object_class: str, flt: Any = None, **options: Any) -> Any:
    async with facade.search(object_class, flt, OperationOptions(**options)) as results:
        found = [dump(o) async for o in results]
    return {"objects": found, "result": dump(results.result)}


async def run(facade: Facade, steps: list[Step]) -> list[Any]:
    """Each step's answer, or its error as (Java class name, message)."""
    out: list[Any] = []
    for step in steps:
        try:
            out.append(dump(await step(facade)))
        except ConnectorException as exc:
            out.append(("error", exc.wire_class, exc.message))
    return out


def memory_steps(uid: str) -> list[Step]:
    """Every operation on the company `uid` (created first) and on the seeded contacts."""
    return [
        lambda f: f.create("company", {NAME: ["Acme"]}),  # AlreadyExistsException
        lambda f: f.get("company", uid),
        lambda f: f.update("company", uid, {"tags": ["b"]}, UpdateType.ADD),
        lambda f: f.update("company", uid, {"tags": ["a"]}, UpdateType.REMOVE),
        lambda f: f.update("company", uid, {"industry": ["tools"], "size": []}),
        lambda f: f.update("company", Uid(value=uid, revision="1"), {"x": ["y"]}),  # stale
        lambda f: f.get("company", uid, OperationOptions(attributesToGet=["industry"])),
        lambda f: search(f, "contact"),
        lambda f: search(
            f,
            "contact",
            And(
                filters=[
                    StartsWith(attribute=NAME, value="user000001"),
                    Equals(attribute="lifecyclestage", value="lead"),
                ]
            ),
            pageSize=4,
            sortKeys=[SortKey(field="firstname", ascending=False)],
            totalPagedResultsPolicy=CountPolicy.EXACT,
        ),
        lambda f: search(f, "contact", pageSize=3, pagedResultsOffset=4, attributesToGet=["email"]),
        lambda f: search(f, "nothing"),
        lambda f: f.script_on_connector("count", "contact"),
        lambda f: f.script_on_connector("echo", "hi", {"n": 1, "names": ["a", "b"]}),
        lambda f: f.script_on_connector("groovy", "1"),
        lambda f: f.latest_sync_token("company"),
        lambda f: sync(f, "company"),
        lambda f: f.delete("company", uid),
        lambda f: f.get("company", uid),
        lambda f: f.delete("company", uid),  # UnknownUidException
    ]


async def sync(facade: Facade, object_class: str, token: SyncToken | None = None) -> Any:
    async with facade.sync(object_class, token) as changes:
        deltas = [dump(d) async for d in changes]
    return {"deltas": deltas, "token": dump(changes.token)}


async def memory_transcript(protocol: str) -> list[Any]:
    async with stack(protocol) as (client, _):
        configuration = InlineConfiguration.model_validate(
            {"configurationProperties": {"seed": 25, "pageSize": 10}}
        )
        facade = client.facade_for(MemoryConnector.connector_key, configuration)
        out = await run(facade, [lambda f: f.test(), lambda f: f.validate(), lambda f: f.schema()])
        out[2] = same_schema(out[2])
        created = await facade.create("company", {NAME: ["Acme"], "tags": ["a"], "size": [42]})
        return [*out, dump(created), *await run(facade, memory_steps(created.value))]


async def test_every_memory_operation_answers_as_on_the_json_wire() -> None:
    json_wire = await memory_transcript("json")
    openicf = await memory_transcript("openicf")
    for step, (ours, theirs) in enumerate(zip(openicf, json_wire, strict=True)):
        assert ours == theirs, f"step {step}"


WITHOUT_OBJECT_CLASS: Final = ("VALIDATE", "TEST", "SCHEMA", "SCRIPT_ON_CONNECTOR")


def same_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A schema as both wires carry it. OpenICF 1.5's legacy `AttributeInfo` has a name, a
    type and flags only, so `nativeName` and `subtype` do not travel (docs/idm.md); and its
    schema names every operation of the connector, as the Java framework's does, where our
    JSON wire names only the operations that take an object class."""
    classes = [
        oc
        | {
            "attributes": [
                {k: v for k, v in a.items() if k not in ("nativeName", "subtype")}
                for a in oc["attributes"]
            ]
        }
        for oc in schema["objectClasses"]
    ]
    by_operation = {
        op: names
        for op, names in schema["supportedObjectClassesByOperation"].items()
        if op not in WITHOUT_OBJECT_CLASS
    }
    return schema | {"objectClasses": classes, "supportedObjectClassesByOperation": by_operation}


HUBSPOT_STEPS: list[Step] = [
    lambda f: f.test(),
    lambda f: f.validate(),
    lambda f: f.schema(),
    lambda f: search(f, "contact", pageSize=10),
    lambda f: search(f, "company", attributesToGet=["name", "domain"]),
    lambda f: f.create(
        "contact", {NAME: ["ann.lee@example.com"], "firstname": ["Ann"], "lastname": ["Lee"]}
    ),
    lambda f: search(f, "contact", Equals(attribute=NAME, value="ann.lee@example.com")),
    lambda f: f.get("contact", "999999"),
    lambda f: f.delete("contact", "999999"),
]


async def hubspot_transcript(protocol: str) -> list[Any]:
    async with stack(protocol) as (client, emu):
        configuration = InlineConfiguration.model_validate(
            {"configurationProperties": properties_for(emu)}
        )
        facade = client.facade_for(HubspotConnector.connector_key, configuration)
        start = await facade.latest_sync_token("contact")  # live sync's first poll
        out = await run(facade, HUBSPOT_STEPS)
        out[2] = same_schema(out[2])
        created = out[5]["value"]
        out += await run(
            facade,
            [
                lambda f: f.update("contact", created, {"firstname": ["Anne"]}),
                lambda f: f.get(
                    "contact", created, OperationOptions(attributesToGet=["firstname"])
                ),
                lambda f: sync(f, "contact", start),
                lambda f: f.delete("contact", created),
                lambda f: f.get("contact", created),
            ],
        )
        cleaned: list[Any] = without_clock(out)
        return cleaned


def without_clock(value: Any) -> Any:
    """The emulator stamps writes with the time: those values differ between two runs."""
    if isinstance(value, dict):
        return {
            k: "<time>" if "date" in k.lower() or k in ("revision", "token") else without_clock(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [without_clock(v) for v in value]
    return value


async def test_every_hubspot_operation_answers_as_on_the_json_wire() -> None:
    json_wire = await hubspot_transcript("json")
    openicf = await hubspot_transcript("openicf")
    for step, (ours, theirs) in enumerate(zip(openicf, json_wire, strict=True)):
        assert ours == theirs, f"step {step}"


@pytest.fixture
async def openicf() -> AsyncIterator[RcsClient]:
    async with stack("openicf") as (client, _):
        yield client


async def test_the_client_opens_a_group_of_two_sockets(openicf: RcsClient) -> None:
    assert isinstance(openicf, OpenIcfClient)
    assert len(openicf.sockets) == 2 and openicf.server_session_id
    assert all(ws.subprotocol == "v1.openicf.forgerock.org" for ws in openicf.sockets)
    keys = [c.connectorKey for c in await openicf.connectors()]
    assert HubspotConnector.connector_key in keys and MemoryConnector.connector_key in keys


async def test_a_name_instead_of_a_configuration_is_refused(openicf: RcsClient) -> None:
    with pytest.raises(ConfigurationException, match="no configurations held by name"):
        await openicf.facade("memory")


async def test_leaving_a_search_early_cancels_it(openicf: RcsClient) -> None:
    endless = openicf.facade_for(
        MemoryConnector.connector_key,
        InlineConfiguration.model_validate({"configurationProperties": {"virtualObjects": 10**9}}),
    )
    async with endless.search("contact") as results:
        async for _ in results:
            break
    assert results.result is None
    # The socket group goes on: more requests, on both sockets.
    assert [await endless.get("contact", str(n)) is not None for n in range(1, 5)] == [True] * 4


async def test_many_searches_at_once_come_back_whole_and_in_order(openicf: RcsClient) -> None:
    facade = openicf.facade_for(
        MemoryConnector.connector_key,
        InlineConfiguration.model_validate(
            {"configurationProperties": {"seed": 300, "pageSize": 7}}
        ),
    )

    async def names() -> list[str]:
        async with facade.search("contact") as results:
            return [o.uid.value async for o in results]

    answers = await asyncio.gather(*(names() for _ in range(6)))
    assert all(a == [str(n) for n in range(1, 301)] for a in answers)


async def test_a_rotated_refresh_token_is_pushed_back_as_idm_would_store_it() -> None:
    async with stack("openicf", rotate_refresh_tokens=True) as (client, emu):
        assert isinstance(client, OpenIcfClient)
        first = emu.refresh_token
        configuration = InlineConfiguration.model_validate(
            {"configurationProperties": properties_for(emu)}
        )
        facade = client.facade_for(HubspotConnector.connector_key, configuration)
        await facade.test()  # the connector's first token refresh: HubSpot rotates the token
        for _ in range(200):
            if client.configuration_changes:
                break
            await asyncio.sleep(0.01)
        [change] = client.configuration_changes
        rotated = change["refreshToken"]
        assert isinstance(rotated, GuardedString) and rotated.reveal() != first
        # What IDM would do with it: store it, and send it from then on.
        stored = {**configuration.configurationProperties, "refreshToken": rotated}
        again = client.facade_for(
            HubspotConnector.connector_key,
            InlineConfiguration.model_validate({"configurationProperties": stored}),
        )
        await again.test()


async def test_a_wrong_key_is_refused_as_the_java_server_refuses_it() -> None:
    registry = ConnectorRegistry([MemoryConnector])
    async with ConnectorServer(settings(), registry, {}) as server:
        with pytest.raises(InvalidCredentialException, match=r"refused the key \(HTTP 403\)"):
            await RcsClient.connect(server.url, "not-" + KEY, protocol="openicf")
