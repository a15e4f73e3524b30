"""The planner picks the cheapest call, and its HubSpot filters never lose a match."""

from __future__ import annotations

import pytest

from connector.hubspot.planner import (
    ListAll,
    ReadByIds,
    SearchCall,
    dnf,
    plan,
    translate,
    with_cursor,
)
from connector.hubspot.schema import builtin_catalog
from protocol.filters import (
    And,
    Contains,
    EndsWith,
    Equals,
    Filter,
    GreaterThan,
    LessThanOrEqual,
    Not,
    Or,
    Presence,
    StartsWith,
)

CONTACTS = builtin_catalog("contact")
COMPANIES = builtin_catalog("company")


def hs(name: str, operator: str, value: str | None = None) -> dict[str, str]:
    """A HubSpot search filter."""
    found = {"propertyName": name, "operator": operator}
    return found if value is None else found | {"value": value}


def eq(attribute: str, value: object) -> Equals:
    return Equals(attribute=attribute, value=value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("node", "expected"),
    [
        (None, ListAll()),
        (eq("__UID__", "51"), ReadByIds(("51",))),
        (Or(filters=[eq("__UID__", "1"), eq("__UID__", "2"), eq("__UID__", "1")]),
         ReadByIds(("1", "2"))),
        (And(filters=[eq("__UID__", "7"), eq("firstname", "Ann")]), ReadByIds(("7",))),
        (Or(filters=[eq("__UID__", "x1"), eq("__UID__", "2")]), ReadByIds(("2",))),
        (eq("__UID__", "not-a-number"), ReadByIds(())),
        (eq("__NAME__", "a@x.com"), ReadByIds(("a@x.com",), "email")),
        (Or(filters=[eq("__NAME__", "a@x.com"), eq("__NAME__", "b@x.com")]),
         ReadByIds(("a@x.com", "b@x.com"), "email")),
        (Not(filter=eq("firstname", "Ann")), ListAll()),
        (Or(filters=[eq("firstname", "Ann"), Not(filter=eq("lastname", "Lee"))]), ListAll()),
    ],
)  # fmt: skip
def test_cheapest_call(node: Filter | None, expected: object) -> None:
    assert plan(node, CONTACTS) == expected


def test_company_names_are_searched_not_read_by_id_property() -> None:
    found = plan(eq("__NAME__", "Acme"), COMPANIES)
    assert isinstance(found, SearchCall)
    assert found.groups == (({"propertyName": "name", "operator": "EQ", "value": "Acme"},),)


def test_and_or_become_filter_groups() -> None:
    node = And(
        filters=[
            Or(filters=[eq("city", "Paris"), eq("city", "Lyon")]),
            GreaterThan(attribute="associatedcompanyid", value=5),
        ]
    )
    found = plan(node, CONTACTS)
    assert isinstance(found, SearchCall)
    assert [[f["value"] for f in g] for g in found.groups] == [["Paris", "5"], ["Lyon", "5"]]
    assert not found.exact  # strings compare case-insensitively in HubSpot


def test_not_over_and_is_pushed_down() -> None:
    node = Not(filter=And(filters=[Presence(attribute="phone"), Presence(attribute="fax")]))
    assert dnf(node) == [
        [Not(filter=Presence(attribute="phone"))],
        [Not(filter=Presence(attribute="fax"))],
    ]
    found = plan(node, CONTACTS)
    assert isinstance(found, SearchCall) and found.exact


def test_too_many_groups_of_equals_become_in() -> None:
    node = Or(filters=[eq("city", c) for c in ("Paris", "Lyon", "Nice", "Metz", "Brest", "Pau")])
    found = plan(node, CONTACTS)
    assert isinstance(found, SearchCall)
    assert found.groups == (
        (
            {
                "propertyName": "city",
                "operator": "IN",
                "values": ["paris", "lyon", "nice", "metz", "brest", "pau"],
            },
        ),
    )


def test_groups_that_cannot_fit_fall_back_to_the_list() -> None:
    node = Or(filters=[And(filters=[eq("city", c), eq("country", c)]) for c in "abcdef"])
    assert plan(node, CONTACTS) == ListAll()


@pytest.mark.parametrize(
    ("leaf", "expected"),
    [
        (eq("firstname", "Ann"), (hs("firstname", "EQ", "Ann"), False)),
        (eq("lifecyclestage", "lead"), (hs("lifecyclestage", "EQ", "lead"), True)),
        (eq("hs_buying_role", "CHAMPION"), (hs("hs_buying_role", "HAS_PROPERTY"), False)),
        (eq("phone", None), (hs("phone", "NOT_HAS_PROPERTY"), True)),
        (eq("associatedcompanyid", 5), (hs("associatedcompanyid", "EQ", "5"), True)),
        (Presence(attribute="__NAME__"), (hs("email", "HAS_PROPERTY"), True)),
        (Not(filter=Presence(attribute="fax")), (hs("fax", "NOT_HAS_PROPERTY"), True)),
        (StartsWith(attribute="lastname", value="Le"),
         (hs("lastname", "CONTAINS_TOKEN", "Le*"), False)),
        (EndsWith(attribute="__NAME__", value="@x.com"),
         (hs("email", "CONTAINS_TOKEN", "*@x.com"), False)),
        (Contains(attribute="company", value="ac"),
         (hs("company", "CONTAINS_TOKEN", "*ac*"), False)),
        (Contains(attribute="company", value="a c"), None),
        (Contains(attribute="company", value="a*"), None),
        (GreaterThan(attribute="associatedcompanyid", value=3),
         (hs("associatedcompanyid", "GT", "3"), True)),
        (GreaterThan(attribute="createdate", value="2024-01-01"),
         (hs("createdate", "GTE", "1704067200000"), False)),
        (LessThanOrEqual(attribute="createdate", value="2024-01-01T00:00:01.500Z"),
         (hs("createdate", "LTE", "1704067201500"), False)),
        (GreaterThan(attribute="createdate", value="yesterday"), None),
        (GreaterThan(attribute="firstname", value="M"), None),
        (GreaterThan(attribute="__UID__", value="5"), None),
        (Not(filter=eq("firstname", "Ann")), None),
    ],
)  # fmt: skip
def test_leaf_translation(leaf: Filter, expected: object) -> None:
    assert translate(leaf, CONTACTS) == expected


def test_keyset_cursor_is_added_to_every_group() -> None:
    groups = (({"propertyName": "a", "operator": "HAS_PROPERTY"},), ())
    assert with_cursor(groups, "99") == [
        {
            "filters": [
                {"propertyName": "a", "operator": "HAS_PROPERTY"},
                {"propertyName": "hs_object_id", "operator": "GT", "value": "99"},
            ]
        },
        {"filters": [{"propertyName": "hs_object_id", "operator": "GT", "value": "99"}]},
    ]
    assert with_cursor((), "7", ascending=False) == [
        {"filters": [{"propertyName": "hs_object_id", "operator": "LT", "value": "7"}]}
    ]
