"""The HubSpot connector's metrics on the server's `/metrics`, against the emulator."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from connector.base import ConnectorContext
from connector.hubspot import HubspotConnector
from connector.hubspot.configuration import HubspotConfiguration
from connector.hubspot.metrics import HubspotMetrics
from emulator import Emulator
from protocol.errors import InvalidCredentialException
from tests.server.test_metrics import samples, value

from .conftest import properties_for, serving


async def test_hubspot_calls_429s_limiter_waits_and_token_refreshes(emu: Emulator) -> None:
    # Two permits a second: the third call in a row waits for the client-side limiter.
    properties = properties_for(emu, permitsPerSecond="2")
    emu.faults.add(status=429, count=1, path_prefix="/crm/v3/objects/contacts/")
    async with serving(properties, "crm") as (server, crm):
        ids = [record.id for record in emu.store.contacts.live()[:3]]
        for uid in ids:
            assert await crm.get("contact", str(uid)) is not None
        found = await samples(server)

    labels = {"configuration": "crm"}
    assert value(found, "hubspot_requests_total", status="200", **labels) == 3
    assert value(found, "hubspot_requests_total", status="429", **labels) == 1
    assert value(found, "hubspot_rate_limited_total", policy="TEN_SECONDLY_ROLLING", **labels) == 1
    assert value(found, "hubspot_retries_total", reason="429", **labels) == 1
    assert value(found, "hubspot_token_refreshes_total", outcome="ok", **labels) == 1
    waits = value(found, "hubspot_ratelimiter_wait_seconds_count", limit="permits", **labels)
    assert waits >= 1
    assert value(found, "hubspot_ratelimiter_wait_seconds_sum", limit="permits", **labels) > 0
    # The server's own numbers sit beside them, in the same scrape.
    assert value(found, "rcs_operations_total", operation="GET", outcome="ok") == 3


def test_instruments_are_made_once_per_registry() -> None:
    registry = CollectorRegistry()
    assert HubspotMetrics.of(registry) is HubspotMetrics.of(registry)
    assert HubspotMetrics.of(CollectorRegistry()) is not HubspotMetrics.of(registry)
    HubspotMetrics.of(None).bind("x").answered(200)  # no registry: counted, never shown


async def test_a_refused_token_refresh_counts_as_failed(emu: Emulator) -> None:
    registry = CollectorRegistry()
    config = HubspotConfiguration.from_properties(properties_for(emu, refreshToken="revoked"))
    context = ConnectorContext(configuration=config, configuration_name="crm", metrics=registry)
    shared = await HubspotConnector.open_shared(context)
    try:
        connector = HubspotConnector(context, shared)
        await connector.init()
        with pytest.raises(InvalidCredentialException, match="refresh token"):
            await connector.test()
    finally:
        await shared.aclose()
    failed = {"configuration": "crm", "outcome": "failed"}
    assert registry.get_sample_value("hubspot_token_refreshes_total", failed) == 1
