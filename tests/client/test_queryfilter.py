"""IDM's `_queryFilter` syntax to the protocol's filter tree: a table of cases."""

from __future__ import annotations

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
    # IDM's documented operators (CREST's core ones, and IDM's extended ew and ca)
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
    # strings: double or single quotes; a backslash takes the next character as it is
    ("lastname eq 'Lee'", Equals(attribute="lastname", value="Lee")),
    ('name eq "say \\"hi\\""', Equals(attribute="name", value='say "hi"')),
    ("name eq 'O\\'Brien'", Equals(attribute="name", value="O'Brien")),
    ('name eq "it\'s"', Equals(attribute="name", value="it's")),
    ("name eq 'say \"hi\"'", Equals(attribute="name", value='say "hi"')),
    ('path eq "a\\\\b"', Equals(attribute="path", value="a\\b")),
    ('name eq "a\\nb"', Equals(attribute="name", value="anb")),  # no JSON escapes
    ('name eq "\\u0041"', Equals(attribute="name", value="u0041")),
    ('name eq ""', Equals(attribute="name", value="")),
    ('name eq "a (b) and !c"', Equals(attribute="name", value="a (b) and !c")),
    # keywords and operators in any case
    ('email EQ "x"', Equals(attribute="email", value="x")),
    ("phone PR", Presence(attribute="phone")),
    ("a pr AND b pr", And(filters=[Presence(attribute="a"), Presence(attribute="b")])),
    ("a pr Or b pr", Or(filters=[Presence(attribute="a"), Presence(attribute="b")])),
    ("active eq TRUE", Equals(attribute="active", value=True)),
    ("active eq False", Equals(attribute="active", value=False)),
    ("TRUE", True),
    ("False", False),
    # numbers as JSON reads them
    ("n eq 0", Equals(attribute="n", value=0)),
    ("n eq -0.25", Equals(attribute="n", value=-0.25)),
    ("n eq 1e3", Equals(attribute="n", value=1000.0)),
    ("n eq 2.5E-1", Equals(attribute="n", value=0.25)),
    ("n eq 12345678901234567890", Equals(attribute="n", value=12345678901234567890)),
    # JSON pointers with or without the leading slash; ~1 is / and ~0 is ~
    ("/phone pr", Presence(attribute="phone")),
    ('/a~1b eq "x"', Equals(attribute="a/b", value="x")),
    ('a~0b eq "x"', Equals(attribute="a~b", value="x")),
    # _id is the uid, and its values are strings
    ('_id eq "1001"', Equals(attribute="__UID__", value="1001")),
    ("_id eq 1001", Equals(attribute="__UID__", value="1001")),
    ("/_id eq 1001", Equals(attribute="__UID__", value="1001")),
    ("_id gt 1.50", GreaterThan(attribute="__UID__", value="1.50")),
    ("_id eq true", Equals(attribute="__UID__", value="true")),
    ("_id pr", Presence(attribute="__UID__")),
    # structure
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
    ("(a pr)and(b pr)", And(filters=[Presence(attribute="a"), Presence(attribute="b")])),
    ("! a pr", Not(filter=Presence(attribute="a"))),
    ("  a\tpr  ", Presence(attribute="a")),
    ("true", True),
    ("false", False),
    ("(true)", True),
    ("a pr and false", False),
    ("a pr or true", True),
    ("a pr and true", Presence(attribute="a")),
    ("!true", False),
    ("!false", True),
]


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[c[0] for c in CASES])
def test_translation(text: str, expected: Query) -> None:
    assert parse_query_filter(text) == expected


ERRORS: list[tuple[str, str, int]] = [
    # (filter, what the message says, the offending character's index)
    ("email eq", "ends too early: a value was expected", 8),
    ("email", "ends too early: an operator", 5),
    ("", "the filter is empty", 0),
    ("email is 1", "unknown operator 'is'", 6),
    ('email "x"', "expected an operator", 6),
    ("email eq ann", "'ann' is not a value", 9),
    ("phone eq null", "null is not a value", 9),
    ("phone eq NULL", "null is not a value", 9),
    ("a gt NaN", "NaN is not a number", 5),
    ("a gt Infinity", "Infinity is not a number", 5),
    ("a gt -Infinity", "-Infinity is not a number", 5),
    ("a gt 1e999", "beyond the numbers", 5),
    ("a eq 01", "'01' is not a value", 5),
    ("a eq 1.", "'1.' is not a value", 5),
    ("a eq +1", "'+1' is not a value", 5),
    ("a eq .5", "'.5' is not a value", 5),
    ('a eq "open', 'the string opened by " is not closed', 5),
    ("a eq 'open", "the string opened by ' is not closed", 5),
    ('a eq "x\\', "a backslash escapes nothing", 7),
    ("(a pr", "ends too early: a ) was expected", 5),
    ("(a pr b pr)", "expected ) to close", 6),
    ("a pr)", "')' after a complete filter", 4),
    ("a pr b pr", "'b' after a complete filter", 5),
    ("'a' eq 1", "expected an attribute, found a string", 0),
    ("eq 1", "unknown operator '1'", 3),
    (")", "expected an attribute, found ')'", 0),
    ("a co 1", "co takes a string", 5),
    ("a sw true", "sw takes a string", 5),
    ("a/b pr", "not a top-level attribute", 0),
    ("/ pr", "not a top-level attribute", 0),
    ("a~2 pr", "~ is written ~0", 0),
    ('a eq ["x"]', "array", 5),
    ("a eq x]", "'x]' is not a value", 5),
    ("(" * 70 + "a pr" + ")" * 70, "more than 256 nested", 64),
]


@pytest.mark.parametrize(("text", "says", "at"), ERRORS, ids=[e[0][:40] for e in ERRORS])
def test_errors_point_at_the_offending_character(text: str, says: str, at: int) -> None:
    with pytest.raises(QueryFilterError) as error:
        parse_query_filter(text)
    assert says in error.value.reason
    assert error.value.position == at
    # the message shows the filter with a caret under the character
    shown = str(error.value).splitlines()
    assert shown[-2] == f"  {text}" and shown[-1] == "  " + " " * at + "^"
