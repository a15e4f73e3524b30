"""Running a search plan: HubSpot's pages in, ICF pages out, with an opaque cookie.

Each plan reads HubSpot in pages (`Chunk`):
- the list endpoint, 100 per page, its own `after` cursor (docs/hubspot.md §1.3);
- search by keyset: sorted by `hs_object_id`, each page asking for ids past the last one seen.
  That is how a search matching more than 10,000 objects returns all of them (search refuses to
  page past 10,000, §1.7), and the cursor survives inserts and deletes;
- search sorted on another property: `after` offsets, which HubSpot caps at 10,000;
- reads by id: through the configuration's coalescer (coalesce.py), which sends a get or batch
  reads of 100 (§1.6); ordered as asked.

The cookie says where the next ICF page starts: the HubSpot cursor of the page the last object
came from, plus how many objects of that page were consumed (or, for keyset search, just the
last id). `pageSize` counts objects after the local filter; `pagedResultsOffset` (from 1) skips
that many minus one matches.

A full read (no pageSize) asks for the next HubSpot page as soon as one arrives, while the
pages before it are read and sent: at most two pages ahead.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from connector.base import SearchPage
from connector.hubspot.planner import (
    ListAll,
    Plan,
    ReadByIds,
    SearchCall,
    with_cursor,
)
from connector.hubspot.schema import CrmType
from connector.hubspot.shared import HubspotShared
from connector.hubspot.values import ObjectReader
from protocol.errors import ConnectorException, InvalidAttributeValueException
from protocol.filters import Filter, matcher
from protocol.values import (
    ConnectorObject,
    CountPolicy,
    OperationOptions,
    SearchResult,
)

LIST_PAGE = 100
SEARCH_PAGE = 200
SEARCH_CAP = 10_000


@dataclass(frozen=True, slots=True)
class Chunk:
    """One HubSpot page."""

    objects: Sequence[dict[str, Any]]
    cursor: str | None
    """The cursor that fetched this page (what a cookie resumes from)."""
    next: str | None
    """The cursor of the next page; None on the last."""
    total: int | None = None


@dataclass(frozen=True, slots=True)
class Position:
    cursor: str | None = None
    skip: int = 0

    def encode(self) -> str:
        raw = json.dumps({"c": self.cursor, "s": self.skip}, separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, cookie: str) -> Position:
        try:
            padded = cookie + "=" * (-len(cookie) % 4)
            data = json.loads(base64.urlsafe_b64decode(padded))
            cursor, skip = data["c"], data["s"]
            if (cursor is None or isinstance(cursor, str)) and isinstance(skip, int) and skip >= 0:
                return cls(cursor, skip)
        except (ValueError, KeyError, TypeError):
            pass
        raise InvalidAttributeValueException("pagedResultsCookie is not one this connector made")


@dataclass(frozen=True, slots=True)
class Sort:
    property: str
    ascending: bool


Fetch = Callable[[str | None], Awaitable[Chunk]]


class SearchRun:
    """One search: a plan, the properties to read, a sort, and the paging options."""

    def __init__(
        self,
        http: HubspotShared,
        crm: CrmType,
        reader: ObjectReader,
        plan: Plan,
        filter: Filter | None,
        properties: Sequence[str],
        sort: Sort | None,
        options: OperationOptions,
    ) -> None:
        self.http = http
        self.crm = crm
        self.reader = reader
        self.plan = plan
        self.filter = filter
        self.properties = list(properties)
        self.sort = sort
        self.options = options
        self.base = f"/crm/v3/objects/{crm.path}"

    # -- fetching ------------------------------------------------------------------------

    def _fetcher(self) -> tuple[Fetch, bool]:
        """How to fetch a page from a cursor, and whether the cursor is a keyset id."""
        plan, sort = self.plan, self.sort
        if isinstance(plan, ReadByIds):
            return self._fetch_ids, False
        if isinstance(plan, ListAll) and sort is None:
            return self._fetch_list, False
        groups = plan.groups if isinstance(plan, SearchCall) else ()
        if sort is None or sort.property == "hs_object_id":
            ascending = sort is None or sort.ascending

            async def keyset(cursor: str | None) -> Chunk:
                return await self._fetch_keyset(groups, cursor, ascending)

            return keyset, True

        async def offset(cursor: str | None) -> Chunk:
            return await self._fetch_sorted(groups, cursor)

        return offset, False

    async def _fetch_list(self, cursor: str | None) -> Chunk:
        limit = LIST_PAGE
        if self.filter is None and self.options.pageSize and not self.options.pagedResultsOffset:
            limit = min(LIST_PAGE, self.options.pageSize)  # one IDM page, one HubSpot page
        params = {"limit": str(limit), "properties": ",".join(self.properties)}
        if cursor is not None:
            params["after"] = cursor
        answer = await self.http.request(
            "GET", self.base, params=params, action=f"list {self.crm.path}"
        )
        body = answer.body or {}
        return Chunk(body.get("results") or [], cursor, _next_after(body))

    async def _fetch_keyset(
        self, groups: Sequence[tuple[dict[str, Any], ...]], cursor: str | None, ascending: bool
    ) -> Chunk:
        request = {
            "filterGroups": with_cursor(groups, cursor, ascending=ascending),
            "sorts": [
                {
                    "propertyName": "hs_object_id",
                    "direction": "ASCENDING" if ascending else "DESCENDING",
                }
            ],
            "properties": self.properties,
            "limit": SEARCH_PAGE,
        }
        answer = await self.http.request(
            "POST",
            self.base + "/search",
            json_body=request,
            search=True,
            action=f"search {self.crm.path}",
        )
        body = answer.body or {}
        results = body.get("results") or []
        more = bool(results) and (_next_after(body) is not None or len(results) >= SEARCH_PAGE)
        return Chunk(results, cursor, str(results[-1]["id"]) if more else None, body.get("total"))

    async def _fetch_sorted(
        self, groups: Sequence[tuple[dict[str, Any], ...]], cursor: str | None
    ) -> Chunk:
        assert self.sort is not None
        after = int(cursor or 0)
        request: dict[str, Any] = {
            "filterGroups": with_cursor(groups, None),
            "sorts": [
                {
                    "propertyName": self.sort.property,
                    "direction": "ASCENDING" if self.sort.ascending else "DESCENDING",
                }
            ],
            "properties": self.properties,
            "limit": SEARCH_PAGE,
            "after": str(after),
        }
        answer = await self.http.request(
            "POST",
            self.base + "/search",
            json_body=request,
            search=True,
            action=f"search {self.crm.path}",
        )
        body = answer.body or {}
        following = _next_after(body)
        if following is not None and int(following) >= SEARCH_CAP:
            raise ConnectorException(
                f"HubSpot returns at most {SEARCH_CAP} results of a search sorted on "
                f"'{self.sort.property}'; sort on __UID__ (or not at all) to read them all, or "
                "narrow the filter"
            )
        return Chunk(body.get("results") or [], cursor, following, body.get("total"))

    async def _fetch_ids(self, cursor: str | None) -> Chunk:
        """Every object asked for, in the order asked (a cookie's cursor is never used)."""
        assert isinstance(self.plan, ReadByIds)
        ids, id_property = self.plan.ids, self.plan.id_property
        if not ids:
            return Chunk([], None, None)
        # Through the coalescer: batches of 100, shared with other operations' reads.
        coalescer = self.http.coalescer
        distinct = list(dict.fromkeys(i.lower() if id_property is not None else i for i in ids))
        async with asyncio.TaskGroup() as group:
            reads = [
                group.create_task(coalescer.read(self.crm, i, self.properties, id_property))
                for i in distinct
            ]
        found = {k: r.result() for k, r in zip(distinct, reads, strict=True)}
        ordered = [obj for obj in found.values() if obj is not None]
        if self.sort is not None:
            ordered = _sorted_locally(ordered, self.sort)
        return Chunk(ordered, None, None)

    # -- paging --------------------------------------------------------------------------

    async def pages(self) -> AsyncIterator[SearchPage]:
        options = self.options
        page_size = options.pageSize
        offset = options.pagedResultsOffset
        start = Position()
        if (offset is None or offset < 1) and options.pagedResultsCookie:
            start = Position.decode(options.pagedResultsCookie)
        to_skip = offset - 1 if offset is not None and offset > 1 else 0
        consumed = to_skip  # matches before this page: they count against HubSpot's total
        fetch, keyset = self._fetcher()
        flt, reader = self.filter, self.reader
        keep = None if flt is None else matcher(flt)
        emitted = 0
        scanned = 0  # objects read from HubSpot, reported when the filter is applied here
        total: int | None = None
        exact = isinstance(self.plan, SearchCall) and self.plan.exact and flt is not None
        exact |= self.filter is None and isinstance(self.plan, ListAll)
        if (
            self._wants_count
            and not options.pagedResultsCookie
            and isinstance(self.plan, ListAll)
            and flt is None
        ):
            total = await self._count_all()  # the list endpoint has no total; search has
        async for chunk in _ahead(fetch, start.cursor, prefetch=page_size is None):
            if total is None and chunk.total is not None:
                total = chunk.total
            skip = start.skip if chunk.cursor == start.cursor else 0
            batch: list[ConnectorObject] = []
            objects = chunk.objects
            for index in range(skip, len(objects)):
                scanned += 1
                obj = reader.read(objects[index])
                if keep is not None and not keep(obj):
                    continue
                if to_skip:
                    to_skip -= 1
                    continue
                batch.append(obj)
                if page_size is not None and emitted + len(batch) >= page_size:
                    emitted += len(batch)
                    more = index + 1 < len(objects) or chunk.next is not None
                    cookie = None
                    if more:
                        if keyset:
                            here = Position(obj.uid.value)
                        elif index + 1 == len(objects):
                            here = Position(chunk.next)  # the next page, from its start
                        else:
                            here = Position(chunk.cursor, index + 1)
                        cookie = here.encode()
                    result = self._result(cookie, total, consumed + emitted, exact)
                    yield SearchPage(batch, result, scanned=scanned if flt else None)
                    return
            emitted += len(batch)
            if chunk.next is None:
                result = self._result(None, total, consumed + emitted, exact)
                yield SearchPage(batch, result, scanned=scanned if flt else None)
                return
            if batch:
                yield SearchPage(batch, scanned=scanned if flt else None)

    @property
    def _wants_count(self) -> bool:
        return self.options.totalPagedResultsPolicy == CountPolicy.EXACT

    async def _count_all(self) -> int | None:
        """Every object of the type, counted by a search without filters (HubSpot's `total`)."""
        answer = await self.http.request(
            "POST",
            f"{self.base}/search",
            json_body={"limit": 1, "properties": ["hs_object_id"]},
            action=f"count {self.crm.path}",
            search=True,
        )
        total = (answer.body or {}).get("total")
        return total if isinstance(total, int) else None

    def _result(
        self, cookie: str | None, total: int | None, consumed: int, exact: bool
    ) -> SearchResult:
        """The SearchResult after `consumed` of HubSpot's `total` matches (counted from where
        this call started)."""
        if cookie is None:
            if self._wants_count and not self.options.pagedResultsCookie:
                # Every match was seen from the first on: the count is exact whatever the plan.
                return SearchResult(
                    remainingPagedResults=0,
                    totalPagedResultsPolicy=CountPolicy.EXACT,
                    totalPagedResults=consumed,
                )
            return (
                SearchResult(remainingPagedResults=0) if self.options.pageSize else SearchResult()
            )
        if total is None or not exact:
            return SearchResult(pagedResultsCookie=cookie)
        first_page = not self.options.pagedResultsCookie
        return SearchResult(
            pagedResultsCookie=cookie,
            remainingPagedResults=max(0, total - consumed),
            totalPagedResultsPolicy=CountPolicy.EXACT if first_page else CountPolicy.NONE,
            totalPagedResults=total if first_page else -1,
        )


READ_AHEAD = 2
"""Pages a full read holds ahead of the one being sent, besides the one in flight."""


async def _ahead(fetch: Fetch, cursor: str | None, *, prefetch: bool) -> AsyncIterator[Chunk]:
    """HubSpot's pages from `cursor` on. With `prefetch`, a reader task asks for each next page
    the moment the one before it arrives, at most READ_AHEAD pages ahead.

    Each request needs the cursor of the page before it (docs/hubspot.md §1.3), so a full read
    is a chain of calls, and HubSpot is idle between an answer and the next request. Asking
    from the reader, not when the consumer wants the next page, keeps that gap to the time the
    answer takes to parse instead of the time a page takes to send."""
    if not prefetch:
        while True:
            chunk = await fetch(cursor)
            yield chunk
            if chunk.next is None:
                return
            cursor = chunk.next
    pages: asyncio.Queue[Chunk | BaseException] = asyncio.Queue(maxsize=READ_AHEAD - 1)

    async def read(cursor: str | None) -> None:
        following: asyncio.Future[Chunk] | None = None
        try:
            chunk = await fetch(cursor)
            while True:
                if chunk.next is not None:  # asked for before this page waits for room
                    following = asyncio.ensure_future(fetch(chunk.next))
                await pages.put(chunk)
                if following is None:
                    return
                chunk, following = await following, None
        except Exception as exc:  # the consumer raises it, where a lone fetch would
            await pages.put(exc)
        finally:
            if following is not None:
                following.cancel()

    reader = asyncio.create_task(read(cursor))
    try:
        while True:
            item = await pages.get()
            if isinstance(item, BaseException):
                raise item
            yield item
            if item.next is None:
                return
    finally:
        reader.cancel()  # a cancelled or abandoned read stops the call in flight


def _next_after(body: dict[str, Any]) -> str | None:
    following = ((body.get("paging") or {}).get("next") or {}).get("after")
    return None if following in (None, "") else str(following)


def _sorted_locally(objects: list[dict[str, Any]], sort: Sort) -> list[dict[str, Any]]:
    def key(obj: dict[str, Any]) -> tuple[bool, int, str]:
        if sort.property == "hs_object_id":
            return (False, int(obj["id"]), "")
        value = (obj.get("properties") or {}).get(sort.property)
        return (value is None, 0, str(value or ""))

    return sorted(objects, key=key, reverse=not sort.ascending)
