"""Coalescing: reads and updates by id from concurrent operations go out as HubSpot batches.

IDM reconciles by listing ids and then reading each object from several threads, and updates
each changed object with its own call. At HubSpot's limits (100 to 190 calls per 10 s,
docs/hubspot.md §4) one call per object is the bottleneck; a batch call takes 100 objects
(§1.6). A configuration's instances share one `Coalescer` (shared.py), so reads and updates
from every operation on the configuration meet here:

- a read by id (a get, or a search that is equality on `__UID__` or `__NAME__`) joins its
  lane's queue; reads of the same id share one input, and the callers' property sets are merged.
  Each caller gets the object projected to its own properties (what a lone get returns: the
  properties asked for, plus `hs_object_id`, `createdate` and the last-modified property, §1.4),
  or its own not-found from the batch's per-object errors (207, §1.2);
- an update (REPLACE) joins the update lane; one id appears at most once in a batch (a second
  update of it waits for the next one, so updates of one object keep their order). A batch that
  HubSpot refuses as a whole for its content (400, 409: the batch fails for one bad input) is
  sent again one update at a time, so each caller gets its own answer;
- creates are not coalesced: batch create gives a per-object answer only with an
  `objectWriteTraceId` per input, and a create that failed without an answer is recovered by
  looking the object up, which only works object by object (records.py).

The window adapts: a lane's flusher takes a rate-limiter permit first and only then takes what
waits, up to 100 ids. A request that finds a permit free goes out at once, alone (a plain get or
PATCH, as without coalescing); when permits run short, requests wait behind the limiter and the
next permit carries every one of them. When the permit had to be waited for, the flusher also
waits (at most one permit's interval) for as many requests as the last batch carried: IDM's
readers come back one round trip after their answer. Batches in flight do not hold up the next.

Each caller waits on its own future: a cancelled caller (IDM's cancel, an operation timeout)
leaves its queue, or, once its batch is sent, ignores the answer; the others are not disturbed.
An error of the batch call itself (after http.py's retries) reaches every caller in it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from connector.hubspot.errors import error_for
from connector.hubspot.schema import CrmType
from protocol.errors import ConnectorException

if TYPE_CHECKING:
    from connector.hubspot.http import HubspotHttp

BATCH_MAX = 100
"""Inputs per batch call (docs/hubspot.md §1.6)."""

_NO_WAIT_S = 0.002
"""A permit that took longer than this was waited for: requests are queueing."""
_MAX_GATHER_S = 0.1

_NOT_FOUND = "OBJECT_NOT_FOUND"
_SENT_ONE_BY_ONE = frozenset({400, 409})
"""Statuses of a batch update that one input can cause: each update is then sent alone."""


@dataclass(eq=False, slots=True)
class _Request:
    """One caller's read or update of one id."""

    id: str
    key: str
    """What the id is matched on in the answer (hs_object_id, or the lowercased idProperty)."""
    properties: tuple[str, ...] = ()
    values: dict[str, str] = field(default_factory=dict)
    future: asyncio.Future[Any] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


Send = Callable[[list[_Request]], Awaitable[None]]


