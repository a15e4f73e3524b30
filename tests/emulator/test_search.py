"""Search semantics as a table (docs/hubspot.md §1.7, §9), over raw HTTP and the SDK."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from hubspot import HubSpot
from hubspot.crm.contacts import PublicObjectSearchRequest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from emulator import Emulator, EmulatorSettings, Store, generate, run_emulator
from emulator.errors import HubSpotError
from emulator.search import OPERATORS, parse_search_request, run_search, search_limits
from emulator.values import format_datetime_ms
from tests.emulator.conftest import Http, in_thread

CONTACTS: dict[str, dict[str, str]] = {
    "alice": {
        "email": "alice@hubspot.com",
        "firstname": "Alice",
        "lastname": "Smith",
        "lifecyclestage": "lead",
        "hs_buying_role": "CHAMPION;END_USER",
        "city": "Boston",
    },
    "bob": {
        "email": "bob@example.com",
        "firstname": "Bob",
        "lastname": "Jones",
        "lifecyclestage": "customer",
        "city": "boston",
    },
    "carol": {
        "email": "carol@HubSpot.com",
        "firstname": "Carol",
        "lastname": "Smith-Jones",
        "lifecyclestage": "customer",
        "hs_buying_role": "END_USER",
    },
    "dave": {"email": "dave@example.org", "firstname": "Dave", "lifecyclestage": "subscriber"},
    "eve": {"email": "eve@example.com", "firstname": "Eve", "lastname": "Adams"},
}
COMPANIES: dict[str, dict[str, str]] = {
    "small": {"name": "Small Co", "numberofemployees": "50", "is_public": "false"},
    "mid": {"name": "Mid Co", "numberofemployees": "150", "industry": "BANKING"},
    "big": {"name": "Big Co", "numberofemployees": "1000", "is_public": "true"},
}


@pytest.fixture
def emulator_settings() -> EmulatorSettings:
    return EmulatorSettings(rate_limits_enabled=False)


@pytest.fixture(autouse=True)
def _people(emu: Emulator) -> None:
    """The named contacts and companies above, in the emulator every test here uses."""
    for props in CONTACTS.values():
        emu.store.contacts.create(props)
    for props in COMPANIES.values():
        emu.store.companies.create(props)


def _names(emu: Emulator, object_type: str, ids: list[str]) -> list[str]:
    by_id = {}
    table = emu.store.table(object_type)
    source = CONTACTS if object_type == "contacts" else COMPANIES
    for name, props in source.items():
        key = "email" if object_type == "contacts" else "name"
        found = next(r for r in table.live() if r.props.get(key) == props[key])
        by_id[str(found.id)] = name
    return [by_id[i] for i in ids]


async def _search(http: Http, object_type: str, body: dict[str, Any]) -> tuple[int, Any]:
    status, result, _ = await http.call("POST", f"/crm/v3/objects/{object_type}/search", json=body)
    return status, result


def _f(name: str, operator: str, value: Any = None, **extra: Any) -> dict[str, Any]:
    item: dict[str, Any] = {"propertyName": name, "operator": operator}
    if value is not None:
        item["value"] = value
    item.update(extra)
    return item


CONTACT_CASES = [
    ("EQ is case-insensitive", [_f("email", "EQ", "ALICE@hubspot.com")], ["alice"]),
    ("NEQ includes unset", [_f("firstname", "NEQ", "alice")], ["bob", "carol", "dave", "eve"]),
    ("IN on strings", [_f("lastname", "IN", values=["smith", "jones"])], ["alice", "bob"]),
    ("IN wants lowercase values", [_f("lastname", "IN", values=["Smith"])], []),
    ("NOT_IN", [_f("lastname", "NOT_IN", values=["smith"])], ["bob", "carol", "dave", "eve"]),
    ("HAS_PROPERTY", [_f("lastname", "HAS_PROPERTY")], ["alice", "bob", "carol", "eve"]),
    ("NOT_HAS_PROPERTY", [_f("lastname", "NOT_HAS_PROPERTY")], ["dave"]),
    (
        "CONTAINS_TOKEN wildcard",
        [_f("email", "CONTAINS_TOKEN", "*@hubspot.com")],
        ["alice", "carol"],
    ),
    ("CONTAINS_TOKEN word", [_f("lastname", "CONTAINS_TOKEN", "jones")], ["bob", "carol"]),
    ("CONTAINS_TOKEN prefix", [_f("firstname", "CONTAINS_TOKEN", "ca*")], ["carol"]),
    (
        "NOT_CONTAINS_TOKEN",
        [_f("email", "NOT_CONTAINS_TOKEN", "*@hubspot.com")],
        ["bob", "dave", "eve"],
    ),
    ("enumerations are case-sensitive", [_f("lifecyclestage", "EQ", "Customer")], []),
    ("enumeration EQ", [_f("lifecyclestage", "EQ", "customer")], ["bob", "carol"]),
    ("multi-checkbox EQ", [_f("hs_buying_role", "EQ", "END_USER")], ["alice", "carol"]),
    ("string LT", [_f("firstname", "LT", "c")], ["alice", "bob"]),
    ("string GTE", [_f("firstname", "GTE", "DAVE")], ["dave", "eve"]),
    (
        "AND within a group",
        [_f("lastname", "EQ", "smith"), _f("city", "EQ", "BOSTON")],
        ["alice"],
    ),
]


@pytest.mark.parametrize(("case", "filters", "expected"), CONTACT_CASES)
async def test_contact_filters(
    emu: Emulator, http: Http, case: str, filters: list[dict[str, Any]], expected: list[str]
) -> None:
    status, body = await _search(http, "contacts", {"filterGroups": [{"filters": filters}]})
    assert status == 200, body
    assert _names(emu, "contacts", [r["id"] for r in body["results"]]) == expected, case
    assert body["total"] == len(expected)


COMPANY_CASES = [
    ("number GT, JSON number", [_f("numberofemployees", "GT", 100)], ["mid", "big"]),
    ("number LTE, string", [_f("numberofemployees", "LTE", "150")], ["small", "mid"]),
    (
        "number BETWEEN is inclusive",
        [_f("numberofemployees", "BETWEEN", "150", highValue=1000)],
        ["mid", "big"],
    ),
    ("number IN", [_f("numberofemployees", "IN", values=[50, "1000"])], ["small", "big"]),
    ("bool in any case", [_f("is_public", "EQ", "TRUE")], ["big"]),
    ("enumeration IN", [_f("industry", "IN", values=["BANKING"])], ["mid"]),
]


@pytest.mark.parametrize(("case", "filters", "expected"), COMPANY_CASES)
async def test_company_filters(
    emu: Emulator, http: Http, case: str, filters: list[dict[str, Any]], expected: list[str]
) -> None:
    status, body = await _search(http, "companies", {"filterGroups": [{"filters": filters}]})
    assert status == 200, body
    assert _names(emu, "companies", [r["id"] for r in body["results"]]) == expected, case


async def test_datetime_filters_take_epoch_ms_numbers_or_iso(emu: Emulator, http: Http) -> None:
    records = emu.store.contacts.live()
    bob, dave = records[1], records[3]
    for low, high in (
        (bob.created_ms, dave.created_ms),
        (str(bob.created_ms), str(dave.created_ms)),
        (format_datetime_ms(bob.created_ms), format_datetime_ms(dave.created_ms)),
    ):
        status, body = await _search(
            http,
            "contacts",
            {"filters": [_f("createdate", "BETWEEN", low, highValue=high)]},
        )
        assert status == 200
        assert _names(emu, "contacts", [r["id"] for r in body["results"]]) == [
            "bob",
            "carol",
            "dave",
        ]
    status, body = await _search(
        http, "contacts", {"filters": [_f("lastmodifieddate", "GT", dave.updated_ms)]}
    )
    assert _names(emu, "contacts", [r["id"] for r in body["results"]]) == ["eve"]


async def test_groups_are_or_and_top_level_filters_are_one_more_group(
    emu: Emulator, http: Http
) -> None:
    status, body = await _search(
        http,
        "contacts",
        {
            "filterGroups": [
                {"filters": [_f("email", "EQ", "alice@hubspot.com")]},
                {"filters": [_f("firstname", "EQ", "bob")]},
            ],
            "filters": [_f("hs_object_id", "GTE", int(emu.store.contacts.live()[4].id))],
        },
    )
    assert status == 200
    assert _names(emu, "contacts", [r["id"] for r in body["results"]]) == ["alice", "bob", "eve"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("smith", ["alice", "carol"]),
        ("ali", ["alice"]),
        ("hubspot", ["alice", "carol"]),
        ("BOB JONES", ["bob"]),
        ("boston", []),  # city is not a default searchable property
    ],
)
async def test_query_over_default_searchable_properties(
    emu: Emulator, http: Http, query: str, expected: list[str]
) -> None:
    status, body = await _search(http, "contacts", {"query": query})
    assert status == 200
    assert _names(emu, "contacts", [r["id"] for r in body["results"]]) == expected


@pytest.mark.parametrize(
    ("sorts", "expected"),
    [
        (None, ["alice", "bob", "carol", "dave", "eve"]),
        (
            [{"propertyName": "firstname", "direction": "DESCENDING"}],
            ["eve", "dave", "carol", "bob", "alice"],
        ),
        (["-createdate"], ["eve", "dave", "carol", "bob", "alice"]),
        (["hs_object_id"], ["alice", "bob", "carol", "dave", "eve"]),
        ([{"propertyName": "lastname"}], ["eve", "bob", "alice", "carol", "dave"]),
    ],
)
async def test_sorting(
    emu: Emulator, http: Http, sorts: list[Any] | None, expected: list[str]
) -> None:
    body: dict[str, Any] = {"limit": 10}
    if sorts is not None:
        body["sorts"] = sorts
    status, result = await _search(http, "contacts", body)
    assert status == 200
    assert _names(emu, "contacts", [r["id"] for r in result["results"]]) == expected


async def test_paging_with_string_or_numeric_after(emu: Emulator, http: Http) -> None:
    seen: list[str] = []
    after: Any = 0
    while True:
        status, body = await _search(http, "contacts", {"limit": 2, "after": after})
        assert status == 200
        assert body["total"] == 5
        seen += [r["id"] for r in body["results"]]
        if "paging" not in body:
            break
        after = body["paging"]["next"]["after"]
        assert isinstance(after, str)
        assert after.isdigit()
        assert "link" not in body["paging"]["next"]
    assert _names(emu, "contacts", seen) == list(CONTACTS)


async def test_search_default_and_requested_properties(http: Http) -> None:
    _, body = await _search(http, "contacts", {"limit": 1})
    assert set(body["results"][0]["properties"]) == {
        "createdate",
        "email",
        "firstname",
        "hs_object_id",
        "lastmodifieddate",
        "lastname",
    }
    _, body = await _search(http, "contacts", {"limit": 1, "properties": ["city"]})
    assert set(body["results"][0]["properties"]) == {
        "city",
        "createdate",
        "hs_object_id",
        "lastmodifieddate",
    }
    assert "associations" not in body["results"][0]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"limit": 201}, "limit"),
        ({"filterGroups": [{"filters": [_f("email", "HAS_PROPERTY")]}] * 6}, "filter groups"),
        ({"filterGroups": [{"filters": [_f("email", "HAS_PROPERTY")] * 7}]}, "in a group"),
        (
            {"filterGroups": [{"filters": [_f("email", "HAS_PROPERTY")] * 5}] * 4},
            "Too many filters",
        ),
        ({"filters": [_f("nope", "EQ", "x")]}, "does not exist"),
        ({"filters": [_f("email", "LIKE", "x")]}, "operator"),
        ({"sorts": ["email", "firstname"]}, "one sort"),
        ({"query": "x" * 3001}, "query"),
        ({"filters": [_f("hs_object_id", "GT", "many")]}, "not a valid number"),
        ({"filters": [_f("createdate", "GT", "yesterday")]}, "not a valid datetime"),
    ],
)
async def test_invalid_searches_are_400(http: Http, body: dict[str, Any], fragment: str) -> None:
    status, result = await _search(http, "contacts", body)
    assert status == 400
    assert result["category"] == "VALIDATION_ERROR"
    assert fragment.lower() in result["message"].lower()


async def test_filter_limits_are_settings(emu: Emulator, http: Http) -> None:
    body = {"filterGroups": [{"filters": [_f("email", "HAS_PROPERTY")] * 10}]}
    status, _ = await _search(http, "contacts", body)
    assert status == 400
    emu.settings.max_filters_per_group = 10  # the August 2024 changelog's numbers (§1.7)
    status, _ = await _search(http, "contacts", body)
    assert status == 200


async def test_archived_objects_never_appear(emu: Emulator, http: Http) -> None:
    alice = emu.store.contacts.live()[0]
    status, _, _ = await http.call("DELETE", f"/crm/v3/objects/contacts/{alice.id}")
    assert status == 204
    _, body = await _search(http, "contacts", {"filters": [_f("email", "HAS_PROPERTY")]})
    assert body["total"] == 4


async def test_association_pseudo_property(emu: Emulator, http: Http) -> None:
    contacts, companies = emu.store.contacts.live(), emu.store.companies.live()
    emu.store.associate(contacts[1].id, companies[0].id, [279])
    emu.store.associate(contacts[3].id, companies[0].id, [1])
    _, body = await _search(
        http, "contacts", {"filters": [_f("associations.company", "EQ", str(companies[0].id))]}
    )
    assert _names(emu, "contacts", [r["id"] for r in body["results"]]) == ["bob", "dave"]


@pytest.mark.parametrize("emulator_settings", [EmulatorSettings(indexing_delay_s=5.0)])
async def test_indexing_delay(emu: Emulator, http: Http) -> None:
    emu.clock.advance(10)  # the fixture's records are indexed by now
    status, _created, _ = await http.call(
        "POST", "/crm/v3/objects/contacts", json={"properties": {"email": "late@example.com"}}
    )
    assert status == 201
    alice = emu.store.contacts.live()[0]
    await http.call(
        "PATCH", f"/crm/v3/objects/contacts/{alice.id}", json={"properties": {"city": "Oslo"}}
    )
    query = {"filters": [_f("email", "HAS_PROPERTY")], "properties": ["city"]}
    _, body = await _search(http, "contacts", query)
    assert body["total"] == 5
    assert body["results"][0]["properties"]["city"] == "Boston"  # the old version, still indexed
    emu.clock.advance(5)
    _, body = await _search(http, "contacts", query)
    assert body["total"] == 6
    assert body["results"][0]["properties"]["city"] == "Oslo"


async def test_sdk_search(emu: Emulator, sdk: HubSpot) -> None:
    result = await in_thread(
        sdk.crm.contacts.search_api.do_search,
        public_object_search_request=PublicObjectSearchRequest(
            filter_groups=[{"filters": [_f("email", "CONTAINS_TOKEN", "*@example.com")]}],
            sorts=[{"propertyName": "createdate", "direction": "DESCENDING"}],
            limit=1,
            after="0",
            properties=["email"],
        ),
    )
    assert result.total == 2
    assert result.results[0].properties["email"] == "eve@example.com"
    assert result.paging.next.after == "1"


@pytest.fixture
async def big_emu() -> AsyncIterator[Emulator]:
    async with run_emulator(EmulatorSettings(contacts=10_050, rate_limits_enabled=False)) as emu:
        yield emu


async def test_ten_thousand_result_cap(big_emu: Emulator) -> None:
    async with aiohttp.ClientSession() as session:
        http = Http(session, big_emu)
        status, body = await _search(http, "contacts", {"limit": 200, "after": "9800"})
        assert status == 200
        assert body["total"] == 10_050  # the full count, even past the cap
        assert len(body["results"]) == 200
        assert body["paging"]["next"]["after"] == "10000"
        for after, limit in ((10_000, 1), (9_900, 200)):
            status, body = await _search(http, "contacts", {"limit": limit, "after": after})
            assert status == 400, (after, limit)
            assert body["category"] == "VALIDATION_ERROR"
        # The sort-by-id restart that gets past the cap without duplicates (§1.7).
        status, body = await _search(
            http,
            "contacts",
            {
                "limit": 200,
                "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
                "filters": [_f("hs_object_id", "GTE", 1001 + 10_000)],
            },
        )
        assert status == 200
        assert body["total"] == 50


async def test_a_repeated_query_sees_every_write(emu: Emulator, http: Http) -> None:
    query = {"filters": [_f("lastname", "HAS_PROPERTY")], "sorts": ["lastname"]}
    _, before = await _search(http, "contacts", query)
    dave = emu.store.contacts.live()[3]
    await http.call(
        "PATCH", f"/crm/v3/objects/contacts/{dave.id}", json={"properties": {"lastname": "Aa"}}
    )
    _, after = await _search(http, "contacts", query)
    assert after["total"] == before["total"] + 1
    assert after["results"][0]["id"] == str(dave.id)
    companies = emu.store.companies.live()
    association = {"filters": [_f("associations.company", "EQ", companies[0].id)]}
    _, linked = await _search(http, "contacts", association)
    emu.store.associate(dave.id, companies[0].id, [279])
    _, relinked = await _search(http, "contacts", association)
    assert relinked["total"] == linked["total"] + 1


# -- any body: an answer or HubSpot's 400, never a crash -------------------------------------------

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=6),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=8,
)
_PROPERTY_NAMES = st.sampled_from(
    [
        "email",
        "firstname",
        "lifecyclestage",
        "hs_buying_role",
        "hs_object_id",
        "createdate",
        "lastmodifieddate",
        "associatedcompanyid",
        "associations.company",
        "associations.deal",
        "nope",
    ]
)
_FILTERS = st.fixed_dictionaries(
    {"propertyName": _PROPERTY_NAMES | _JSON, "operator": st.sampled_from([*OPERATORS, "LIKE"])},
    optional={"value": _JSON, "highValue": _JSON, "values": st.lists(_JSON, max_size=3) | _JSON},
)
_BODIES = (
    st.fixed_dictionaries(
        {},
        optional={
            "filterGroups": st.lists(
                st.fixed_dictionaries({"filters": st.lists(_FILTERS, max_size=3)}), max_size=3
            )
            | _JSON,
            "filters": st.lists(_FILTERS, max_size=3) | _JSON,
            "sorts": st.lists(_PROPERTY_NAMES | _JSON, max_size=2) | _JSON,
            "query": st.text(max_size=8) | _JSON,
            "limit": st.integers(-5, 300) | _JSON,
            "after": st.integers(-5, 20_000) | st.text(max_size=5) | _JSON,
            "properties": st.lists(_PROPERTY_NAMES, max_size=3) | _JSON,
        },
    )
    | _JSON
)
_STORE = Store(EmulatorSettings())
generate(_STORE, contacts=30, companies=3, seed=11)


@given(_BODIES)
@hypothesis_settings(max_examples=300, deadline=None)
def test_any_search_body_is_answered_or_rejected_with_a_400(body: Any) -> None:
    rejected: HubSpotError | None = None
    try:
        request = parse_search_request(body, search_limits(_STORE.settings))
        page = run_search(request, _STORE.contacts, _STORE.associations, 0.0)
    except HubSpotError as error:
        rejected = error
    if rejected is not None:
        assert (rejected.status, rejected.body["category"]) == (400, "VALIDATION_ERROR")
    else:
        assert 0 <= len(page.results) <= request.limit


@pytest.mark.parametrize(
    ("sorts", "expected"),
    [
        (
            [{"propertyName": "numberofemployees", "direction": "DESCENDING"}],
            ["big", "mid", "small"],
        ),
        (["numberofemployees"], ["small", "mid", "big"]),
        (["-hs_object_id"], ["big", "mid", "small"]),
        (["-hs_lastmodifieddate"], ["big", "mid", "small"]),
        (["industry"], ["mid", "small", "big"]),  # unset values last, in creation order
    ],
)
async def test_company_sorting(
    emu: Emulator, http: Http, sorts: list[Any], expected: list[str]
) -> None:
    status, body = await _search(http, "companies", {"sorts": sorts})
    assert status == 200
    assert _names(emu, "companies", [r["id"] for r in body["results"]]) == expected
