"""Calling HubSpot: OAuth, retries under injected faults, creates never sent twice, rate
limits, the proxy, TLS, and cancellation, all against the emulator over real HTTP."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest

from connector.hubspot import HubspotConnector
from emulator import Emulator, EmulatorSettings, run_emulator
from emulator.faults import Outcome
from protocol.errors import (
    ConnectionBrokenException,
    ConnectionFailedException,
    InvalidCredentialException,
    RetryableException,
)
from protocol.filters import Presence
from protocol.values import GuardedString, OperationOptions
from tests.conftest import MakeConnector
from tests.server.certificates import self_signed

from .recording_proxy import recording_proxy
from .test_search import ids, read_all

CONTACTS = "/crm/v3/objects/contacts"
MANY = EmulatorSettings(contacts=650, companies=3, seed=9, rate_limits_enabled=False)


# -- OAuth -----------------------------------------------------------------------------------


async def test_one_task_refreshes_the_token_for_all(
    connector: HubspotConnector, emu: Emulator
) -> None:
    everyone = await read_all(connector, "contact")
    emu.expire_access_tokens()
    before = len(emu.requests_to("/oauth/"))
    found = await asyncio.gather(
        *(connector.get("contact", o.uid, OperationOptions()) for o in everyone[:20])
    )
    assert all(found)
    assert len(emu.requests_to("/oauth/")) - before == 1


async def test_a_bad_refresh_token_says_what_to_do(
    make_connector: MakeConnector, emu: Emulator
) -> None:
    connector = await make_connector(refreshToken="not-a-token")
    with pytest.raises(InvalidCredentialException, match="Authorize the app again") as caught:
        await connector.test()
    assert "not-a-token" not in str(caught.value)


async def test_a_revoked_refresh_token_fails_after_one_retry(
    connector: HubspotConnector, emu: Emulator
) -> None:
    await connector.test()
    emu.revoke_refresh_token(emu.refresh_token)
    with pytest.raises(InvalidCredentialException, match="refresh token"):
        await read_all(connector, "contact")


@pytest.mark.parametrize(
    "emulator_settings",
    [
        EmulatorSettings(
            contacts=3, companies=1, rotate_refresh_tokens=True, rate_limits_enabled=False
        )
    ],
)
async def test_a_rotated_refresh_token_is_kept_and_handed_to_the_server(
    make_connector: MakeConnector, emu: Emulator
) -> None:
    persisted: dict[str, GuardedString] = {}
    connector = await make_connector(persisted=persisted)
    await connector.test()
    first = persisted["refreshToken"]
    assert first.reveal() != emu.refresh_token
    emu.expire_access_tokens()
    assert len(await read_all(connector, "contact")) == 3  # refreshed with the rotated one
    assert persisted["refreshToken"] != first


# -- retries ---------------------------------------------------------------------------------


@pytest.mark.parametrize("emulator_settings", [MANY])
async def test_429_storms_and_5xx_bursts_lose_and_duplicate_nothing(
    connector: HubspotConnector, emu: Emulator
) -> None:
    emu.faults.add_sequence(
        [429, 429, "ok", 503, 502, "ok", 504, "drop", "ok", 500, "ok", 429],
        path_prefix=CONTACTS,
        method="GET",
    )
    got = ids(await read_all(connector, "contact"))
    assert len(got) == len(set(got)) == len(emu.store.contacts)
    emu.faults.clear()
    emu.faults.add_sequence([429, 503, "ok", 429, "drop"], path_prefix=CONTACTS + "/search")
    got = ids(await read_all(connector, "contact", Presence(attribute="__NAME__")))
    assert len(got) == len(set(got)) == len(emu.store.contacts)


async def test_locked_and_stalled_reads_are_retried(
    make_connector: MakeConnector, emu: Emulator
) -> None:
    connector = await make_connector(requestTimeoutSeconds="0.3")
    await connector.test()
    emu.faults.add_sequence([423, "stall"], path_prefix=CONTACTS, method="GET", stall_s=1.0)
    got = ids(await read_all(connector, "contact"))
    assert len(got) == len(set(got)) == len(emu.store.contacts)
    statuses = [r.status for r in emu.requests_to(CONTACTS)]
    assert statuses[:2] == [200, 423]  # the test's call, then the lock; the stall never answered
    assert connector.http.answers[0] == 1  # the stalled call timed out


async def test_exhausted_retries_raise_retryable(
    make_connector: MakeConnector, emu: Emulator
) -> None:
    connector = await make_connector(maxRetries="1")
    await connector.test()
    emu.faults.add(status=503, path_prefix=CONTACTS)
    with pytest.raises(RetryableException, match="503"):
        await read_all(connector, "contact")
    emu.faults.clear()
    emu.faults.add(drop=True, path_prefix=CONTACTS)
    with pytest.raises(ConnectionBrokenException, match="after 2 attempts"):
        await read_all(connector, "contact")


async def test_connection_refused_is_connection_failed(make_connector: MakeConnector) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    connector = await make_connector(apiBaseUrl=f"http://127.0.0.1:{port}", maxRetries="0")
    with pytest.raises(ConnectionFailedException, match="could not connect"):
        await connector.test()


@pytest.mark.parametrize("fault", ["drop", 502, 503])
async def test_a_failed_create_is_looked_up_before_it_is_sent_again(
    connector: HubspotConnector, emu: Emulator, fault: Outcome
) -> None:
    emu.faults.add_sequence([fault], path_prefix=CONTACTS, method="POST")
    uid = await connector.create(
        "contact", {"__NAME__": ["once@example.com"], "firstname": ["Once"]}, OperationOptions()
    )
    record = emu.store.contacts.find("email", "once@example.com")
    assert record is not None and str(record.id) == uid.value
    calls = [(r.method, r.status) for r in emu.requests_to(CONTACTS)]
    assert calls == [("POST", 0 if fault == "drop" else fault), ("GET", 404), ("POST", 201)]


async def test_a_create_whose_answer_was_lost_is_not_made_twice(
    make_connector: MakeConnector, emu: Emulator
) -> None:
    """HubSpot carries out the create, but the answer comes too late: the connector finds
    the contact by email instead of making a second one (or failing on the 409)."""
    connector = await make_connector(requestTimeoutSeconds="0.3")
    await connector.test()
    emu.faults.add(stall_s=0.6, count=1, path_prefix=CONTACTS, method="POST")
    uid = await connector.create("contact", {"__NAME__": ["late@example.com"]}, OperationOptions())
    await asyncio.sleep(0.5)  # let the stalled create finish in the emulator
    matches = [r for r in emu.store.contacts.live() if r.props.get("email") == "late@example.com"]
    assert [str(r.id) for r in matches] == [uid.value]


async def test_a_failed_company_create_is_looked_up_by_name(
    make_connector: MakeConnector, emu: Emulator
) -> None:
    connector = await make_connector(searchIndexingDelaySeconds="0")
    emu.faults.add(drop=True, count=1, path_prefix="/crm/v3/objects/companies", method="POST")
    uid = await connector.create("company", {"__NAME__": ["Only Once Ltd"]}, OperationOptions())
    made = [r for r in emu.store.companies.live() if r.props.get("name") == "Only Once Ltd"]
    assert [str(r.id) for r in made] == [uid.value]


# -- rate limits -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "emulator_settings",
    [
        EmulatorSettings(
            contacts=30,
            companies=1,
            seed=4,
            rate_limits_enabled=True,
            ten_second_limit=25,
            ten_second_window_s=1.0,
            search_per_second_limit=5,
        )
    ],
)
async def test_the_limiter_stays_under_hubspots_limits(
    make_connector: MakeConnector, emu: Emulator
) -> None:
    connector = await make_connector(searchRequestsPerSecond="5")
    everyone = await read_all(connector, "contact")
    for obj in everyone + everyone:
        assert await connector.get("contact", obj.uid, OperationOptions())
    for _ in range(8):
        await read_all(connector, "contact", Presence(attribute="phone"))
    assert [r for r in emu.requests if r.status == 429] == []


async def test_permits_per_second_is_shared_by_a_configurations_instances(
    make_connector: MakeConnector,
) -> None:
    connector = await make_connector(permitsPerSecond="7")
    twin = HubspotConnector(connector.context, connector.shared)
    assert twin.http.limiter is connector.http.limiter
    assert connector.http.limiter.bucket.rate == 7


# -- cancellation ----------------------------------------------------------------------------


async def test_cancelling_stops_the_call_in_flight(
    connector: HubspotConnector, emu: Emulator
) -> None:
    await connector.test()
    emu.faults.add(stall_s=30, path_prefix=CONTACTS)

    async def search() -> None:
        await read_all(connector, "contact")

    task = asyncio.create_task(search())
    while not any(r for r in emu.faults.rules if r.seen):
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


# -- proxy -----------------------------------------------------------------------------------


async def test_every_call_goes_through_the_proxy(
    make_connector: MakeConnector, emu: Emulator
) -> None:
    async with recording_proxy() as proxy:
        connector = await make_connector(httpProxyHost="127.0.0.1", httpProxyPort=proxy.port)
        await connector.test()
        everyone = await read_all(connector, "contact")
        await read_all(connector, "contact", Presence(attribute="phone"))
        await connector.create("contact", {"__NAME__": ["via@proxy.example"]}, OperationOptions())
        assert everyone
    paths = [line.split(" ", 1)[1].split("?")[0].removeprefix(emu.base_url) for line in proxy.lines]
    assert paths == [r.path for r in emu.requests]
    assert "/oauth/v3/token" in paths and CONTACTS + "/search" in paths


async def test_at_most_maximum_connections_are_open(
    make_connector: MakeConnector, emu: Emulator
) -> None:
    everyone = await read_all(await make_connector(), "contact")
    emu.faults.set_latency(20.0)
    async with recording_proxy() as proxy:
        connector = await make_connector(
            httpProxyHost="127.0.0.1", httpProxyPort=proxy.port, maximumConnections="3"
        )
        await connector.test()
        found = await asyncio.gather(
            *(connector.get("contact", o.uid, OperationOptions()) for o in everyone[:30])
        )
        assert all(found)
    assert proxy.most_connections == 3


# -- TLS -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cert_host", "accept_self_signed", "no_host_check", "works"),
    [
        ("127.0.0.1", False, False, False),  # self-signed: not trusted by default
        ("127.0.0.1", True, False, True),
        ("127.0.0.1", False, True, False),  # no host check does not mean no chain check
        ("other.example", True, False, False),  # trusted, but names another host
        ("other.example", True, True, True),
    ],
)
async def test_self_signed_tls_with_and_without_the_flags(
    make_connector: MakeConnector,
    tmp_path: Path,
    cert_host: str,
    accept_self_signed: bool,
    no_host_check: bool,
    works: bool,
) -> None:
    cert = key = None
    if cert_host != "127.0.0.1":
        issued = self_signed(tmp_path, cert_host)
        cert, key = issued.cert, issued.key
    settings = EmulatorSettings(
        contacts=2, companies=1, tls=True, tls_cert_file=cert, tls_key_file=key,
        rate_limits_enabled=False,
    )  # fmt: skip
    async with run_emulator(settings) as tls_emu:
        connector = await make_connector(
            clientId=tls_emu.client_id,
            clientSecret=tls_emu.client_secret,
            refreshToken=tls_emu.refresh_token,
            apiBaseUrl=tls_emu.base_url,
            acceptSelfSignedCertificates=str(accept_self_signed).lower(),
            disableHostNameVerifier=no_host_check,
            maxRetries="0",
        )
        if works:
            await connector.test()
            assert len(await read_all(connector, "contact")) == 2
        else:
            with pytest.raises(ConnectionFailedException, match="acceptSelfSignedCertificates"):
                await connector.test()
            assert tls_emu.requests == []  # nothing, not even the refresh token, was sent


async def test_self_signed_tls_through_the_proxy(make_connector: MakeConnector) -> None:
    settings = EmulatorSettings(contacts=2, companies=1, tls=True, rate_limits_enabled=False)
    async with run_emulator(settings) as tls_emu, recording_proxy() as proxy:
        connector = await make_connector(
            clientId=tls_emu.client_id,
            clientSecret=tls_emu.client_secret,
            refreshToken=tls_emu.refresh_token,
            apiBaseUrl=tls_emu.base_url,
            acceptSelfSignedCertificates=True,
            httpProxyHost="127.0.0.1",
            httpProxyPort=proxy.port,
        )
        await connector.test()
    port = tls_emu.base_url.rsplit(":", 1)[1]
    assert proxy.lines and all(line == f"CONNECT 127.0.0.1:{port}" for line in proxy.lines)
