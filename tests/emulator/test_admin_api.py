"""The admin API mirrors the test handle over HTTP, on 127.0.0.1 only."""

from __future__ import annotations

from typing import Any

from emulator import Emulator
from tests.emulator.conftest import Http


async def _admin(http: Http, method: str, path: str, json: Any = None) -> tuple[int, Any]:
    async with http.session.request(method, http.emu.admin_url + path, json=json) as response:
        raw = await response.read()
        return response.status, (await response.json(content_type=None)) if raw else None


async def test_admin_listens_on_loopback_only(emu: Emulator) -> None:
    assert emu.admin_url.startswith("http://127.0.0.1:")
    assert emu.admin_url != emu.base_url


async def test_faults_over_http(emu: Emulator, http: Http) -> None:
    status, rule = await _admin(
        http, "POST", "/faults", {"status": 503, "count": 1, "path_prefix": "/crm/v3/objects"}
    )
    assert status == 201
    assert (await http.call("GET", "/crm/v3/objects/contacts"))[0] == 503
    _, program = await _admin(http, "GET", "/faults")
    assert program["rules"][0]["fired"] == 1
    status, rules = await _admin(http, "POST", "/faults/sequence", {"outcomes": [429, "ok", 502]})
    assert (status, len(rules)) == (201, 2)
    statuses = [(await http.call("GET", "/crm/v3/objects/contacts"))[0] for _ in range(3)]
    assert statuses == [429, 200, 502]
    assert (await _admin(http, "DELETE", f"/faults/{rule['id']}"))[0] == 204
    status, latency = await _admin(http, "PUT", "/latency", {"fixed_ms": 1, "jitter_ms": 0})
    assert (status, latency["fixed_ms"]) == (200, 1)
    assert (await _admin(http, "DELETE", "/faults"))[0] == 204
    assert emu.faults.rules == []
    assert (await _admin(http, "POST", "/faults", {"status": 500, "drop": True}))[0] == 400


async def test_tokens_over_http(emu: Emulator, http: Http) -> None:
    _, issued = await _admin(http, "POST", "/tokens/refresh-token")
    refresh = issued["refresh_token"]
    form = {
        "grant_type": "refresh_token",
        "client_id": emu.client_id,
        "client_secret": emu.client_secret,
        "refresh_token": refresh,
    }
    status, body, _ = await http.call("POST", "/oauth/v1/token", data=form)
    assert status == 200
    access = body["access_token"]
    _, expired = await _admin(http, "POST", "/tokens/expire")
    assert expired == {"expired": 1}
    assert (await http.call("GET", "/crm/v3/objects/contacts", token=access))[0] == 401
    _, revoked = await _admin(http, "POST", "/tokens/revoke", {"token": refresh})
    assert revoked == {"revoked": True}
    assert (await http.call("POST", "/oauth/v1/token", data=form))[0] == 400
    _, code = await _admin(http, "POST", "/tokens/authorization-code", {})
    assert code["code"]


async def test_settings_state_requests_and_clock(emu: Emulator, http: Http) -> None:
    status, _ = await _admin(
        http, "PATCH", "/settings", {"rate_limits_enabled": True, "ten_second_limit": 1}
    )
    assert status == 200
    assert (await http.call("GET", "/crm/v3/objects/contacts"))[0] == 200
    assert (await http.call("GET", "/crm/v3/objects/contacts"))[0] == 429
    _, _ = await _admin(http, "POST", "/clock/advance", {"seconds": 10})
    assert (await http.call("GET", "/crm/v3/objects/contacts"))[0] == 200
    assert (await _admin(http, "PATCH", "/settings", {"ten_second_limit": 0}))[0] == 400
    _, state = await _admin(http, "GET", "/state")
    assert state["objects"]["contacts"]["live"] == 40
    assert state["requests"] == 3
    _, requests = await _admin(http, "GET", "/requests?limit=2")
    assert [r["status"] for r in requests] == [429, 200]


async def test_admin_is_not_on_the_api_port(http: Http) -> None:
    status, body, _ = await http.call("GET", "/faults")
    assert (status, body["category"]) == (403, "MISSING_SCOPES")
    async with http.session.get(http.emu.base_url + "/state") as response:
        assert response.status == 401  # no token: the API port does not know the route
