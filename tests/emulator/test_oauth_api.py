"""OAuth: grants, token info, introspection, revocation and rotation (docs/hubspot.md §3)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hubspot import HubSpot
from hubspot.oauth import ApiException

from emulator import Emulator, EmulatorSettings
from tests.emulator.conftest import Http, in_thread


def _oauth(emu: Emulator) -> HubSpot:
    return HubSpot(host=emu.base_url, base_url=emu.base_url)


def _refresh(emu: Emulator, refresh_token: str | None = None) -> Any:
    return _oauth(emu).oauth.tokens_api.create(
        grant_type="refresh_token",
        client_id=emu.client_id,
        client_secret=emu.client_secret,
        refresh_token=refresh_token or emu.refresh_token,
    )


async def test_refresh_grant_with_the_sdk(emu: Emulator, http: Http) -> None:
    tokens = await in_thread(_refresh, emu)
    assert tokens.token_type == "bearer"
    assert tokens.expires_in == 1800
    assert tokens.refresh_token == emu.refresh_token  # no rotation by default
    status, _, _ = await http.call("GET", "/crm/v3/objects/contacts", token=tokens.access_token)
    assert status == 200
    info = await in_thread(_oauth(emu).oauth.access_tokens_api.get, tokens.access_token)
    assert info.token == tokens.access_token
    assert "crm.objects.contacts.read" in info.scopes
    assert info.hub_id == emu.settings.hub_id


@pytest.mark.parametrize(
    ("field", "value", "status_name"),
    [
        ("refresh_token", "not-a-token", "BAD_REFRESH_TOKEN"),
        ("client_id", "someone-else", "BAD_CLIENT_ID"),
        ("client_secret", "wrong", "BAD_CLIENT_SECRET"),
        ("grant_type", "password", "BAD_GRANT_TYPE"),
    ],
)
async def test_bad_grants_are_400_with_rfc_and_legacy_fields(
    emu: Emulator, http: Http, field: str, value: str, status_name: str
) -> None:
    form = {
        "grant_type": "refresh_token",
        "client_id": emu.client_id,
        "client_secret": emu.client_secret,
        "refresh_token": emu.refresh_token,
    }
    form[field] = value
    status, body, headers = await http.call("POST", "/oauth/v1/token", data=form)
    assert status == 400
    assert body["status"] == status_name
    assert {"error", "error_description", "message"} <= set(body)
    assert headers["Content-Type"] == "application/json;charset=utf-8"


async def test_revoked_refresh_token_with_the_sdk(emu: Emulator) -> None:
    assert emu.revoke_refresh_token(emu.refresh_token)
    with pytest.raises(ApiException) as caught:
        await in_thread(_refresh, emu)
    assert caught.value.status == 400
    body = json.loads(caught.value.body)
    assert body["error"] == "invalid_grant"
    assert body["status"] == "BAD_REFRESH_TOKEN"


async def test_revoking_also_kills_its_access_tokens(emu: Emulator, http: Http) -> None:
    tokens = await in_thread(_refresh, emu)
    status, _, _ = await http.call("DELETE", f"/oauth/v1/refresh-tokens/{emu.refresh_token}")
    assert status == 204
    status, body, _ = await http.call("GET", "/crm/v3/objects/contacts", token=tokens.access_token)
    assert (status, body["category"]) == (401, "INVALID_AUTHENTICATION")


@pytest.mark.parametrize("emulator_settings", [EmulatorSettings(rotate_refresh_tokens=True)])
async def test_rotation_is_a_setting(emu: Emulator) -> None:
    first = await in_thread(_refresh, emu)
    assert first.refresh_token != emu.refresh_token
    with pytest.raises(ApiException):
        await in_thread(_refresh, emu)  # the old one is gone
    second = await in_thread(_refresh, emu, first.refresh_token)
    assert second.refresh_token not in (first.refresh_token, emu.refresh_token)


async def test_authorization_code_grant(emu: Emulator, http: Http) -> None:
    code = emu.issue_authorization_code("https://app.example/callback")
    form = {
        "grant_type": "authorization_code",
        "client_id": emu.client_id,
        "client_secret": emu.client_secret,
        "code": code,
        "redirect_uri": "https://app.example/other",
    }
    status, body, _ = await http.call("POST", "/oauth/v1/token", data=form)
    assert (status, body["status"]) == (400, "BAD_REDIRECT_URI")
    form["redirect_uri"] = "https://app.example/callback"
    status, body, _ = await http.call("POST", "/oauth/v1/token", data=form)
    assert status == 200
    assert body["refresh_token"] != emu.refresh_token
    status, body, _ = await http.call("POST", "/oauth/v1/token", data=form)
    assert (status, body["status"]) == (400, "BAD_AUTH_CODE")  # codes are single-use


@pytest.mark.parametrize("version", ["v3", "2026-03"])
async def test_v3_token_introspect_and_revoke(emu: Emulator, http: Http, version: str) -> None:
    form = {
        "grant_type": "refresh_token",
        "client_id": emu.client_id,
        "client_secret": emu.client_secret,
        "refresh_token": emu.refresh_token,
    }
    status, body, _ = await http.call("POST", f"/oauth/{version}/token", data=form)
    assert status == 200
    assert body["hub_id"] == emu.settings.hub_id
    assert "oauth" in body["scopes"]
    access = body["access_token"]
    check = {"client_id": emu.client_id, "client_secret": emu.client_secret, "token": access}
    _, info, _ = await http.call("POST", f"/oauth/{version}/token/introspect", data=check)
    assert info["active"] is True
    assert info["token_use"] == "access_token"
    _, info, _ = await http.call(
        "POST", f"/oauth/{version}/token/introspect", data={**check, "token": "nope"}
    )
    assert info == {"active": False}
    status, _, _ = await http.call(
        "POST", f"/oauth/{version}/token/revoke", data={**check, "token": emu.refresh_token}
    )
    assert status == 200
    status, _, _ = await http.call("POST", f"/oauth/{version}/token", data=form)
    assert status == 400


async def test_refresh_token_info(emu: Emulator, sdk: HubSpot) -> None:
    info = await in_thread(sdk.oauth.refresh_tokens_api.get, emu.refresh_token)
    assert info.client_id == emu.client_id
    with pytest.raises(ApiException) as caught:
        await in_thread(sdk.oauth.access_tokens_api.get, "unknown")
    assert caught.value.status == 404


async def test_refresh_token_archive_with_the_sdk(emu: Emulator, sdk: HubSpot) -> None:
    other = emu.issue_refresh_token()
    await in_thread(sdk.oauth.refresh_tokens_api.archive, other)
    with pytest.raises(ApiException) as caught:
        await in_thread(_refresh, emu, other)
    assert caught.value.status == 400
