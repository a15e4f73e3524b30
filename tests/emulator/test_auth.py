"""Bearer authentication on every API call: missing, unknown, expired and static tokens."""

from __future__ import annotations

import json

import pytest
from hubspot import HubSpot
from hubspot.crm.contacts import ApiException

from emulator import Emulator, EmulatorSettings
from tests.emulator.conftest import Http, in_thread


async def _access_token(emu: Emulator, http: Http) -> str:
    status, body, _ = await http.call(
        "POST",
        "/oauth/v1/token",
        data={
            "grant_type": "refresh_token",
            "client_id": emu.client_id,
            "client_secret": emu.client_secret,
            "refresh_token": emu.refresh_token,
        },
    )
    assert status == 200
    return str(body["access_token"])


@pytest.mark.parametrize("header", [None, "Bearer unknown", "Basic abc", "Bearer "])
async def test_missing_or_unknown_token_is_401(http: Http, header: str | None) -> None:
    async with http.session.get(
        http.emu.base_url + "/crm/v3/objects/contacts",
        headers={"Authorization": header} if header else {},
    ) as response:
        body = await response.json(content_type=None)
        assert response.status == 401
        assert body["category"] == "INVALID_AUTHENTICATION"
        assert body["message"].startswith("Authentication credentials not found.")
        assert body["correlationId"] == response.headers["X-HubSpot-Correlation-Id"]


async def test_unknown_route_without_token_is_401_not_403(http: Http) -> None:
    async with http.session.get(http.emu.base_url + "/crm/v3/objects/deals") as response:
        assert response.status == 401


async def test_expired_token_is_401_expired(emu: Emulator, http: Http) -> None:
    token = await _access_token(emu, http)
    assert (await http.call("GET", "/crm/v3/objects/contacts", token=token))[0] == 200
    assert emu.expire_access_tokens() == 1
    status, body, _ = await http.call("GET", "/crm/v3/objects/contacts", token=token)
    assert (status, body["category"]) == (401, "EXPIRED_AUTHENTICATION")
    assert "expired" in body["message"]
    # A fresh refresh gives a working token again.
    fresh = await _access_token(emu, http)
    assert (await http.call("GET", "/crm/v3/objects/contacts", token=fresh))[0] == 200


@pytest.mark.parametrize("emulator_settings", [EmulatorSettings(token_ttl_s=60)])
async def test_tokens_expire_after_their_ttl(emu: Emulator, http: Http) -> None:
    token = await _access_token(emu, http)
    emu.clock.advance(59)
    assert (await http.call("GET", "/crm/v3/objects/contacts", token=token))[0] == 200
    emu.clock.advance(2)
    status, body, _ = await http.call("GET", "/crm/v3/objects/contacts", token=token)
    assert (status, body["category"]) == (401, "EXPIRED_AUTHENTICATION")
    assert body["message"] == "The OAuth token used to make this call expired 1 second(s) ago."


async def test_expiry_mid_search_through_the_sdk(emu: Emulator, http: Http) -> None:
    token = await _access_token(emu, http)
    sdk = HubSpot(access_token=token, host=emu.base_url, base_url=emu.base_url)
    first = await in_thread(sdk.crm.contacts.search_api.do_search, {"limit": 10})
    assert first.paging.next.after == "10"
    emu.expire_access_tokens()
    with pytest.raises(ApiException) as caught:
        await in_thread(sdk.crm.contacts.search_api.do_search, {"limit": 10, "after": "10"})
    assert caught.value.status == 401
    assert json.loads(caught.value.body)["category"] == "EXPIRED_AUTHENTICATION"


@pytest.mark.parametrize("emulator_settings", [EmulatorSettings(private_app_token="pat-na1-fixed")])
async def test_static_private_app_token(emu: Emulator, http: Http) -> None:
    assert emu.private_app_token == "pat-na1-fixed"
    emu.expire_access_tokens()
    emu.clock.advance(10**6)
    assert (await http.call("GET", "/crm/v3/objects/contacts", token="pat-na1-fixed"))[0] == 200


async def test_generated_credentials_are_distinct(emu: Emulator) -> None:
    values = {emu.client_id, emu.client_secret, emu.refresh_token, emu.private_app_token}
    assert len(values) == 4
    assert emu.private_app_token.startswith("pat-na1-")
