"""The seeded generator: deterministic, valid by the property definitions, never in the future."""

from __future__ import annotations

import time

from emulator import EmulatorSettings, Store, generate


def _store(seed: int, contacts: int = 300, companies: int = 30, **kwargs: int) -> Store:
    store = Store(EmulatorSettings(custom_properties=kwargs.pop("custom_properties", 0)))
    generate(store, contacts=contacts, companies=companies, seed=seed, **kwargs)
    return store


def _snapshot(store: Store) -> list[tuple[int, dict[str, str]]]:
    return [(r.id, r.props) for t in store.tables.values() for r in t.live()]


def test_same_seed_same_data() -> None:
    assert _snapshot(_store(5)) == _snapshot(_store(5))
    assert _snapshot(_store(5)) != _snapshot(_store(6))


def test_counts_and_unique_emails() -> None:
    store = _store(1)
    assert (len(store.contacts), len(store.companies)) == (300, 30)
    emails = [r.props["email"] for r in store.contacts.live()]
    assert len({e.lower() for e in emails}) == 300
    assert store.contacts.find("email", emails[7].upper()) is store.contacts.live()[7]


def test_values_pass_validation_against_the_definitions() -> None:
    store = _store(2, custom_properties=3)
    for table in store.tables.values():
        for record in table.live()[:100]:
            values = {k: v for k, v in record.props.items() if k != "associatedcompanyid"}
            assert table.validate(values, None) == values


def test_associations_match_the_primary_company_property() -> None:
    store = _store(3)
    associated = 0
    for contact in store.contacts.live():
        links = store.associations.of("contacts", contact.id, "companies")
        if not links:
            assert "associatedcompanyid" not in contact.props
            continue
        associated += 1
        (company_id, types), *_ = links.items()
        assert types == frozenset({1, 279})
        assert contact.props["associatedcompanyid"] == str(company_id)
        company = store.companies.get(company_id)
        assert company is not None
        assert contact.props["email"].endswith("@" + company.props["domain"])
    assert 240 < associated < 300


def test_timestamps_are_ordered_and_never_in_the_future() -> None:
    store = _store(4)
    now_ms = time.time() * 1000
    created = [r.created_ms for r in store.contacts.live()]
    assert created == sorted(created)
    for record in store.contacts.live():
        assert record.created_ms <= record.updated_ms <= now_ms


def test_no_companies_means_free_mail_and_no_associations() -> None:
    store = _store(5, contacts=50, companies=0)
    assert store.associations.count() == 0
    assert all("associatedcompanyid" not in r.props for r in store.contacts.live())
