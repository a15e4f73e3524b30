"""Defects 7 and 10: OAuth under token expiry, and a rotated refresh token that cannot be
stored. Real emulator over real HTTP."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import CollectorRegistry
from structlog.testing import capture_logs

from client.connection import RcsClient
from connector.hubspot import HubspotConnector
from connector.registry import ConnectorRegistry
from emulator import Emulator, EmulatorSettings
from protocol.configuration import InlineConfiguration
from protocol.errors import InvalidCredentialException
from protocol.values import GuardedString, OperationOptions, Uid
from server.app import ConnectorServer, HostedConfiguration
from tests.conftest import KEY, MakeConnector, properties_for, settings

CONTACTS = "/crm/v3/objects/contacts"
ROTATING = EmulatorSettings(
    contacts=5, companies=1, seed=2, rate_limits_enabled=False, rotate_refresh_tokens=True
)


async def test_a_second_401_within_one_call_refreshes_again(
    make_connector: MakeConnector, emu: Emulator
) -> None:
    """Defect 10: the token expires, is refreshed, a 503 comes, and the token has expired
    again by the resend. Not bad credentials: refresh once more and answer."""
    connector = await make_connector()
    await connector.test()
    first = emu.store.contacts.live()[0]
    emu.faults.add_sequence([401, 503, 401], path_prefix=CONTACTS, method="GET")
    found = await connector.get("contact", Uid(value=str(first.id)), OperationOptions())
    assert found is not None and found.uid.value == str(first.id)
    assert [r.status for r in emu.requests_to(CONTACTS)][1:] == [401, 503, 401, 200]


async def test_a_fresh_token_expired_before_its_first_use_is_refreshed_again(
    make_connector: MakeConnector, emu: Emulator
) -> None:
    """Defect 10 under load, tokens expiring every few hundred milliseconds: the token is
    refreshed, and expires before the call carrying it is checked (here: held by HubSpot while
    every token expires). HubSpot says expired, not invalid: not bad credentials either."""
    connector = await make_connector()
    await connector.test()
    first = emu.store.contacts.live()[0]
    emu.expire_access_tokens()
    (held,) = emu.faults.add_sequence(
        ["ok", "stall"], path_prefix=CONTACTS, method="GET", stall_s=1.0
    )

    async def expire_while_held() -> None:
        while not held.fired:
            await asyncio.sleep(0.01)
        emu.expire_access_tokens()

    expiring = asyncio.create_task(expire_while_held())
    found = await connector.get("contact", Uid(value=str(first.id)), OperationOptions())
    await expiring
    assert found is not None and found.uid.value == str(first.id)
    # The old token, the fresh one expired while held, a third one.
    assert [r.status for r in emu.requests_to(CONTACTS)][1:] == [401, 401, 200]


async def test_a_fresh_token_refused_is_bad_credentials(
    make_connector: MakeConnector, emu: Emulator
) -> None:
    connector = await make_connector()
    await connector.test()
    emu.faults.add(status=401, path_prefix=CONTACTS, method="GET")
    with pytest.raises(InvalidCredentialException, match="401"):
        await connector.get("contact", Uid(value="1"), OperationOptions())
    assert [r.status for r in emu.requests_to(CONTACTS)][1:] == [401, 401]


@pytest.mark.parametrize("emulator_settings", [ROTATING])
async def test_a_rotated_refresh_token_that_cannot_be_stored_is_loud_and_kept(
    make_connector: MakeConnector, emu: Emulator
) -> None:
    """Defect 7: the server cannot write the configuration (read-only). The operation works,
    the error is logged with what to do, the metric and `problems()` (readiness) say so, and
    later operations keep working on the token in memory."""

    async def read_only(name: str, value: GuardedString) -> None:
        raise PermissionError(13, "Permission denied", "conf/hubspot.json")

    registry = CollectorRegistry()
    connector = await make_connector(persist_property=read_only, metrics=registry)
    with capture_logs() as logs:
        await connector.test()
    errors = [e for e in logs if e["event"] == "hubspot.refresh_token_not_stored"]
    assert len(errors) == 1 and errors[0]["log_level"] == "error"
    assert "writable" in errors[0]["problem"] and "after a restart" in errors[0]["problem"]
    assert (
        registry.get_sample_value("hubspot_refresh_token_unsaved", {"configuration": "hubspot"})
        == 1.0
    )
    assert connector.shared.problems() == [errors[0]["problem"]]
    emu.expire_access_tokens()  # the next call refreshes with the rotated token in memory
    assert len(emu.store.contacts.live()) == 5
    found = await connector.get(
        "contact", Uid(value=str(emu.store.contacts.live()[0].id)), OperationOptions()
    )
    assert found is not None


@pytest.mark.parametrize("emulator_settings", [ROTATING])
async def test_a_refresh_token_stored_later_clears_the_alarm(
    make_connector: MakeConnector, emu: Emulator
) -> None:
    failing = [True]
    stored: list[str] = []

    async def flaky(name: str, value: GuardedString) -> None:
        if failing[0]:
            raise OSError(30, "Read-only file system")
        stored.append(value.reveal())

    registry = CollectorRegistry()
    connector = await make_connector(persist_property=flaky, metrics=registry)
    await connector.test()
    assert connector.shared.problems()
    failing[0] = False
    emu.expire_access_tokens()
    await connector.test()
    assert connector.shared.problems() == []
    assert len(stored) == 1
    assert (
        registry.get_sample_value("hubspot_refresh_token_unsaved", {"configuration": "hubspot"})
        == 0.0
    )


@pytest.mark.parametrize("emulator_settings", [ROTATING])
async def test_readiness_names_a_refresh_token_the_server_could_not_store(emu: Emulator) -> None:
    """Through the server: the configuration file cannot be written. The operation answers,
    and /readyz (still 200: everything works until a restart) says what to fix."""

    def read_only(name: str, property_name: str, value: GuardedString) -> None:
        raise PermissionError(13, "Permission denied", f"conf/provisioner.openicf-{name}.json")

    configuration = InlineConfiguration.model_validate(
        {"configurationProperties": properties_for(emu)}
    )
    hosted = HostedConfiguration(
        name="hubspot", connector_ref=HubspotConnector.connector_key, configuration=configuration
    )
    async with (
        ConnectorServer(
            settings(),
            ConnectorRegistry([HubspotConnector]),
            {"hubspot": hosted},
            persist=read_only,
        ) as rcs,
        await RcsClient.connect(rcs.url, KEY) as client,
    ):
        hubspot = await client.facade("hubspot")
        await hubspot.test()
        reader, writer = await asyncio.open_connection("127.0.0.1", rcs.port)
        writer.write(b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        answer = (await reader.read()).decode()
        writer.close()
        assert answer.startswith("HTTP/1.1 200")
        assert "problem: configuration hubspot: HubSpot rotated the refresh token" in answer
        assert "writable" in answer
        emu.expire_access_tokens()
        await hubspot.test()  # the token in memory keeps working
