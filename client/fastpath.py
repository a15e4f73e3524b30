"""Search results as the wire's JSON, for printing: parsed once (orjson), never validated into
models and dumped back.

Where a search's objects are only to be printed (`hubspot-rcs-client search`), turning each one
into a pydantic `ConnectorObject` and then back into JSON is most of the client's time (see
docs/benchmarks.md). A `RawSearch` registers its request with the client's reader, which hands
it each search part as parsed JSON: objects as the dicts the server wrote (docs/protocol.md,
`ConnectorObject`), checked for the fields every object has. Every other frame of the request
(an error, a frame whose layout this does not recognise) takes the ordinary path.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Self

import orjson
from pydantic import ValidationError

from protocol.codec import FrameError, exception_from
from protocol.errors import OperationTimeoutException
from protocol.filters import Filter
from protocol.frames import RequestBody, RequestFrame, ResponseFrame, SearchOpRequest
from protocol.values import OperationOptions, SearchResult

if TYPE_CHECKING:
    from client.connection import Facade, RcsClient, _Pending

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


class RawSearch:
    """A search whose objects arrive as dicts, page by page; `result` at the end.

    Cancelled when left before its end, like `SearchResults`."""

    def __init__(self, client: RcsClient, body: RequestBody, timeout_s: float | None) -> None:
        self._client = client
        self._body = body
        self._timeout_s = timeout_s
        self._pending: _Pending | None = None
        self.request_id: int | None = None
        self.done = False
        self.result: SearchResult | None = None
        self.count = 0
        self.scanned: int | None = None

    async def __aenter__(self) -> Self:
        client = self._client
        self.request_id, self._pending = client._open(client._stream_queue_frames)
        client._raw_ids.add(self.request_id)
        await client._send(RequestFrame(messageId=self.request_id, request=self._body))
        return self

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.shield(self.aclose())

    async def aclose(self) -> None:
        if self.request_id is None:
            return
        self._client._raw_ids.discard(self.request_id)
        if not self.done:
            self.done = True
            try:
                await self._client._cancel_quietly(self.request_id)
            finally:
                self._client._forget(self.request_id)

    def _finish(self) -> None:
        self.done = True
        if self.request_id is not None:
            self._client._raw_ids.discard(self.request_id)
            self._client._forget(self.request_id)

    async def pages(self) -> AsyncIterator[list[RawObject]]:
        """The objects part by part, as the server sent them."""
        assert self._pending is not None, "use it as `async with`"
        while not self.done:
            try:
                async with asyncio.timeout(self._timeout_s):
                    frame = await self._pending.take()
            except TimeoutError:
                await self.aclose()
                raise OperationTimeoutException(
                    f"no answer part within {self._timeout_s} s; the request was cancelled"
                ) from None
            objects, result = self._part(frame)
            if isinstance(result, SearchResult):
                self.result = result
                self._finish()
            elif result is not None:  # the wire's JSON, checked as strictly as any frame
                try:
                    self.result = SearchResult.model_validate_json(orjson.dumps(result))
                except ValidationError as exc:
                    self._finish()
                    raise FrameError(
                        f"search part: result is not a SearchResult: {exc}",
                        message_id=self.request_id,
                    ) from None
                self._finish()
            self.count += len(objects)
            if objects:
                yield objects

    def _part(self, frame: RawPart | ResponseFrame) -> tuple[list[RawObject], Any]:
        if isinstance(frame, RawPart):
            if frame.error is not None:
                self._finish()
                raise frame.error
            self.scanned = frame.scanned if frame.scanned is not None else self.scanned
            return frame.objects, frame.result
        # Decoded the ordinary way: an error, or a layout the fast path does not read.
        if frame.response.error is not None:
            self._finish()
            raise exception_from(frame.response.error)
        operation = frame.response.operation
        search = operation.search if operation is not None else None
        if search is None:
            self._finish()
            raise FrameError("a search was answered with another kind of part", message_id=None)
        self.scanned = search.scanned if search.scanned is not None else self.scanned
        objects = [
            o.model_dump(mode="json", by_alias=True, exclude_none=True)
            for o in search.connectorObjects
        ]
        return objects, search.result


def dumps_lines(objects: list[Any]) -> str:
    """JSON lines, one an object, each serialised once."""
    return b"".join(orjson.dumps(o) + b"\n" for o in objects).decode()


def raw_search(
    facade: Facade,
    object_class: str,
    filter: Filter | None,
    options: OperationOptions,
    *,
    timeout_s: float | None = None,
) -> RawSearch:
    """`facade.search`, its objects as dicts (use it as `async with`)."""
    op = SearchOpRequest(objectClass=object_class, filter=filter, options=options)
    return RawSearch(facade.client, facade.request(search=op), timeout_s)
