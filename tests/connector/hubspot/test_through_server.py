"""The connector as IDM uses it: behind the server, through the protocol client."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from client.connection import Facade, RcsClient
from connector.hubspot import HubspotConnector
from connector.registry import ConnectorRegistry
from emulator import Emulator, EmulatorSettings
from protocol.configuration import InlineConfiguration
from protocol.errors import UnknownUidException
from protocol.filters import Equals, Presence
from protocol.values import GuardedString
from server.app import ConnectorServer, HostedConfiguration
from server.keyhash import hash_key
from server.settings import ServerSettings
from tests.conftest import properties_for

KEY = "test-key"


@pytest.fixture
def emulator_settings() -> EmulatorSettings:
    return EmulatorSettings(
        contacts=230, companies=4, seed=13, rate_limits_enabled=False, rotate_refresh_tokens=True
    )


@pytest.fixture
async def stored() -> dict[tuple[str, str], str]:
    return {}


@pytest.fixture
async def hubspot(emu: Emulator, stored: dict[tuple[str, str], str]) -> AsyncIterator[Facade]:
    configuration = InlineConfiguration.model_validate(
        {"configurationProperties": properties_for(emu)}
    )
    hosted = HostedConfiguration(
        name="hubspot", connector_ref=HubspotConnector.connector_key, configuration=configuration
    )

    def persist(name: str, property_name: str, value: GuardedString) -> None:
        stored[(name, property_name)] = value.reveal()

    server_settings = ServerSettings(
        host="127.0.0.1", port=0, key_hash=hash_key(KEY), auth_failure_delay_s=0.0
    )
    async with (
        ConnectorServer(
            server_settings,
            ConnectorRegistry([HubspotConnector]),
            {"hubspot": hosted},
            persist=persist,
        ) as server,
        await RcsClient.connect(server.url, KEY) as client,
    ):
        yield await client.facade("hubspot")


async def test_reconciliation_pages_through_every_contact(
    hubspot: Facade, emu: Emulator, stored: dict[tuple[str, str], str]
) -> None:
    await hubspot.test()
    seen: list[str] = []
    cookie = None
    while True:
        async with hubspot.search(
            "contact", Presence(attribute="__NAME__"), pageSize=50, pagedResultsCookie=cookie
        ) as results:
            seen += [o.uid.value async for o in results]
        assert results.result is not None
        cookie = results.result.pagedResultsCookie
        if cookie is None:
            break
    assert len(seen) == len(set(seen)) == len(emu.store.contacts)
    # HubSpot rotated the refresh token: the server was handed the new one to store.
    assert stored[("hubspot", "refreshToken")] != emu.refresh_token


async def test_provisioning_round_trip(hubspot: Facade) -> None:
    uid = await hubspot.create("contact", {"__NAME__": ["idm@example.com"], "firstname": ["Idm"]})
    async with hubspot.search(
        "contact", Equals(attribute="__NAME__", value="idm@example.com")
    ) as r:
        found = [o async for o in r]
    assert [o.uid.value for o in found] == [uid.value]
    uid = await hubspot.update("contact", uid.value, {"firstname": ["Provisioned"]})
    got = await hubspot.get("contact", uid.value)
    assert got is not None and got.attributes["firstname"] == ["Provisioned"]
    await hubspot.delete("contact", uid.value)
    with pytest.raises(UnknownUidException):
        await hubspot.delete("contact", uid.value)
    schema = await hubspot.schema()
    assert [o.type for o in schema.objectClasses][:2] == ["contact", "company"]
