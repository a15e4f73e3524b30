"""Edit one value of a JSON document in its text, leaving every other character alone.

Operators write provisioner files by hand, or copy them from IDM; when the server encrypts a
plain-text secret or stores a rotated refresh token, re-dumping the whole document would reorder
keys, change indentation and number formats, and make every `git diff` of `conf/` noisy. So we
find the byte span of the one value (with the standard library's own scanner,
`json.JSONDecoder.raw_decode`) and replace only that span.

Paths are sequences of object keys from the root (arrays are not needed for configuration
properties). When a key appears twice in an object the last one counts, as for `json.loads`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from typing import Any

__all__ = ["JsonEditError", "json_path", "replace_value", "set_member"]

_WHITESPACE = re.compile(r"[ \t\n\r]*")
_SIMPLE_NAME = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
_decoder = json.JSONDecoder()


class JsonEditError(ValueError):
    """The path does not lead to a value (a missing key, or a non-object on the way)."""


def json_path(keys: Sequence[str | int]) -> str:
    """Render a path as in our error messages: `$.configurationProperties["odd name"]`."""
    parts = ["$"]
    for key in keys:
        if isinstance(key, int):
            parts.append(f"[{key}]")
        elif _SIMPLE_NAME.fullmatch(key):
            parts.append(f".{key}")
        else:
            parts.append(f"[{json.dumps(key)}]")
    return "".join(parts)


def replace_value(text: str, path: Sequence[str], value: Any) -> str:
    """Return `text` with the value at `path` replaced by `value`, formatted to fit in."""
    start, end = _find(text, path)
    return text[:start] + _render(text, start, value) + text[end:]


def set_member(text: str, object_path: Sequence[str], key: str, value: Any) -> str:
    """Set `key` in the object at `object_path`: replace it if present, else append it."""
    try:
        return replace_value(text, [*object_path, key], value)
    except JsonEditError:
        pass
    start, end = _find(text, object_path)
    if text[start] != "{":
        raise JsonEditError(f"{json_path(object_path)}: not an object")
    members = list(_members(text, start))
    if members:
        _, last_key_start, _, last_end = members[-1]
        indent = _indent_at(text, last_key_start)
        if "\n" in text[start:last_key_start]:
            insertion = f",\n{indent}{json.dumps(key)}: "
        else:
            insertion = f", {json.dumps(key)}: "
        member = insertion + _render_at(indent, _unit(text), value)
        return text[:last_end] + member + text[last_end:]
    closing = end - 1  # the "}" of an empty object
    outer = _indent_at(text, start)
    if "\n" not in text:
        return f"{text[: start + 1]}{json.dumps(key)}: {json.dumps(value)}{text[closing:]}"
    inner = outer + _unit(text)
    member = f"\n{inner}{json.dumps(key)}: {_render_at(inner, _unit(text), value)}\n{outer}"
    return text[: start + 1] + member + text[closing:]


def _find(text: str, path: Sequence[str]) -> tuple[int, int]:
    """The (start, end) offsets of the value at `path`."""
    start = _skip(text, 0)
    end = _value_end(text, start)
    for depth, key in enumerate(path):
        if start >= len(text) or text[start] != "{":
            raise JsonEditError(f"{json_path(path[:depth])}: not an object")
        found = None
        for member_key, _, value_start, value_end in _members(text, start):
            if member_key == key:
                found = (value_start, value_end)
        if found is None:
            raise JsonEditError(f"{json_path(path[: depth + 1])}: no such key")
        start, end = found
    return start, end


def _members(text: str, start: int) -> Iterator[tuple[str, int, int, int]]:
    """Yield (key, key start, value start, value end) for each member of the object at `start`."""
    index = _skip(text, start + 1)
    if text[index] == "}":
        return
    while True:
        if text[index] != '"':
            raise JsonEditError(f"offset {index}: expected a key")
        key_start = index
        key, index = _decoder.raw_decode(text, index)
        index = _skip(text, index)
        if text[index] != ":":
            raise JsonEditError(f"offset {index}: expected ':'")
        value_start = _skip(text, index + 1)
        value_end = _value_end(text, value_start)
        yield key, key_start, value_start, value_end
        index = _skip(text, value_end)
        if text[index] == ",":
            index = _skip(text, index + 1)
            continue
        if text[index] == "}":
            return
        raise JsonEditError(f"offset {index}: expected ',' or '}}'")


def _value_end(text: str, start: int) -> int:
    try:
        _, end = _decoder.raw_decode(text, start)
    except json.JSONDecodeError as error:
        raise JsonEditError(f"not JSON: {error.msg} (line {error.lineno})") from None
    return end


def _skip(text: str, index: int) -> int:
    match = _WHITESPACE.match(text, index)
    assert match is not None  # the pattern matches the empty string
    return match.end()


def _indent_at(text: str, offset: int) -> str:
    """The leading white space of the line holding `offset`."""
    line_start = text.rfind("\n", 0, offset) + 1
    line = text[line_start:offset]
    return line[: len(line) - len(line.lstrip(" \t"))]


def _unit(text: str) -> str:
    """The file's indentation step: the smallest indentation of any line, or two spaces."""
    widths = [match.group(1) for match in re.finditer(r"\n([ \t]+)\S", text)]
    return min(widths, key=len) if widths else "  "


def _render(text: str, start: int, value: Any) -> str:
    if "\n" not in text:
        return json.dumps(value)  # a one-line document stays on one line
    return _render_at(_indent_at(text, start), _unit(text), value)


def _render_at(indent: str, unit: str, value: Any) -> str:
    if not isinstance(value, dict | list) or not value:
        return json.dumps(value)
    lines = json.dumps(value, indent=unit).split("\n")
    return "\n".join([lines[0], *(indent + line for line in lines[1:])])
