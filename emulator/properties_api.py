"""`/crm/v3/properties/{type}`, and the legacy and schema routes peers probe (§2, §9).

Section numbers refer to docs/hubspot.md.
"""

from __future__ import annotations

from aiohttp import web

from emulator.errors import HubSpotError, bad_request, missing_scopes
from emulator.objecttypes import resolve_object_type
from emulator.properties import PropertyRegistry
from emulator.state import STATE, State
from emulator.wire import json_response, query_bool, read_json

__all__ = ["add_routes"]

PREFIX = "/crm/v3/properties/{object_type}"


def add_routes(app: web.Application) -> None:
    app.router.add_get(PREFIX + "/groups", list_groups)
    app.router.add_get(PREFIX, list_properties)
    app.router.add_post(PREFIX, create_property)
    app.router.add_get(PREFIX + "/{name}", get_property)
    app.router.add_patch(PREFIX + "/{name}", update_property)
    app.router.add_delete(PREFIX + "/{name}", archive_property)
    # Airbyte's check reads a bare array here (§2 "Legacy variants").
    app.router.add_get("/properties/v2/{object_type}/properties", legacy_properties)
    # Airbyte and tap-hubspot ask for custom object schemas first; none is enough (§8.3, §9).
    app.router.add_get("/crm/v3/schemas", schemas)


def _registry(request: web.Request) -> tuple[State, PropertyRegistry]:
    state = request.app[STATE]
    name = request.match_info["object_type"]
    object_type = resolve_object_type(name)
    if object_type is None:  # 403, never 404, for unemulated types (§11.1)
        raise missing_scopes([f"crm.schemas.{name}.read"])
    return state, state.store.properties[object_type.name]


def _json(state: State, registry: PropertyRegistry, name: str) -> dict[str, object]:
    prop = registry.get_any(name)
    assert prop is not None
    return prop.to_json(omit_zero_ms=state.settings.omit_zero_milliseconds)


async def list_properties(request: web.Request) -> web.Response:
    """`{results}` with no paging; `archived=true` lists only archived ones (§2)."""
    state, registry = _registry(request)
    archived = query_bool(request, "archived", False)
    omit = state.settings.omit_zero_milliseconds
    return json_response(
        {"results": [p.to_json(omit_zero_ms=omit) for p in registry.all(archived=archived)]}
    )


async def get_property(request: web.Request) -> web.Response:
    state, registry = _registry(request)
    name = request.match_info["name"]
    archived = query_bool(request, "archived", False)
    prop = registry.get_any(name)
    if prop is None or prop.archived != archived:
        raise HubSpotError(
            404,
            f"Unable to find property {name} for object type {registry.object_type.type_id}",
            category="OBJECT_NOT_FOUND",
        )
    return json_response(_json(state, registry, name))


async def create_property(request: web.Request) -> web.Response:
    state, registry = _registry(request)
    body = await read_json(request)
    if not isinstance(body, dict):
        raise bad_request("Property definition must be an object")
    prop = registry.create(body, state.clock.now_ms())
    if prop.has_unique_value:
        state.store.table(registry.object_type.name).reindex()
    return json_response(_json(state, registry, prop.name), status=201)


async def update_property(request: web.Request) -> web.Response:
    state, registry = _registry(request)
    body = await read_json(request)
    if not isinstance(body, dict):
        raise bad_request("Property definition must be an object")
    prop = registry.update(request.match_info["name"], body, state.clock.now_ms())
    return json_response(_json(state, registry, prop.name))


async def archive_property(request: web.Request) -> web.Response:
    state, registry = _registry(request)
    registry.archive(request.match_info["name"], state.clock.now_ms())
    state.store.table(registry.object_type.name).reindex()
    return web.Response(status=204)


async def list_groups(request: web.Request) -> web.Response:
    _, registry = _registry(request)
    names = dict.fromkeys(p.group_name for p in registry.all())
    return json_response(
        {
            "results": [
                {
                    "name": name,
                    "label": name.replace("_", " ").title(),
                    "displayOrder": order,
                    "archived": False,
                }
                for order, name in enumerate(names)
            ]
        }
    )


async def legacy_properties(request: web.Request) -> web.Response:
    state, registry = _registry(request)
    omit = state.settings.omit_zero_milliseconds
    return json_response([p.to_json(omit_zero_ms=omit) for p in registry.all()])


async def schemas(request: web.Request) -> web.Response:
    return json_response({"results": []})
