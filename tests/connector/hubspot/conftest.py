"""Fixtures: a real emulator on 127.0.0.1 port 0 and HubSpot connectors configured for it."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from client.connection import Facade, RcsClient
from connector.base import ConnectorContext
from connector.hubspot import HubspotConnector
from connector.hubspot.configuration import HubspotConfiguration
from connector.registry import ConnectorRegistry
from emulator import Emulator, EmulatorSettings, run_emulator
from protocol.configuration import InlineConfiguration
from protocol.values import GuardedString
from server.app import ConnectorServer, HostedConfiguration
from server.keyhash import hash_key
from server.settings import ServerSettings

SERVER_KEY = "test-key"

MakeConnector = Callable[..., Awaitable[HubspotConnector]]


@pytest.fixture
def settings() -> EmulatorSettings:
    """Seeded data; HubSpot's rate limits off unless a test turns them on."""
    return EmulatorSettings(contacts=60, companies=12, seed=11, rate_limits_enabled=False)


@pytest.fixture
async def emu(settings: EmulatorSettings) -> AsyncIterator[Emulator]:
    async with run_emulator(settings) as running:
        yield running


def properties_for(emu: Emulator, **overrides: Any) -> dict[str, Any]:
    """configurationProperties as an IDM provisioner file writes them (strings included)."""
    properties: dict[str, Any] = {
        "clientId": emu.client_id,
        "clientSecret": emu.client_secret,
        "refreshToken": emu.refresh_token,
        "apiBaseUrl": emu.base_url,
        "permitsPerSecond": "1000",
        "searchRequestsPerSecond": "1000",
        "requestTimeoutSeconds": "10",
    }
    properties.update(overrides)
    return properties


@contextlib.asynccontextmanager
async def serving(
    properties: dict[str, Any], name: str = "hubspot"
) -> AsyncIterator[tuple[ConnectorServer, Facade]]:
    """A real server on 127.0.0.1 port 0 holding one HubSpot configuration, and a client's
    facade for it."""
    hosted = HostedConfiguration(
        name=name,
        connector_ref=HubspotConnector.connector_key,
        configuration=InlineConfiguration.model_validate({"configurationProperties": properties}),
    )
    settings = ServerSettings(
        host="127.0.0.1", port=0, key_hash=hash_key(SERVER_KEY), auth_failure_delay_s=0.0
    )
    async with (
        ConnectorServer(settings, ConnectorRegistry([HubspotConnector]), {name: hosted}) as server,
        await RcsClient.connect(server.url, SERVER_KEY) as client,
    ):
        yield server, await client.facade(name)


@pytest.fixture
async def make_connector(emu: Emulator) -> AsyncIterator[MakeConnector]:
    """Build initialised connectors; each gets its own shared resources, closed at the end."""
    opened: list[HubspotConnector] = []

    async def make(
        *,
        scripting_enabled: bool = False,
        persisted: dict[str, GuardedString] | None = None,
        **overrides: Any,
    ) -> HubspotConnector:
        config = HubspotConfiguration.from_properties(properties_for(emu, **overrides))

        async def persist(name: str, value: GuardedString) -> None:
            if persisted is not None:
                persisted[name] = value

        context = ConnectorContext(
            configuration=config,
            configuration_name="hubspot",
            scripting_enabled=scripting_enabled,
            persist_property=persist,
        )
        shared = await HubspotConnector.open_shared(context)
        connector = HubspotConnector(context, shared)
        await connector.init()
        opened.append(connector)
        return connector

    yield make
    for connector in opened:
        await connector.shared.aclose()


@pytest.fixture
async def connector(make_connector: MakeConnector) -> HubspotConnector:
    return await make_connector()
