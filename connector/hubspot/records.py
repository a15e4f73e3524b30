"""Contacts and companies: HubSpot's CRM objects as ICF objects (docs/hubspot.md §1).

Reads go through the search planner (planner.py, search.py); writes through HubSpot's object
API, with the revision checked where the caller gave one (docs/openicf.md §5).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

from connector.base import SearchPage
from connector.hubspot.http import Response
from connector.hubspot.planner import plan
from connector.hubspot.schema import CRM_TYPES, CrmType, PropertyCatalog
from connector.hubspot.search import SearchRun, Sort
from connector.hubspot.shared import HubspotShared
from connector.hubspot.values import ObjectReader, attribute_values, to_properties
from protocol.errors import (
    ConnectorException,
    InvalidAttributeValueException,
    PreconditionFailedException,
    UnknownUidException,
    UnsupportedOperationException,
)
from protocol.filters import Filter, attributes_of, rename_attributes
from protocol.values import UID, Attributes, ConnectorObject, OperationOptions, Uid

_RMW_ATTEMPTS = 3


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
        answer = await self.http.request(
            "GET",
            f"/crm/v3/objects/{crm.path}/{quote(uid.value, safe='')}",
            params={
                "properties": ",".join(self._properties_to_read(catalog, options.attributesToGet))
            },
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
        started_ms = int(time.time() * 1000)

        async def recover() -> Response | None:
            return await self._find_created(crm, catalog, properties, started_ms)

        answer = await self.http.request(
            "POST",
            f"/crm/v3/objects/{crm.path}",
            json_body={"properties": properties},
            idempotent=False,
            recover=recover,
            action=f"create {object_class}",
        )
        return self._uid_of(crm, answer.body)

    async def _find_created(
        self, crm: CrmType, catalog: PropertyCatalog, properties: dict[str, str], started_ms: int
    ) -> Response | None:
        """After a create that may or may not have happened: the object it made, if any.

        A contact is found by its email (read by `idProperty`, which sees writes at once). A
        company has no unique property, so a search looks for one with the same name (and
        domain) created since the attempt began; more than one is a question only a person
        can answer.
        """
        name = properties.get(crm.name_property)
        if not name:
            raise ConnectorException(
                f"a create of a {crm.object_class} without {crm.name_property} failed without an "
                "answer; it was not sent again, as it could make a duplicate"
            )
        if crm.name_is_unique:
            answer = await self.http.request(
                "GET",
                f"/crm/v3/objects/{crm.path}/{quote(name, safe='')}",
                params={"idProperty": crm.name_property, "properties": crm.last_modified},
                expect=frozenset({404}),
                action=f"look up {crm.object_class} {name}",
            )
            return None if answer.status == 404 else answer
        filters = [{"propertyName": crm.name_property, "operator": "EQ", "value": name}]
        if properties.get("domain"):
            filters.append(
                {"propertyName": "domain", "operator": "EQ", "value": properties["domain"]}
            )
        filters.append(
            {"propertyName": "createdate", "operator": "GTE", "value": str(started_ms - 60_000)}
        )
        answer = await self.http.request(
            "POST",
            f"/crm/v3/objects/{crm.path}/search",
            json_body={
                "filterGroups": [{"filters": filters}],
                "properties": [crm.last_modified, crm.name_property],
                "limit": 2,
            },
            search=True,
            action=f"look up {crm.object_class} {name}",
        )
        results = [
            r
            for r in (answer.body or {}).get("results") or []
            if (r.get("properties") or {}).get(crm.name_property) == name
        ]
        if len(results) > 1:
            raise ConnectorException(
                f"a create of {crm.object_class} '{name}' failed without an answer, and several "
                "such objects were created since; check them in HubSpot"
            )
        return Response(201, results[0]) if results else None

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
