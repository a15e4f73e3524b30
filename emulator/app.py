"""The aiohttp application: HubSpot's edge (auth, rate limits, faults, errors) around the routes.

Every request passes one middleware, in this order: fault injection (latency, injected statuses,
drops, stalls), bearer authentication (not for `/oauth/`), rate limiting, the route. Every
answer carries `X-HubSpot-Correlation-Id`; every error is HubSpot's envelope with the same id
(docs/hubspot.md §1.9, §9), and anything not emulated is a 403 MISSING_SCOPES (§11.1).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from emulator import associations_api, oauth_api, objects_api, properties_api
from emulator.errors import HubSpotError, missing_scopes
from emulator.faults import FaultAction
from emulator.ratelimit import rate_limit_error
from emulator.state import STATE, RequestRecord, State
from emulator.wire import json_response

__all__ = ["build_app", "error_response"]

log = logging.getLogger(__name__)

_INJECTED_MESSAGES = {
    423: ("The resource is locked; retry after at least 2 seconds.", "LOCKED"),
    477: ("This account is being migrated between data centres.", "MIGRATION_IN_PROGRESS"),
    500: ("Internal error", "INTERNAL_ERROR"),
    502: ("Bad gateway", None),
    503: ("Service unavailable", None),
    504: ("Gateway timeout", None),
}


def build_app(state: State) -> web.Application:
    """The HubSpot API application for one emulated account."""
    settings = state.settings
    app = web.Application(
        middlewares=[_edge],
        # Request-size limits only take effect here, not on AppRunner (§11.6).
        handler_args={
            "max_line_size": settings.max_request_line_bytes,
            "max_field_size": settings.max_header_bytes,
        },
        client_max_size=settings.max_body_bytes,
    )
    app[STATE] = state
    objects_api.add_routes(app)
    properties_api.add_routes(app)
    associations_api.add_routes(app)
    oauth_api.add_routes(app)
    return app


def error_response(error: HubSpotError, correlation_id: str) -> web.Response:
    """The JSON envelope of an error, with its correlation id in the body and the header."""
    body: dict[str, Any] = {}
    for key, value in error.body.items():
        body[key] = value
        if key == "message" and "correlationId" not in error.body:
            body["correlationId"] = correlation_id
    body.setdefault("correlationId", correlation_id)
    headers = dict(error.headers)
    headers["X-HubSpot-Correlation-Id"] = correlation_id
    return json_response(body, status=error.status, headers=headers)


@web.middleware
async def _edge(request: web.Request, handler: Handler) -> web.StreamResponse:
    state = request.app[STATE]
    correlation_id = str(uuid.uuid4())
    fault_id: int | None = None
    response: web.StreamResponse
    try:
        faults = state.faults
        if faults.latency.fixed_ms or faults.latency.jitter_ms:
            await asyncio.sleep(faults.delay_s())
        action = faults.pick(request.method, request.path)
        if action is not None:
            fault_id = action.rule_id
            await _inject(request, action, state)
        response = await _authorized(request, handler, state)
        if action is not None and action.lose_answer:
            # Carried out, and the answer is lost on the way: the client cannot tell whether
            # its write happened (docs/hubspot.md §1.9).
            if request.transport is not None:
                request.transport.abort()
            raise _Dropped
    except HubSpotError as error:
        response = error_response(error, correlation_id)
    except (web.HTTPNotFound, web.HTTPMethodNotAllowed):
        # Unemulated endpoints share path shapes with emulated ones (POST .../contacts/merge
        # looks like .../contacts/{id}), so a wrong method is "not emulated" too.
        response = error_response(missing_scopes(), correlation_id)
    except web.HTTPException as error:  # aiohttp's own, e.g. 413 for a body over the limit
        response = error_response(HubSpotError(error.status, error.reason), correlation_id)
    except _Dropped:
        # The transport is gone; what is returned here is written nowhere. Status 0 in the
        # request record says "no answer".
        state.requests.append(
            RequestRecord(request.method, request.path, request.query_string, 0, fault_id)
        )
        return web.Response(status=204)
    response.headers["X-HubSpot-Correlation-Id"] = correlation_id
    state.requests.append(
        RequestRecord(request.method, request.path, request.query_string, response.status, fault_id)
    )
    return response


class _Dropped(Exception):
    """Raised after a connection was dropped on purpose; nothing is to be answered."""


async def _inject(request: web.Request, action: FaultAction, state: State) -> None:
    if action.stall_s is not None:
        # HubSpot has the whole request and is slow: it carries it out after the stall even
        # when the client stopped waiting (aiohttp does not cancel the handler), as a slow
        # HubSpot would; a write that timed out may still happen.
        await request.read()
        await asyncio.sleep(action.stall_s)
        return
    if action.lose_answer:
        return
    if action.drop:
        transport = request.transport
        if transport is not None:
            transport.abort()
        raise _Dropped
    status = action.status
    assert status is not None
    headers = {}
    if action.retry_after_s is not None:
        headers["Retry-After"] = str(max(0, round(action.retry_after_s)))
    if status == 429:
        search = request.method == "POST" and request.path.endswith("/search")
        policy = "SECONDLY" if search else "TEN_SECONDLY_ROLLING"
        raise rate_limit_error(policy, action.retry_after_s)
    message, category = _INJECTED_MESSAGES.get(status, (f"Injected error {status}", None))
    raise HubSpotError(status, message, category=category, headers=headers)


async def _authorized(request: web.Request, handler: Handler, state: State) -> web.StreamResponse:
    if request.path.startswith("/oauth/"):
        return await handler(request)
    principal = state.tokens.authenticate(request.headers.get("Authorization"))
    search = request.method == "POST" and request.path.endswith("/search")
    headers = state.limiter.check(principal, search=search)
    try:
        response = await handler(request)
    except HubSpotError as error:
        # Error answers carry the rate-limit headers too.
        error.headers = {**headers, **error.headers}
        raise
    except (web.HTTPNotFound, web.HTTPMethodNotAllowed):
        unemulated = missing_scopes()
        unemulated.headers = dict(headers)
        raise unemulated from None
    if headers:
        response.headers.update(headers)
    return response
