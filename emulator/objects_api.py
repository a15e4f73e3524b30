"""`/crm/v3/objects/{type}`: list, get, create, update, archive, batches and search.

Endpoints and status codes from docs/hubspot.md §1.1, shapes from §1.2, behaviour from §1.3-§1.7.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from emulator.errors import HubSpotError, bad_request, missing_scopes, not_found
from emulator.objecttypes import COMPANIES, CONTACTS, ObjectType, resolve_object_type
from emulator.render import ObjectRenderer
from emulator.search import parse_search_request, run_search, search_limits
from emulator.state import STATE, State
from emulator.store import ASSOCIATION_TYPES, ObjectTable, Record
from emulator.values import format_datetime_ms
from emulator.wire import json_response, query_bool, query_int, query_list, read_json

__all__ = ["add_routes", "decode_list_cursor", "encode_list_cursor"]

PREFIX = "/crm/v3/objects/{object_type}"


def add_routes(app: web.Application) -> None:
    app.router.add_post(PREFIX + "/search", search)
    for action, handler in (
        ("read", batch_read),
        ("create", batch_create),
        ("update", batch_update),
        ("upsert", batch_upsert),
        ("archive", batch_archive),
    ):
        app.router.add_post(PREFIX + "/batch/" + action, handler)
    app.router.add_get(PREFIX, list_objects)
    app.router.add_post(PREFIX, create)
    app.router.add_get(PREFIX + "/{object_id}", get)
    app.router.add_patch(PREFIX + "/{object_id}", update)
    app.router.add_delete(PREFIX + "/{object_id}", archive)


# -- helpers --------------------------------------------------------------------------------------


def _context(request: web.Request) -> tuple[State, ObjectTable]:
    state = request.app[STATE]
    object_type = resolve_object_type(request.match_info["object_type"])
    if object_type is None:
        # Unemulated object types answer 403, never 404 (§11.1).
        name = request.match_info["object_type"]
        raise missing_scopes([f"crm.objects.{name}.read"])
    return state, state.store.table(object_type.name)


def encode_list_cursor(next_id: int) -> str:
    """The opaque list cursor: base64 of the next id and a newline, like HubSpot's (§1.2)."""
    return base64.urlsafe_b64encode(f"{next_id}\n".encode()).decode().rstrip("=")


def decode_list_cursor(after: str) -> int:
    """Read a list cursor; plain ids are accepted too, anything else is a 400."""
    if after.isdigit():
        return int(after)
    try:
        text = base64.urlsafe_b64decode(after + "=" * (-len(after) % 4)).decode()
        return int(text.strip())
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise bad_request(f"Invalid after cursor {after!r}") from None


def _renderer(
    state: State,
    table: ObjectTable,
    *,
    properties: list[str] | None,
    with_history: list[str] | None = None,
    associations: list[str] | None = None,
    all_properties: bool = False,
) -> ObjectRenderer:
    return ObjectRenderer(
        table,
        state.store.associations,
        properties=properties,
        with_history=with_history,
        association_types=associations,
        all_properties=all_properties,
        null_for_unset=state.settings.null_for_unset_requested,
        omit_zero_ms=state.settings.omit_zero_milliseconds,
    )


def _find(table: ObjectTable, raw_id: str, id_property: str | None, archived: bool) -> Record:
    """Resolve `{objectId}` with an optional `idProperty` (§1.4)."""
    if id_property and id_property != "hs_object_id":
        if id_property not in table.registry.unique_names():
            raise bad_request(
                f"{id_property} is not a unique property of {table.object_type.name}",
                idProperty=[id_property],
            )
        found = table.find(id_property, raw_id)
        if found is None or archived:
            raise not_found()
        return found
    if not raw_id.isdigit():
        raise HubSpotError(
            404,
            "Object not found.  objectId are usually numeric.",
            category="OBJECT_NOT_FOUND",
            context={"id": [raw_id]},
        )
    record = table.get(int(raw_id), archived=archived)
    if record is None:
        raise not_found()
    return record


def _batch_inputs(body: object, state: State) -> list[Any]:
    if not isinstance(body, dict) or not isinstance(body.get("inputs"), list):
        raise bad_request("inputs must be a list")
    inputs: list[Any] = body["inputs"]
    limit = state.settings.batch_max_inputs
    if len(inputs) > limit:
        raise bad_request(f"Too many inputs: {len(inputs)}, the maximum is {limit}.")
    return inputs


