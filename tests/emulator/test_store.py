"""The in-memory store: paging by cursor, archive, unique indexes, JSON lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from emulator import EmulatorSettings, Store, generate
from emulator.errors import HubSpotError


@pytest.fixture
def store() -> Store:
    store = Store(EmulatorSettings())
    generate(store, contacts=120, companies=10, seed=9)
    return store


def test_page_is_a_slice_from_the_cursor(store: Store) -> None:
    table = store.contacts
    first = table.page(0, 50)
    assert [r.id for r in first] == list(range(1001, 1051))
    assert [r.id for r in table.page(1051, 50)] == list(range(1051, 1101))
    assert [r.id for r in table.page(1101, 50)] == list(range(1101, 1121))
    # A cursor to an archived record still lands on the next live one.
    record = table.get(1060)
    assert record is not None
    store.archive(table, record)
    assert table.page(1060, 1)[0].id == 1061
    assert [r.id for r in table.page(0, 10, archived=True)] == [1060]


def test_archive_vanishes_and_frees_the_email(store: Store) -> None:
    table = store.contacts
    record = table.live()[0]
    email = record.props["email"]
    store.archive(table, record)
    assert table.get(record.id) is None
    assert table.get(record.id, archived=True) is record
    assert table.find("email", email) is None
    assert table.create({"email": email}).id == 1121
    assert table.counters.archived == 1


def test_email_change_onto_another_contact_conflicts(store: Store) -> None:
    table = store.contacts
    first, second = table.live()[:2]
    with pytest.raises(HubSpotError) as caught:
        table.update(second, {"email": first.props["email"].upper()})
    assert caught.value.status == 409
    table.settings.email_update_conflict = False
    table.update(second, {"email": first.props["email"]})


def test_company_domains_may_repeat_unless_told_otherwise(store: Store) -> None:
    table = store.companies
    domain = table.live()[0].props["domain"]
    duplicate = table.create({"name": "Copy", "domain": domain})
    assert table.find("domain", domain) is table.live()[0]
    store.archive(table, table.live()[0])
    assert table.find("domain", domain) is duplicate  # the key passes to the next holder
    table.settings.unique_company_domain = True
    with pytest.raises(HubSpotError) as caught:
        table.create({"name": "Third", "domain": domain.upper()})
    assert caught.value.status == 409


def test_every_write_bumps_last_modified(store: Store) -> None:
    record = store.contacts.create({"email": "w@example.com"})
    stamps = [record.updated_ms]
    store.contacts.update(record, {"firstname": "W"})
    stamps.append(record.updated_ms)
    store.associate(record.id, store.companies.live()[0].id, [1])
    stamps.append(record.updated_ms)
    assert stamps == sorted(set(stamps))
    assert store.contacts.counters.updated == 1  # the association's write is not a client's


def test_jsonl_round_trip(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "data.jsonl"
    lines = store.save_jsonl(path)
    assert lines == 120 + 10 + store.associations.count()
    again = Store(EmulatorSettings())
    assert again.load_jsonl(path) == lines
    for name, table in store.tables.items():
        other = again.table(name)
        assert [(r.id, r.props, r.created_ms, r.updated_ms) for r in table.live()] == [
            (r.id, r.props, r.created_ms, r.updated_ms) for r in other.live()
        ]
    contact = again.contacts.live()[0]
    assert dict(again.associations.of("contacts", contact.id, "companies")) == dict(
        store.associations.of("contacts", contact.id, "companies")
    )
    assert again.contacts.create({"email": "next@example.com"}).id == 1121
