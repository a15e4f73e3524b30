"""Coalescing is exact: concurrent reads and updates by id, batched behind the rate limiter,
each answer what the caller would have had alone. Through the real server and emulator."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from client.connection import Facade, RcsClient
from connector.hubspot import HubspotConnector
from connector.registry import ConnectorRegistry
from emulator import Emulator, EmulatorSettings
from protocol.configuration import InlineConfiguration
from protocol.errors import (
    AlreadyExistsException,
    OperationTimeoutException,
    PermissionDeniedException,
    UnknownUidException,
)
from protocol.filters import Equals
from protocol.values import ConnectorObject, OperationOptions
from server.app import ConnectorServer, HostedConfiguration
from server.keyhash import hash_key
from server.settings import ServerSettings
from tests.conftest import properties_for

KEY = "test-key"
BATCH_READ = "/crm/v3/objects/contacts/batch/read"
BATCH_UPDATE = "/crm/v3/objects/contacts/batch/update"


@pytest.fixture
def emulator_settings() -> EmulatorSettings:
    return EmulatorSettings(contacts=40, companies=2, seed=17, rate_limits_enabled=False)


@pytest.fixture
async def facades(emu: Emulator) -> AsyncIterator[dict[str, Facade]]:
    """`lone`: permits to spare, so each get goes alone; `queued`: one permit a second, so
    concurrent requests queue behind the limiter and go out together."""

    def hosted(name: str, permits: str) -> HostedConfiguration:
        configuration = InlineConfiguration.model_validate(
            {"configurationProperties": properties_for(emu, permitsPerSecond=permits)}
        )
        return HostedConfiguration(
            name=name, connector_ref=HubspotConnector.connector_key, configuration=configuration
        )

    server_settings = ServerSettings(
        host="127.0.0.1", port=0, key_hash=hash_key(KEY), auth_failure_delay_s=0.0
    )
    async with (
        ConnectorServer(
            server_settings,
            ConnectorRegistry([HubspotConnector]),
            {"lone": hosted("lone", "1000"), "queued": hosted("queued", "1")},
        ) as server,
        await RcsClient.connect(server.url, KEY) as client,
    ):
        yield {"lone": await client.facade("lone"), "queued": await client.facade("queued")}


def ids(emu: Emulator, count: int) -> list[str]:
    return [str(r.id) for r in emu.store.contacts.live()[:count]]


async def drain(facade: Facade) -> None:
    """Use the limiter's stored permit, so what follows queues behind it."""
    assert await facade.get("contact", "999999999") is None


Ask = tuple[str, list[str] | None]


async def read(facade: Facade, ask: Ask) -> ConnectorObject | str | None:
    kind, rest = ask[0].split(":", 1)
    options = OperationOptions(attributesToGet=ask[1])
    if kind == "get":
        return await facade.get("contact", rest, options)
    attribute = "__UID__" if kind == "uid" else "__NAME__"
    async with facade.search("contact", Equals(attribute=attribute, value=rest), **_opts(ask)) as r:
        found = [o async for o in r]
    return found[0] if found else "none"


def _opts(ask: Ask) -> dict[str, Any]:
    return {} if ask[1] is None else {"attributesToGet": ask[1]}


async def test_concurrent_reads_each_get_what_a_lone_read_gives(
    facades: dict[str, Facade], emu: Emulator
) -> None:
    first, second, third = ids(emu, 3)
    email = emu.store.contacts.get(int(second)).props["email"]  # type: ignore[union-attr]
    asks: list[Ask] = [
        (f"get:{first}", None),
        (f"get:{first}", ["firstname"]),  # the same id, other attributes
        (f"get:{first}", ["lastname", "city"]),
        (f"get:{second}", ["email"]),
        (f"get:{second}", ["email"]),  # the same id and attributes
        ("get:999999", None),  # missing
        ("get:999998", ["firstname"]),
        (f"get:{third}", ["phone", "firstname"]),
        (f"uid:{third}", ["city"]),  # a search that is equality on __UID__
        (f"name:{email.upper()}", ["firstname"]),  # equality on __NAME__
        ("name:nobody@example.invalid", None),
    ]
    alone = [await read(facades["lone"], ask) for ask in asks]
    await drain(facades["queued"])
    before = len(emu.requests_to("/crm/v3/objects/contacts"))
    together = await asyncio.gather(*(read(facades["queued"], ask) for ask in asks))
    calls = len(emu.requests_to("/crm/v3/objects/contacts")) - before

    assert together == alone
    assert alone[5] is None and alone[6] is None and alone[10] == "none"
    assert isinstance(alone[1], ConnectorObject)
    assert set(alone[1].attributes) == {"firstname"}
    assert calls < len(asks)
    assert emu.requests_to(BATCH_READ)


