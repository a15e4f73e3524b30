"""Live sync: what changed in HubSpot since a token (ICF SyncOp, docs/openicf.md §5).

HubSpot keeps no change log, but every write moves an object's last-modified time
(`lastmodifieddate`, `hs_lastmodifieddate`; docs/hubspot.md §1.5), and archived objects are
listed with `archived=true` and their `archivedAt` (§1.3). A poll reads, per object class:

1. changes: one search sorted on the last-modified time, newest first, with no filter. When
   every change since the token is on that one page (fewer than 200), that is the whole poll,
   and its `total` is the count of live objects. Otherwise the changes are read oldest first
   with a filter on the last-modified time, each page a new search from the last time read (a
   keyset, so HubSpot's 10,000-result cap never applies, §1.7); a full page of objects that
   share one millisecond is read by `hs_object_id` keyset, as the search planner reads past the
   cap (planner.py, search.py).
2. deletes: search never shows archived objects (§1.7). The token counts the live objects the
   reader knows of; when the live count is less than that count plus the objects created since,
   something was archived, and the archived list is read for objects archived since the token.
   A poll that read more than one page of changes reads the archived list too.

Search lags writes (its indexing delay, §1.7). So a change is only taken as settled once it is
`syncLookBackSeconds` old: the token holds a horizon (every change up to it was delivered), and
the (id, last-modified time) of every change delivered after it; each poll reads from the
horizon and drops what it delivered already. The width is a configuration property; it must
exceed HubSpot's indexing delay, and costs only re-reading changes that recent.

Deltas come in order of change (for `__ALL__`, the two classes' changes merged by time; each
class's deletes after its changes). A delta is CREATE when its object was created after the
token and not delivered before, UPDATE otherwise, DELETE for an archived object. Each delta
carries the token that resumes right after it.

The token is opaque: `hs1.` and base64 of compressed JSON, naming the configuration it belongs
to (HubSpot's address and the app's client id) and its object class, so a token from elsewhere
is refused with a clear error rather than read wrongly.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
import zlib
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from connector.base import SyncPage
from connector.hubspot.associations import Associations, association_names
from connector.hubspot.configuration import HubspotConfiguration
from connector.hubspot.planner import with_cursor
from connector.hubspot.schema import CRM_TYPES, CrmType, PropertyCatalog
from connector.hubspot.search import SEARCH_PAGE
from connector.hubspot.shared import HubspotShared
from connector.hubspot.values import ObjectReader
from protocol.errors import (
    IllegalArgumentException,
    InvalidAttributeValueException,
    UnsupportedOperationException,
)
from protocol.values import (
    UID,
    ConnectorObject,
    OperationOptions,
    SyncDelta,
    SyncDeltaType,
    SyncToken,
    Uid,
)

ALL: Final = "__ALL__"
TOKEN_PREFIX: Final = "hs1."  # noqa: S105 - a format tag, not a secret
LIST_PAGE: Final = 100
PAGE_OUT: Final = 200
PAGE_OUT_BYTES: Final = 256 * 1024
"""Deltas sent to the server per SyncPage: at most this many, tokens of about this size."""
MID_SYNC_DEDUP_MAX: Final = 1000


def sync_classes(object_class: str) -> tuple[str, ...]:
    if object_class == ALL:
        return tuple(CRM_TYPES)
    if object_class in CRM_TYPES:
        return (object_class,)
    raise UnsupportedOperationException(
        f"sync is not supported on object class '{object_class}'; "
        f"use {', '.join(CRM_TYPES)} or {ALL}"
    )


@dataclass(slots=True)
class ClassState:
    """Where one object class's sync stands."""

    horizon: int
    """Epoch ms: every change up to it was delivered."""
    known: int
    """How many live objects the reader knows of (to notice archives)."""
    archived_since: int
    """Epoch ms: every archive up to it was delivered."""
    delivered: dict[str, int] = field(default_factory=dict)
    """id -> last-modified ms of changes delivered after `horizon`."""
    deleted: dict[str, int] = field(default_factory=dict)
    """id -> archivedAt ms of deletes delivered after `archived_since`."""

    def copy(self) -> ClassState:
        return ClassState(
            self.horizon,
            self.known,
            self.archived_since,
            dict(self.delivered),
            dict(self.deleted),
        )

    def to_json(self) -> list[Any]:
        h, a = self.horizon, self.archived_since
        return [h, self.known, a, _pack(self.delivered, h), _pack(self.deleted, a)]

    @classmethod
    def from_json(cls, data: Any) -> ClassState:
        h, known, a, delivered, deleted = data
        numbers = (h, known, a)
        if not all(isinstance(n, int) and not isinstance(n, bool) for n in numbers):
            raise ValueError("not numbers")
        return cls(h, known, a, _unpack(delivered, h), _unpack(deleted, a))

    def snapshot(self) -> ClassState:
        """The state for a delta's token in the middle of a sync: when many recent changes
        were delivered, they are left out (a sync resumed from there delivers them again;
        the last token of a sync always holds them), so that tokens stay small."""
        if len(self.delivered) + len(self.deleted) <= MID_SYNC_DEDUP_MAX:
            return self.copy()
        return ClassState(self.horizon, self.known, self.archived_since)


