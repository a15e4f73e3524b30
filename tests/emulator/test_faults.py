"""Fault injection from a test: statuses, sequences, rates, drops, stalls and latency."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from hubspot import HubSpot
from hubspot.crm.contacts import ApiException
from urllib3.util.retry import Retry

from emulator import Emulator, EmulatorSettings, Faults
from tests.emulator.conftest import Http, in_thread

SEARCH = "/crm/v3/objects/contacts/search"


async def test_status_with_count_and_path(emu: Emulator, http: Http) -> None:
    rule = emu.faults.add(status=429, count=2, path_prefix=SEARCH)
    statuses = [(await http.call("POST", SEARCH, json={}))[0] for _ in range(3)]
    assert statuses == [429, 429, 200]
    assert (await http.call("GET", "/crm/v3/objects/contacts"))[0] == 200
    assert (rule.seen, rule.fired) == (3, 2)
    assert [r.fault for r in emu.requests_to(SEARCH)] == [rule.id, rule.id, None]


async def test_injected_429_looks_like_hubspots(emu: Emulator, http: Http) -> None:
    emu.faults.add(status=429, count=1, path_prefix=SEARCH, retry_after_s=2)
    status, body, headers = await http.call("POST", SEARCH, json={})
    assert status == 429
    assert (body["errorType"], body["policyName"]) == ("RATE_LIMIT", "SECONDLY")
    assert headers["Retry-After"] == "2"
    emu.faults.add(status=429, count=1)
    _, body, headers = await http.call("GET", "/crm/v3/objects/contacts")
    assert body["policyName"] == "TEN_SECONDLY_ROLLING"
    assert "Retry-After" not in headers


async def test_sequence(emu: Emulator, http: Http) -> None:
    emu.faults.add_sequence([503, "ok", 423, 502], path_prefix="/crm/v3/objects/contacts")
    statuses = [(await http.call("GET", "/crm/v3/objects/contacts"))[0] for _ in range(5)]
    assert statuses == [503, 200, 423, 502, 200]


async def test_skip_and_method(emu: Emulator, http: Http) -> None:
    emu.faults.add(status=500, skip=1, count=1, method="post")
    assert (await http.call("GET", "/crm/v3/objects/contacts"))[0] == 200
    assert (await http.call("POST", SEARCH, json={}))[0] == 200
    assert (await http.call("POST", SEARCH, json={}))[0] == 500


async def test_rates_are_seeded() -> None:
    def run(seed: int) -> list[bool]:
        faults = Faults(seed=seed)
        faults.add(status=503, rate=0.3)
        return [faults.pick("GET", "/x") is not None for _ in range(200)]

    first, again = run(1), run(1)
    assert first == again
    assert 30 < sum(first) < 90


async def test_dropped_connection(emu: Emulator, http: Http) -> None:
    emu.faults.add(drop=True, count=1)
    # A POST: aiohttp's client quietly retries an idempotent GET on a dropped connection.
    with pytest.raises(aiohttp.ClientError):
        await http.call("POST", SEARCH, json={})
    assert (await http.call("POST", SEARCH, json={}))[0] == 200
    assert [r.status for r in emu.requests] == [0, 200]


async def test_lost_answer_carries_the_request_out(emu: Emulator, http: Http) -> None:
    emu.faults.add(lose_answer=True, count=1, method="POST")
    create = {"properties": {"email": "lost@example.com"}}
    with pytest.raises(aiohttp.ClientError):
        await http.call("POST", "/crm/v3/objects/contacts", json=create)
    status, body, _ = await http.call(
        "GET", "/crm/v3/objects/contacts/lost@example.com", params={"idProperty": "email"}
    )
    assert status == 200 and body["properties"]["email"] == "lost@example.com"
    assert [r.status for r in emu.requests][:1] == [0]


async def test_stalled_response_times_out_the_client(emu: Emulator, http: Http) -> None:
    emu.faults.add(stall_s=30, count=1)
    with pytest.raises(asyncio.TimeoutError):
        async with asyncio.timeout(0.3):
            await http.call("GET", "/crm/v3/objects/contacts")
    assert (await http.call("GET", "/crm/v3/objects/contacts"))[0] == 200


async def test_a_stalled_write_is_carried_out_after_its_client_gave_up(
    emu: Emulator, http: Http
) -> None:
    """HubSpot had the request and was slow: the write happens though no one hears of it."""
    emu.faults.add(stall_s=0.5, count=1, method="POST")
    with pytest.raises(asyncio.TimeoutError):
        async with asyncio.timeout(0.1):
            await http.call("POST", "/crm/v3/objects/companies", json={"properties": {"name": "S"}})
    for _ in range(100):  # until the stall is over
        if emu.requests_to("/crm/v3/objects/companies"):
            break
        await asyncio.sleep(0.05)
    assert [r.props["name"] for r in emu.store.companies.live() if r.props.get("name") == "S"]


async def test_latency_delays_answers(emu: Emulator, http: Http) -> None:
    emu.faults.set_latency(400)
    with pytest.raises(asyncio.TimeoutError):
        async with asyncio.timeout(0.2):
            await http.call("GET", "/crm/v3/objects/contacts")
    emu.faults.clear()
    assert (await http.call("GET", "/crm/v3/objects/contacts"))[0] == 200


@pytest.mark.parametrize("distribution", ["uniform", "exponential", "lognormal"])
def test_latency_distributions_have_the_asked_mean(distribution: str) -> None:
    faults = Faults(seed=3)
    faults.set_latency(10, jitter_ms=20, distribution=distribution)  # type: ignore[arg-type]
    draws = [faults.delay_s() * 1000 for _ in range(4000)]
    assert min(draws) >= 10
    assert 25 < sum(draws) / len(draws) < 35


@pytest.mark.parametrize(
    "emulator_settings", [EmulatorSettings(contacts=3, error_rate=1.0, error_statuses=(503,))]
)
async def test_settings_rates(emu: Emulator, http: Http) -> None:
    assert (await http.call("GET", "/crm/v3/objects/contacts"))[0] == 503


async def test_sdk_retries_through_injected_faults(emu: Emulator) -> None:
    emu.faults.add(status=503, count=2, path_prefix=SEARCH)
    sdk = HubSpot(
        access_token=emu.private_app_token,
        host=emu.base_url,
        base_url=emu.base_url,
        retry=Retry(total=3, backoff_factor=0, status_forcelist=(503,), allowed_methods=None),
    )
    result = await in_thread(sdk.crm.contacts.search_api.do_search, {"limit": 1})
    assert result.total == 40
    plain = HubSpot(access_token=emu.private_app_token, host=emu.base_url, base_url=emu.base_url)
    emu.faults.add(status=504, count=1)
    with pytest.raises(ApiException) as caught:
        await in_thread(plain.crm.contacts.basic_api.get_page)
    assert caught.value.status == 504


def test_a_rule_needs_exactly_one_action() -> None:
    faults = Faults()
    with pytest.raises(ValueError, match="exactly one"):
        faults.add(status=500, drop=True)
    with pytest.raises(ValueError, match="rate"):
        faults.add(status=500, rate=2)
    rule = faults.add(status=500)
    faults.remove([rule.id])
    assert faults.rules == []
