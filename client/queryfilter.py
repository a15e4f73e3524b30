"""IDM's `_queryFilter` syntax, translated to the protocol's filter tree.

The grammar is ForgeRock CREST's query filter (`QueryFilterParser`, as IDM parses it), and the
translation is IDM's (`OpenICFFilterAdapter`, docs/openicf.md §1.6): `eq` equals, `co` contains,
`sw` startsWith, `gt` `ge` `lt` `le` the comparisons, `pr` presence, and the extended operators
`ew` (endsWith) and `ca` (containsAllValues); `and`, `or`, `!`, parentheses; `true` matches
everything and `false` nothing; `_id` names the uid (`__UID__`), and its values are strings.

    Expr       := AndExpr ("or" AndExpr)*
    AndExpr    := NotExpr ("and" NotExpr)*
    NotExpr    := "!" Primary | Primary
    Primary    := "(" Expr ")" | Pointer Op Value | Pointer "pr" | "true" | "false"
    Pointer    := a JSON pointer to a top-level attribute, `/email` or `email` (`~1` is `/`,
                  `~0` is `~`)
    Value      := "..." | '...' | a JSON number | true | false

    email sw "ann" and lastname eq 'Lee'

As in CREST: keywords and operators are read in any case (`AND`, `Eq`, `TRUE`); in a quoted
string a backslash takes the next character as it is (`"say \\"hi\\""`, `'O\\'Brien'`,
`"a\\\\b"` is `a\\b`; `\\n` is `n`: there are no JSON escapes). Unlike JSON, there is no `null`
(`!(x pr)` says "has no value"), and no `NaN` or `Infinity`. An error names the offending
character and shows where it is.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
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

MAX_DEPTH: Final = 256
"""CREST's limit on nested expressions, counted as CREST counts them (one per grammar rule
entered, so about 64 levels of parentheses)."""

_NUMBER: Final = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
"""A JSON number (RFC 8259 §6)."""
_EXTENDED: Final = re.compile(r"[A-Za-z0-9_.]+")
"""What CREST takes as an extended operator's name."""
OPERATORS: Final = ("eq", "co", "sw", "ew", "gt", "ge", "lt", "le", "ca", "pr")


class QueryFilterError(ValueError):
    """The text is not a query filter; the message names the offending character and shows it."""

    def __init__(self, message: str, text: str, position: int) -> None:
        self.reason = message
        self.position = position
        where = (
            f"at character {position + 1}" if position < len(text) else "at the end of the filter"
        )
        super().__init__(f"{message} ({where}):\n  {text}\n  {' ' * position}^")


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str
    """`(`, `)`, `!`, `string` or `word`."""
    text: str
    """The word, or the string's value (escapes applied)."""
    position: int


