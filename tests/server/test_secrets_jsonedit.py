"""Editing one JSON value in place: the rest of the text stays as the operator wrote it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.secrets.jsonedit import JsonEditError, json_path, replace_value, set_member

SAMPLE = """{
    "connectorRef": {"bundleName": "x", "bundleVersion": "1.5"},
    "configurationProperties": {
        "clientId": "id",
        "clientSecret": "plain",   "trailing": 1.50,
        "escaped \\"key\\"": "\\u00e9"
    }
}
"""


def test_replace_keeps_everything_else() -> None:
    sealed = {"$crypto": {"type": "x", "value": {"data": "AA=="}}}
    edited = replace_value(SAMPLE, ["configurationProperties", "clientSecret"], sealed)
    assert json.loads(edited)["configurationProperties"]["clientSecret"] == sealed
    before, after = SAMPLE.split('"plain"')
    assert edited.startswith(before)
    assert edited.endswith(after)  # `1.50`, the odd spacing and the escapes survive
    assert '"clientSecret": {\n            "$crypto": {\n' in edited


def test_escaped_keys_and_duplicates() -> None:
    edited = replace_value(SAMPLE, ["configurationProperties", 'escaped "key"'], "x")
    assert json.loads(edited)["configurationProperties"]['escaped "key"'] == "x"
    # The last of duplicate keys is the one json.loads keeps, so it is the one edited.
    duplicated = '{"a": 1, "a": 2}'
    assert replace_value(duplicated, ["a"], 3) == '{"a": 1, "a": 3}'


def test_set_member_appends_in_the_files_style() -> None:
    edited = set_member(SAMPLE, ["configurationProperties"], "refreshToken", "t")
    assert json.loads(edited)["configurationProperties"]["refreshToken"] == "t"
    assert '\\u00e9",\n        "refreshToken": "t"\n    }' in edited
    assert set_member('{"p": {}}', ["p"], "k", [1]) == '{"p": {"k": [1]}}'
    assert set_member('{\n  "p": {}\n}', ["p"], "k", 1) == '{\n  "p": {\n    "k": 1\n  }\n}'


@pytest.mark.parametrize(
    ("path", "message"),
    [
        (["nope"], r"\$\.nope: no such key"),
        (["connectorRef", "bundleName", "deeper"], r"\$\.connectorRef\.bundleName: not an object"),
    ],
)
def test_bad_paths(path: list[str], message: str) -> None:
    with pytest.raises(JsonEditError, match=message):
        replace_value(SAMPLE, path, 1)


def test_json_path_rendering() -> None:
    assert json_path([]) == "$"
    assert json_path(["configurationProperties", "clientSecret"]) == (
        "$.configurationProperties.clientSecret"
    )
    assert json_path(["objectTypes", "a b", 0]) == '$.objectTypes["a b"][0]'


_KEYS = st.text(min_size=1, max_size=6)
_SCALARS = st.none() | st.booleans() | st.integers() | st.text(max_size=8)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_KEYS, inner, max_size=3),
    max_leaves=8,
)


def _object_paths(document: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [path] if path else []
    if isinstance(document, dict):
        for key, value in document.items():
            found.extend(_object_paths(value, (*path, key)))
    return found


@given(
    st.dictionaries(_KEYS, _VALUES, min_size=1, max_size=4),
    st.sampled_from([None, 2, 4, "\t"]),
    _VALUES,
    st.data(),
)
def test_replace_changes_exactly_one_value(
    document: dict[str, Any], indent: int | str | None, new: Any, data: st.DataObject
) -> None:
    text = json.dumps(document, indent=indent, ensure_ascii=False)
    path = data.draw(st.sampled_from(_object_paths(document)))
    expected = json.loads(text)
    target = expected
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = new
    assert json.loads(replace_value(text, list(path), new)) == expected