async def test_a_cancelled_caller_leaves_the_others_undisturbed(
    facades: dict[str, Facade], emu: Emulator
) -> None:
    wanted = ids(emu, 6)
    alone = [await facades["lone"].get("contact", i) for i in wanted]
    emu.faults.add(stall_s=1.5, path_prefix=BATCH_READ, count=1)
    await drain(facades["queued"])
    queued = facades["queued"]
    tasks = [asyncio.ensure_future(queued.get("contact", i)) for i in wanted]
    # Leaves by an operation timeout, while its batch waits for the limiter or HubSpot.
    timed_out = queued.get("contact", wanted[0], timeout_s=0.3)
    with pytest.raises(OperationTimeoutException):
        await timed_out
    tasks[1].cancel()  # leaves by IDM's cancel
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert isinstance(results[1], asyncio.CancelledError)
    assert [r for i, r in enumerate(results) if i != 1] == [
        a for i, a in enumerate(alone) if i != 1
    ]
    # Nothing is stuck: the same configuration answers afterwards.
    assert await queued.get("contact", wanted[1]) == alone[1]


async def test_an_error_of_the_batch_call_reaches_every_caller(
    facades: dict[str, Facade], emu: Emulator
) -> None:
    wanted = ids(emu, 8)
    await drain(facades["queued"])
    # 403 is not retried; every read of contacts is refused, batched or not.
    emu.faults.add(status=403, path_prefix="/crm/v3/objects/contacts")
    results = await asyncio.gather(
        *(facades["queued"].get("contact", i) for i in wanted), return_exceptions=True
    )
    assert all(isinstance(r, PermissionDeniedException) for r in results), results
    assert any(r.status == 403 for r in emu.requests_to(BATCH_READ))


async def test_concurrent_updates_each_get_their_own_answer(
    facades: dict[str, Facade], emu: Emulator
) -> None:
    wanted = ids(emu, 5)
    queued = facades["queued"]
    await drain(queued)
    writes: list[tuple[str, dict[str, Any]]] = [
        (wanted[0], {"firstname": ["Ann"]}),
        (wanted[1], {"lastname": ["Bee"]}),
        (wanted[2], {"city": ["Cork"]}),
        (wanted[2], {"city": ["Derry"]}),  # the same object twice: in order, both applied
        ("999999", {"firstname": ["Nobody"]}),
        (wanted[3], {"firstname": ["Eve"], "lastname": ["Fox"]}),
    ]
    results = await asyncio.gather(
        *(queued.update("contact", i, values) for i, values in writes), return_exceptions=True
    )
    assert isinstance(results[4], UnknownUidException)
    last: dict[str, Any] = {}
    for (id_, values), result in zip(writes, results, strict=True):
        if id_ == "999999":
            continue
        assert not isinstance(result, BaseException), result
        assert result.value == id_ and result.revision
        last.setdefault(id_, {}).update(values)
    for id_, values in last.items():
        got = await facades["lone"].get("contact", id_)
        assert got is not None
        assert {a: got.attributes[a] for a in values} == values
        if id_ != wanted[2]:  # one update: the revision it answered is the object's
            answered = results[[w[0] for w in writes].index(id_)]
            assert getattr(answered, "revision", None) == got.uid.revision
    assert emu.requests_to(BATCH_UPDATE)


async def test_a_batch_refused_for_one_update_is_sent_one_by_one(
    facades: dict[str, Facade], emu: Emulator
) -> None:
    first, second = ids(emu, 2)
    queued = facades["queued"]
    await drain(queued)
    taken = emu.store.contacts.get(int(second)).props["email"]  # type: ignore[union-attr]
    third = ids(emu, 3)[2]
    results = await asyncio.gather(
        queued.update("contact", first, {"firstname": ["Kept"]}),
        queued.update("contact", third, {"__NAME__": [taken]}),  # another contact's email
        return_exceptions=True,
    )
    assert not isinstance(results[0], BaseException), results[0]
    assert isinstance(results[1], AlreadyExistsException), results[1]
    assert any(r.status == 409 for r in emu.requests_to(BATCH_UPDATE))
    got = await facades["lone"].get("contact", first)
    assert got is not None and got.attributes["firstname"] == ["Kept"]