def _tokens(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    position, end = 0, len(text)
    while position < end:
        char = text[position]
        if char.isspace():
            position += 1
        elif char in "()!":
            tokens.append(_Token(char, char, position))
            position += 1
        elif char in "[]":
            raise QueryFilterError(
                f"'{char}': a filter on the items of an array is not something a connector can "
                "answer",
                text,
                position,
            )
        elif char in "\"'":
            value, after = _string(text, position)
            tokens.append(_Token("string", value, position))
            position = after
        else:
            start = position
            while position < end and not text[position].isspace() and text[position] not in "()":
                position += 1
            tokens.append(_Token("word", text[start:position], start))
    return tokens


def _string(text: str, start: int) -> tuple[str, int]:
    """The value of the string quoted at `start`, and the position after its closing quote."""
    quote, out, position = text[start], [], start + 1
    while position < len(text):
        char = text[position]
        if char == "\\":
            if position + 1 == len(text):
                raise QueryFilterError("a backslash escapes nothing", text, position)
            out.append(text[position + 1])
            position += 2
        elif char == quote:
            return "".join(out), position + 1
        else:
            out.append(char)
            position += 1
    raise QueryFilterError(f"the string opened by {quote} is not closed", text, start)


def attribute_name(pointer: str) -> str:
    """`/email` or `email` is `email`; `_id` is the uid. Raises ValueError for a pointer that
    is not one top-level attribute."""
    segments = pointer.removeprefix("/").split("/")
    if len(segments) != 1 or not segments[0]:
        raise ValueError(f"{pointer!r} is not a top-level attribute (a connector has no others)")
    if re.search(r"~(?![01])", segments[0]):
        raise ValueError(f"{pointer!r}: in a JSON pointer ~ is written ~0, and / is ~1")
    name = segments[0].replace("~1", "/").replace("~0", "~")
    return UID if name == "_id" else name


def _string_op(
    kind: type[Contains] | type[StartsWith] | type[EndsWith],
) -> Callable[[str, Scalar], Filter]:
    def build(attribute: str, value: Scalar) -> Filter:
        if not isinstance(value, str):
            raise ValueError("takes a string value (in quotes)")
        return kind(attribute=attribute, value=value)

    return build


_BUILDERS: Final[dict[str, Callable[[str, Scalar], Filter]]] = {
    "eq": lambda a, v: Equals(attribute=a, value=v),
    "co": _string_op(Contains),
    "sw": _string_op(StartsWith),
    "ew": _string_op(EndsWith),
    "gt": lambda a, v: GreaterThan(attribute=a, value=v),
    "ge": lambda a, v: GreaterThanOrEqual(attribute=a, value=v),
    "lt": lambda a, v: LessThan(attribute=a, value=v),
    "le": lambda a, v: LessThanOrEqual(attribute=a, value=v),
    "ca": lambda a, v: ContainsAllValues(attribute=a, values=[v]),
}


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokens(text)
        self.index = 0

    def fail(self, message: str, token: _Token | None) -> QueryFilterError:
        return QueryFilterError(
            message, self.text, len(self.text) if token is None else token.position
        )

    def peek(self) -> _Token | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def keyword(self, word: str) -> bool:
        token = self.peek()
        return token is not None and token.kind == "word" and token.text.lower() == word

    def take(self, expected: str) -> _Token:
        token = self.peek()
        if token is None:
            raise self.fail(f"the filter ends too early: {expected} was expected", None)
        self.index += 1
        return token

    def parse(self) -> Query:
        if not self.tokens:
            raise self.fail("the filter is empty (`true` matches everything)", None)
        query = self.expression(0)
        token = self.peek()
        if token is not None:
            what = "a string" if token.kind == "string" else f"'{token.text}'"
            raise self.fail(f"{what} after a complete filter (missing and/or?)", token)
        return query

    def expression(self, depth: int) -> Query:
        terms = [self.conjunction(depth + 1)]
        while self.keyword("or"):
            self.index += 1
            terms.append(self.conjunction(depth + 1))
        if any(t is True for t in terms):
            return True
        filters = [t for t in terms if not isinstance(t, bool)]
        if not filters:
            return False
        return filters[0] if len(filters) == 1 else Or(filters=filters)

    def conjunction(self, depth: int) -> Query:
        terms = [self.negation(depth + 1)]
        while self.keyword("and"):
            self.index += 1
            terms.append(self.negation(depth + 1))
        if any(t is False for t in terms):
            return False
        filters = [t for t in terms if not isinstance(t, bool)]
        if not filters:
            return True
        return filters[0] if len(filters) == 1 else And(filters=filters)

    def negation(self, depth: int) -> Query:
        token = self.peek()
        if token is not None and token.kind == "!":
            self.index += 1
            inner = self.primary(depth + 1)
            return (not inner) if isinstance(inner, bool) else Not(filter=inner)
        return self.primary(depth + 1)

    def primary(self, depth: int) -> Query:
        token = self.take("an attribute, (, ! or true/false")
        if token.kind == "(":
            if depth >= MAX_DEPTH:
                raise self.fail(f"more than {MAX_DEPTH} nested expressions", token)
            inner = self.expression(depth + 1)
            closing = self.take("a )")
            if closing.kind != ")":
                raise self.fail("expected ) to close the ( before", closing)
            return inner
        if token.kind == "word" and token.text.lower() in ("true", "false"):
            return token.text.lower() == "true"
        if token.kind != "word":
            found = "a string" if token.kind == "string" else f"'{token.text}'"
            raise self.fail(f"expected an attribute, found {found}", token)
        try:
            attribute = attribute_name(token.text)
        except ValueError as error:
            raise self.fail(str(error), token) from None
        operator = self.take("an operator (eq, co, sw, ...)")
        name = operator.text.lower()
        if operator.kind != "word" or name not in OPERATORS:
            found = "a string" if operator.kind == "string" else f"'{operator.text}'"
            known = ", ".join(OPERATORS)
            if operator.kind == "word" and _EXTENDED.fullmatch(operator.text):
                raise self.fail(f"unknown operator {found} (IDM's are {known})", operator)
            raise self.fail(f"expected an operator ({known}), found {found}", operator)
        if name == "pr":
            return Presence(attribute=attribute)
        value_token = self.take("a value")
        value = self.value(value_token, token.text)
        if attribute == UID and not isinstance(value, str):
            value = value_token.text.lower() if isinstance(value, bool) else value_token.text
        try:
            return _BUILDERS[name](attribute, value)
        except ValueError as error:
            raise self.fail(f"{name} {error}", value_token) from None

    def value(self, token: _Token, pointer: str) -> Scalar:
        if token.kind == "string":
            return token.text
        if token.kind != "word":
            raise self.fail(f"expected a value, found '{token.text}'", token)
        word = token.text
        if word.lower() in ("true", "false"):
            return word.lower() == "true"
        if _NUMBER.fullmatch(word):
            if "." not in word and "e" not in word.lower():
                return int(word)
            number = float(word)
            if math.isinf(number):
                raise self.fail(f"{word} is beyond the numbers JSON readers keep", token)
            return number
        if word.lower() == "null":
            raise self.fail(
                f"null is not a value in a query filter: `!({pointer} pr)` matches no value", token
            )
        if word.strip("+-").lower() in ("nan", "infinity"):
            raise self.fail(f"{word} is not a number JSON knows", token)
        raise self.fail(
            f"'{word}' is not a value: a string in quotes, a number, or true/false", token
        )


def parse_query_filter(text: str) -> Query:
    """Parse `text`; raise `QueryFilterError` naming what is wrong, and where."""
    return _Parser(text).parse()
