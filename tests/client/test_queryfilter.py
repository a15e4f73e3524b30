"""IDM's `_queryFilter` syntax to the protocol's filter tree: a table of cases."""

from __future__ import annotations

import re

import pytest

from client.queryfilter import Query, QueryFilterError, parse_query_filter
from protocol.filters import (
    And,
    Contains,
    ContainsAllValues,
    EndsWith,
    Equals,
    GreaterThan,
    GreaterThanOrEqual,
    LessThan,
    LessThanOrEqual,
    Not,
    Or,
    Presence,
    StartsWith,
)

CASES: list[tuple[str, Query]] = [
    ('email eq "ann@example.com"', Equals(attribute="email", value="ann@example.com")),
    ('/email co "ann"', Contains(attribute="email", value="ann")),
    ('email sw "ann"', StartsWith(attribute="email", value="ann")),
    ('email ew ".com"', EndsWith(attribute="email", value=".com")),
    ("age gt 30", GreaterThan(attribute="age", value=30)),
    ("age ge 30.5", GreaterThanOrEqual(attribute="age", value=30.5)),
    ('since lt "2026"', LessThan(attribute="since", value="2026")),
    ("age le -1", LessThanOrEqual(attribute="age", value=-1)),
    ('tags ca "a"', ContainsAllValues(attribute="tags", values=["a"])),
    ("phone pr", Presence(attribute="phone")),
    ("active eq true", Equals(attribute="active", value=True)),
    ("phone eq null", Equals(attribute="phone", value=None)),
    ('_id eq "1001"', Equals(attribute="__UID__", value="1001")),
    ('name eq "say \\"hi\\""', Equals(attribute="name", value='say "hi"')),
    (
        'email sw "ann" and lastname eq "Lee"',
        And(
            filters=[
                StartsWith(attribute="email", value="ann"),
                Equals(attribute="lastname", value="Lee"),
            ]
        ),
    ),
    (
        "a pr or b pr and c pr",  # and binds tighter than or
        Or(
            filters=[
                Presence(attribute="a"),
                And(filters=[Presence(attribute="b"), Presence(attribute="c")]),
            ]
        ),
    ),
    (
        "(a pr or b pr) and !(c pr)",
        And(
            filters=[
                Or(filters=[Presence(attribute="a"), Presence(attribute="b")]),
                Not(filter=Presence(attribute="c")),
            ]
        ),
    ),
    ("true", True),
    ("false", False),
    ("a pr and false", False),
    ("a pr or true", True),
    ("a pr and true", Presence(attribute="a")),
    ("!true", False),
]


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[c[0] for c in CASES])
def test_translation(text: str, expected: Query) -> None:
    assert parse_query_filter(text) == expected


ERRORS = [
    ("email eq", "ends too early"),
    ("email is 1", "unknown operator 'is'"),
    ("email eq ann", "not a JSON value"),
    ("(a pr", "ends too early"),
    ("a pr)", "unexpected ')'"),
    ('"a" eq 1', "expected an attribute"),
    ("a gt null", "use pr"),
    ("a co 1", "takes a string"),
    ("a/b pr", "not a top-level attribute"),
    ('a eq ["x"]', "not a JSON value"),
]


@pytest.mark.parametrize(("text", "says"), ERRORS, ids=[e[0] for e in ERRORS])
def test_errors_say_what_is_wrong(text: str, says: str) -> None:
    with pytest.raises(QueryFilterError, match=re.escape(says)):
        parse_query_filter(text)
