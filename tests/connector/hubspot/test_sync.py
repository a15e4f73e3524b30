"""Live sync against the real emulator: deltas, tokens, deletes, the indexing delay."""

from __future__ import annotations

import pytest

from connector.hubspot import HubspotConnector
from connector.hubspot.sync import decode_token, encode_token, fingerprint
from emulator import Emulator, EmulatorSettings
from protocol.errors import (
    IllegalArgumentException,
    InvalidAttributeValueException,
    UnsupportedOperationException,
)
from protocol.values import OperationOptions, SyncDelta, SyncDeltaType, SyncToken

from .conftest import MakeConnector


async def poll(
    connector: HubspotConnector,
    object_class: str,
    token: SyncToken | None,
    options: OperationOptions | None = None,
) -> tuple[list[SyncDelta], SyncToken | None]:
    deltas: list[SyncDelta] = []
    last = token
    async for page in connector.sync(object_class, token, options or OperationOptions()):
        deltas += page.deltas
        if page.token is not None:
            last = page.token
    return deltas, last


def calls(emu: Emulator) -> int:
    return len([r for r in emu.requests if not r.path.startswith("/oauth")])


async def test_nothing_new_costs_one_call(connector: HubspotConnector, emu: Emulator) -> None:
    token = await connector.latest_sync_token("contact")
    before = calls(emu)
    deltas, after = await poll(connector, "contact", token)
    assert deltas == []
    assert calls(emu) - before == 1
    deltas, _ = await poll(connector, "contact", after)
    assert deltas == []


async def test_creates_updates_and_deletes_in_order(
    connector: HubspotConnector, emu: Emulator
) -> None:
    token = await connector.latest_sync_token("contact")
    contacts = emu.store.contacts
    old = contacts.live()[0]
    new = contacts.create({"email": "new@example.com", "firstname": "New"})
    contacts.update(old, {"firstname": "Changed"})
    contacts.update(new, {"lastname": "Later"})
    gone = contacts.live()[1]
    emu.store.archive(contacts, gone)

    deltas, token = await poll(connector, "contact", token)
    kinds = [(d.deltaType, d.uid.value) for d in deltas]
    assert kinds == [
        (SyncDeltaType.UPDATE, str(old.id)),
        (SyncDeltaType.CREATE, str(new.id)),
        (SyncDeltaType.DELETE, str(gone.id)),
    ]
    created = deltas[1].connectorObject
    assert created is not None and created.name == "new@example.com"
    assert created.attributes["lastname"] == ["Later"]
    assert deltas[1].uid.revision is not None
    # Each delta's token resumes right after it.
    rest, _ = await poll(connector, "contact", deltas[0].token)
    assert [d.uid.value for d in rest] == [str(new.id), str(gone.id)]
    again, _ = await poll(connector, "contact", token)
    assert again == []


async def test_all_merges_both_classes(connector: HubspotConnector, emu: Emulator) -> None:
    token = await connector.latest_sync_token("__ALL__")
    contact = emu.store.contacts.create({"email": "all@example.com"})
    company = emu.store.companies.create({"name": "All Inc"})
    emu.store.contacts.update(contact, {"firstname": "Again"})
    deltas, token = await poll(connector, "__ALL__", token)
    assert [(d.objectClass, d.deltaType) for d in deltas] == [
        ("company", SyncDeltaType.CREATE),
        ("contact", SyncDeltaType.CREATE),
    ]
    assert deltas[0].uid.value == str(company.id)
    with pytest.raises(IllegalArgumentException, match="object class '__ALL__', not 'contact'"):
        await poll(connector, "contact", token)


async def test_foreign_and_damaged_tokens_are_refused(
    connector: HubspotConnector, make_connector: MakeConnector
) -> None:
    token = await connector.latest_sync_token("contact")
    assert token is not None
    other = await make_connector(clientId="another-app")
    with pytest.raises(IllegalArgumentException, match="another HubSpot configuration"):
        await poll(other, "contact", token)
    with pytest.raises(IllegalArgumentException, match="made for object class 'contact'"):
        await poll(connector, "company", token)
    damaged = SyncToken(value=str(token.value)[:-6] + "AAAAAA")
    with pytest.raises(IllegalArgumentException, match="damaged"):
        await poll(connector, "contact", damaged)
    with pytest.raises(IllegalArgumentException, match="not a HubSpot sync token"):
        await poll(connector, "contact", SyncToken(value=17))
    with pytest.raises(UnsupportedOperationException, match="contactProperties"):
        await poll(connector, "contactProperties", None)


@pytest.mark.parametrize(
    "emulator_settings",
    [EmulatorSettings(contacts=30, companies=3, seed=5, rate_limits_enabled=False,
                      indexing_delay_s=30.0)],
)  # fmt: skip
async def test_a_change_indexed_late_is_delivered_once(
    connector: HubspotConnector, emu: Emulator
) -> None:
    emu.clock.advance(60)  # the seeded objects are indexed
    token = await connector.latest_sync_token("contact")
    early = emu.store.contacts.create({"email": "early@example.com"})
    emu.clock.advance(31)  # `early` is searchable now ...
    late = emu.store.contacts.create({"email": "late@example.com"})  # ... `late` not yet
    deltas, token = await poll(connector, "contact", token)
    assert [d.uid.value for d in deltas] == [str(early.id)]
    emu.store.contacts.update(early, {"firstname": "Again"})  # search still holds the old one
    deltas, token = await poll(connector, "contact", token)
    assert deltas == []
    emu.clock.advance(31)
    deltas, token = await poll(connector, "contact", token)
    assert [(d.uid.value, d.deltaType) for d in deltas] == [
        (str(late.id), SyncDeltaType.CREATE),
        (str(early.id), SyncDeltaType.UPDATE),
    ]
    deltas, token = await poll(connector, "contact", token)
    assert deltas == []


