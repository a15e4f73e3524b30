"""IDM's `_queryFilter` syntax, translated to the protocol's filter tree.

The grammar is ForgeRock CREST's query filter, and the translation is IDM's
(`OpenICFFilterAdapter`, docs/openicf.md §1.6): `eq` equals, `co` contains, `sw` startsWith,
`gt` `ge` `lt` `le` the comparisons, `pr` presence, and the extended `ew` (endsWith) and `ca`
(containsAllValues); `and`, `or`, `!`, parentheses; `true` matches everything and `false`
nothing; `_id` names the uid (`__UID__`).

    Expr       := AndExpr ("or" AndExpr)*
    AndExpr    := NotExpr ("and" NotExpr)*
    NotExpr    := "!" Primary | Primary
    Primary    := "(" Expr ")" | Pointer Op Value | Pointer "pr" | "true" | "false"
    Value      := a JSON string, number, true, false or null

    email sw "ann" and lastname eq "Lee"
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Final, TypeAlias

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
    Scalar,
    StartsWith,
)
from protocol.values import UID

Query: TypeAlias = Filter | bool
"""A filter, or a constant: True matches every object, False none (no call is needed)."""

_TOKEN: Final = re.compile(
    r"""\s*(?:
        (?P<string>"(?:[^"\\]|\\.)*")
      | (?P<paren>[()])
      | (?P<bang>!)
      | (?P<word>[^\s()"!]+)
    )""",
    re.VERBOSE,
)


class QueryFilterError(ValueError):
    """The text is not a query filter; the message says where."""


def _string_op(
    kind: type[Contains] | type[StartsWith] | type[EndsWith],
) -> Callable[[str, Scalar | None], Filter]:
    def build(attribute: str, value: Scalar | None) -> Filter:
        if not isinstance(value, str):
            raise QueryFilterError(f"{kind.model_fields['type'].default} takes a string value")
        return kind(attribute=attribute, value=value)

    return build


def _ordered(
    kind: type[GreaterThan | GreaterThanOrEqual | LessThan | LessThanOrEqual],
) -> Callable[[str, Scalar | None], Filter]:
    def build(attribute: str, value: Scalar | None) -> Filter:
        if value is None:
            raise QueryFilterError("a comparison with null matches nothing; use pr")
        return kind(attribute=attribute, value=value)

    return build


def _contains_all(attribute: str, value: Scalar | None) -> Filter:
    if value is None:
        raise QueryFilterError("ca takes a value")
    return ContainsAllValues(attribute=attribute, values=[value])


_OPERATORS: Final[dict[str, Callable[[str, Scalar | None], Filter]]] = {
    "eq": lambda a, v: Equals(attribute=a, value=v),
    "co": _string_op(Contains),
    "sw": _string_op(StartsWith),
    "ew": _string_op(EndsWith),
    "gt": _ordered(GreaterThan),
    "ge": _ordered(GreaterThanOrEqual),
    "lt": _ordered(LessThan),
    "le": _ordered(LessThanOrEqual),
    "ca": _contains_all,
}


def _tokens(text: str) -> list[str]:
    tokens, position = [], 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = _TOKEN.match(text, position)
        if match is None:
            start = len(text) - len(text[position:].lstrip())
            if text[start] == '"':
                raise QueryFilterError(
                    f"the string that starts at character {start + 1} is not closed "
                    '(a " is missing)'
                )
            raise QueryFilterError(f"cannot read the filter at character {position + 1}")
        tokens.append(match.group(match.lastgroup or "word"))
        position = match.end()
    return tokens


def attribute_name(pointer: str) -> str:
    """`/email` or `email` is `email`; `_id` is the uid."""
    name = pointer.removeprefix("/")
    if not name or "/" in name:
        raise QueryFilterError(f"{pointer!r} is not a top-level attribute")
    return UID if name == "_id" else name


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.position = 0

    def peek(self) -> str | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self) -> str:
        lexeme = self.peek()
        if lexeme is None:
            raise QueryFilterError("the filter ends too early")
        self.position += 1
        return lexeme

    def parse(self) -> Query:
        query = self.expression()
        if self.peek() is not None:
            raise QueryFilterError(f"unexpected {self.peek()!r} after the filter")
        return query

    def expression(self) -> Query:
        terms = [self.conjunction()]
        while self.peek() == "or":
            self.take()
            terms.append(self.conjunction())
        if any(t is True for t in terms):
            return True
        filters = [t for t in terms if not isinstance(t, bool)]
        if not filters:
            return False
        return filters[0] if len(filters) == 1 else Or(filters=filters)

    def conjunction(self) -> Query:
        terms = [self.negation()]
        while self.peek() == "and":
            self.take()
            terms.append(self.negation())
        if any(t is False for t in terms):
            return False
        filters = [t for t in terms if not isinstance(t, bool)]
        if not filters:
            return True
        return filters[0] if len(filters) == 1 else And(filters=filters)

    def negation(self) -> Query:
        if self.peek() == "!":
            self.take()
            inner = self.primary()
            return (not inner) if isinstance(inner, bool) else Not(filter=inner)
        return self.primary()

    def primary(self) -> Query:
        lexeme = self.take()
        if lexeme == "(":
            inner = self.expression()
            if self.take() != ")":
                raise QueryFilterError("a ( is not closed")
            return inner
        if lexeme in ("true", "false"):
            return lexeme == "true"
        if lexeme.startswith('"') or lexeme in (")", "!"):
            raise QueryFilterError(f"expected an attribute, found {lexeme!r}")
        attribute = attribute_name(lexeme)
        operator = self.take()
        if operator == "pr":
            return Presence(attribute=attribute)
        build = _OPERATORS.get(operator)
        if build is None:
            raise QueryFilterError(
                f"unknown operator {operator!r} (eq, co, sw, ew, gt, ge, lt, le, ca, pr)"
            )
        return build(attribute, self.value())

    def value(self) -> Scalar | None:
        lexeme = self.take()
        try:
            value = json.loads(lexeme)
        except ValueError:
            raise QueryFilterError(
                f"{lexeme!r} is not a JSON value (strings take double quotes)"
            ) from None
        if isinstance(value, list | dict):
            raise QueryFilterError("a filter value is a string, number, boolean or null")
        return value  # type: ignore[no-any-return]


def parse_query_filter(text: str) -> Query:
    """Parse `text`; raise `QueryFilterError` naming what is wrong."""
    return _Parser(text).parse()
