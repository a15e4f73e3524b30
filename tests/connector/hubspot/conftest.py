"""Fixtures: a HubSpot connector configured for the emulator (`emu`, `make_connector`:
tests/conftest.py), and a real server holding one HubSpot configuration."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from client.connection import Facade, RcsClient
from connector.hubspot import HubspotConnector
from connector.registry import ConnectorRegistry
from protocol.configuration import InlineConfiguration
from server.app import ConnectorServer, HostedConfiguration
from server.keyhash import hash_key
from server.settings import ServerSettings
from tests.conftest import MakeConnector, properties_for

__all__ = ["SERVER_KEY", "MakeConnector", "properties_for", "serving"]

SERVER_KEY = "test-key"


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
async def connector(make_connector: MakeConnector) -> HubspotConnector:
    return await make_connector()
