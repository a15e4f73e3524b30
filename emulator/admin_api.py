"""The admin API: the test handle's controls over HTTP, for an emulator in another process.

It is a separate application that `run_emulator` binds to 127.0.0.1 only, whatever `host` the
HubSpot API listens on. It needs no token.

    GET    /state                      object counts, rate-limit usage, request count
    GET    /requests?limit=N           the last N requests (method, path, query, status, fault)
    GET    /faults                     the fault program
    POST   /faults                     add a rule: {status|drop|lose_answer|stall_s, count, skip,
                                       rate, path_prefix, method, retry_after_s}
    POST   /faults/sequence            {outcomes: [429, "ok", "drop", "lose", "stall", 503],
                                       path_prefix, method, stall_s}
    DELETE /faults                     remove every rule and the latency
    DELETE /faults/{id}                remove one rule
    PUT    /latency                    {fixed_ms, jitter_ms, distribution}
    PATCH  /settings                   assign settings, e.g. {"rate_limits_enabled": false}
    POST   /tokens/expire              expire every access token
    POST   /tokens/revoke              {token}: revoke a refresh token
    POST   /tokens/refresh-token       issue another refresh token
    POST   /tokens/authorization-code  {redirect_uri?}: issue a code for the code grant
    POST   /clock/advance              {seconds}: move expiry and rate windows forward
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from emulator.state import STATE, State
from emulator.wire import json_response

__all__ = ["build_admin_app"]


def build_admin_app(state: State) -> web.Application:
    app = web.Application()
    app[STATE] = state
    app.router.add_get("/state", get_state)
    app.router.add_get("/requests", get_requests)
    app.router.add_get("/faults", get_faults)
    app.router.add_post("/faults", add_fault)
    app.router.add_post("/faults/sequence", add_sequence)
    app.router.add_delete("/faults", clear_faults)
    app.router.add_delete("/faults/{rule_id}", remove_fault)
    app.router.add_put("/latency", set_latency)
    app.router.add_patch("/settings", patch_settings)
    app.router.add_post("/tokens/expire", expire_tokens)
    app.router.add_post("/tokens/revoke", revoke_token)
    app.router.add_post("/tokens/refresh-token", issue_refresh_token)
    app.router.add_post("/tokens/authorization-code", issue_code)
    app.router.add_post("/clock/advance", advance_clock)
    return app


def _bad(message: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(text=json.dumps({"error": message}), content_type="application/json")


def _state(request: web.Request) -> State:
    return request.app[STATE]


async def _body(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    body = await request.json()
    if not isinstance(body, dict):
        raise _bad("body must be a JSON object")
    return body


async def get_state(request: web.Request) -> web.Response:
    state = _state(request)
    store = state.store
    return json_response(
        {
            "objects": {
                name: {
                    "live": len(table),
                    "archived": table.archived_count,
                    "created": table.counters.created,
                    "updated": table.counters.updated,
                    "archivedByRequest": table.counters.archived,
                }
                for name, table in store.tables.items()
            },
            "associations": store.associations.count(),
            "dailyRequestsUsed": state.limiter.daily_used,
            "requests": len(state.requests),
        }
    )


async def get_requests(request: web.Request) -> web.Response:
    state = _state(request)
    limit = int(request.query.get("limit", "100"))
    records = list(state.requests)[-limit:] if limit > 0 else []
    return json_response(
        [
            {
                "method": r.method,
                "path": r.path,
                "query": r.query,
                "status": r.status,
                "fault": r.fault,
            }
            for r in records
        ]
    )


async def get_faults(request: web.Request) -> web.Response:
    return json_response(_state(request).faults.to_json())


async def add_fault(request: web.Request) -> web.Response:
    body = await _body(request)
    try:
        rule = _state(request).faults.add(**body)
    except (TypeError, ValueError) as error:
        raise _bad(str(error)) from None
    return json_response(rule.to_json(), status=201)


async def add_sequence(request: web.Request) -> web.Response:
    body = await _body(request)
    try:
        rules = _state(request).faults.add_sequence(body.pop("outcomes", []), **body)
    except (TypeError, ValueError) as error:
        raise _bad(str(error)) from None
    return json_response([r.to_json() for r in rules], status=201)


async def clear_faults(request: web.Request) -> web.Response:
    _state(request).faults.clear()
    return web.Response(status=204)


async def remove_fault(request: web.Request) -> web.Response:
    _state(request).faults.remove([int(request.match_info["rule_id"])])
    return web.Response(status=204)


async def set_latency(request: web.Request) -> web.Response:
    body = await _body(request)
    try:
        _state(request).faults.set_latency(**body)
    except (TypeError, ValueError) as error:
        raise _bad(str(error)) from None
    return json_response(_state(request).faults.to_json()["latency"])


async def patch_settings(request: web.Request) -> web.Response:
    state = _state(request)
    body = await _body(request)
    try:
        for name, value in body.items():
            setattr(state.settings, name, value)
    except (ValidationError, ValueError) as error:
        raise _bad(str(error)) from None
    return json_response(state.settings.model_dump(mode="json", include=set(body)))


async def expire_tokens(request: web.Request) -> web.Response:
    return json_response({"expired": _state(request).tokens.expire_access_tokens()})


async def revoke_token(request: web.Request) -> web.Response:
    body = await _body(request)
    revoked = _state(request).tokens.revoke_refresh_token(str(body.get("token", "")))
    return json_response({"revoked": revoked})


async def issue_refresh_token(request: web.Request) -> web.Response:
    return json_response({"refresh_token": _state(request).tokens.issue_refresh_token()})


async def issue_code(request: web.Request) -> web.Response:
    body = await _body(request)
    redirect_uri = body.get("redirect_uri")
    code = _state(request).tokens.issue_authorization_code(
        str(redirect_uri) if redirect_uri is not None else None
    )
    return json_response({"code": code})


async def advance_clock(request: web.Request) -> web.Response:
    body = await _body(request)
    _state(request).clock.advance(float(body.get("seconds", 0)))
    return json_response({"advanced_s": float(body.get("seconds", 0))})