def _names(raw: object, field: str) -> list[str] | None:
    """An optional list of property names in a batch body."""
    if raw is None:
        return None
    if not isinstance(raw, list) or not all(isinstance(n, str) for n in raw):
        raise bad_request(f"{field} must be a list of property names")
    return raw or None


def _properties_of(item: object) -> Mapping[str, object]:
    raw = item.get("properties", {}) if isinstance(item, dict) else None
    if not isinstance(raw, dict):
        raise bad_request("properties must be an object")
    return raw


def _batch_body(
    state: State, started_ms: int, results: list[Any], errors: list[dict[str, Any]]
) -> dict[str, Any]:
    omit = state.settings.omit_zero_milliseconds
    body: dict[str, Any] = {
        "status": "COMPLETE",
        "results": results,
        "startedAt": format_datetime_ms(started_ms, omit_zero_ms=omit),
        "completedAt": format_datetime_ms(state.clock.now_ms(), omit_zero_ms=omit),
    }
    if errors:
        body["numErrors"] = len(errors)
        body["errors"] = errors
    return body


def _parse_create_associations(
    object_type: ObjectType, state: State, raw: object
) -> list[tuple[int, list[int]]]:
    """Create-time `associations:[{to:{id}, types:[...]}]` as (other id, type ids) pairs."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise bad_request("associations must be a list")
    other = COMPANIES if object_type is CONTACTS else CONTACTS
    links = []
    for item in raw:
        to_id = str((item.get("to") or {}).get("id", "")) if isinstance(item, dict) else ""
        if not to_id.isdigit() or state.store.table(other.name).get(int(to_id)) is None:
            raise bad_request(f"Unknown {other.singular} id {to_id!r} in associations")
        type_ids = []
        for spec in item.get("types") or []:
            type_id = spec.get("associationTypeId") if isinstance(spec, dict) else None
            kind = ASSOCIATION_TYPES.get(type_id) if isinstance(type_id, int) else None
            if kind is None or kind.from_type != object_type.name:
                raise bad_request(f"Invalid association type {type_id!r}")
            type_ids.append(kind.type_id)
        if not type_ids:
            raise bad_request("Each association needs types")
        links.append((int(to_id), type_ids))
    return links


def _associate_new(
    state: State, object_type: ObjectType, record: Record, links: list[tuple[int, list[int]]]
) -> None:
    for to_id, types in links:
        if object_type is CONTACTS:
            state.store.associate(record.id, to_id, types)
        else:
            contact_side = [ASSOCIATION_TYPES[t].inverse_id for t in types]
            state.store.associate(to_id, record.id, contact_side)


# -- single objects -------------------------------------------------------------------------------


async def list_objects(request: web.Request) -> web.Response:
    """GET a page in creation order; the cursor is opaque and independent of `properties`."""
    state, table = _context(request)
    settings = state.settings
    history = query_list(request, "propertiesWithHistory")
    max_limit = settings.list_history_max_limit if history else settings.list_max_limit
    limit = query_int(request, "limit", settings.list_default_limit)
    if limit < 1:
        raise bad_request("limit must be at least 1")
    if limit > max_limit:
        if settings.list_limit_over_max == "error":
            raise bad_request(f"limit must be at most {max_limit}")
        limit = max_limit
    after = request.query.get("after")
    start_id = decode_list_cursor(after) if after else 0
    archived = query_bool(request, "archived", False)
    records = table.page(start_id, limit + 1, archived=archived)
    renderer = _renderer(
        state,
        table,
        properties=query_list(request, "properties"),
        with_history=history,
        associations=query_list(request, "associations"),
    )
    body: dict[str, Any] = {"results": [renderer.render(r) for r in records[:limit]]}
    if len(records) > limit:
        cursor = encode_list_cursor(records[limit].id)
        body["paging"] = {"next": {"after": cursor, "link": f"?after={cursor}"}}
    return json_response(body)


async def get(request: web.Request) -> web.Response:
    state, table = _context(request)
    archived = query_bool(request, "archived", False)
    record = _find(
        table, request.match_info["object_id"], request.query.get("idProperty"), archived
    )
    renderer = _renderer(
        state,
        table,
        properties=query_list(request, "properties"),
        with_history=query_list(request, "propertiesWithHistory"),
        associations=query_list(request, "associations"),
    )
    return json_response(renderer.render(record))


async def create(request: web.Request) -> web.Response:
    state, table = _context(request)
    body = await read_json(request)
    values = _properties_of(body)
    links = _parse_create_associations(table.object_type, state, body.get("associations"))
    record = table.create(values)
    _associate_new(state, table.object_type, record, links)
    headers = {}
    if state.settings.location_header_on_create:
        headers["Location"] = f"/crm/v3/objects/{table.object_type.name}/{record.id}"
    renderer = _renderer(state, table, properties=None, all_properties=True)
    return json_response(renderer.render(record), status=201, headers=headers)


async def update(request: web.Request) -> web.Response:
    state, table = _context(request)
    record = _find(table, request.match_info["object_id"], request.query.get("idProperty"), False)
    table.update(record, _properties_of(await read_json(request)))
    renderer = _renderer(state, table, properties=None, all_properties=True)
    return json_response(renderer.render(record))


async def archive(request: web.Request) -> web.Response:
    state, table = _context(request)
    try:
        record = _find(table, request.match_info["object_id"], None, False)
    except HubSpotError:
        if state.settings.archive_unknown_id_status == 404:
            raise
        return web.Response(status=204)
    state.store.archive(table, record)
    return web.Response(status=204)


# -- batches --------------------------------------------------------------------------------------


async def batch_read(request: web.Request) -> web.Response:
    state, table = _context(request)
    started = state.clock.now_ms()
    body = await read_json(request)
    inputs = _batch_inputs(body, state)
    id_property = body.get("idProperty")
    if id_property is not None and not isinstance(id_property, str):
        raise bad_request("idProperty must be a property name")
    archived = query_bool(request, "archived", False)
    renderer = _renderer(
        state,
        table,
        properties=_names(body.get("properties"), "properties"),
        with_history=_names(body.get("propertiesWithHistory"), "propertiesWithHistory"),
    )
    results, missing = [], []
    for item in inputs:
        raw_id = str(item.get("id", "")) if isinstance(item, dict) else ""
        try:
            record = _find(table, raw_id, id_property, archived)
        except HubSpotError as error:
            if error.status != 404:
                raise
            missing.append(raw_id)
            continue
        results.append(renderer.render(record, with_associations=False))
    return _batch_answer(state, table, started, results, missing)


def _batch_answer(
    state: State,
    table: ObjectTable,
    started: int,
    results: list[dict[str, Any]],
    missing: list[str],
) -> web.Response:
    """A batch read or update answer: 207 with one OBJECT_NOT_FOUND entry when ids were missing.

    HubSpot words the entry the same for both operations.
    """
    errors = []
    if missing:
        errors.append(
            {
                "status": "error",
                "category": "OBJECT_NOT_FOUND",
                "message": f"Could not get some {table.object_type.label} objects, they may be "
                "deleted or not exist. Check that ids are valid.",
                "context": {"ids": missing},
            }
        )
    return json_response(
        _batch_body(state, started, results, errors), status=207 if errors else 200
    )


async def batch_create(request: web.Request) -> web.Response:
    """All or nothing, unless every input has its own `objectWriteTraceId` (§1.6)."""
    state, table = _context(request)
    started = state.clock.now_ms()
    inputs = _batch_inputs(await read_json(request), state)
    trace_ids = [i.get("objectWriteTraceId") if isinstance(i, dict) else None for i in inputs]
    multi_status = bool(inputs) and None not in trace_ids and len(set(trace_ids)) == len(inputs)
    planned: list[tuple[dict[str, str], list[tuple[int, list[int]]]]] = []
    errors: list[dict[str, Any]] = []
    seen_unique: dict[tuple[str, str], int] = {}
    for position, item in enumerate(inputs):
        try:
            values = _properties_of(item)
            changes = table.validate(values, None)
            table.check_unique(changes, None)
            _check_batch_duplicates(table, changes, seen_unique, position)
            links = _parse_create_associations(table.object_type, state, item.get("associations"))
        except HubSpotError as error:
            if not multi_status:
                raise
            errors.append(_item_error(error, trace_ids[position]))
            continue
        planned.append(({k: v for k, v in changes.items() if v is not None}, links))
    renderer = _renderer(state, table, properties=None, all_properties=True)
    results = []
    for props, links in planned:
        record = table.insert(props)
        _associate_new(state, table.object_type, record, links)
        results.append(renderer.render(record))
    return json_response(
        _batch_body(state, started, results, errors), status=207 if errors else 201
    )


def _check_batch_duplicates(
    table: ObjectTable,
    changes: Mapping[str, str | None],
    seen: dict[tuple[str, str], int],
    position: int,
) -> None:
    """Two inputs of one batch with the same email conflict like an existing contact would."""
    for name in table.registry.unique_names():
        value = changes.get(name)
        if value is None or (name == "domain" and not table.settings.unique_company_domain):
            continue
        key = (name, value.lower())
        if key in seen:
            raise HubSpotError(
                409,
                f"Duplicate {name} {value!r} in batch inputs {seen[key]} and {position}",
                category="CONFLICT",
            )
        seen[key] = position


def _item_error(error: HubSpotError, trace_id: object) -> dict[str, Any]:
    """One entry of a 207's `errors`, addressed by `objectWriteTraceId` (§1.6)."""
    entry = {k: v for k, v in error.body.items() if k in ("status", "category", "message")}
    context = dict(error.body.get("context") or {})
    context["objectWriteTraceId"] = [str(trace_id)]
    entry["context"] = context
    return entry


