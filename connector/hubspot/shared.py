"""What a configuration's connector instances share: HTTP to HubSpot, the schema it read, the
coalescer that turns their reads and updates by id into batches, and the record of creates that
keeps one create's recovery from taking another's object."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from connector.base import ConnectorContext
from connector.hubspot.coalesce import Coalescer
from connector.hubspot.http import HubspotHttp
from connector.hubspot.schema import CRM_TYPES, PropertyCatalog, PropertyDef, builtin_catalog

CLOCK_SKEW_MS = 5_000
"""How far HubSpot's clock may be behind ours when a create's `createdAt` is compared with the
moment it was sent: an object created earlier than that is not this create's (records.py)."""

RETURNED_MAX = 100_000
"""The most uids `Creates` remembers, whatever their age (a few MB at most)."""

SCHEMA_TTL_S = 600.0
"""How long a schema read from HubSpot (`readSchema`) is used before it is read again."""


@dataclass(eq=False, slots=True)
class RunningCreate:
    """A create under way on this configuration."""

    object_class: str
    started: float = field(default_factory=time.monotonic)
    sending: bool = True
    """Whether one of its attempts may be in flight, its answer (and uid) still to come; false
    while it looks for what an ambiguous attempt made, and once it has ended."""
    settled: int = 0
    """How many times it stopped sending: a waiter sees it moved on."""


class Creates:
    """The creates of one configuration: those running, and the uids they returned.

    A create whose answer was ambiguous looks for what it made among objects created since it
    began; an object another create on this configuration returned (answered, or found by its
    own recovery) is never its own (docs/hubspot-connector.md, "Creates and lost answers"). Its
    recovery first waits until every create of the class that was sending when it found the
    object has stopped (answered, failed, or gone to look for what it made), so that an answer
    still on its way is counted; then it claims the object, first claim wins.

    The bound: a recovery only accepts objects created at most `CLOCK_SKEW_MS` before its create
    began, so a uid returned longer than that before the oldest running create began (or
    before now, when none runs) can never be one a recovery would accept, and is forgotten. So
    the uids kept are those returned while the oldest running create has been running, plus
    5 s; at most `RETURNED_MAX` in any case (the oldest go first), which only a create running
    while 100,000 others were answered would outlast.

    This holds within one server process: creates made by another server on the same HubSpot
    account are not known here (docs/hubspot-connector.md, "Limits and differences").
    """

    def __init__(self) -> None:
        self._running: set[RunningCreate] = set()
        self._returned: dict[tuple[str, str], float] = {}
        """(object class, id) -> `time.monotonic()` when a create returned it, oldest first."""
        self._changed = asyncio.Event()

    def begin(self, object_class: str) -> RunningCreate:
        create = RunningCreate(object_class)
        self._running.add(create)
        return create

    def sending(self, create: RunningCreate, sending: bool) -> None:
        """It goes to look for what it made (False), or sends again (True)."""
        if create.sending and not sending:
            create.settled += 1
            self._notify()
        create.sending = sending

    def end(self, create: RunningCreate, uid: str | None) -> None:
        """It ended, returning `uid` (None: it failed)."""
        self._running.discard(create)
        if uid is not None:
            self._returned.pop((create.object_class, uid), None)
            self._returned[(create.object_class, uid)] = time.monotonic()
        self.sending(create, False)
        self._forget_old()

    def taken(self, create: RunningCreate, uid: str) -> bool:
        """Whether another create returned `uid`."""
        return (create.object_class, uid) in self._returned

    def claim(self, create: RunningCreate, uid: str) -> bool:
        """Take `uid` for `create` unless another create returned it (first claim wins)."""
        if self.taken(create, uid):
            return False
        self._returned[(create.object_class, uid)] = time.monotonic()
        return True

    async def settle(self, create: RunningCreate) -> None:
        """Wait until every other create of its class sending now has stopped sending once."""
        waiting = {
            other: other.settled
            for other in self._running
            if other is not create and other.object_class == create.object_class and other.sending
        }
        while any(other.settled == count for other, count in waiting.items()):
            changed = self._changed
            await changed.wait()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def _forget_old(self) -> None:
        oldest = min((c.started for c in self._running), default=time.monotonic())
        horizon = oldest - CLOCK_SKEW_MS / 1000
        returned = self._returned
        while returned:
            key, at = next(iter(returned.items()))
            if at >= horizon and len(returned) <= RETURNED_MAX:
                break
            del returned[key]


class HubspotShared(HubspotHttp):
    """Shared by a configuration's instances: HTTP (see http.py) and the schema read from
    HubSpot's properties API."""

    def __init__(self, context: ConnectorContext) -> None:
        super().__init__(context)
        self._catalogs: dict[str, PropertyCatalog] | None = None
        self._catalogs_read_at = 0.0
        self._catalog_lock = asyncio.Lock()
        self.coalescer = Coalescer(self)
        """Reads and updates by id from every instance, sent as batches (coalesce.py)."""
        self.creates = Creates()
        """The creates running on this configuration and the uids they returned."""

    async def aclose(self) -> None:
        await self.coalescer.aclose()
        await super().aclose()

    async def catalogs(self) -> dict[str, PropertyCatalog]:
        if not self.config.readSchema:
            if self._catalogs is None:
                self._catalogs = {c: builtin_catalog(c) for c in CRM_TYPES}
            return self._catalogs
        if self._catalogs is not None and time.monotonic() - self._catalogs_read_at < SCHEMA_TTL_S:
            return self._catalogs
        async with self._catalog_lock:
            if self._catalogs is None or time.monotonic() - self._catalogs_read_at >= SCHEMA_TTL_S:
                read = {}
                for object_class, crm in CRM_TYPES.items():
                    answer = await self.request(
                        "GET",
                        f"/crm/v3/properties/{crm.path}",
                        action=f"read the {object_class} properties",
                    )
                    results = (answer.body or {}).get("results") or []
                    read[object_class] = PropertyCatalog(
                        crm, [PropertyDef.from_api(p) for p in results if not p.get("archived")]
                    )
                self._catalogs, self._catalogs_read_at = read, time.monotonic()
            return self._catalogs

    def forget_schema(self) -> None:
        """A property definition changed: read the schema again next time."""
        if self.config.readSchema:
            self._catalogs = None
