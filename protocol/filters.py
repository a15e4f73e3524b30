"""Filters as a JSON tree, and their exact evaluation against a `ConnectorObject`.

The node kinds are ICF's (`common/objects/filter`, docs/openicf.md §5): `and`, `or`, `not`,
`equals`, `contains`, `startsWith`, `endsWith`, `greaterThan`, `greaterThanOrEqual`,
`lessThan`, `lessThanOrEqual`, `containsAllValues` and `presence`. Each node names its kind in
`type`:

    {"type": "and", "filters": [
        {"type": "startsWith", "attribute": "email", "value": "ann"},
        {"type": "equals", "attribute": "lastname", "value": "Lee"}]}

`evaluate` is the reference semantics: the results handler re-applies it where a connector could
not filter exactly, and connectors use it to finish what their resource cannot express.

Rules of evaluation, written down because connectors and tests rely on them:
- an attribute matches a value filter when any of its values matches (LDAP's rule, and what
  IDM's `eq` means for a multi-valued property); an absent attribute matches nothing;
- `presence` holds when the attribute has at least one value that is not null or "";
- strings compare with strings, numbers (not booleans) with numbers, booleans only by
  equality; values of other kinds never match, rather than raise;
- with `case_insensitive`, strings compare after `str.casefold()` (IDM's
  `enableCaseInsensitiveFilter`).

Size: a filter holds at most `MAX_FILTER_NODES` nodes, nested at most `MAX_FILTER_DEPTH` deep
(docs/protocol.md "Filters"); a larger one is refused when its frame is decoded, with an error
that says so. `matcher` compiles a filter once for many objects, in time linear in its size,
and an `or` of `equals` becomes a set lookup: an object costs the number of its values, not the
number of alternatives.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Annotated, Final, Literal, TypeAlias

from pydantic import Field

from protocol.values import AttributeValue, ConnectorObject, GuardedString, _Model

Scalar: TypeAlias = str | bool | int | float

MAX_FILTER_NODES: Final = 2000
"""Nodes (leaves and and/or/not) one filter may hold."""
MAX_FILTER_DEPTH: Final = 32
"""How deep and/or/not may nest."""


class _AttributeFilter(_Model):
    attribute: str = Field(min_length=1)


class Equals(_AttributeFilter):
    type: Literal["equals"] = "equals"
    value: Scalar | None


class Contains(_AttributeFilter):
    type: Literal["contains"] = "contains"
    value: str


class StartsWith(_AttributeFilter):
    type: Literal["startsWith"] = "startsWith"
    value: str


class EndsWith(_AttributeFilter):
    type: Literal["endsWith"] = "endsWith"
    value: str


class GreaterThan(_AttributeFilter):
    type: Literal["greaterThan"] = "greaterThan"
    value: Scalar


class GreaterThanOrEqual(_AttributeFilter):
    type: Literal["greaterThanOrEqual"] = "greaterThanOrEqual"
    value: Scalar


class LessThan(_AttributeFilter):
    type: Literal["lessThan"] = "lessThan"
    value: Scalar


class LessThanOrEqual(_AttributeFilter):
    type: Literal["lessThanOrEqual"] = "lessThanOrEqual"
    value: Scalar


class ContainsAllValues(_AttributeFilter):
    type: Literal["containsAllValues"] = "containsAllValues"
    values: list[Scalar] = Field(min_length=1)


class Presence(_AttributeFilter):
    type: Literal["presence"] = "presence"


class And(_Model):
    type: Literal["and"] = "and"
    filters: list[Filter] = Field(min_length=1)


class Or(_Model):
    type: Literal["or"] = "or"
    filters: list[Filter] = Field(min_length=1)


class Not(_Model):
    type: Literal["not"] = "not"
    filter: Filter


Filter: TypeAlias = Annotated[
    And
    | Or
    | Not
    | Equals
    | Contains
    | StartsWith
    | EndsWith
    | GreaterThan
    | GreaterThanOrEqual
    | LessThan
    | LessThanOrEqual
    | ContainsAllValues
    | Presence,
    Field(discriminator="type"),
]

for _model in (And, Or, Not):
    _model.model_rebuild()

ComparisonFilter: TypeAlias = GreaterThan | GreaterThanOrEqual | LessThan | LessThanOrEqual
ValueFilter: TypeAlias = Equals | Contains | StartsWith | EndsWith | ComparisonFilter


def _fold(value: object, case_insensitive: bool) -> object:
    if isinstance(value, GuardedString):
        return None  # secrets are never compared
    if case_insensitive and isinstance(value, str):
        return value.casefold()
    return value


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _comparable(left: object, right: object) -> bool:
    return (isinstance(left, str) and isinstance(right, str)) or (
        _is_number(left) and _is_number(right)
    )


def _equal(left: object, right: object) -> bool:
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    if _comparable(left, right):
        return left == right
    return left is None and right is None


_ORDER: dict[str, Callable[[object, object], bool]] = {
    "greaterThan": lambda a, b: a > b,  # type: ignore[operator]
    "greaterThanOrEqual": lambda a, b: a >= b,  # type: ignore[operator]
    "lessThan": lambda a, b: a < b,  # type: ignore[operator]
    "lessThanOrEqual": lambda a, b: a <= b,  # type: ignore[operator]
}


def _match_value(node: ValueFilter, value: AttributeValue, ci: bool) -> bool:
    have, want = _fold(value, ci), _fold(node.value, ci)
    match node:
        case Equals():
            return _equal(have, want)
        case Contains():
            return isinstance(have, str) and isinstance(want, str) and want in have
        case StartsWith():
            return isinstance(have, str) and isinstance(want, str) and have.startswith(want)
        case EndsWith():
            return isinstance(have, str) and isinstance(want, str) and have.endswith(want)
        case _:
            return _comparable(have, want) and _ORDER[node.type](have, want)


def _has_value(values: list[AttributeValue] | None) -> bool:
    return any(v is not None and v != "" for v in values or [])


def evaluate(node: Filter, obj: ConnectorObject, *, case_insensitive: bool = False) -> bool:
    """Whether `obj` matches `node`, by the rules in this module's docstring."""
    match node:
        case And():
            return all(evaluate(f, obj, case_insensitive=case_insensitive) for f in node.filters)
        case Or():
            return any(evaluate(f, obj, case_insensitive=case_insensitive) for f in node.filters)
        case Not():
            return not evaluate(node.filter, obj, case_insensitive=case_insensitive)
        case Presence():
            return _has_value(obj.values(node.attribute))
        case ContainsAllValues():
            have = [_fold(v, case_insensitive) for v in obj.values(node.attribute) or []]
            return all(
                any(_equal(h, _fold(w, case_insensitive)) for h in have) for w in node.values
            )
        case _:
            found = obj.values(node.attribute)
            if isinstance(node, Equals) and node.value is None:
                # equals null: the attribute has no value (IDM's `!(x pr)` spelled as `eq null`)
                return not _has_value(found)
            return found is not None and any(_match_value(node, v, case_insensitive) for v in found)


