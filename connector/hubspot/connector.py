"""The HubSpot connector: contacts, companies and their property definitions, for IDM.

It answers to the Java connector's key (docs/openicf.md §6), so IDM's provisioner files and their
`connectorRef` resolve unchanged. Modules:
- configuration.py: the configuration properties;
- shared.py: what a configuration's instances share (HTTP, the schema read from HubSpot);
- http.py, ratelimit.py, tls.py, errors.py: calling HubSpot (OAuth, limits, retries, TLS, and
  what its errors become);
- schema.py, values.py: object classes, schema, value conversion;
- records.py: the operations on contacts and companies;
- associations.py: contacts tied to companies, as attributes (v4 associations API);
- sync.py: live sync (SyncOp) of contacts and companies;
- planner.py, search.py: filters into HubSpot calls, and paging;
- definitions.py: the operations on property definitions, as objects;
- scripts.py: Python scripts run on the connector.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

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
    SyncOp,
    SyncPage,
    TestOp,
    UpdateAttributeValuesOp,
    UpdateOp,
)
from connector.hubspot.associations import (
    Associations,
    LinkedObjects,
    association_attribute_infos,
)
from connector.hubspot.configuration import HubspotConfiguration
from connector.hubspot.definitions import PropertyDefinitions
from connector.hubspot.http import Method
from connector.hubspot.records import CrmObjects
from connector.hubspot.schema import OBJECT_CLASSES, PROPERTY_CLASSES, build_schema
from connector.hubspot.scripts import run_python
from connector.hubspot.shared import HubspotShared
from connector.hubspot.sync import LiveSync
from protocol.configuration import ConnectorKey
from protocol.errors import ConnectorException
from protocol.filters import Filter
from protocol.schema import Schema
from protocol.values import (
    Attributes,
    ConnectorObject,
    JsonValue,
    OperationOptions,
    SyncToken,
    Uid,
)


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
    SyncOp,
):
    """Reconcile, provision and live-sync HubSpot contacts and companies."""

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
        associations = Associations(shared)
        self._objects = LinkedObjects(CrmObjects(shared), associations)
        self._sync = LiveSync(shared, associations)
        self._definitions = PropertyDefinitions(shared)

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

    def _handler(self, object_class: str) -> LinkedObjects | PropertyDefinitions:
        """Definitions and CRM objects are two kinds of object class; each has its handler."""
        return self._definitions if object_class in PROPERTY_CLASSES else self._objects

    # -- operations by object class ------------------------------------------------------

    async def get(
        self, object_class: str, uid: Uid, options: OperationOptions
    ) -> ConnectorObject | None:
        return await self._handler(object_class).get(object_class, uid, options)

    async def search(
        self, object_class: str, filter: Filter | None, options: OperationOptions
    ) -> AsyncIterator[SearchPage]:
        async for page in self._handler(object_class).search(object_class, filter, options):
            yield page

    async def create(
        self, object_class: str, attributes: Attributes, options: OperationOptions
    ) -> Uid:
        return await self._handler(object_class).create(object_class, attributes, options)

    async def update(
        self, object_class: str, uid: Uid, attributes: Attributes, options: OperationOptions
    ) -> Uid:
        return await self._handler(object_class).update(object_class, uid, attributes, options)

    async def add_attribute_values(
        self, object_class: str, uid: Uid, attributes: Attributes, options: OperationOptions
    ) -> Uid:
        handler = self._handler(object_class)
        return await handler.add_attribute_values(object_class, uid, attributes, options)

    async def remove_attribute_values(
        self, object_class: str, uid: Uid, attributes: Attributes, options: OperationOptions
    ) -> Uid:
        handler = self._handler(object_class)
        return await handler.remove_attribute_values(object_class, uid, attributes, options)

    async def delete(self, object_class: str, uid: Uid, options: OperationOptions) -> None:
        await self._handler(object_class).delete(object_class, uid, options)

    # -- live sync -----------------------------------------------------------------------

    async def sync(
        self, object_class: str, token: SyncToken | None, options: OperationOptions
    ) -> AsyncIterator[SyncPage]:
        async for page in self._sync.sync(object_class, token, options):
            yield page

    async def latest_sync_token(self, object_class: str) -> SyncToken | None:
        return await self._sync.latest_sync_token(object_class)

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
        return build_schema(await self.http.catalogs(), association_attribute_infos())

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
