"""Contacts and companies: HubSpot's CRM objects as ICF objects (docs/hubspot.md §1).

Reads go through the search planner (planner.py, search.py); writes through HubSpot's object
API, with the revision checked where the caller gave one (docs/openicf.md §5). Reads and updates
by id go through the configuration's coalescer (coalesce.py), which batches concurrent ones.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from connector.base import SearchPage
from connector.hubspot.http import Response, Uncertain
from connector.hubspot.planner import plan
from connector.hubspot.schema import CRM_TYPES, CrmType, PropertyCatalog
from connector.hubspot.search import SearchRun, Sort
from connector.hubspot.shared import CLOCK_SKEW_MS, HubspotShared, RunningCreate
from connector.hubspot.values import ObjectReader, attribute_values, to_properties
from protocol.errors import (
    AlreadyExistsException,
    ConnectorException,
    InvalidAttributeValueException,
    PreconditionFailedException,
    UnknownUidException,
    UnsupportedOperationException,
)
from protocol.filters import Filter, attributes_of, rename_attributes
from protocol.values import UID, Attributes, ConnectorObject, OperationOptions, Uid

_RMW_ATTEMPTS = 3
_LOOKUP_LIMIT = 100
"""Objects a create's recovery reads at most: others' creates of the same name are left out."""


@dataclass(frozen=True, slots=True)
class _Create:
    """A create as sent, which its recovery looks for."""

    crm: CrmType
    catalog: PropertyCatalog
    properties: dict[str, str]
    started_ms: int
    """When the create began (epoch ms): its first attempt cannot have made anything earlier."""
    running: RunningCreate
    """Its place among the configuration's running creates (shared.py `Creates`)."""

    def made(self, body: Any) -> bool:
        """Whether `body` can be the object this create made, by any of its attempts: created
        since it began, and holding the identifying values sent (compared as HubSpot compares
        them, case-insensitively, docs/hubspot.md §1.5, §1.7)."""
        if not isinstance(body, dict):
            return False
        created_ms = _epoch_ms(body.get("createdAt"))
        if created_ms is None or created_ms < self.started_ms - CLOCK_SKEW_MS:
            return False
        crm, properties = self.crm, self.properties
        held = body.get("properties") or {}
        for name in (crm.name_property, "domain", *properties):
            if name not in properties or name not in held:
                continue
            if not (name == crm.name_property or name == "domain" or self.catalog.get(name).unique):
                continue
            if str(held[name]).casefold() != properties[name].casefold():
                return False
        return True


def _epoch_ms(value: object) -> int | None:
    if not isinstance(value, str):
        return None
    try:
        stamp = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return int(stamp.timestamp() * 1000)


