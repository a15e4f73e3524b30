"""OAuth endpoints: v1, v3 and the date-versioned 2026-03 forms (docs/hubspot.md §3).

These need no bearer token. Token requests are form-encoded; errors carry both the RFC 6749
fields and HubSpot's legacy ones.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from emulator.auth import TokenGrant
from emulator.errors import HubSpotError
from emulator.state import STATE, State
from emulator.wire import json_response

__all__ = ["add_routes"]


def add_routes(app: web.Application) -> None:
    app.router.add_post("/oauth/v1/token", token_v1)
    for version in ("v3", "2026-03"):
        app.router.add_post(f"/oauth/{version}/token", token_v3)
        app.router.add_post(f"/oauth/{version}/token/introspect", introspect)
        app.router.add_post(f"/oauth/{version}/token/revoke", revoke)
    app.router.add_get("/oauth/v1/access-tokens/{token}", access_token_info)
    app.router.add_get("/oauth/v1/refresh-tokens/{token}", refresh_token_info)
    app.router.add_delete("/oauth/v1/refresh-tokens/{token}", delete_refresh_token)


async def _form(request: web.Request) -> dict[str, str]:
    form = await request.post()
    return {k: v for k, v in form.items() if isinstance(v, str)}


def _grant_json(grant: TokenGrant) -> dict[str, Any]:
    return {
        "token_type": "bearer",
        "refresh_token": grant.refresh_token,
        "access_token": grant.access_token,
        "expires_in": grant.expires_in,
    }


async def token_v1(request: web.Request) -> web.Response:
    state = request.app[STATE]
    return json_response(_grant_json(state.tokens.grant(await _form(request))))


async def token_v3(request: web.Request) -> web.Response:
    """The v3 answer adds `hub_id` and `scopes` (§3.2)."""
    state = request.app[STATE]
    body = _grant_json(state.tokens.grant(await _form(request)))
    body.update(hub_id=state.settings.hub_id, scopes=list(state.settings.scopes))
    return json_response(body)


def _token_info(state: State, token: str) -> dict[str, Any]:
    settings = state.settings
    return {
        "token": token,
        "user": settings.user,
        "hub_domain": settings.hub_domain,
        "scopes": list(settings.scopes),
        "hub_id": settings.hub_id,
        "app_id": settings.app_id,
        "user_id": settings.user_id,
    }


async def access_token_info(request: web.Request) -> web.Response:
    state = request.app[STATE]
    token = request.match_info["token"]
    access = state.tokens.access_token_info(token)
    if access is None:
        raise HubSpotError(404, "The access token is expired or invalid", category="NOT_FOUND")
    body = _token_info(state, token)
    body.update(expires_in=state.tokens.expires_in(access), token_type="access")  # noqa: S106
    return json_response(body)


async def refresh_token_info(request: web.Request) -> web.Response:
    state = request.app[STATE]
    token = request.match_info["token"]
    if not state.tokens.is_refresh_token(token):
        raise HubSpotError(404, "refresh token not found", category="NOT_FOUND")
    body = _token_info(state, token)
    body.update(client_id=state.tokens.client_id, token_type="refresh")  # noqa: S106
    return json_response(body)


async def delete_refresh_token(request: web.Request) -> web.Response:
    state = request.app[STATE]
    if not state.tokens.revoke_refresh_token(request.match_info["token"]):
        raise HubSpotError(404, "refresh token not found", category="NOT_FOUND")
    return web.Response(status=204)


async def introspect(request: web.Request) -> web.Response:
    """`{active: false}` for anything not a live token of this app (§3.2)."""
    state = request.app[STATE]
    form = await _form(request)
    tokens = state.tokens
    if form.get("client_id") != tokens.client_id or form.get("client_secret") != (
        tokens.client_secret
    ):
        return json_response({"active": False})
    token = form.get("token", "")
    access = tokens.access_token_info(token)
    if access is not None:
        body = _token_info(state, token)
        body.update(
            {
                "active": True,
                "client_id": tokens.client_id,
                "expires_in": tokens.expires_in(access),
                "is_private_distribution": False,
                "token_use": "access_token",
                "token_type": "Bearer",
            }
        )
        return json_response(body)
    if tokens.is_refresh_token(token):
        body = _token_info(state, token)
        body.update({"active": True, "client_id": tokens.client_id, "token_use": "refresh_token"})
        return json_response(body)
    return json_response({"active": False})


async def revoke(request: web.Request) -> web.Response:
    state = request.app[STATE]
    form = await _form(request)
    state.tokens.revoke_refresh_token(form.get("token", ""))
    return web.Response(status=200)
