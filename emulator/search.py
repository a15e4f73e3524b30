"""CRM search: the request shapes clients send, compiled once per request into predicates.

Semantics from docs/hubspot.md §1.7 and the checklist in §9: filters in a group are AND-ed and
groups OR-ed; a top-level `filters` list is one more AND group (Airbyte sends only that);
string values compare case-insensitively, enumerations case-sensitively; `IN` on strings wants
lowercase values; `CONTAINS_TOKEN` takes `*` wildcards; one sort; creation order by default;
`total` counts every match, and paging past the 10,000th result is a 400.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from operator import attrgetter, itemgetter
from typing import Any

from emulator.errors import bad_request
from emulator.objecttypes import ObjectType, resolve_object_type
from emulator.properties import Property, PropertyRegistry
from emulator.settings import EmulatorSettings
from emulator.store import AssociationStore, ObjectTable, Record
from emulator.values import format_date, format_datetime_ms, parse_datetime_ms

__all__ = [
    "OPERATORS",
    "SearchLimits",
    "SearchPage",
    "SearchRequest",
    "parse_search_request",
    "run_search",
    "search_limits",
]

OPERATORS = frozenset(
    {
        "EQ",
        "NEQ",
        "LT",
        "LTE",
        "GT",
        "GTE",
        "BETWEEN",
        "IN",
        "NOT_IN",
        "HAS_PROPERTY",
        "NOT_HAS_PROPERTY",
        "CONTAINS_TOKEN",
        "NOT_CONTAINS_TOKEN",
    }
)
_NEGATED = {"NEQ": "EQ", "NOT_IN": "IN", "NOT_CONTAINS_TOKEN": "CONTAINS_TOKEN"}
_TOKEN_SPLIT = re.compile(r"[^0-9a-z]+")

Predicate = Callable[[Record], bool]


@dataclass(frozen=True, slots=True)
class Filter:
    property_name: str
    operator: str
    value: object = None
    high_value: object = None
    values: tuple[object, ...] = ()


@dataclass(frozen=True, slots=True)
class SearchRequest:
    """A parsed search body; `groups` already includes a top-level `filters` group."""

    groups: tuple[tuple[Filter, ...], ...]
    sort_property: str | None
    sort_descending: bool
    query: str | None
    properties: tuple[str, ...] | None
    limit: int
    after: int


@dataclass(frozen=True, slots=True)
class SearchPage:
    total: int
    results: list[Record]
    next_after: int | None


@dataclass(frozen=True, slots=True)
class SearchLimits:
    max_groups: int
    max_filters_per_group: int
    max_filters_total: int
    default_limit: int
    max_limit: int
    result_cap: int
    query_max_chars: int


def parse_search_request(body: object, limits: SearchLimits) -> SearchRequest:
    """Validate a search body in every shape real clients send (docs/hubspot.md §0.6)."""
    if not isinstance(body, dict):
        raise bad_request("Search request body must be a JSON object")
    groups: list[tuple[Filter, ...]] = []
    raw_groups = body.get("filterGroups") or []
    if not isinstance(raw_groups, list):
        raise bad_request("filterGroups must be a list")
    for raw_group in raw_groups:
        filters = raw_group.get("filters") if isinstance(raw_group, dict) else None
        groups.append(_parse_filters(filters or []))
    top_level = body.get("filters")
    if top_level:
        groups.append(_parse_filters(top_level))
    groups = [g for g in groups if g]
    if len(groups) > limits.max_groups:
        raise bad_request(
            f"Too many filter groups: {len(groups)}, the maximum is {limits.max_groups}."
        )
    for group in groups:
        if len(group) > limits.max_filters_per_group:
            raise bad_request(
                f"Too many filters in a group: {len(group)}, "
                f"the maximum is {limits.max_filters_per_group}."
            )
    total_filters = sum(len(g) for g in groups)
    if total_filters > limits.max_filters_total:
        raise bad_request(
            f"Too many filters: {total_filters}, the maximum is {limits.max_filters_total}."
        )
    sort_property, descending = _parse_sorts(body.get("sorts"))
    query = body.get("query")
    if query is not None and not isinstance(query, str):
        raise bad_request("query must be a string")
    if query is not None and len(query) > limits.query_max_chars:
        raise bad_request(f"query is longer than {limits.query_max_chars} characters")
    properties = body.get("properties")
    if properties is not None and not (
        isinstance(properties, list) and all(isinstance(p, str) for p in properties)
    ):
        raise bad_request("properties must be a list of strings")
    limit = _int_field(body.get("limit"), "limit", limits.default_limit)
    if limit < 0 or limit > limits.max_limit:
        raise bad_request(f"limit must be between 0 and {limits.max_limit}")
    after = _int_field(body.get("after"), "after", 0)
    if after < 0:
        raise bad_request("after must not be negative")
    if after + limit > limits.result_cap:
        # "Attempting to page beyond 10,000 will result in a 400 error" (§1.7); the text of
        # the real answer is unverified (§10).
        raise bad_request(
            f"Paging past the first {limits.result_cap} results is not supported: "
            f"after + limit must be at most {limits.result_cap}."
        )
    return SearchRequest(
        groups=tuple(groups),
        sort_property=sort_property,
        sort_descending=descending,
        query=query or None,
        properties=tuple(properties) if properties else None,
        limit=limit,
        after=after,
    )


def _parse_filters(raw: object) -> tuple[Filter, ...]:
    if not isinstance(raw, list):
        raise bad_request("filters must be a list")
    filters = []
    for item in raw:
        if not isinstance(item, dict):
            raise bad_request("each filter must be an object")
        name, operator = item.get("propertyName"), item.get("operator", "EQ")
        if not isinstance(name, str) or not name:
            raise bad_request("filter propertyName is required")
        if operator not in OPERATORS:
            raise bad_request(f"Unknown filter operator {operator!r}")
        values = item.get("values") or ()
        if not isinstance(values, list | tuple):
            raise bad_request("filter values must be a list")
        filters.append(
            Filter(name, operator, item.get("value"), item.get("highValue"), tuple(values))
        )
    return tuple(filters)


def _parse_sorts(raw: object) -> tuple[str | None, bool]:
    """One sort, as `{propertyName, direction}` or as a string (`"-createdate"`; §1.7)."""
    if not raw:
        return None, False
    if not isinstance(raw, list):
        raise bad_request("sorts must be a list")
    if len(raw) > 1:
        raise bad_request("Only one sort is supported.")
    sort = raw[0]
    if isinstance(sort, str):
        return (sort[1:], True) if sort.startswith("-") else (sort, False)
    if isinstance(sort, dict) and isinstance(sort.get("propertyName"), str):
        direction = str(sort.get("direction", "ASCENDING")).upper()
        if direction not in ("ASCENDING", "DESCENDING"):
            raise bad_request(f"Unknown sort direction {direction!r}")
        return sort["propertyName"], direction == "DESCENDING"
    raise bad_request("Each sort must be a string or {propertyName, direction}")


def _int_field(raw: object, name: str, default: int) -> int:
    """Integers may arrive as JSON numbers or strings (Airbyte sends `after: 0`; §8.3)."""
    if raw is None or raw == "":
        return default
    if isinstance(raw, bool):
        raise bad_request(f"{name} must be an integer")
    if isinstance(raw, int):
        return raw
    if isinstance(raw, str) and raw.strip().lstrip("-").isdigit():
        return int(raw)
    raise bad_request(f"{name} must be an integer")


# -- compilation ----------------------------------------------------------------------------------


class _Compiler:
    """Turns filters into predicates over records, for one object type."""

    def __init__(self, table: ObjectTable, associations: AssociationStore) -> None:
        self.table = table
        self.object_type = table.object_type
        self.registry: PropertyRegistry = table.registry
        self.associations = associations

    def compile(self, groups: Sequence[Sequence[Filter]]) -> Predicate | None:
        if not groups:
            return None
        compiled = [[self._filter(f) for f in group] for group in groups]
        if len(compiled) == 1 and len(compiled[0]) == 1:
            return compiled[0][0]
        return lambda r: any(all(p(r) for p in group) for group in compiled)

    def _filter(self, f: Filter) -> Predicate:
        if f.property_name.startswith("associations."):
            return self._association_filter(f)
        prop = self.registry.get(f.property_name)
        if prop is None:
            raise bad_request(
                f"There was a problem with the request: property {f.property_name!r} "
                "does not exist",
                propertyName=[f.property_name],
            )
        if f.operator in ("HAS_PROPERTY", "NOT_HAS_PROPERTY"):
            getter = self._raw_getter(prop.name)
            if f.operator == "HAS_PROPERTY":
                return lambda r: getter(r) is not None
            return lambda r: getter(r) is None
        negated = _NEGATED.get(f.operator)
        if negated is not None:
            # Negations also match records where the property is unset (unverified; they are
            # `must_not` clauses in a search index).
            positive = self._positive(prop, Filter(f.property_name, negated, *_operands(f)))
            return lambda r: not positive(r)
        return self._positive(prop, f)

    def _raw_getter(self, name: str) -> Callable[[Record], object]:
        server = self._server_getter(name)
        if server is not None:
            return server
        return lambda r: r.props.get(name)

    def _server_getter(self, name: str) -> Callable[[Record], int] | None:
        if name == "hs_object_id":
            return lambda r: r.id
        if name == "createdate":
            return lambda r: r.created_ms
        if name == self.object_type.last_modified:
            return lambda r: r.updated_ms
        return None

    def _positive(self, prop: Property, f: Filter) -> Predicate:
        """Compile EQ, LT, LTE, GT, GTE, BETWEEN, IN or CONTAINS_TOKEN for one property."""
        server = self._server_getter(prop.name)
        if server is not None:
            if prop.name == "hs_object_id":
                return _compare(f, lambda raw: _operand_float(raw, prop.name), server)
            return _compare(f, lambda raw: _operand_ms(raw, prop.name), server)
        name = prop.name
        if prop.type == "number":

            def number(r: Record) -> float | None:
                value = r.props.get(name)
                return None if value is None else _to_float(value)

            return _compare(f, lambda raw: _operand_float(raw, name), number)
        if prop.type in ("datetime", "date"):
            # Stored values share one ISO format, so they order as text.
            fmt = format_date if prop.type == "date" else format_datetime_ms
            return _compare(
                f,
                lambda raw: fmt(_operand_ms(raw, name)),
                lambda r: r.props.get(name),
            )
        if prop.type == "enumeration":
            return self._enumeration(prop, f)
        # Strings and booleans: case-insensitive, except that IN wants lowercase values (§1.7).
        if f.operator == "IN":
            wanted = frozenset(_text(v) for v in f.values)
            return lambda r: (v := r.props.get(name)) is not None and v.lower() in wanted
        if f.operator == "CONTAINS_TOKEN":
            match = _token_matcher(_text(f.value), case_sensitive=False)
            return lambda r: (v := r.props.get(name)) is not None and match(v)
        return _compare(
            f, lambda raw: _text(raw).lower(), lambda r: (v := r.props.get(name)) and v.lower()
        )

    def _enumeration(self, prop: Property, f: Filter) -> Predicate:
        """Enumerations compare case-sensitively; multi-checkbox values match on any part."""
        name = prop.name
        if f.operator in ("EQ", "IN"):
            wanted = frozenset(_text(v) for v in (f.values if f.operator == "IN" else (f.value,)))
            if prop.multi_valued:
                return lambda r: (
                    (v := r.props.get(name)) is not None and not wanted.isdisjoint(v.split(";"))
                )
            return lambda r: r.props.get(name) in wanted
        if f.operator == "CONTAINS_TOKEN":
            match = _token_matcher(_text(f.value), case_sensitive=True)
            return lambda r: (v := r.props.get(name)) is not None and match(v)
        return _compare(f, _text, lambda r: r.props.get(name))

    def _association_filter(self, f: Filter) -> Predicate:
        """`associations.{type} EQ id` (and IN) over the association store (§1.7)."""
        other = resolve_object_type(f.property_name.split(".", 1)[1])
        if other is None or other is self.object_type or f.operator not in ("EQ", "IN"):
            raise bad_request(f"Unsupported association filter {f.property_name!r}")
        wanted = {
            int(_operand_float(v, f.property_name))
            for v in (f.values if f.operator == "IN" else (f.value,))
        }
        from_type, to_type = self.object_type.name, other.name
        return lambda r: (
            not wanted.isdisjoint(self.associations.of(from_type, r.id, to_type).keys())
        )


def _operands(f: Filter) -> tuple[object, object, tuple[object, ...]]:
    return f.value, f.high_value, f.values


def _compare(
    f: Filter,
    convert: Callable[[object], Any],
    getter: Callable[[Record], Any],
) -> Predicate:
    """EQ, LT, LTE, GT, GTE, BETWEEN and IN once both sides are comparable values."""
    op = f.operator
    if op == "IN":
        wanted = frozenset(convert(v) for v in f.values)
        return lambda r: (v := getter(r)) is not None and v in wanted
    if op == "BETWEEN":
        low, high = convert(f.value), convert(f.high_value)
        return lambda r: (v := getter(r)) is not None and low <= v <= high
    if op == "CONTAINS_TOKEN":
        match = _token_matcher(_text(f.value), case_sensitive=False)
        return lambda r: (v := getter(r)) is not None and match(str(v))
    target = convert(f.value)
    if op == "EQ":
        return lambda r: getter(r) == target
    if op == "LT":
        return lambda r: (v := getter(r)) is not None and v < target
    if op == "LTE":
        return lambda r: (v := getter(r)) is not None and v <= target
    if op == "GT":
        return lambda r: (v := getter(r)) is not None and v > target
    if op == "GTE":
        return lambda r: (v := getter(r)) is not None and v >= target
    raise bad_request(f"Operator {op} is not supported here")


def _text(raw: object) -> str:
    if raw is None:
        raise bad_request("This filter needs a value")
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    return str(raw)


def _to_float(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None


def _operand_ms(raw: object, name: str) -> int:
    """Datetimes in filters: epoch ms as a number or string, or ISO text (§1.7, §8.3)."""
    epoch_ms = parse_datetime_ms(raw)
    if epoch_ms is None:
        raise bad_request(f"{raw!r} is not a valid datetime for {name}", propertyName=[name])
    return epoch_ms


def _operand_float(raw: object, name: str) -> float:
    """Numbers in filters: JSON numbers or numeric strings (Airbyte sends numbers; §8.3)."""
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        return float(raw)
    if isinstance(raw, str):
        number = _to_float(raw)
        if number is not None:
            return number
    raise bad_request(f"{raw!r} is not a valid number for {name}", propertyName=[name])


def _token_matcher(pattern: str, *, case_sensitive: bool) -> Callable[[str], bool]:
    """Match one token of a value; `*` is a wildcard ("*@hubspot.com"; §1.7).

    A value's tokens are the whole value, its whitespace-separated words and its alphanumeric
    runs, so both `alice@hubspot.com` and `hubspot` are tokens of that email.
    """
    flags = 0 if case_sensitive else re.IGNORECASE
    regex = re.compile(
        "".join(".*" if part == "*" else re.escape(part) for part in re.split(r"(\*)", pattern)),
        flags,
    )

    def match(value: str) -> bool:
        if regex.fullmatch(value):
            return True
        candidates = value.split()
        candidates += [t for t in _TOKEN_SPLIT.split(value.lower()) if t]
        return any(regex.fullmatch(t) for t in candidates)

    return match


def _query_matcher(query: str, object_type: ObjectType) -> Predicate:
    """Free-text `query` over the default searchable properties (§1.7): every word of the query
    must start a token of one of them, case-insensitively."""
    words = [w for w in query.lower().split() if w]
    names = object_type.query_properties

    def match(r: Record) -> bool:
        haystack = " ".join(v for n in names if (v := r.props.get(n)) is not None).lower()
        if not all(w in haystack for w in words):
            return False
        tokens = set(haystack.split()) | set(_TOKEN_SPLIT.split(haystack))
        return all(any(t.startswith(w) for t in tokens) for w in words)

    return match


# -- execution ------------------------------------------------------------------------------------


_CACHE_ENTRIES = 16


def run_search(
    request: SearchRequest,
    table: ObjectTable,
    associations: AssociationStore,
    now_monotonic: float,
    *,
    indexing_delay: bool = False,
) -> SearchPage:
    """Run a parsed search: filter, sort, count and slice one page.

    Clients page through one query many times with a growing `after`; the matched and sorted
    list is kept (a few queries per table) until the table or the associations change, so that
    every page after the first costs O(page). With an indexing delay, visibility changes with
    time alone, so nothing is kept.
    """
    compiler = _Compiler(table, associations)
    predicate = compiler.compile(request.groups)
    key = repr((request.groups, request.sort_property, request.sort_descending, request.query))
    cache = table.search_cache
    cached = None if indexing_delay else cache.get(key)
    if cached is not None and cached[:2] == (table.version, associations.version):
        cache.move_to_end(key)
        matched = cached[2]
    else:
        matched = _match(request, table, predicate, now_monotonic)
        _sort(matched, request, compiler)
        if not indexing_delay:
            cache[key] = (table.version, associations.version, matched)
            if len(cache) > _CACHE_ENTRIES:
                cache.popitem(last=False)
    end = request.after + request.limit
    page = matched[request.after : end]
    return SearchPage(
        total=len(matched),
        results=page,
        next_after=end if request.limit and end < len(matched) else None,
    )


def _match(
    request: SearchRequest, table: ObjectTable, predicate: Predicate | None, now: float
) -> list[Record]:
    query = _query_matcher(request.query, table.object_type) if request.query else None
    if predicate is None and query is None:
        candidates = table.live()
        if not any(r.search_view is not None for r in candidates):
            return list(candidates)
    matched: list[Record] = []
    append = matched.append
    for record in table.live():
        seen: Record | None = record
        view = record.search_view
        if view is not None:
            if now < view[0]:
                seen = view[1]  # not indexed yet: search still sees the old version, or nothing
                if seen is None:
                    continue
            else:
                record.search_view = None
        assert seen is not None
        if (predicate is None or predicate(seen)) and (query is None or query(seen)):
            append(seen)
    return matched


def _sort(matched: list[Record], request: SearchRequest, compiler: _Compiler) -> None:
    """One sort; records without a value go last, ties stay in creation order."""
    name = request.sort_property
    if name is None or (name == "hs_object_id" and not request.sort_descending):
        return  # already in creation (id) order
    prop = compiler.registry.get(name)
    if prop is None:
        raise bad_request(f"Cannot sort by unknown property {name!r}", propertyName=[name])
    descending = request.sort_descending
    if name == "hs_object_id":
        matched.reverse()
        return
    if name == "createdate":
        matched.sort(key=attrgetter("created_ms"), reverse=descending)
        return
    if name == compiler.object_type.last_modified:
        matched.sort(key=attrgetter("updated_ms"), reverse=descending)
        return
    keyed: list[tuple[Any, Record]] = []
    missing: list[Record] = []
    number = prop.type == "number"
    folded = prop.type != "enumeration"
    for record in matched:
        value = record.props.get(name)
        if value is None:
            missing.append(record)
        elif number:
            converted = _to_float(value)
            if converted is None:
                missing.append(record)
            else:
                keyed.append((converted, record))
        else:
            keyed.append((value.lower() if folded else value, record))
    keyed.sort(key=itemgetter(0), reverse=descending)
    matched[:] = [r for _, r in keyed] + missing


def search_limits(settings: EmulatorSettings) -> SearchLimits:
    """The search limits in force under some settings (read per request: they may change)."""
    return SearchLimits(
        max_groups=settings.max_filter_groups,
        max_filters_per_group=settings.max_filters_per_group,
        max_filters_total=settings.max_filters_total,
        default_limit=settings.search_default_limit,
        max_limit=settings.search_max_limit,
        result_cap=settings.search_result_cap,
        query_max_chars=settings.search_query_max_chars,
    )