def attributes_of(node: Filter) -> set[str]:
    """Every attribute name a filter mentions (connectors check them against their schema)."""
    match node:
        case And() | Or():
            return set().union(*(attributes_of(f) for f in node.filters))
        case Not():
            return attributes_of(node.filter)
        case _:
            return {node.attribute}


def size_problem(node: Filter) -> str | None:
    """Why `node` is too large to accept, or None. Iterative: any size is measured safely."""
    count = 0
    stack: list[tuple[Filter, int]] = [(node, 1)]
    while stack:
        current, depth = stack.pop()
        count += 1
        if count > MAX_FILTER_NODES:
            return (
                f"the filter has more than {MAX_FILTER_NODES} nodes; split the query, or read "
                "by a property the objects share"
            )
        if depth > MAX_FILTER_DEPTH:
            return f"the filter nests deeper than {MAX_FILTER_DEPTH} levels"
        match current:
            case And() | Or():
                stack += [(child, depth + 1) for child in current.filters]
            case Not():
                stack.append((current.filter, depth + 1))
    return None


Matcher: TypeAlias = Callable[[ConnectorObject], bool]


def matcher(node: Filter, *, case_insensitive: bool = False) -> Matcher:
    """`evaluate(node, obj)` as one function of `obj`, built once for many objects."""
    match node:
        case And():
            parts = [matcher(f, case_insensitive=case_insensitive) for f in node.filters]
            return lambda obj: all(part(obj) for part in parts)
        case Or():
            return _any_of(node.filters, case_insensitive)
        case Not():
            inner = matcher(node.filter, case_insensitive=case_insensitive)
            return lambda obj: not inner(obj)
        case _:
            leaf = node
            return lambda obj: evaluate(leaf, obj, case_insensitive=case_insensitive)


def _key(value: object, case_insensitive: bool) -> Hashable | None:
    """A value as `_equal` compares it: booleans apart from numbers, strings folded."""
    if isinstance(value, bool):
        return ("bool", value)
    if _is_number(value):
        return ("number", value)
    if isinstance(value, str):
        return ("str", value.casefold() if case_insensitive else value)
    return None


def _any_of(children: list[Filter], ci: bool) -> Matcher:
    """OR: the `equals` children become one set of wanted values per attribute."""
    wanted: dict[str, set[Hashable]] = {}
    others: list[Matcher] = []
    for child in children:
        key = _key(child.value, ci) if isinstance(child, Equals) else None
        if isinstance(child, Equals) and key is not None:
            wanted.setdefault(child.attribute, set()).add(key)
        else:
            others.append(matcher(child, case_insensitive=ci))

    def match(obj: ConnectorObject) -> bool:
        for attribute, keys in wanted.items():
            for value in obj.values(attribute) or []:
                if _key(value, ci) in keys:
                    return True
        return any(other(obj) for other in others)

    return match


def rename_attributes(node: Filter, rename: Callable[[str], str]) -> Filter:
    """The same filter with every attribute name passed through `rename` (which may raise):
    how a connector folds its aliases into one name, and a client maps IDM's names to native
    ones."""
    match node:
        case And() | Or():
            return node.model_copy(
                update={"filters": [rename_attributes(f, rename) for f in node.filters]}
            )
        case Not():
            return node.model_copy(update={"filter": rename_attributes(node.filter, rename)})
        case _:
            name = rename(node.attribute)
            return node if name == node.attribute else node.model_copy(update={"attribute": name})
