"""Filter evaluation: the reference semantics connectors and the results handler rely on."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import TypeAdapter

from protocol.filters import Filter, attributes_of, evaluate
from protocol.values import ConnectorObject, GuardedString, Uid

ANN = ConnectorObject(
    objectClass="contact",
    uid=Uid(value="101"),
    name="Ann.Lee@Example.com",
    attributes={
        "firstname": ["Ann"],
        "age": [41],
        "score": [7.5],
        "vip": [True],
        "tags": ["red", "blue"],
        "phone": [],
        "fax": [None],
        "nickname": [""],
        "pin": [GuardedString("1234")],
        "createdate": ["2024-01-17T19:55:04.281Z"],
    },
)
FILTER = TypeAdapter(Filter)


def f(**node: Any) -> Filter:
    return FILTER.validate_python(node)


CASES: list[tuple[str, Filter, bool]] = [
    ("uid equals", f(type="equals", attribute="__UID__", value="101"), True),
    (
        "name equals is case-sensitive",
        f(type="equals", attribute="__NAME__", value="ann.lee@example.com"),
        False,
    ),
    ("string equals", f(type="equals", attribute="firstname", value="Ann"), True),
    ("int equals", f(type="equals", attribute="age", value=41), True),
    ("int never equals its string", f(type="equals", attribute="age", value="41"), False),
    ("bool equals", f(type="equals", attribute="vip", value=True), True),
    ("bool is not one", f(type="equals", attribute="vip", value=1), False),
    ("any of several values", f(type="equals", attribute="tags", value="blue"), True),
    ("absent attribute", f(type="equals", attribute="nope", value="x"), False),
    ("equals null on empty", f(type="equals", attribute="phone", value=None), True),
    ("equals null on absent", f(type="equals", attribute="nope", value=None), True),
    ("equals null on set", f(type="equals", attribute="firstname", value=None), False),
    ("contains", f(type="contains", attribute="__NAME__", value="Lee@"), True),
    ("startsWith", f(type="startsWith", attribute="firstname", value="An"), True),
    ("endsWith", f(type="endsWith", attribute="__NAME__", value=".com"), True),
    ("contains on a number", f(type="contains", attribute="age", value="4"), False),
    ("greaterThan number", f(type="greaterThan", attribute="age", value=40), True),
    ("greaterThan float", f(type="greaterThan", attribute="score", value=7.5), False),
    ("greaterThanOrEqual float", f(type="greaterThanOrEqual", attribute="score", value=7.5), True),
    ("lessThan mixed kinds", f(type="lessThan", attribute="age", value="z"), False),
    (
        "lessThanOrEqual ISO date",
        f(type="lessThanOrEqual", attribute="createdate", value="2024-01-18"),
        True,
    ),
    ("string order", f(type="lessThan", attribute="firstname", value="Bob"), True),
    (
        "containsAllValues",
        f(type="containsAllValues", attribute="tags", values=["blue", "red"]),
        True,
    ),
    (
        "containsAllValues missing one",
        f(type="containsAllValues", attribute="tags", values=["red", "green"]),
        False,
    ),
    ("presence", f(type="presence", attribute="firstname"), True),
    ("presence of empty list", f(type="presence", attribute="phone"), False),
    ("presence of null", f(type="presence", attribute="fax"), False),
    ("presence of empty string", f(type="presence", attribute="nickname"), False),
    ("secrets never match", f(type="equals", attribute="pin", value="1234"), False),
    (
        "and",
        f(
            type="and",
            filters=[
                {"type": "presence", "attribute": "age"},
                {"type": "equals", "attribute": "firstname", "value": "Ann"},
            ],
        ),
        True,
    ),
    (
        "or",
        f(
            type="or",
            filters=[
                {"type": "presence", "attribute": "phone"},
                {"type": "equals", "attribute": "firstname", "value": "Bob"},
            ],
        ),
        False,
    ),
    ("not", f(type="not", filter={"type": "presence", "attribute": "phone"}), True),
]


@pytest.mark.parametrize(("node", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_evaluate(node: Filter, expected: bool) -> None:
    assert evaluate(node, ANN) is expected


@pytest.mark.parametrize(
    ("node", "sensitive", "insensitive"),
    [
        (f(type="equals", attribute="__NAME__", value="ann.lee@example.com"), False, True),
        (f(type="startsWith", attribute="firstname", value="AN"), False, True),
        (f(type="containsAllValues", attribute="tags", values=["RED"]), False, True),
        (f(type="equals", attribute="age", value=41), True, True),
    ],
)
def test_case_insensitive(node: Filter, sensitive: bool, insensitive: bool) -> None:
    assert evaluate(node, ANN) is sensitive
    assert evaluate(node, ANN, case_insensitive=True) is insensitive


def test_attributes_of_walks_the_tree() -> None:
    node = f(
        type="and",
        filters=[
            {"type": "equals", "attribute": "a", "value": 1},
            {
                "type": "not",
                "filter": {"type": "or", "filters": [{"type": "presence", "attribute": "b"}]},
            },
        ],
    )
    assert attributes_of(node) == {"a", "b"}
