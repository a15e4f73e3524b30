"""What a configuration's connector instances share: HTTP to HubSpot and the schema it read."""

from __future__ import annotations

import asyncio
import time

from connector.base import ConnectorContext
from connector.hubspot.http import HubspotHttp
from connector.hubspot.schema import CRM_TYPES, PropertyCatalog, PropertyDef, builtin_catalog

SCHEMA_TTL_S = 600.0
"""How long a schema read from HubSpot (`readSchema`) is used before it is read again."""


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