def _pack(times: dict[str, int], base: int) -> list[list[int]]:
    """id -> time as [id gaps, time gaps] in id order: bulk changes pack to small numbers."""
    ids, offsets, last_id, last_offset = [], [], 0, 0
    for id_, at in sorted(((int(i), t) for i, t in times.items())):
        ids.append(id_ - last_id)
        offsets.append(at - base - last_offset)
        last_id, last_offset = id_, at - base
    return [ids, offsets]


def _unpack(packed: Any, base: int) -> dict[str, int]:
    ids, offsets = packed
    if len(ids) != len(offsets):
        raise ValueError("ids and times differ in length")
    out: dict[str, int] = {}
    id_, offset = 0, 0
    for id_gap, offset_gap in zip(ids, offsets, strict=True):
        id_, offset = id_ + int(id_gap), offset + int(offset_gap)
        out[str(id_)] = base + offset
    return out


def fingerprint(config: HubspotConfiguration) -> str:
    """Which HubSpot account and app a token belongs to (not a secret: no credential in it)."""
    raw = f"{config.base_url}\n{config.clientId}".encode()
    return hashlib.sha256(raw).hexdigest()[:16]


def encode_token(key: str, object_class: str, states: dict[str, ClassState]) -> SyncToken:
    body = {"v": 1, "k": key, "o": object_class, "s": {c: s.to_json() for c, s in states.items()}}
    packed = zlib.compress(json.dumps(body, separators=(",", ":")).encode(), 6)
    return SyncToken(value=TOKEN_PREFIX + base64.urlsafe_b64encode(packed).decode().rstrip("="))


def decode_token(token: SyncToken, key: str, object_class: str) -> dict[str, ClassState]:
    """The states in a token this configuration made for this object class; else a clear error."""
    text = token.value if isinstance(token.value, str) else ""
    if not text.startswith(TOKEN_PREFIX):
        raise IllegalArgumentException(
            f"sync token {str(token.value)[:40]!r} is not a HubSpot sync token "
            "(get one with the latest sync token operation)"
        )
    try:
        packed = text[len(TOKEN_PREFIX) :]
        raw = zlib.decompress(base64.urlsafe_b64decode(packed + "=" * (-len(packed) % 4)))
        body = json.loads(raw)
        version, owner, made_for, states = body["v"], body["k"], body["o"], body["s"]
    except (ValueError, KeyError, TypeError, zlib.error):
        raise IllegalArgumentException(
            "sync token is damaged (it does not decode); start again from the latest sync token"
        ) from None
    if version != 1:
        raise IllegalArgumentException(f"sync token version {version!r} is not one this reads")
    if owner != key:
        raise IllegalArgumentException(
            "sync token was made for another HubSpot configuration (another apiBaseUrl or "
            "clientId); start again from this configuration's latest sync token"
        )
    if made_for != object_class:
        raise IllegalArgumentException(
            f"sync token was made for object class '{made_for}', not '{object_class}'"
        )
    try:
        decoded = {c: ClassState.from_json(s) for c, s in states.items()}
    except (ValueError, TypeError):
        raise IllegalArgumentException(
            "sync token is damaged (its positions do not read); start again from the latest "
            "sync token"
        ) from None
    if set(decoded) != set(sync_classes(object_class)):
        raise IllegalArgumentException("sync token is damaged (it names other object classes)")
    return decoded


def _ms(text: object) -> int:
    if not isinstance(text, str) or not text:
        return 0
    if text.isdigit():
        return int(text)
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True, slots=True)
class _Item:
    """A delta of one class, with that class's state right after it (None: the class is done
    and `state` is its final state)."""

    key: int
    object_class: str
    delta: SyncDelta | None
    state: ClassState


