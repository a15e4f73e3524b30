"""The search planner: an ICF filter becomes the cheapest HubSpot call that returns a superset
of its matches; the connector then evaluates the filter on what comes back, so results are
always exact (`protocol.filters.evaluate`, case-sensitive as ICF's reference semantics).

Choices, cheapest first:
- equals on `__UID__` (in every branch of an OR) -> read by id, or batch read by 100;
- equals on `__NAME__` of a contact (the email), likewise -> read or batch read with
  `idProperty=email` (docs/hubspot.md §1.4);
- no filter -> the list endpoint, 100 per page, which has no 10,000 cap (§1.3);
- otherwise -> the search endpoint (§1.7): the filter in disjunctive normal form, one filter
  group per AND branch (at most 5 groups, 18 filters, 6 per group with one slot kept for the
  `hs_object_id` cursor). A leaf HubSpot cannot express so that its matches include every
  exact match is left out of its group, which only widens the call. When a branch keeps no
  leaf, or the groups do not fit, the list endpoint is read instead.

Leaves, and why each translation never loses a match (HubSpot compares strings
case-insensitively and enumerations case-sensitively, §1.7):
- equals string -> EQ; equals number, boolean or enumeration -> EQ; equals null ->
  NOT_HAS_PROPERTY; a multi-checkbox equals -> HAS_PROPERTY;
- presence -> HAS_PROPERTY; not presence -> NOT_HAS_PROPERTY; other negations are left out
  (NEQ's treatment of unset values is not documented);
- startsWith / endsWith / contains on text without blanks -> CONTAINS_TOKEN `v*`, `*v`, `*v*`
  (the docs' `*@hubspot.com` example matches against the whole value);
- greater/less on numbers -> GT/GTE/LT/LTE; on dates and datetimes given as ISO text -> GTE/LTE
  on the epoch milliseconds (ICF compares the ISO text, which orders like time when both sides
  are UTC); on other strings and on `__UID__` (text in ICF, a number in HubSpot) left out;
- an OR of equals on one property, beyond the group limit, becomes IN (lowercased for strings).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from connector.hubspot.schema import PropertyCatalog
from protocol.filters import (
    And,
    Contains,
    ContainsAllValues,
    EndsWith,
    Equals,
    Filter,
    GreaterThan,
    GreaterThanOrEqual,
    LessThan,
    LessThanOrEqual,
    Not,
    Or,
    Presence,
    StartsWith,
)
from protocol.values import NAME, UID

MAX_GROUPS: Final = 5
MAX_FILTERS_PER_GROUP: Final = 6
MAX_FILTERS: Final = 18
MAX_DNF_BRANCHES: Final = 64
BATCH_READ_MAX: Final = 100

HubspotFilter = dict[str, Any]


@dataclass(frozen=True)
class ReadByIds:
    """Read these ids (`hs_object_id`, or `id_property` values) by get or batch read."""

    ids: tuple[str, ...]
    id_property: str | None = None


@dataclass(frozen=True)
class ListAll:
    """Read every object with the list endpoint."""


@dataclass(frozen=True)
class SearchCall:
    """The search endpoint with these filter groups (empty: every object)."""

    groups: tuple[tuple[HubspotFilter, ...], ...]
    exact: bool
    """Whether HubSpot's matches are exactly the filter's (then `total` counts them)."""


Plan = ReadByIds | ListAll | SearchCall


def dnf(node: Filter) -> list[list[Filter]] | None:
    """The filter as OR of ANDs of leaves (a leaf may be a NOT of a leaf); None when that
    would take more than MAX_DNF_BRANCHES branches."""
    match node:
        case Or():
            branches: list[list[Filter]] = []
            for child in node.filters:
                sub = dnf(child)
                if sub is None:
                    return None
                branches += sub
                if len(branches) > MAX_DNF_BRANCHES:
                    return None
            return branches
        case And():
            product: list[list[Filter]] = [[]]
            for child in node.filters:
                sub = dnf(child)
                if sub is None or len(product) * len(sub) > MAX_DNF_BRANCHES:
                    return None
                product = [left + right for left in product for right in sub]
            return product
        case Not(filter=And() | Or() | Not() as inner):
            return dnf(_push_not(inner))
        case _:
            return [[node]]


def _push_not(inner: And | Or | Not) -> Filter:
    """De Morgan: NOT over AND/OR becomes OR/AND over NOTs; NOT NOT x is x."""
    match inner:
        case Not():
            return inner.filter
        case And():
            return Or(filters=[Not(filter=f) for f in inner.filters])
        case Or():
            return And(filters=[Not(filter=f) for f in inner.filters])


def plan(node: Filter | None, catalog: PropertyCatalog) -> Plan:
    """The cheapest call whose answer holds every object matching `node`."""
    if node is None:
        return ListAll()
    # An OR of many ids (or emails) is read by id in linear time, however many there are.
    ids = _or_of_equals(node, UID)
    if ids is not None:
        return ReadByIds(tuple(i for i in ids if i.isdigit()))
    if catalog.crm.name_is_unique:
        names = _or_of_equals(node, NAME)
        if names is not None:
            return ReadByIds(names, catalog.crm.name_property)
    branches = dnf(node)
    if branches is None:
        return ListAll()
    ids = _equal_in_every_branch(branches, UID)
    if ids is not None:
        # HubSpot ids are numbers: a branch asking for another id matches nothing.
        return ReadByIds(tuple(i for i in ids if i.isdigit()))
    if catalog.crm.name_is_unique:
        names = _equal_in_every_branch(branches, NAME)
        if names is not None:
            return ReadByIds(names, catalog.crm.name_property)
    groups: list[tuple[HubspotFilter, ...]] = []
    exact = True
    for branch in branches:
        translated: list[HubspotFilter] = []
        for leaf in branch:
            hubspot = translate(leaf, catalog)
            if hubspot is None:
                exact = False
            else:
                filter_, leaf_exact = hubspot
                translated.append(filter_)
                exact &= leaf_exact
        if not translated:
            return ListAll()  # this branch can match anything
        if len(translated) > MAX_FILTERS_PER_GROUP - 1:
            translated, exact = translated[: MAX_FILTERS_PER_GROUP - 1], False
        groups.append(tuple(translated))
    if len(groups) > MAX_GROUPS:
        groups = _merge_into_in(groups, catalog)
    total = sum(len(g) + 1 for g in groups)  # +1: the hs_object_id cursor of each group
    if len(groups) > MAX_GROUPS or total > MAX_FILTERS:
        return ListAll()
    return SearchCall(tuple(groups), exact)


def _or_of_equals(node: Filter, attribute: str) -> tuple[str, ...] | None:
    """The values when `node` is `equals` on `attribute`, or an OR of only such leaves."""
    leaves = node.filters if isinstance(node, Or) else [node]
    values: list[str] = []
    for leaf in leaves:
        value = _equals_value(leaf, attribute)
        if value is None:
            return None
        values.append(value)
    return tuple(dict.fromkeys(values))


def _equals_value(leaf: Filter, attribute: str) -> str | None:
    """The text `leaf` asks `attribute` to equal, when it is such a leaf."""
    if not isinstance(leaf, Equals) or leaf.attribute != attribute:
        return None
    return leaf.value if isinstance(leaf.value, str) and leaf.value else None


def _equal_in_every_branch(branches: list[list[Filter]], attribute: str) -> tuple[str, ...] | None:
    found: list[str] = []
    for branch in branches:
        value = next(
            (v for leaf in branch if (v := _equals_value(leaf, attribute)) is not None), None
        )
        if value is None:
            return None
        found.append(value)
    return tuple(dict.fromkeys(found))


def _merge_into_in(
    groups: list[tuple[HubspotFilter, ...]], catalog: PropertyCatalog
) -> list[tuple[HubspotFilter, ...]]:
    """Groups that are one EQ each on the same property become one IN."""
    merged: dict[str, list[str]] = {}
    rest: list[tuple[HubspotFilter, ...]] = []
    for group in groups:
        if len(group) == 1 and group[0]["operator"] == "EQ":
            merged.setdefault(group[0]["propertyName"], []).append(group[0]["value"])
        else:
            rest.append(group)
    for name, values in merged.items():
        prop = catalog.get(name)
        if prop.type in ("string", "phone_number"):
            values = [v.lower() for v in values]  # IN wants lowercase strings (§1.7)
        rest.append(
            ({"propertyName": name, "operator": "IN", "values": list(dict.fromkeys(values))},)
        )
    return rest


_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?Z?)?$")


def _epoch_ms(text: str) -> str | None:
    if not _ISO.match(text):
        return None
    try:
        moment = datetime.fromisoformat(text.removesuffix("Z"))
    except ValueError:
        return None
    return str(int(moment.replace(tzinfo=UTC).timestamp() * 1000))


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


_COMPARISON: Final = {
    GreaterThan: ("GT", "GTE"),
    GreaterThanOrEqual: ("GTE", "GTE"),
    LessThan: ("LT", "LTE"),
    LessThanOrEqual: ("LTE", "LTE"),
}
"""ICF comparison -> (operator on numbers, operator on date text, widened to include ties)."""


def translate(leaf: Filter, catalog: PropertyCatalog) -> tuple[HubspotFilter, bool] | None:
    """One leaf as a HubSpot filter and whether it is exact; None when it cannot be expressed
    without losing matches."""
    if isinstance(leaf, Not):
        inner = leaf.filter
        if isinstance(inner, Presence):
            return _f(inner.attribute, catalog, "NOT_HAS_PROPERTY"), True
        return None
    if isinstance(leaf, And | Or):
        return None  # dnf() flattened these already
    attribute = leaf.attribute
    if attribute == UID:
        if isinstance(leaf, Equals) and isinstance(leaf.value, str) and leaf.value.isdigit():
            return {"propertyName": "hs_object_id", "operator": "EQ", "value": leaf.value}, True
        return None
    name = catalog.property_name(attribute)
    prop = catalog.get(name)
    match leaf:
        case Presence():
            return _f(attribute, catalog, "HAS_PROPERTY"), True
        case Equals(value=None):
            return _f(attribute, catalog, "NOT_HAS_PROPERTY"), True
        case Equals(value=value) if prop.multi_valued:
            return _f(attribute, catalog, "HAS_PROPERTY"), False
        case Equals(value=value):
            if prop.type in ("date", "datetime"):
                epoch = _epoch_ms(value) if isinstance(value, str) else None
                if epoch is None:
                    return None
                return _f(attribute, catalog, "EQ", epoch), False
            exact = (
                prop.type == "enumeration"
                or (prop.type == "number" and _is_number(value))
                or (prop.type == "bool" and isinstance(value, bool))
            )
            return _f(attribute, catalog, "EQ", _text(value)), exact
        case StartsWith(value=value) | EndsWith(value=value) | Contains(value=value):
            if value == "":
                return _f(attribute, catalog, "HAS_PROPERTY"), False
            if re.search(r"\s|\*", value) or prop.type not in ("string", "enumeration"):
                return None
            pattern = {
                StartsWith: f"{value}*",
                EndsWith: f"*{value}",
                Contains: f"*{value}*",
            }[type(leaf)]
            return _f(attribute, catalog, "CONTAINS_TOKEN", pattern), False
        case GreaterThan() | GreaterThanOrEqual() | LessThan() | LessThanOrEqual():
            number_op, date_op = _COMPARISON[type(leaf)]
            if prop.type == "number" and _is_number(leaf.value):
                return _f(attribute, catalog, number_op, _text(leaf.value)), True
            if prop.type in ("date", "datetime") and isinstance(leaf.value, str):
                epoch = _epoch_ms(leaf.value)
                if epoch is not None:
                    return _f(attribute, catalog, date_op, epoch), False
            return None
        case ContainsAllValues():
            return _f(attribute, catalog, "HAS_PROPERTY"), False


def _f(
    attribute: str, catalog: PropertyCatalog, operator: str, value: str | None = None
) -> HubspotFilter:
    filter_: HubspotFilter = {
        "propertyName": catalog.property_name(attribute) if attribute != UID else "hs_object_id",
        "operator": operator,
    }
    if value is not None:
        filter_["value"] = value
    return filter_


def with_cursor(
    groups: Sequence[tuple[HubspotFilter, ...]], after_id: str | None, *, ascending: bool = True
) -> list[dict[str, Any]]:
    """`filterGroups` for one keyset page: each group also asks for ids past `after_id`."""
    if after_id is None:
        return [{"filters": list(g)} for g in groups]
    cursor = {
        "propertyName": "hs_object_id",
        "operator": "GT" if ascending else "LT",
        "value": after_id,
    }
    if not groups:
        return [{"filters": [cursor]}]
    return [{"filters": [*g, cursor]} for g in groups]
