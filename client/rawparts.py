"""Search parts read straight from the wire's JSON, for client/fastpath.py.

The client's reader hands a request registered as raw each of its search parts as a `RawPart`:
each object as the one line of JSON text the server wrote (docs/protocol.md, `ConnectorObject`),
checked for the fields every object has, never built into Python objects. msgspec reads the
part's envelope and each object's shape, and keeps each object's own bytes (`msgspec.Raw`): a
search printed to a pipe writes them as they came. That is a seventh of the CPU of parsing each
object into dicts and serialising it again (docs/benchmarks.md, "full read"). Anything else takes
the ordinary path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import msgspec
import orjson

from protocol.codec import FrameError

_HEAD = re.compile(r'\{\s*"messageId"\s*:\s*(\d+)\s*,')
"""The server writes messageId first (protocol/codec.py `encode`); other layouts are decoded
the ordinary way."""

ObjectLine = bytes
"""One ConnectorObject as one line of compact JSON text, without its newline."""


class _Search(msgspec.Struct):
    connectorObjects: list[msgspec.Raw] | None = None
    result: msgspec.Raw = msgspec.Raw()  # empty when absent (msgspec takes no Raw | None)
    scanned: int | None = None


class _Operation(msgspec.Struct):
    search: _Search


class _Response(msgspec.Struct):
    operation: _Operation


class _Part(msgspec.Struct):
    messageId: int
    response: _Response


class _Uid(msgspec.Struct):
    value: str


class _Shape(msgspec.Struct):
    """What every printer relies on; other fields are carried as they are."""

    objectClass: str
    uid: _Uid
    attributes: msgspec.Raw = msgspec.Raw()  # empty when absent; kept as text, not built


_PART = msgspec.json.Decoder(_Part)
_SHAPE = msgspec.json.Decoder(_Shape)


@dataclass(frozen=True, slots=True)
class RawPart:
    """One search part, read but not validated beyond each object's objectClass and uid."""

    message_id: int
    objects: list[ObjectLine]
    result: bytes | None
    error: FrameError | None = None
    scanned: int | None = None


def raw_part(message: str | bytes, wanted: set[int]) -> RawPart | None:
    """The search part in `message` when it answers one of `wanted`; None for anything else
    (which the caller decodes as usual)."""
    head = message[:40]
    if isinstance(head, bytes):
        head = head.decode("ascii", "replace")
    match = _HEAD.match(head)
    if match is None or int(match[1]) not in wanted:
        return None
    message_id = int(match[1])
    try:
        part = _PART.decode(message)
    except msgspec.ValidationError as exc:
        if not _is_search_part(message):
            return None  # an error, another answer: read the ordinary way
        problem = f"search part: {exc}"
        return RawPart(message_id, [], None, FrameError(problem, message_id=message_id))
    except msgspec.DecodeError:
        return None  # not JSON: the ordinary way says what is wrong
    search = part.response.operation.search
    if search.scanned is not None and search.scanned < 0:
        problem = "search part: scanned must be a count"
        return RawPart(message_id, [], None, FrameError(problem, message_id=message_id))
    lines: list[ObjectLine] = []
    for index, raw in enumerate(search.connectorObjects or ()):
        line = _line(raw)
        if line is None:
            problem = f"search part: connectorObjects[{index}] is not a ConnectorObject"
            return RawPart(message_id, [], None, FrameError(problem, message_id=message_id))
        lines.append(line)
    result = bytes(search.result) or None
    if result == b"null":
        result = None
    if result is not None and not result.startswith(b"{"):
        problem = "search part: result must be an object"
        return RawPart(message_id, [], None, FrameError(problem, message_id=message_id))
    return RawPart(message_id, lines, result, scanned=search.scanned)


def _is_search_part(message: str | bytes) -> bool:
    try:
        data = orjson.loads(message)
        return isinstance(data["response"]["operation"]["search"], dict)
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return False


def _line(raw: msgspec.Raw) -> ObjectLine | None:
    """The object as one line, or None when it is not a ConnectorObject."""
    try:
        shape = _SHAPE.decode(raw)
    except msgspec.DecodeError:
        return None
    attributes = memoryview(shape.attributes)  # looked at, not copied
    if attributes and attributes[0] != ord("{"):  # the part parsed: "{" is an object
        return None
    text = bytes(raw)
    if not attributes or b"\n" in text or b"\r" in text:
        # Written with line breaks, or without attributes: rewritten on one line, attributes
        # always present (as every ConnectorObject the ordinary path prints).
        obj = orjson.loads(text)
        obj.setdefault("attributes", {})
        return orjson.dumps(obj)
    return text


def object_lines(objects: list[dict[str, Any]]) -> list[ObjectLine]:
    """Objects decoded the ordinary way, as the lines the fast path gives."""
    return [orjson.dumps(o) for o in objects]


def object_dicts(lines: list[ObjectLine]) -> list[dict[str, Any]]:
    """The objects as dicts, where they are to be renamed or indented."""
    return [orjson.loads(line) for line in lines]
