"""Search parts read straight from the wire's JSON (orjson), for client/fastpath.py.

The client's reader hands a request registered as raw each of its search parts as a `RawPart`:
the objects as the dicts the server wrote (docs/protocol.md, `ConnectorObject`), checked for the
fields every object has, never validated into models. Anything else takes the ordinary path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import orjson

from protocol.codec import FrameError

_HEAD = re.compile(r'\{\s*"messageId"\s*:\s*(\d+)\s*,')
"""The server writes messageId first (protocol/codec.py `encode`); other layouts are decoded
the ordinary way."""

RawObject = dict[str, Any]


@dataclass(frozen=True, slots=True)
class RawPart:
    """One search part, parsed but not validated beyond each object's objectClass and uid."""

    message_id: int
    objects: list[RawObject]
    result: dict[str, Any] | None
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
        data = orjson.loads(message)
        search = data["response"]["operation"]["search"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return None
    if not isinstance(search, dict):
        return None
    objects = search.get("connectorObjects") or []
    result = search.get("result")
    scanned = search.get("scanned")
    problem = _check(objects, result)
    if scanned is not None and (type(scanned) is not int or scanned < 0):
        problem = "search part: scanned must be a count"
    if problem is not None:
        return RawPart(message_id, [], None, FrameError(problem, message_id=message_id))
    return RawPart(message_id, objects, result, scanned=scanned)


def _check(objects: object, result: object) -> str | None:
    """What is wrong with a part's objects, if anything (what every printer relies on)."""
    if not isinstance(objects, list):
        return "search part: connectorObjects must be a list"
    for index, obj in enumerate(objects):
        uid = obj.get("uid") if isinstance(obj, dict) else None
        if (
            not isinstance(obj, dict)
            or not isinstance(obj.get("objectClass"), str)
            or not isinstance(uid, dict)
            or not isinstance(uid.get("value"), str)
            or not isinstance(obj.setdefault("attributes", {}), dict)
        ):
            return f"search part: connectorObjects[{index}] is not a ConnectorObject"
    if result is not None and not isinstance(result, dict):
        return "search part: result must be an object"
    return None