class _Lane:
    """The queue of one kind of request on one object type: a flusher takes a permit, then
    everything waiting (up to `BATCH_MAX` ids), and sends it."""

    def __init__(self, http: HubspotHttp, send: Send, *, one_per_key: bool) -> None:
        self._http = http
        self._send = send
        self._one_per_key = one_per_key
        self._pending: list[_Request] = []
        self._flusher: asyncio.Task[None] | None = None
        self._in_flight: set[asyncio.Task[None]] = set()
        self._arrived = asyncio.Event()
        self._last_batch = 0
        """How many requests the last batch carried: as many are expected in the next."""

    async def submit(self, request: _Request) -> Any:
        self._pending.append(request)
        self._arrived.set()
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush())
        try:
            return await request.future
        except asyncio.CancelledError:
            if request in self._pending:  # not sent yet: leave the queue
                self._pending.remove(request)
            raise

    def _take(self) -> list[_Request]:
        keys: set[str] = set()
        taken: list[_Request] = []
        kept: list[_Request] = []
        for request in self._pending:
            fits = request.key in keys and not self._one_per_key
            if not fits and request.key not in keys and len(keys) < BATCH_MAX:
                keys.add(request.key)
                fits = True
            (taken if fits else kept).append(request)
        self._pending = kept
        return taken

    async def _flush(self) -> None:
        http = self._http
        try:
            while self._pending:
                # The permit first: whatever queues while it is awaited goes in this batch.
                asked = time.monotonic()
                await http.limiter.acquire(search=False, waited=http.metrics.waited)
                if time.monotonic() - asked > _NO_WAIT_S:
                    await self._gather()
                batch = self._take()
                self._last_batch = len(batch)
                if not batch:
                    continue  # every caller left while the permit was awaited
                task = asyncio.create_task(self._deliver(batch))
                self._in_flight.add(task)
                task.add_done_callback(self._in_flight.discard)
        except Exception as exc:  # the limiter failed: no one may be left waiting
            _fail(self._pending, exc)
            self._pending = []
            raise
        finally:
            self._flusher = None

    async def _gather(self) -> None:
        """Requests queue behind the limiter: the callers of the last batch are likely on
        their way back (each answered, each asking again); wait for them a little, at most one
        permit's interval, which the token bucket banks meanwhile (ratelimit.py)."""
        deadline = time.monotonic() + min(_MAX_GATHER_S, 1.0 / self._http.config.permitsPerSecond)
        while len(self._pending) < min(self._last_batch, BATCH_MAX):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            self._arrived.clear()
            try:
                async with asyncio.timeout(remaining):
                    await self._arrived.wait()
            except TimeoutError:
                return

    async def _deliver(self, batch: list[_Request]) -> None:
        try:
            await self._send(batch)
        except ConnectorException as exc:
            _fail(batch, exc)
        except asyncio.CancelledError:
            for request in batch:
                request.future.cancel()
            raise
        except Exception as exc:  # a bug must not leave callers waiting forever
            _fail(batch, exc)
            raise

    async def aclose(self) -> None:
        tasks = [t for t in (self._flusher, *self._in_flight) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for request in self._pending:
            request.future.cancel()
        self._pending = []


def _fail(batch: Iterable[_Request], exc: BaseException) -> None:
    for request in batch:
        if not request.future.done():
            request.future.set_exception(exc)


def _answer(request: _Request, value: Any) -> None:
    if not request.future.done():
        request.future.set_result(value)


class Coalescer:
    """The read and update lanes of one configuration (one per `HubspotShared`)."""

    def __init__(self, http: HubspotHttp) -> None:
        self._http = http
        self._lanes: dict[tuple[str, str, str | None], _Lane] = {}

    def _lane(self, kind: str, crm: CrmType, id_property: str | None) -> _Lane:
        key = (kind, crm.path, id_property)
        lane = self._lanes.get(key)
        if lane is None:
            if kind == "read":

                async def send(batch: list[_Request]) -> None:
                    await self._read(crm, id_property, batch)

                lane = _Lane(self._http, send, one_per_key=False)
            else:

                async def send(batch: list[_Request]) -> None:
                    await self._update(crm, batch)

                lane = _Lane(self._http, send, one_per_key=True)
            self._lanes[key] = lane
        return lane

    async def read(
        self,
        crm: CrmType,
        id_: str,
        properties: Iterable[str],
        id_property: str | None = None,
    ) -> dict[str, Any] | None:
        """The object with this id (hs_object_id, or the value of `id_property`) as a get with
        these properties returns it; None when HubSpot has no such object."""
        key = id_.lower() if id_property is not None else _canonical(id_)
        request = _Request(id_, key, tuple(properties))
        result: dict[str, Any] | None = await self._lane("read", crm, id_property).submit(request)
        return result

    async def update(self, crm: CrmType, id_: str, values: dict[str, str]) -> dict[str, Any]:
        """Write these property values to the object; HubSpot's answer (the object)."""
        request = _Request(id_, _canonical(id_), values=values)
        result: dict[str, Any] = await self._lane("update", crm, None).submit(request)
        return result

    async def aclose(self) -> None:
        await asyncio.gather(*(lane.aclose() for lane in self._lanes.values()))
        self._lanes.clear()

    # -- reads ----------------------------------------------------------------------------

    async def _read(self, crm: CrmType, id_property: str | None, batch: list[_Request]) -> None:
        properties = list(dict.fromkeys(p for r in batch for p in r.properties))
        if id_property is not None and id_property not in properties:
            properties.append(id_property)  # what the answer's objects are matched on
        ids = list(dict.fromkeys(r.key for r in batch))
        base = f"/crm/v3/objects/{crm.path}"
        found: dict[str, dict[str, Any]] = {}
        missing: set[str] = set()
        failed: dict[str, ConnectorException] = {}
        if len(ids) == 1:
            params = {"properties": ",".join(properties)}
            if id_property is not None:
                params["idProperty"] = id_property
            answer = await self._http.request(
                "GET",
                f"{base}/{quote(batch[0].id, safe='')}",
                params=params,
                expect=frozenset({404}),
                acquired=True,
                action=f"read {crm.object_class} {batch[0].id}",
            )
            if answer.status != 404 and answer.body:
                found[ids[0]] = answer.body
        else:
            first = {r.key: r.id for r in reversed(batch)}
            body: dict[str, Any] = {
                "inputs": [{"id": first[k]} for k in ids],
                "properties": properties,
                "propertiesWithHistory": [],
            }
            if id_property is not None:
                body["idProperty"] = id_property
            answer = await self._http.request(
                "POST",
                base + "/batch/read",
                json_body=body,
                expect=frozenset({207}),
                acquired=True,
                action=f"batch read {len(ids)} {crm.path}",
            )
            result = answer.body or {}
            for obj in result.get("results") or []:
                if id_property is not None:
                    key = str((obj.get("properties") or {}).get(id_property) or "").lower()
                else:
                    key = str(obj.get("id"))
                found[key] = obj
            missing, failed = self._per_object_errors(
                result, id_property, action=f"read {crm.object_class}"
            )
        keep = {"hs_object_id", "createdate", crm.last_modified}
        for request in batch:
            obj = found.get(request.key)
            if obj is None:
                error = failed.get(request.key)
                if error is not None and request.key not in missing:
                    _fail([request], error)
                else:
                    _answer(request, None)
            else:
                _answer(request, _project(obj, keep.union(request.properties)))

    @staticmethod
    def _per_object_errors(
        result: dict[str, Any], id_property: str | None, *, action: str
    ) -> tuple[set[str], dict[str, ConnectorException]]:
        """The ids a 207 says were not found, and the ids of its other per-object errors."""
        missing: set[str] = set()
        failed: dict[str, ConnectorException] = {}
        for entry in result.get("errors") or []:
            if not isinstance(entry, dict):
                continue
            ids = (entry.get("context") or {}).get("ids") or []
            keys = [str(i).lower() if id_property is not None else _canonical(str(i)) for i in ids]
            if entry.get("category") == _NOT_FOUND:
                missing.update(keys)
                continue
            status = _status_of(entry)
            for key in keys:
                failed[key] = error_for(status, entry, action=f"{action} {key}")
        return missing, failed

    # -- updates --------------------------------------------------------------------------

    async def _update(self, crm: CrmType, batch: list[_Request]) -> None:
        base = f"/crm/v3/objects/{crm.path}"
        if len(batch) == 1:
            await self._patch_one(crm, batch[0], acquired=True)
            return
        answer = await self._http.request(
            "POST",
            base + "/batch/update",
            json_body={"inputs": [{"id": r.id, "properties": r.values} for r in batch]},
            expect=frozenset({207}) | _SENT_ONE_BY_ONE,
            acquired=True,
            action=f"batch update {len(batch)} {crm.path}",
        )
        if answer.status in _SENT_ONE_BY_ONE:
            # One input spoilt the whole batch: each update alone, each its own answer.
            await asyncio.gather(*(self._patch_one(crm, r, acquired=False) for r in batch))
            return
        result = answer.body or {}
        by_id = {str(obj.get("id")): obj for obj in result.get("results") or []}
        _, failed = self._per_object_errors(result, None, action=f"update {crm.object_class}")
        missing_entry = {"message": "resource not found", "category": _NOT_FOUND}
        for request in batch:
            obj = by_id.get(request.key)
            if obj is not None:
                _answer(request, obj)
            elif request.key in failed:
                _fail([request], failed[request.key])
            else:
                action = f"update {crm.object_class} {request.id}"
                _fail([request], error_for(404, missing_entry, action=action))

    async def _patch_one(self, crm: CrmType, request: _Request, *, acquired: bool) -> None:
        try:
            answer = await self._http.request(
                "PATCH",
                f"/crm/v3/objects/{crm.path}/{quote(request.id, safe='')}",
                json_body={"properties": request.values},
                acquired=acquired,
                action=f"update {crm.object_class} {request.id}",
            )
        except ConnectorException as exc:
            _fail([request], exc)
            return
        _answer(request, answer.body)


def _loop() -> asyncio.AbstractEventLoop:
    return asyncio.get_running_loop()


def _canonical(id_: str) -> str:
    """hs_object_id as HubSpot writes it (`007` reads object 7)."""
    return str(int(id_)) if id_.isdigit() else id_


def _project(obj: dict[str, Any], keep: set[str]) -> dict[str, Any]:
    """The object with only the properties one caller asked for (and those HubSpot always adds)."""
    properties = obj.get("properties") or {}
    return {**obj, "properties": {k: v for k, v in properties.items() if k in keep}}


def _status_of(entry: dict[str, Any]) -> int:
    """The HTTP status a per-object error stands for (its category; 400 when unknown)."""
    return {
        "OBJECT_NOT_FOUND": 404,
        "CONFLICT": 409,
        "VALIDATION_ERROR": 400,
        "RATE_LIMITS": 429,
    }.get(str(entry.get("category")), 400)
