"""Rate limits: rolling windows, headers where HubSpot sends them, and 429 bodies (§4)."""

from __future__ import annotations

import json

import pytest
from hubspot import HubSpot
from hubspot.crm.contacts import ApiException

from emulator import Emulator, EmulatorSettings
from tests.emulator.conftest import Http, in_thread

LIMITED = EmulatorSettings(
    contacts=5, ten_second_limit=3, search_per_second_limit=2, daily_limit=1000
)


@pytest.mark.parametrize("emulator_settings", [LIMITED])
async def test_ten_second_window_and_headers(emu: Emulator, http: Http) -> None:
    remaining = []
    for _ in range(3):
        status, _, headers = await http.call("GET", "/crm/v3/objects/contacts")
        assert status == 200
        assert headers["X-HubSpot-RateLimit-Max"] == "3"
        assert headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
        # A private-app token also gets the daily headers (§4).
        assert headers["X-HubSpot-RateLimit-Daily"] == "1000"
        remaining.append(headers["X-HubSpot-RateLimit-Remaining"])
    assert remaining == ["2", "1", "0"]
    status, body, headers = await http.call("GET", "/crm/v3/objects/contacts")
    assert status == 429
    assert body["errorType"] == "RATE_LIMIT"
    assert body["policyName"] == "TEN_SECONDLY_ROLLING"
    assert body["message"] == "You have reached your ten_secondly_rolling limit."
    assert "Retry-After" not in headers  # off by default
    emu.clock.advance(10)
    assert (await http.call("GET", "/crm/v3/objects/contacts"))[0] == 200


@pytest.mark.parametrize("emulator_settings", [LIMITED])
async def test_the_window_rolls(emu: Emulator, http: Http) -> None:
    await http.call("GET", "/crm/v3/objects/contacts")
    emu.clock.advance(6)
    await http.call("GET", "/crm/v3/objects/contacts")
    await http.call("GET", "/crm/v3/objects/contacts")
    assert (await http.call("GET", "/crm/v3/objects/contacts"))[0] == 429
    emu.clock.advance(4.5)  # only the first call has left the window
    assert (await http.call("GET", "/crm/v3/objects/contacts"))[0] == 200
    assert (await http.call("GET", "/crm/v3/objects/contacts"))[0] == 429


@pytest.mark.parametrize("emulator_settings", [LIMITED])
async def test_search_has_its_own_limit_and_no_headers(emu: Emulator, http: Http) -> None:
    for _ in range(2):
        status, _, headers = await http.call("POST", "/crm/v3/objects/contacts/search", json={})
        assert status == 200
        assert not [h for h in headers if h.lower().startswith("x-hubspot-ratelimit")]
        assert "X-HubSpot-Correlation-Id" in headers
    status, body, headers = await http.call("POST", "/crm/v3/objects/contacts/search", json={})
    assert status == 429
    assert (body["policyName"], body["message"]) == (
        "SECONDLY",
        "You have reached your secondly limit.",
    )
    # Search is exempt from the ten-second window (§1.7).
    for _ in range(3):
        assert (await http.call("GET", "/crm/v3/objects/contacts"))[0] == 200
    emu.clock.advance(1)
    assert (await http.call("POST", "/crm/v3/objects/contacts/search", json={}))[0] == 200


@pytest.mark.parametrize(
    "emulator_settings", [EmulatorSettings(contacts=1, daily_limit=2, retry_after_on_429=True)]
)
async def test_daily_budget_and_retry_after(emu: Emulator, http: Http) -> None:
    for _ in range(2):
        assert (await http.call("GET", "/crm/v3/objects/contacts"))[0] == 200
    status, body, headers = await http.call("GET", "/crm/v3/objects/contacts")
    assert (status, body["policyName"]) == (429, "DAILY")
    assert body["message"] == "You have reached your daily limit."
    assert int(headers["Retry-After"]) > 0


@pytest.mark.parametrize("emulator_settings", [LIMITED])
async def test_oauth_calls_carry_no_daily_headers(emu: Emulator, http: Http) -> None:
    _, token, _ = await http.call(
        "POST",
        "/oauth/v1/token",
        data={
            "grant_type": "refresh_token",
            "client_id": emu.client_id,
            "client_secret": emu.client_secret,
            "refresh_token": emu.refresh_token,
        },
    )
    status, _, headers = await http.call(
        "GET", "/crm/v3/objects/contacts", token=token["access_token"]
    )
    assert status == 200
    assert "X-HubSpot-RateLimit-Max" in headers
    assert "X-HubSpot-RateLimit-Daily" not in headers


@pytest.mark.parametrize("emulator_settings", [LIMITED])
async def test_windows_are_per_app(emu: Emulator, http: Http) -> None:
    for _ in range(3):
        await http.call("GET", "/crm/v3/objects/contacts")
    assert (await http.call("GET", "/crm/v3/objects/contacts"))[0] == 429
    _, token, _ = await http.call(
        "POST",
        "/oauth/v1/token",
        data={
            "grant_type": "refresh_token",
            "client_id": emu.client_id,
            "client_secret": emu.client_secret,
            "refresh_token": emu.refresh_token,
        },
    )
    status, _, _ = await http.call("GET", "/crm/v3/objects/contacts", token=token["access_token"])
    assert status == 200  # the OAuth app has a window of its own


@pytest.mark.parametrize("emulator_settings", [LIMITED])
async def test_sdk_sees_the_429(emu: Emulator, sdk: HubSpot) -> None:
    for _ in range(3):
        await in_thread(sdk.crm.contacts.basic_api.get_page)
    with pytest.raises(ApiException) as caught:
        await in_thread(sdk.crm.contacts.basic_api.get_page)
    assert caught.value.status == 429
    assert json.loads(caught.value.body)["policyName"] == "TEN_SECONDLY_ROLLING"


async def test_limits_off_means_no_headers(http: Http) -> None:
    _, _, headers = await http.call("GET", "/crm/v3/objects/contacts")
    assert "X-HubSpot-RateLimit-Max" not in headers


@pytest.mark.parametrize("emulator_settings", [LIMITED])
async def test_error_answers_carry_the_headers_too(http: Http) -> None:
    for path in ("/crm/v3/objects/contacts/999999", "/crm/v3/objects/deals"):
        status, _, headers = await http.call("GET", path)
        assert status in (403, 404)
        assert "X-HubSpot-RateLimit-Remaining" in headers