async def test_the_schema_lists_sync_and_the_association_attributes(
    connector: HubspotConnector,
) -> None:
    schema = await connector.schema()
    assert schema.supportedObjectClassesByOperation["SYNC"] == ["contact", "company"]
    contact = schema.object_class("contact")
    assert contact is not None
    companies = contact.attribute("companies")
    assert companies is not None
    assert [f.value for f in companies.flags] == ["MULTIVALUED", "NOT_RETURNED_BY_DEFAULT"]
    company = schema.object_class("company")
    assert company is not None and company.attribute("contacts") is not None
    assert "SYNC" in connector.supported_operations()


@pytest.mark.parametrize("spread", [0, 1], ids=["one-millisecond", "a-millisecond-apart"])
async def test_more_than_ten_thousand_changes_are_delivered_exactly(
    connector: HubspotConnector, emu: Emulator, spread: int
) -> None:
    """Past search's 10,000-result cap: 10,150 changes, in one millisecond or spread out."""
    token = await connector.latest_sync_token("contact")
    contacts = emu.store.contacts
    seeded = list(contacts.live())
    same_ms = emu.clock.now_ms()
    first_id = seeded[-1].id + 1
    loaded = [str(first_id + n) for n in range(10_150)]
    for n, id_ in enumerate(loaded):
        at = same_ms - 20_000 + n * spread
        contacts.load(int(id_), {"email": f"bulk{n}@example.com"}, at, at)
    updated = [str(r.id) for r in seeded]
    for record in seeded:
        contacts.update(record, {"firstname": "Bulk"})

    deltas, token = await poll(connector, "contact", token, OperationOptions(attributesToGet=[]))
    ids = [d.uid.value for d in deltas]
    assert len(ids) == len(set(ids)) == 10_150 + len(seeded)
    assert ids[:10_150] == loaded
    assert ids[10_150:] == updated  # in order of change
    assert {d.deltaType for d in deltas[:10_150]} == {SyncDeltaType.CREATE}
    again, _ = await poll(connector, "contact", token)
    assert again == []


async def test_a_drifted_count_is_set_right_by_the_next_archive_scan(
    connector: HubspotConnector, emu: Emulator
) -> None:
    """A token whose count of known objects is wrong (as after a sync resumed from a mid-sync
    delta) costs one archive scan, after which polls are one call again."""
    token = await connector.latest_sync_token("contact")
    assert token is not None
    key = fingerprint(connector.configuration)
    states = decode_token(token, key, "contact")
    states["contact"].known += 5
    drifted = encode_token(key, "contact", states)
    before = calls(emu)
    deltas, token = await poll(connector, "contact", drifted)
    assert deltas == [] and calls(emu) - before == 2  # the search, then the archived list
    before = calls(emu)
    deltas, token = await poll(connector, "contact", token)
    assert deltas == [] and calls(emu) - before == 1


async def test_changes_just_before_the_latest_token_are_not_delivered(
    connector: HubspotConnector, emu: Emulator
) -> None:
    """More than a search page of recent changes before the token: all taken as seen."""
    for n in range(250):
        emu.store.contacts.create({"email": f"before{n}@example.com"})
    token = await connector.latest_sync_token("contact")
    after = emu.store.contacts.create({"email": "after@example.com"})
    deltas, _ = await poll(connector, "contact", token)
    assert [d.uid.value for d in deltas] == [str(after.id)]


async def test_without_a_token_every_object_is_delivered(
    connector: HubspotConnector, emu: Emulator
) -> None:
    deltas, token = await poll(connector, "company", None)
    assert [d.uid.value for d in deltas] == sorted(
        (str(r.id) for r in emu.store.companies.live()),
        key=lambda i: emu.store.companies.get(int(i)).updated_ms,  # type: ignore[union-attr]
    )
    assert {d.deltaType for d in deltas} == {SyncDeltaType.CREATE}
    again, _ = await poll(connector, "company", token)
    assert again == []


async def test_attributes_to_get_are_named_as_a_search_names_them(
    connector: HubspotConnector, emu: Emulator
) -> None:
    token = await connector.latest_sync_token("__ALL__")
    contact = emu.store.contacts.create({"email": "named@example.com", "firstname": "N"})
    company = emu.store.companies.create({"name": "Named", "domain": "named.example"})
    wanted = OperationOptions(attributesToGet=["email", "domain", "companies", "contacts"])
    deltas, _ = await poll(connector, "__ALL__", token, wanted)
    by_uid = {d.uid.value: d.connectorObject for d in deltas}
    got_contact, got_company = by_uid[str(contact.id)], by_uid[str(company.id)]
    assert got_contact is not None and got_company is not None
    assert got_contact.name == "named@example.com" and got_contact.attributes["companies"] == []
    assert "firstname" not in got_contact.attributes  # not asked for
    assert got_company.attributes["domain"] == ["named.example"]
    assert got_company.attributes["contacts"] == []
    with pytest.raises(InvalidAttributeValueException, match="'nosuch'"):
        await poll(connector, "__ALL__", token, OperationOptions(attributesToGet=["nosuch"]))
    with pytest.raises(InvalidAttributeValueException, match="contact has no attribute 'domain'"):
        await poll(connector, "contact", None, OperationOptions(attributesToGet=["domain"]))
