"""Search results as the wire's JSON, for printing: each object's text as the server wrote it,
its shape checked, never validated into models and dumped back.

Where a search's objects are only to be printed (`hubspot-rcs-client search`), turning each one
into a pydantic `ConnectorObject` and then back into JSON is most of the client's time (see
docs/benchmarks.md). A `RawSearch` registers its request with the client's reader, which hands
it each search part as lines of JSON text (client/rawparts.py). Every other frame of the request
(an error, a frame whose layout this does not recognise) takes the ordinary path.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from pydantic import ValidationError

from client.connection import Facade, RcsClient, _Stream
from client.rawparts import ObjectLine, RawPart, object_lines
from protocol.codec import FrameError, exception_from
from protocol.filters import Filter
from protocol.frames import RequestBody, ResponseFrame, SearchOpRequest
from protocol.values import OperationOptions, SearchResult


class RawSearch(_Stream):
    """A search whose objects arrive as lines of JSON text, page by page; `result` at the end.

    Cancelled when left before its end, like `SearchResults`."""

    raw = True

    def __init__(self, client: RcsClient, body: RequestBody, timeout_s: float | None) -> None:
        super().__init__(client, body, timeout_s)
        self.result: SearchResult | None = None
        self.count = 0
        self.scanned: int | None = None

    async def pages(self) -> AsyncIterator[list[ObjectLine]]:
        """The objects part by part, as the server sent them."""
        while not self.done:
            objects, result = self._part(await self._next_frame())
            if isinstance(result, SearchResult):
                self.result = result
                self._finish()
            elif result is not None:  # the wire's JSON, checked as strictly as any frame
                try:
                    self.result = SearchResult.model_validate_json(result)
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

    def _part(self, frame: RawPart | ResponseFrame) -> tuple[list[ObjectLine], Any]:
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
        return object_lines(objects), search.result


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
