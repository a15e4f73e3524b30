"""The HubSpot connector: contacts, companies and their property definitions, for IDM.

It answers to the Java connector's key (docs/openicf.md §6), so IDM's provisioner files and their
`connectorRef` resolve unchanged. Modules:
- configuration.py: the configuration properties;
- http.py, ratelimit.py, tls.py, errors.py: calling HubSpot (OAuth, limits, retries, TLS, and
  what its errors become);
- schema.py, values.py: object classes, schema, value conversion;
- planner.py, search.py: filters into HubSpot calls, and paging;
- properties.py: property definitions as objects;
- scripts.py: Python scripts run on the connector.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any
from urllib.parse import quote

from connector.base import (
    Connector,
    ConnectorContext,
    CreateOp,
    DeleteOp,
    GetOp,
    SchemaOp,
    ScriptOnConnectorOp,
    SearchOp,
    SearchPage,
    SharedResources,
    TestOp,
    UpdateAttributeValuesOp,
    UpdateOp,
)
from connector.hubspot.configuration import HubspotConfiguration
from connector.hubspot.http import HubspotHttp, Method, Response
from connector.hubspot.planner import ReadByIds, plan
from connector.hubspot.properties import definition_body, definition_object
from connector.hubspot.schema import (
    CRM_TYPES,
    OBJECT_CLASSES,
    PROPERTY_CLASSES,
    CrmType,
    PropertyCatalog,
    PropertyDef,
    build_schema,
    builtin_catalog,
)
from connector.hubspot.scripts import run_python
from connector.hubspot.search import Position, SearchRun, Sort
from connector.hubspot.values import ObjectReader, attribute_values, to_properties
from protocol.configuration import ConnectorKey
from protocol.errors import (
    ConnectorException,
    InvalidAttributeValueException,
    PreconditionFailedException,
    UnknownUidException,
    UnsupportedOperationException,
)
from protocol.filters import Filter, attributes_of, evaluate
from protocol.schema import Schema
from protocol.values import (
    UID,
    Attributes,
    ConnectorObject,
    JsonValue,
    OperationOptions,
    SearchResult,
    Uid,
)

SCHEMA_TTL_S = 600.0
"""How long a schema read from HubSpot (`readSchema`) is used before it is read again."""
_RMW_ATTEMPTS = 3


class HubspotShared(HubspotHttp):
    """Shared by a configuration's instances: HTTP (see http.py) and the schema read from
    HubSpot's properties API."""

    def __init__(self, context: ConnectorContext) -> None:
        super().__init__(context)
        self._catalogs: dict[str, PropertyCatalog] | None = None
        self._catalogs_read_at = 0.0
        self._catalog_lock = asyncio.Lock()

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