async def batch_update(request: web.Request) -> web.Response:
    state, table = _context(request)
    started = state.clock.now_ms()
    inputs = _batch_inputs(await read_json(request), state)
    planned: list[tuple[Record, dict[str, str | None]]] = []
    missing = []
    for item in inputs:
        if not isinstance(item, dict):
            raise bad_request("each input must be an object")
        raw_id = str(item.get("id", ""))
        try:
            record = _find(table, raw_id, item.get("idProperty"), False)
        except HubSpotError as error:
            if error.status != 404:
                raise
            missing.append(raw_id)
            continue
        changes = table.validate(_properties_of(item), record)
        table.check_unique(changes, record)
        planned.append((record, changes))
    renderer = _renderer(state, table, properties=None, all_properties=True)
    results = []
    for record, changes in planned:
        table.apply(record, changes)
        results.append(renderer.render(record))
    return _batch_answer(state, table, started, results, missing)


async def batch_upsert(request: web.Request) -> web.Response:
    """Update the holder of `idProperty` = `id`, or create it with that value set."""
    state, table = _context(request)
    started = state.clock.now_ms()
    inputs = _batch_inputs(await read_json(request), state)
    renderer = _renderer(state, table, properties=None, all_properties=True)
    plans: list[tuple[Record | None, dict[str, str | None]]] = []
    for item in inputs:
        if not isinstance(item, dict):
            raise bad_request("each input must be an object")
        raw_id = str(item.get("id", ""))
        id_property = item.get("idProperty") or "hs_object_id"
        values = dict(_properties_of(item))
        if id_property == "hs_object_id":
            record: Record | None = _find(table, raw_id, None, False)
        else:
            if id_property not in table.registry.unique_names():
                raise bad_request(f"{id_property} is not a unique property")
            record = table.find(id_property, raw_id)
            if record is None:
                values.setdefault(id_property, raw_id)
        changes = table.validate(values, record)
        table.check_unique(changes, record)
        plans.append((record, changes))
    results = []
    for found, changes in plans:
        if found is None:
            record = table.insert({k: v for k, v in changes.items() if v is not None})
        else:
            record = found
            table.apply(record, changes)
        results.append({**renderer.render(record), "new": found is None})
    return json_response(_batch_body(state, started, results, []))


async def batch_archive(request: web.Request) -> web.Response:
    state, table = _context(request)
    inputs = _batch_inputs(await read_json(request), state)
    for item in inputs:
        raw_id = str(item.get("id", "")) if isinstance(item, dict) else ""
        record = table.get(int(raw_id)) if raw_id.isdigit() else None
        if record is not None:
            state.store.archive(table, record)
    return web.Response(status=204)


# -- search ---------------------------------------------------------------------------------------


async def search(request: web.Request) -> web.Response:
    """POST search; results never carry associations (§1.2)."""
    state, table = _context(request)
    parsed = parse_search_request(await read_json(request), search_limits(state.settings))
    page = run_search(
        parsed,
        table,
        state.store.associations,
        state.clock.monotonic(),
        indexing_delay=state.settings.indexing_delay_s > 0,
    )
    renderer = _renderer(
        state, table, properties=list(parsed.properties) if parsed.properties else None
    )
    body: dict[str, Any] = {
        "total": page.total,
        "results": [renderer.render(r, with_associations=False) for r in page.results],
    }
    if page.next_after is not None:
        body["paging"] = {"next": {"after": str(page.next_after)}}
    return json_response(body)