class CrmObjects:
    """The operations on `contact` and `company`."""

    def __init__(self, http: HubspotShared) -> None:
        self.http = http
        self._readers: dict[str, tuple[PropertyCatalog, ObjectReader]] = {}

    async def _crm(self, object_class: str) -> tuple[CrmType, PropertyCatalog, ObjectReader]:
        crm = CRM_TYPES.get(object_class)
        if crm is None:
            raise UnsupportedOperationException(f"object class '{object_class}' is not HubSpot's")
        catalogs = await self.http.catalogs()
        catalog = catalogs[object_class]
        cached = self._readers.get(object_class)
        if cached is None or cached[0] is not catalog:
            cached = (catalog, ObjectReader(catalog))
            self._readers[object_class] = cached
        return crm, cached[0], cached[1]

    def _properties_to_read(
        self,
        catalog: PropertyCatalog,
        attributes_to_get: list[str] | None,
        filter: Filter | None = None,
    ) -> list[str]:
        crm = catalog.crm
        if attributes_to_get is None:
            names = list(catalog.default_properties)
        else:
            names = [
                catalog.property_name(catalog.attribute(a, "the attributes to get"))
                for a in attributes_to_get
                if a != UID
            ]
            names += [crm.name_property, crm.last_modified]
        if filter is not None:
            names += [catalog.property_name(a) for a in attributes_of(filter) if a != UID]
        return list(dict.fromkeys(names))

    async def get(
        self, object_class: str, uid: Uid, options: OperationOptions
    ) -> ConnectorObject | None:
        crm, catalog, reader = await self._crm(object_class)
        properties = self._properties_to_read(catalog, options.attributesToGet)
        if uid.value.isdigit():  # read with others' reads of the moment (coalesce.py)
            found = await self.http.coalescer.read(crm, uid.value, properties)
            return None if found is None else reader.read(found)
        answer = await self.http.request(
            "GET",
            f"/crm/v3/objects/{crm.path}/{quote(uid.value, safe='')}",
            params={"properties": ",".join(properties)},
            expect=frozenset({404}),
            action=f"read {object_class} {uid.value}",
        )
        if answer.status == 404 or not answer.body:
            return None
        return reader.read(answer.body)

    async def search(
        self, object_class: str, filter: Filter | None, options: OperationOptions
    ) -> AsyncIterator[SearchPage]:
        crm, catalog, reader = await self._crm(object_class)
        if filter is not None:
            filter = rename_attributes(filter, lambda a: catalog.attribute(a, "the filter"))
        sort = self._sort(catalog, options)
        run = SearchRun(
            self.http,
            crm,
            reader,
            plan(filter, catalog),
            filter,
            self._properties_to_read(catalog, options.attributesToGet, filter),
            sort,
            options,
        )
        async for page in run.pages():
            yield page

    @staticmethod
    def _sort(catalog: PropertyCatalog, options: OperationOptions) -> Sort | None:
        keys = options.sortKeys or []
        if not keys:
            return None
        if len(keys) > 1:
            raise InvalidAttributeValueException(
                "HubSpot sorts on one property only; got sort keys "
                + ", ".join(k.field for k in keys)
                + ". Sort on one of them"
            )
        key = keys[0]
        field = catalog.attribute(key.field, "the sort keys")
        name = "hs_object_id" if field == UID else catalog.property_name(field)
        return Sort(name, key.ascending)

    async def create(
        self, object_class: str, attributes: Attributes, options: OperationOptions
    ) -> Uid:
        crm, catalog, _ = await self._crm(object_class)
        properties = to_properties(attributes, catalog, creating=True)
        creates = self.http.creates
        running = creates.begin(object_class)
        sent = _Create(crm, catalog, properties, int(time.time() * 1000), running)

        async def recover(uncertain: Uncertain) -> Response | None:
            creates.sending(running, False)
            found = await self._find_created(sent, uncertain)
            creates.sending(running, found is None)  # None: it is sent again
            return found

        returned: str | None = None
        try:
            answer = await self.http.request(
                "POST",
                f"/crm/v3/objects/{crm.path}",
                json_body={"properties": properties},
                idempotent=False,
                recover=recover,
                action=f"create {object_class}",
            )
            uid = self._uid_of(crm, answer.body)
            returned = uid.value
            return uid
        finally:
            creates.end(running, returned)

    async def _find_created(self, sent: _Create, uncertain: Uncertain) -> Response | None:
        """After a create that may or may not have happened: the object it made, or None when
        it provably made none (so it may be sent again).

        Only an object this create made, by any of its attempts, is accepted: one created since
        the create began whose identifying values are the ones sent, and that no other create
        on this configuration returned (shared.py `Creates`). One that was there before, or
        that another create returned, is never a "created": by a unique value it is an
        AlreadyExists, by name it is left out (docs/hubspot-connector.md, "Creates and lost
        answers"). The proof goes by every unique property the create set, read by
        `idProperty`, which sees writes at once (docs/hubspot.md §1.4): should an attempt still
        be carried out later, HubSpot refuses it or the resend with a 409, never makes both. A
        create without one (a company, usually) is searched for, after waiting out search's
        indexing delay (§1.7) from the end of the last ambiguous attempt.
        """
        crm, properties = sent.crm, sent.properties
        keys = [crm.name_property] if crm.name_is_unique else []
        keys += [n for n in properties if sent.catalog.get(n).unique and n not in keys]
        keys = [k for k in keys if properties.get(k)]
        if keys:
            for key in keys:
                found = await self._read_by_key(crm, key, properties[key])
                if found is not None:
                    return await self._claim(sent, found)
            return None
        return await self._search_created(sent, uncertain)

    async def _read_by_key(self, crm: CrmType, key: str, value: str) -> Any:
        answer = await self.http.request(
            "GET",
            f"/crm/v3/objects/{crm.path}/{quote(value, safe='')}",
            params={"idProperty": key, "properties": f"{crm.last_modified},{key}"},
            expect=frozenset({404}),
            action=f"look up {crm.object_class} {key} {value}",
        )
        return None if answer.status == 404 else answer.body

    async def _claim(self, sent: _Create, body: Any) -> Response:
        """`body` holds a unique value this create set; it is this create's object or someone
        else's."""
        if not sent.made(body):
            raise AlreadyExistsException(
                f"a {sent.crm.object_class} with these values already existed before this "
                f"create (id {body.get('id')}); the create failed without an answer and was not "
                "sent again"
            )
        creates = self.http.creates
        await creates.settle(sent.running)  # an answer on its way to another create counts
        if creates.claim(sent.running, str(body.get("id"))):
            return Response(201, body)
        raise AlreadyExistsException(
            f"a {sent.crm.object_class} with these values was made since this create began, by "
            f"another create on this configuration (id {body.get('id')}); this create failed "
            "without an answer and was not sent again"
        )

    async def _search_created(self, sent: _Create, uncertain: Uncertain) -> Response | None:
        crm, properties = sent.crm, sent.properties
        identifying = [n for n in (crm.name_property, "domain") if properties.get(n)]
        if not identifying:
            raise ConnectorException(
                f"a create of a {crm.object_class} may have happened: it failed without an "
                f"answer, and without {crm.name_property} or domain there is no way to look "
                "for it. It was not sent again; check HubSpot before creating it again"
            )
        # Search lags writes (docs/hubspot.md §1.7): only after the delay is "not found" a
        # proof, the delay counted from the end of the last attempt that may have made it (the
        # latest object it can have made), not from the start of the create.
        delay_s = self.http.config.searchIndexingDelaySeconds
        waited_s = time.monotonic() - uncertain.ended
        if waited_s < delay_s:
            await asyncio.sleep(delay_s - waited_s)
        filters = [
            {"propertyName": n, "operator": "EQ", "value": properties[n]} for n in identifying
        ]
        filters.append(
            {
                "propertyName": "createdate",
                "operator": "GTE",
                "value": str(sent.started_ms - CLOCK_SKEW_MS),
            }
        )
        answer = await self.http.request(
            "POST",
            f"/crm/v3/objects/{crm.path}/search",
            json_body={
                "filterGroups": [{"filters": filters}],
                "properties": [crm.last_modified, *identifying],
                "limit": _LOOKUP_LIMIT,
            },
            search=True,
            action=f"look up {crm.object_class} {properties[identifying[0]]}",
        )
        body = answer.body or {}
        results = [r for r in body.get("results") or [] if sent.made(r)]
        if results:
            # Those another create on this configuration returned are not this one's, its
            # answer on its way counted (shared.py `Creates`).
            creates = self.http.creates
            await creates.settle(sent.running)
            results = [r for r in results if not creates.taken(sent.running, str(r.get("id")))]
        # More matches than one read holds: this create's object may be among those unread.
        if len(results) > 1 or int(body.get("total") or 0) > _LOOKUP_LIMIT:
            raise ConnectorException(
                f"a create of a {crm.object_class} may have happened: it failed without an "
                "answer, and several such objects were created since it began. It was not sent "
                "again; check them in HubSpot"
            )
        if results and self.http.creates.claim(sent.running, str(results[0].get("id"))):
            return Response(201, results[0])
        if uncertain.unfinished:
            raise ConnectorException(
                f"a create of a {crm.object_class} may have happened: HubSpot did not answer "
                "in time, and may still carry it out after it was looked for in vain. It was "
                "not sent again; check HubSpot before creating it again"
            )
        return None

    @staticmethod
    def _uid_of(crm: CrmType, body: Any) -> Uid:
        props = body.get("properties") or {}
        return Uid(
            value=str(body["id"]),
            revision=props.get(crm.last_modified) or body.get("updatedAt"),
        )

    async def update(
        self, object_class: str, uid: Uid, attributes: Attributes, options: OperationOptions
    ) -> Uid:
        crm, catalog, _ = await self._crm(object_class)
        properties = to_properties(attributes, catalog, creating=False)
        if uid.revision is not None:
            current = await self._read_for_update(crm, catalog, uid, [])
            self._check_revision(uid, current)
        return await self._patch(crm, uid.value, properties)

    async def _patch(self, crm: CrmType, id_: str, properties: dict[str, str]) -> Uid:
        if id_.isdigit():  # written with others' updates of the moment (coalesce.py)
            return self._uid_of(crm, await self.http.coalescer.update(crm, id_, properties))
        answer = await self.http.request(
            "PATCH",
            f"/crm/v3/objects/{crm.path}/{quote(id_, safe='')}",
            json_body={"properties": properties},
            action=f"update {crm.object_class} {id_}",
        )
        return self._uid_of(crm, answer.body)

    async def _read_for_update(
        self, crm: CrmType, catalog: PropertyCatalog, uid: Uid, attributes: list[str]
    ) -> ConnectorObject:
        current = await self.get(
            crm.object_class, Uid(value=uid.value), OperationOptions(attributesToGet=attributes)
        )
        if current is None:
            raise UnknownUidException(f"HubSpot has no {crm.object_class} {uid.value}")
        return current

    @staticmethod
    def _check_revision(wanted: Uid, current: ConnectorObject) -> None:
        if wanted.revision is not None and wanted.revision != current.uid.revision:
            raise PreconditionFailedException(
                f"{current.objectClass} {wanted.value} changed since revision {wanted.revision} "
                f"(now {current.uid.revision})"
            )

    async def add_attribute_values(
        self, object_class: str, uid: Uid, attributes: Attributes, options: OperationOptions
    ) -> Uid:
        return await self._modify_values(object_class, uid, attributes, add=True)

    async def remove_attribute_values(
        self, object_class: str, uid: Uid, attributes: Attributes, options: OperationOptions
    ) -> Uid:
        return await self._modify_values(object_class, uid, attributes, add=False)

    async def _modify_values(
        self, object_class: str, uid: Uid, attributes: Attributes, *, add: bool
    ) -> Uid:
        """ADD or REMOVE values: read, compute, check the revision again, write.

        HubSpot has no conditional write, so the revision is read again just before writing
        and the whole step is redone (a few times) when someone changed the object between.
        """
        crm, catalog, _ = await self._crm(object_class)
        attributes = catalog.attributes(attributes, "the attributes to write")
        for attribute in attributes:
            prop = catalog.get(catalog.property_name(attribute))
            if not prop.multi_valued:
                raise InvalidAttributeValueException(
                    f"attribute '{attribute}' is single-valued; use a REPLACE update"
                )
        for _ in range(_RMW_ATTEMPTS):
            current = await self._read_for_update(crm, catalog, uid, list(attributes))
            self._check_revision(uid, current)
            merged: Attributes = {}
            for attribute, values in attributes.items():
                have = attribute_values(current, attribute)
                if add:
                    merged[attribute] = have + [v for v in values if v not in have]
                else:
                    merged[attribute] = [v for v in have if v not in values]
            properties = to_properties(merged, catalog, creating=False)
            latest = await self._read_for_update(crm, catalog, uid, [])
            if latest.uid.revision == current.uid.revision:
                return await self._patch(crm, uid.value, properties)
        raise PreconditionFailedException(
            f"{object_class} {uid.value} kept changing while its values were being "
            f"{'added' if add else 'removed'}; try again"
        )

    async def delete(self, object_class: str, uid: Uid, options: OperationOptions) -> None:
        crm, catalog, _ = await self._crm(object_class)
        # HubSpot may answer 204 to an unknown id (docs/hubspot.md §1.5), so look first.
        current = await self._read_for_update(crm, catalog, uid, [])
        self._check_revision(uid, current)
        answer = await self.http.request(
            "DELETE",
            f"/crm/v3/objects/{crm.path}/{quote(uid.value, safe='')}",
            expect=frozenset({404}),
            action=f"archive {object_class} {uid.value}",
        )
        if answer.status == 404:
            raise UnknownUidException(f"HubSpot has no {object_class} {uid.value}")
