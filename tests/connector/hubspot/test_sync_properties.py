"""Live sync as IDM runs it, through the real server, against the emulator with an indexing delay:
whatever HubSpot's users do between polls, the deltas applied in order to a copy give HubSpot's
state, and no delta comes twice."""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from client.connection import Facade
from emulator import Emulator, EmulatorSettings, run_emulator
from protocol.values import ConnectorObject, OperationOptions, SyncDeltaType, SyncToken

from .conftest import properties_for, serving

INDEXING_DELAY_S = 0.2
LOOK_BACK_S = "0.5"  # longer than the indexing delay, as it must be
_CONTACT = ["__NAME__", "firstname", "companies", "primaryCompany"]
_COMPANY = ["__NAME__", "contacts"]
WANTED = {
    "contact": OperationOptions(attributesToGet=_CONTACT),
    "company": OperationOptions(attributesToGet=_COMPANY),
    "__ALL__": OperationOptions(attributesToGet=_CONTACT + _COMPANY[1:]),
}

Key = tuple[str, str]
State = dict[Key, dict[str, Any]]

_pick = st.integers(min_value=0, max_value=1_000)
STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("create"), st.sampled_from(["contacts", "companies"])),
        st.tuples(st.just("update"), st.sampled_from(["contacts", "companies"]), _pick),
        st.tuples(st.just("archive"), st.sampled_from(["contacts", "companies"]), _pick),
        st.tuples(st.just("associate"), _pick, _pick, st.booleans()),
        st.tuples(st.just("dissociate"), _pick, _pick),
        st.tuples(
            st.just("poll"), st.sampled_from(["contact", "company", "__ALL__"]), st.booleans()
        ),
        st.tuples(st.just("index")),
    ),
    min_size=1,
    max_size=30,
)


def _view(obj: ConnectorObject) -> dict[str, Any]:
    attributes = obj.attributes
    if obj.objectClass == "contact":
        return {
            "name": obj.name,
            "firstname": (attributes.get("firstname") or [None])[0],
            "companies": sorted(str(v) for v in attributes.get("companies", [])),
            "primaryCompany": [str(v) for v in attributes.get("primaryCompany", [])],
        }
    return {"name": obj.name, "contacts": sorted(str(v) for v in attributes.get("contacts", []))}


def _hubspot_state(emu: Emulator) -> State:
    store = emu.store
    state: State = {}
    for record in store.contacts.live():
        linked = store.associations.of("contacts", record.id, "companies")
        state[("contact", str(record.id))] = {
            "name": record.props.get("email"),
            "firstname": record.props.get("firstname"),
            "companies": sorted(str(c) for c in linked),
            "primaryCompany": [str(c) for c, types in linked.items() if 1 in types],
        }
    for record in store.companies.live():
        linked = store.associations.of("companies", record.id, "contacts")
        state[("company", str(record.id))] = {
            "name": record.props.get("name"),
            "contacts": sorted(str(c) for c in linked),
        }
    return state


class Reader:
    """IDM's side: a token per object class polled, and the copy the deltas build."""

    def __init__(self, hubspot: Facade) -> None:
        self.hubspot = hubspot
        self.tokens: dict[str, SyncToken | None] = {}
        self.copies: dict[str, State] = {"contact": {}, "company": {}, "__ALL__": {}}
        self.seen: dict[str, set[tuple[str, str, str | None]]] = {k: set() for k in self.copies}

    async def start(self) -> None:
        for object_class in self.copies:
            self.tokens[object_class] = await self.hubspot.latest_sync_token(object_class)

    async def poll(self, object_class: str) -> None:
        copy, seen = self.copies[object_class], self.seen[object_class]
        async with self.hubspot.sync(
            object_class, self.tokens[object_class], WANTED[object_class]
        ) as deltas:
            async for delta in deltas:
                mark = (delta.objectClass, delta.uid.value, delta.uid.revision)
                if delta.deltaType is SyncDeltaType.DELETE:
                    mark = (delta.objectClass, delta.uid.value, "deleted")
                assert mark not in seen, f"delivered twice: {mark}"
                seen.add(mark)
                key = (delta.objectClass, delta.uid.value)
                if delta.deltaType is SyncDeltaType.DELETE:
                    copy.pop(key, None)
                else:
                    assert delta.connectorObject is not None
                    if delta.deltaType is SyncDeltaType.CREATE:
                        assert key not in copy, f"CREATE of an object already delivered: {key}"
                    copy[key] = _view(delta.connectorObject)
        self.tokens[object_class] = deltas.token


def _apply(emu: Emulator, step: tuple[Any, ...], counter: list[int]) -> None:
    store = emu.store
    kind = step[0]
    if kind == "create":
        counter[0] += 1
        n = counter[0]
        if step[1] == "contacts":
            store.contacts.create({"email": f"p{n}@example.com", "firstname": f"F{n}"})
        else:
            store.companies.create({"name": f"Company {n}"})
    elif kind in ("update", "archive"):
        table = store.table(step[1])
        live = table.live()
        if not live:
            return
        record = live[step[2] % len(live)]
        if kind == "archive":
            store.archive(table, record)
        else:
            counter[0] += 1
            field = "firstname" if step[1] == "contacts" else "name"
            table.update(record, {field: f"Changed {counter[0]}"})
    elif kind in ("associate", "dissociate"):
        contacts, companies = store.contacts.live(), store.companies.live()
        if not contacts or not companies:
            return
        contact = contacts[step[1] % len(contacts)].id
        company = companies[step[2] % len(companies)].id
        if kind == "associate":
            store.associate(contact, company, [1] if step[3] else [279])
        else:
            store.dissociate(contact, company, None)
    elif kind == "index":
        emu.clock.advance(INDEXING_DELAY_S)


async def _scenario(steps: list[tuple[Any, ...]]) -> None:
    emulator_settings = EmulatorSettings(
        contacts=0, companies=0, rate_limits_enabled=False, indexing_delay_s=INDEXING_DELAY_S
    )
    async with run_emulator(emulator_settings) as emu:
        properties = properties_for(emu, syncLookBackSeconds=LOOK_BACK_S)
        async with serving(properties) as (_, hubspot):
            reader = Reader(hubspot)
            await reader.start()
            counter = [0]
            for step in steps:
                if step[0] == "poll":
                    if step[2]:
                        emu.clock.advance(INDEXING_DELAY_S)  # what was written is searchable
                    await reader.poll(step[1])
                else:
                    _apply(emu, step, counter)
            emu.clock.advance(INDEXING_DELAY_S)  # search has caught up
            expected = _hubspot_state(emu)
            for object_class in ("contact", "company", "__ALL__"):
                await reader.poll(object_class)
            for object_class in ("contact", "company"):
                wanted = {k: v for k, v in expected.items() if k[0] == object_class}
                assert reader.copies[object_class] == wanted, object_class
            assert reader.copies["__ALL__"] == expected


@given(STEPS)
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
def test_deltas_applied_in_order_give_hubspots_state(steps: list[tuple[Any, ...]]) -> None:
    asyncio.run(_scenario(steps))