class HubspotConnector(
    Connector,
    TestOp,
    SchemaOp,
    CreateOp,
    GetOp,
    SearchOp,
    UpdateOp,
    UpdateAttributeValuesOp,
    DeleteOp,
    ScriptOnConnectorOp,
):
    """Reconcile and provision HubSpot contacts and companies."""

    connector_key = ConnectorKey(
        bundleName="org.forgerock.openicf.connectors.hubspot-connector",
        bundleVersion="1.5.20.34",
        connectorName="org.forgerock.openicf.connectors.hubspot.HubspotConnector",
    )
    display_name = "HubSpot Connector"
    category = "CRM"
    configuration_class = HubspotConfiguration
    object_classes = OBJECT_CLASSES

    def __init__(self, context: ConnectorContext, shared: SharedResources) -> None:
        super().__init__(context, shared)
        assert isinstance(shared, HubspotShared)
        self.http: HubspotShared = shared
        self._readers: dict[str, tuple[PropertyCatalog, ObjectReader]] = {}

    @classmethod
    async def open_shared(cls, context: ConnectorContext) -> SharedResources:
        return HubspotShared(context)

    @property
    def configuration(self) -> HubspotConfiguration:
        """The configuration, typed (scripts read it as `connector.configuration`)."""
        config = self.context.configuration
        assert isinstance(config, HubspotConfiguration)
        return config

    async def init(self) -> None:
        await self.http.open()

    # -- helpers -------------------------------------------------------------------------

    async def request(
        self,
        method: Method,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
    ) -> Any:
        """An authenticated, rate-limited call to HubSpot (for scripts); returns its JSON."""
        idempotent = method != "POST" or path.endswith(("/search", "/batch/read"))
        answer = await self.http.request(
            method,
            path,
            params=params,
            json_body=json,
            idempotent=idempotent,
            search=path.endswith("/search"),
            action=f"{method} {path.split('?')[0]}",
        )
        return answer.body

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
            names = [catalog.property_name(a) for a in attributes_to_get if a != UID]
            names += [crm.name_property, crm.last_modified]
        if filter is not None:
            names += [catalog.property_name(a) for a in attributes_of(filter) if a != UID]
        return list(dict.fromkeys(names))

    # -- test and schema -----------------------------------------------------------------

    async def test(self) -> None:
        """Refresh the token, then make one cheap authenticated call."""
        try:
            await self.http.tokens.refresh_now()
        except ConnectorException as exc:
            raise type(exc)(f"test failed while refreshing the access token: {exc}") from None
        try:
            await self.http.request(
                "GET",
                "/crm/v3/objects/contacts",
                params={"limit": "1", "properties": "hs_object_id"},
                action="list one contact",
            )
        except ConnectorException as exc:
            raise type(exc)(f"test failed on an authenticated call: {exc}") from None

    async def schema(self) -> Schema:
        return build_schema(await self.http.catalogs())

    # -- reads ---------------------------------------------------------------------------

    async def get(
        self, object_class: str, uid: Uid, options: OperationOptions
    ) -> ConnectorObject | None:
        if object_class in PROPERTY_CLASSES:
            return await self._get_definition(object_class, uid.value)
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
        if object_class in PROPERTY_CLASSES:
            async for page in self._search_definitions(object_class, filter, options):
                yield page
            return
        crm, catalog, reader = await self._crm(object_class)
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
        name = "hs_object_id" if key.field == UID else catalog.property_name(key.field)
        return Sort(name, key.ascending)

    # -- writes --------------------------------------------------------------------------

    async def create(
        self, object_class: str, attributes: Attributes, options: OperationOptions
    ) -> Uid:
        if object_class in PROPERTY_CLASSES:
            return await self._create_definition(object_class, attributes)
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
        if object_class in PROPERTY_CLASSES:
            return await self._update_definition(object_class, uid, attributes)
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
        if object_class in PROPERTY_CLASSES:
            raise UnsupportedOperationException(
                "add or remove values of a property definition's options with UPDATE"
            )
        crm, catalog, _ = await self._crm(object_class)
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
        if object_class in PROPERTY_CLASSES:
            crm = PROPERTY_CLASSES[object_class]
            await self.http.request(
                "DELETE",
                f"/crm/v3/properties/{crm.path}/{quote(uid.value, safe='')}",
                action=f"archive {object_class} {uid.value}",
            )
            self.http.forget_schema()
            return
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

    # -- property definitions ------------------------------------------------------------

    async def _get_definition(self, object_class: str, name: str) -> ConnectorObject | None:
        crm = PROPERTY_CLASSES[object_class]
        answer = await self.http.request(
            "GET",
            f"/crm/v3/properties/{crm.path}/{quote(name, safe='')}",
            expect=frozenset({404}),
            action=f"read {object_class} {name}",
        )
        if answer.status == 404 or not answer.body or answer.body.get("archived"):
            return None
        return definition_object(object_class, answer.body)

    async def _search_definitions(
        self, object_class: str, filter: Filter | None, options: OperationOptions
    ) -> AsyncIterator[SearchPage]:
        # Only the equals-on-__UID__ plans matter here: definitions are few, and read whole.
        found = plan(filter, builtin_catalog(PROPERTY_CLASSES[object_class].object_class))
        objects: list[ConnectorObject]
        if isinstance(found, ReadByIds) and found.id_property is None:
            objects = [
                o
                for i in found.ids
                if (o := await self._get_definition(object_class, i)) is not None
            ]
        else:
            crm = PROPERTY_CLASSES[object_class]
            answer = await self.http.request(
                "GET", f"/crm/v3/properties/{crm.path}", action=f"read {object_class}"
            )
            objects = [
                definition_object(object_class, body)
                for body in (answer.body or {}).get("results") or []
            ]
        if filter is not None:
            objects = [o for o in objects if evaluate(filter, o)]
        if options.sortKeys:
            for key in reversed(options.sortKeys):
                field = key.field
                objects.sort(key=lambda o: _sort_value(o, field), reverse=not key.ascending)
        async for page in _pages_in_memory(objects, options):
            yield page

    async def _create_definition(self, object_class: str, attributes: Attributes) -> Uid:
        crm = PROPERTY_CLASSES[object_class]
        body = definition_body(attributes, creating=True)
        name = str(body["name"])

        async def recover() -> Response | None:
            found = await self._get_definition(object_class, name)
            return None if found is None else Response(201, {"name": name})

        answer = await self.http.request(
            "POST",
            f"/crm/v3/properties/{crm.path}",
            json_body=body,
            idempotent=False,
            recover=recover,
            action=f"create {object_class} {name}",
        )
        self.http.forget_schema()
        return Uid(value=name, revision=(answer.body or {}).get("updatedAt"))

    async def _update_definition(self, object_class: str, uid: Uid, attributes: Attributes) -> Uid:
        crm = PROPERTY_CLASSES[object_class]
        body = definition_body(attributes, creating=False)
        answer = await self.http.request(
            "PATCH",
            f"/crm/v3/properties/{crm.path}/{quote(uid.value, safe='')}",
            json_body=body,
            action=f"update {object_class} {uid.value}",
        )
        self.http.forget_schema()
        return Uid(value=uid.value, revision=(answer.body or {}).get("updatedAt"))

    # -- scripts -------------------------------------------------------------------------

    async def run_script_on_connector(
        self,
        language: str,
        script: str,
        arguments: dict[str, JsonValue],
        options: OperationOptions,
    ) -> JsonValue:
        return await run_python(
            self, language, script, arguments, enabled=self.context.scripting_enabled
        )


def _sort_value(obj: ConnectorObject, field: str) -> tuple[bool, str]:
    values = obj.values(field) or []
    return (not values, str(values[0]) if values else "")


async def _pages_in_memory(
    objects: list[ConnectorObject], options: OperationOptions
) -> AsyncIterator[SearchPage]:
    """Paging over a list read whole (property definitions): the cookie is an index."""
    start = 0
    if options.pagedResultsOffset is not None and options.pagedResultsOffset >= 1:
        start = options.pagedResultsOffset - 1
    elif options.pagedResultsCookie:
        start = Position.decode(options.pagedResultsCookie).skip
    if options.pageSize is None:
        yield SearchPage(objects[start:], SearchResult())
        return
    end = start + options.pageSize
    page = objects[start:end]
    remaining = max(0, len(objects) - end)
    cookie = Position(None, end).encode() if remaining else None
    yield SearchPage(page, SearchResult(pagedResultsCookie=cookie, remainingPagedResults=remaining))