def _item(
    at: int,
    kind: SyncDeltaType,
    uid: Uid,
    obj: ConnectorObject | None,
    state: ClassState,
    object_class: str | None = None,
) -> _Item:
    """A delta at time `at`, its token to be set when it is sent."""
    object_class = obj.objectClass if obj is not None else object_class
    assert object_class is not None
    delta = SyncDelta(
        token=SyncToken(value=""),
        deltaType=kind,
        objectClass=object_class,
        uid=uid,
        connectorObject=obj,
    )
    return _Item(at, object_class, delta, state.snapshot())


class LiveSync:
    """SyncOp for contacts and companies."""

    def __init__(self, http: HubspotShared, associations: Associations) -> None:
        self.http = http
        self.associations = associations
        self._readers: dict[str, tuple[PropertyCatalog, ObjectReader]] = {}

    @property
    def key(self) -> str:
        return fingerprint(self.http.config)

    @property
    def look_back_ms(self) -> int:
        return int(self.http.config.syncLookBackSeconds * 1000)

    async def _reader(self, object_class: str) -> tuple[PropertyCatalog, ObjectReader]:
        catalog = (await self.http.catalogs())[object_class]
        cached = self._readers.get(object_class)
        if cached is None or cached[0] is not catalog:
            cached = (catalog, ObjectReader(catalog))
            self._readers[object_class] = cached
        return cached

    # -- latest token -------------------------------------------------------------------------

    async def latest_sync_token(self, object_class: str) -> SyncToken:
        states = {c: await self._latest(CRM_TYPES[c]) for c in sync_classes(object_class)}
        return encode_token(self.key, object_class, states)

    async def _latest(self, crm: CrmType) -> ClassState:
        """Now: the live count, and the changes too recent to be settled, as delivered."""
        now = _now_ms()
        horizon = now - self.look_back_ms
        properties = [crm.last_modified]
        body = await self._search(
            crm, [], crm.last_modified, ascending=False, properties=properties
        )
        state = ClassState(horizon, int(body.get("total") or 0), now)
        results = body.get("results") or []
        if len(results) >= SEARCH_PAGE and self._modified(crm, results[-1]) > horizon:
            # More than a page of unsettled changes: read them all, oldest first.
            results = [o async for page in self._ascending(crm, horizon, properties) for o in page]
        for obj in results:
            modified = self._modified(crm, obj)
            if modified > horizon:
                state.delivered[str(obj["id"])] = max(
                    modified, state.delivered.get(str(obj["id"]), 0)
                )
        return state

    # -- sync ---------------------------------------------------------------------------------

    async def sync(
        self, object_class: str, token: SyncToken | None, options: OperationOptions
    ) -> AsyncIterator[SyncPage]:
        classes = sync_classes(object_class)
        if token is None:
            states = {c: ClassState(0, 0, 0) for c in classes}
        else:
            states = decode_token(token, self.key, object_class)
        wanted = await self._attributes_to_get(classes, options.attributesToGet)
        streams = {
            c: self._class_deltas(CRM_TYPES[c], states[c].copy(), wanted.get(c)) for c in classes
        }
        current = {c: s.copy() for c, s in states.items()}
        heads: dict[str, _Item] = {}
        batch: list[SyncDelta] = []
        size = 0
        try:
            for c, stream in streams.items():
                heads[c] = await anext(stream)
            while heads:
                c = min(heads, key=lambda k: (heads[k].delta is None, heads[k].key))
                item = heads[c]
                current[c] = item.state
                if item.delta is None:
                    del heads[c]
                    continue
                delta = item.delta.model_copy(
                    update={"token": encode_token(self.key, object_class, current)}
                )
                batch.append(delta)
                size += len(str(delta.token.value)) + 1024
                if len(batch) >= PAGE_OUT or size >= PAGE_OUT_BYTES:
                    yield SyncPage(batch)
                    batch, size = [], 0
                heads[c] = await anext(streams[c])
        finally:
            for stream in streams.values():
                await stream.aclose()
        yield SyncPage(batch, token=encode_token(self.key, object_class, current))

    async def _attributes_to_get(
        self, classes: Sequence[str], asked: list[str] | None
    ) -> dict[str, list[str] | None]:
        """Each class's attributes to get, under their one name (`email` is `__NAME__`). For
        `__ALL__` a name one class has and the other lacks is read where it exists; a name no
        class has is refused, as a search refuses it."""
        if asked is None:
            return {c: None for c in classes}
        out: dict[str, list[str] | None] = {}
        known: set[str] = set()
        for object_class in classes:
            catalog, _ = await self._reader(object_class)
            links = association_names(object_class)
            names = []
            for name in asked:
                if name in links:
                    names.append(name)
                    continue
                try:
                    names.append(catalog.attribute(name, "the attributes to get"))
                except InvalidAttributeValueException:
                    if len(classes) == 1:
                        raise
                    continue
                known.add(name)
            known.update(n for n in asked if n in links)
            out[object_class] = list(dict.fromkeys(names))
        unknown = [n for n in asked if n not in known]
        if unknown:
            raise InvalidAttributeValueException(
                f"no object class of {ALL} has the attribute '{unknown[0]}' (in the attributes "
                "to get)"
            )
        return out

    async def _class_deltas(
        self, crm: CrmType, state: ClassState, wanted: list[str] | None
    ) -> AsyncGenerator[_Item, None]:
        """One class's deltas in order, each with the class's state after it; then its final
        state."""
        catalog, reader = await self._reader(crm.object_class)
        links = [a for a in wanted or () if a in association_names(crm.object_class)]
        if wanted is None:
            properties = list(catalog.default_properties)
        else:
            properties = [catalog.property_name(a) for a in wanted if a != UID and a not in links]
            properties += [crm.name_property, crm.last_modified]
        properties = list(dict.fromkeys(properties))

        start = state.copy()
        polled = _now_ms()
        settled = polled - self.look_back_ms
        new_ids: set[str] = set()
        seen: dict[str, int] = {}  # delivered in this poll: id -> last-modified ms
        pages, live_total = await self._changes(crm, start.horizon, properties)
        async for page in pages:
            fresh = []
            for obj in page:
                id_ = str(obj["id"])
                modified = self._modified(crm, obj)
                if modified <= start.horizon:
                    continue
                if max(start.delivered.get(id_, -1), seen.get(id_, -1)) >= modified:
                    continue  # delivered already (or an older version the index still holds)
                seen[id_] = modified
                fresh.append(obj)
            if not fresh:
                continue
            objects = [reader.read(obj) for obj in fresh]
            if links:
                objects = await self.associations.attach(objects, links)
            for obj, connector_object in zip(fresh, objects, strict=True):
                id_ = str(obj["id"])
                modified = self._modified(crm, obj)
                created = _ms(
                    obj.get("createdAt") or (obj.get("properties") or {}).get("createdate")
                )
                is_new = (
                    created > start.horizon and id_ not in start.delivered and id_ not in new_ids
                )
                if is_new:
                    new_ids.add(id_)
                    state.known += 1
                horizon = max(start.horizon, min(settled, modified - 1))
                if horizon > state.horizon:
                    state.horizon = horizon
                    state.delivered = {i: m for i, m in state.delivered.items() if m > horizon}
                state.delivered[id_] = modified
                kind = SyncDeltaType.CREATE if is_new else SyncDeltaType.UPDATE
                yield _item(modified, kind, connector_object.uid, connector_object, state)
        final_horizon = max(start.horizon, settled)
        if final_horizon > state.horizon:
            state.horizon = final_horizon
            state.delivered = {i: m for i, m in state.delivered.items() if m > final_horizon}

        if live_total is None or live_total != start.known + len(new_ids):
            scan_started = _now_ms()
            archived_since_poll = 0
            for id_, created, archived_at in await self._archived(crm):
                if archived_at >= polled > created:  # counted by the search, gone since
                    archived_since_poll += 1
                if archived_at <= start.archived_since or id_ in start.deleted:
                    continue
                if created <= start.horizon or id_ in start.delivered or id_ in seen:
                    state.known -= 1  # the reader knew this one
                state.deleted[id_] = archived_at
                uid = Uid(value=id_)
                yield _item(archived_at, SyncDeltaType.DELETE, uid, None, state, crm.object_class)
            # An archive made while the list was being read may sit on a page already read:
            # the next scan looks that far back again (and drops what it delivered).
            since = max(start.archived_since, scan_started - self.look_back_ms)
            state.archived_since = since
            state.deleted = {i: t for i, t in state.deleted.items() if t > since}
            if live_total is not None:
                # The count the search saw, less what was archived after it: the count is set
                # right again even if it had drifted (a sync resumed from a mid-sync token).
                state.known = live_total - archived_since_poll
        yield _Item(0, crm.object_class, None, state.copy())

    # -- reading HubSpot ----------------------------------------------------------------------

    def _modified(self, crm: CrmType, obj: dict[str, Any]) -> int:
        props = obj.get("properties") or {}
        return _ms(props.get(crm.last_modified) or obj.get("updatedAt"))

    async def _changes(
        self, crm: CrmType, horizon: int, properties: list[str]
    ) -> tuple[AsyncIterator[list[dict[str, Any]]], int | None]:
        """Pages of objects changed after `horizon`, oldest first; and, when one call held them
        all, the live count that call saw."""
        body = await self._search(
            crm, [], crm.last_modified, ascending=False, properties=properties
        )
        results = body.get("results") or []
        total = int(body.get("total") or 0)
        if len(results) < SEARCH_PAGE or self._modified(crm, results[-1]) <= horizon:
            changed = [r for r in results if self._modified(crm, r) > horizon]
            changed.sort(key=lambda r: (self._modified(crm, r), int(r["id"])))

            async def one() -> AsyncIterator[list[dict[str, Any]]]:
                yield changed

            return one(), total
        return self._ascending(crm, horizon, properties), None

    async def _ascending(
        self, crm: CrmType, horizon: int, properties: list[str]
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """Objects changed after `horizon`, oldest first: a keyset on the last-modified time.

        Each page is a new search from the last time read (so HubSpot's 10,000-result cap never
        applies, and an object modified meanwhile is read again later, not skipped); the ids
        read at that time are dropped. A full page of one millisecond is read by id instead.
        """
        after_ms = horizon
        done: set[str] = set()  # ids read at `after_ms + 1`
        while True:
            body = await self._search(
                crm,
                [{"propertyName": crm.last_modified, "operator": "GT", "value": str(after_ms)}],
                crm.last_modified,
                ascending=True,
                properties=properties,
            )
            results = body.get("results") or []
            page = [
                r
                for r in results
                if not (self._modified(crm, r) == after_ms + 1 and str(r["id"]) in done)
            ]
            page.sort(key=lambda r: (self._modified(crm, r), int(r["id"])))
            if page:
                yield page
            if not results or not ((body.get("paging") or {}).get("next") or {}).get("after"):
                return
            first, last = self._modified(crm, results[0]), self._modified(crm, results[-1])
            at_last = {str(r["id"]) for r in results if self._modified(crm, r) == last}
            if last == after_ms + 1:
                at_last |= done
            if first == last:
                async for tied in self._tied(crm, last, at_last, properties):
                    yield tied
                after_ms, done = last, set()
            else:
                after_ms, done = last - 1, at_last

    async def _tied(
        self, crm: CrmType, modified: int, done: set[str], properties: list[str]
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """Every object last modified at `modified`, by `hs_object_id` keyset."""
        cursor: str | None = None
        tied = [{"propertyName": crm.last_modified, "operator": "EQ", "value": str(modified)}]
        while True:
            body = await self._search(
                crm, tied, "hs_object_id", ascending=True, properties=properties, after_id=cursor
            )
            results = body.get("results") or []
            page = [r for r in results if str(r["id"]) not in done]
            if page:
                yield page
            if len(results) < SEARCH_PAGE:
                return
            cursor = str(results[-1]["id"])

    async def _search(
        self,
        crm: CrmType,
        filters: Sequence[dict[str, Any]],
        sort: str,
        *,
        ascending: bool,
        properties: Sequence[str],
        after_id: str | None = None,
    ) -> dict[str, Any]:
        """One search page of 200; `after_id` adds the planner's `hs_object_id` keyset cursor."""
        groups = [tuple(filters)] if filters else []
        request: dict[str, Any] = {
            "filterGroups": with_cursor(groups, after_id),
            "sorts": [
                {"propertyName": sort, "direction": "ASCENDING" if ascending else "DESCENDING"}
            ],
            "properties": list(properties),
            "limit": SEARCH_PAGE,
        }
        answer = await self.http.request(
            "POST",
            f"/crm/v3/objects/{crm.path}/search",
            json_body=request,
            search=True,
            action=f"read the {crm.path} changed since the sync token",
        )
        body = answer.body
        return body if isinstance(body, dict) else {}

    async def _archived(self, crm: CrmType) -> list[tuple[str, int, int]]:
        """Every archived object: (id, created ms, archived ms), by archive time."""
        found: list[tuple[str, int, int]] = []
        after: str | None = None
        while True:
            params = {"archived": "true", "limit": str(LIST_PAGE), "properties": crm.name_property}
            if after is not None:
                params["after"] = after
            answer = await self.http.request(
                "GET",
                f"/crm/v3/objects/{crm.path}",
                params=params,
                action=f"list the archived {crm.path}",
            )
            body = answer.body if isinstance(answer.body, dict) else {}
            for obj in body.get("results") or []:
                archived_at = _ms(obj.get("archivedAt") or obj.get("updatedAt"))
                found.append((str(obj["id"]), _ms(obj.get("createdAt")), archived_at))
            after = ((body.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                break
        found.sort(key=lambda f: (f[2], int(f[0])))
        return found
