"""`/crm/v4` associations between contacts and companies (docs/hubspot.md §5.2, §11.2).

Type ids as HubSpot defines them: contact -> company primary 1 and unlabeled 279; company ->
contact primary 2 and unlabeled 280. `toObjectId` is an integer, as in real answers.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from emulator.errors import bad_request, missing_scopes, not_found
from emulator.objecttypes import CONTACTS, ObjectType, resolve_object_type
from emulator.state import STATE, State
from emulator.store import ASSOCIATION_TYPES, UNLABELED_TO_COMPANY
from emulator.values import format_datetime_ms
from emulator.wire import json_response, query_int, read_json

__all__ = ["add_routes"]

OBJECT = "/crm/v4/objects/{from_type}/{from_id}/associations"
BATCH = "/crm/v4/associations/{from_type}/{to_type}/batch"


def add_routes(app: web.Application) -> None:
    app.router.add_get(OBJECT + "/{to_type}", list_associations)
    app.router.add_put(OBJECT + "/default/{to_type}/{to_id}", associate_default)
    app.router.add_put(OBJECT + "/{to_type}/{to_id}", associate_labelled)
    app.router.add_delete(OBJECT + "/{to_type}/{to_id}", dissociate)
    app.router.add_post(BATCH + "/read", batch_read)
    app.router.add_post(BATCH + "/associate/default", batch_associate_default)
    app.router.add_post(BATCH + "/create", batch_create)
    app.router.add_post(BATCH + "/archive", batch_archive)
    app.router.add_post(BATCH + "/labels/archive", batch_archive_labels)


def _types(request: web.Request) -> tuple[State, ObjectType, ObjectType]:
    names = request.match_info["from_type"], request.match_info["to_type"]
    resolved = [resolve_object_type(n) for n in names]
    if resolved[0] is None or resolved[1] is None:
        raise missing_scopes([f"crm.objects.{n}.read" for n in names])
    return request.app[STATE], resolved[0], resolved[1]


def _type_json(type_id: int) -> dict[str, Any]:
    kind = ASSOCIATION_TYPES[type_id]
    return {"category": "HUBSPOT_DEFINED", "typeId": type_id, "label": kind.label}


def _existing(state: State, object_type: ObjectType, raw_id: object) -> int:
    text = str(raw_id)
    if not text.isdigit() or state.store.table(object_type.name).get(int(text)) is None:
        raise not_found()
    return int(text)


def _pair(from_type: ObjectType, from_id: int, to_id: int) -> tuple[int, int]:
    """(contact id, company id) whichever way the request looks."""
    return (from_id, to_id) if from_type is CONTACTS else (to_id, from_id)


def _contact_side(from_type: ObjectType, type_ids: list[int]) -> list[int]:
    if from_type is CONTACTS:
        return type_ids
    return [ASSOCIATION_TYPES[t].inverse_id for t in type_ids]


def _spec_type_ids(specs: object, from_type: ObjectType, to_type: ObjectType) -> list[int]:
    """Validate `[{associationCategory, associationTypeId}]` for this direction."""
    if not isinstance(specs, list) or not specs:
        raise bad_request("association types must be a non-empty list")
    type_ids = []
    for spec in specs:
        type_id = spec.get("associationTypeId") if isinstance(spec, dict) else None
        kind = ASSOCIATION_TYPES.get(type_id) if isinstance(type_id, int) else None
        if kind is None or (kind.from_type, kind.to_type) != (from_type.name, to_type.name):
            raise bad_request(f"Invalid association type {type_id!r} for this pair")
        type_ids.append(kind.type_id)
    return type_ids


def _now(state: State) -> str:
    return format_datetime_ms(
        state.clock.now_ms(), omit_zero_ms=state.settings.omit_zero_milliseconds
    )


def _linked(
    state: State, from_type: ObjectType, from_id: int, to_type: ObjectType
) -> list[dict[str, Any]]:
    linked = state.store.associations.of(from_type.name, from_id, to_type.name)
    return [
        {"toObjectId": to_id, "associationTypes": [_type_json(t) for t in sorted(type_ids)]}
        for to_id, type_ids in linked.items()
    ]


async def list_associations(request: web.Request) -> web.Response:
    state, from_type, to_type = _types(request)
    from_id = _existing(state, from_type, request.match_info["from_id"])
    limit = query_int(request, "limit", state.settings.association_page_default_limit)
    offset = query_int(request, "after", 0)
    results = _linked(state, from_type, from_id, to_type)
    body: dict[str, Any] = {"results": results[offset : offset + limit]}
    if offset + limit < len(results):
        after = str(offset + limit)
        body["paging"] = {"next": {"after": after, "link": f"?after={after}"}}
    return json_response(body)


async def associate_default(request: web.Request) -> web.Response:
    state, from_type, to_type = _types(request)
    started = _now(state)
    result = _default(
        state, from_type, to_type, request.match_info["from_id"], request.match_info["to_id"]
    )
    return json_response(
        {
            "status": "COMPLETE",
            "results": [result],
            "startedAt": started,
            "completedAt": _now(state),
        }
    )


def _default(
    state: State, from_type: ObjectType, to_type: ObjectType, raw_from: object, raw_to: object
) -> dict[str, Any]:
    if from_type is to_type:
        raise bad_request("Only contact-company associations are emulated")
    from_id = _existing(state, from_type, raw_from)
    to_id = _existing(state, to_type, raw_to)
    contact_id, company_id = _pair(from_type, from_id, to_id)
    state.store.associate(contact_id, company_id, [UNLABELED_TO_COMPANY])
    type_id = _contact_side(from_type, [UNLABELED_TO_COMPANY])[0]
    return {
        "from": {"id": str(from_id)},
        "to": {"id": str(to_id)},
        "associationSpec": {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id},
    }


async def associate_labelled(request: web.Request) -> web.Response:
    state, from_type, to_type = _types(request)
    result = _labelled(
        state,
        from_type,
        to_type,
        request.match_info["from_id"],
        request.match_info["to_id"],
        await read_json(request),
    )
    return json_response(result, status=201)


def _labelled(
    state: State,
    from_type: ObjectType,
    to_type: ObjectType,
    raw_from: object,
    raw_to: object,
    specs: object,
) -> dict[str, Any]:
    type_ids = _spec_type_ids(specs, from_type, to_type)
    from_id = _existing(state, from_type, raw_from)
    to_id = _existing(state, to_type, raw_to)
    contact_id, company_id = _pair(from_type, from_id, to_id)
    state.store.associate(contact_id, company_id, _contact_side(from_type, type_ids))
    now = state.store.associations.of(from_type.name, from_id, to_type.name).get(to_id, ())
    return {
        "fromObjectTypeId": from_type.type_id,
        "fromObjectId": from_id,
        "toObjectTypeId": to_type.type_id,
        "toObjectId": to_id,
        "labels": [label for t in sorted(now) if (label := ASSOCIATION_TYPES[t].label)],
    }


async def dissociate(request: web.Request) -> web.Response:
    state, from_type, to_type = _types(request)
    if from_type is not to_type:
        from_id = _existing(state, from_type, request.match_info["from_id"])
        raw_to = request.match_info["to_id"]
        if raw_to.isdigit():
            state.store.dissociate(*_pair(from_type, from_id, int(raw_to)), None)
    return web.Response(status=204)


def _batch_inputs(body: object, limit: int) -> list[Any]:
    if not isinstance(body, dict) or not isinstance(body.get("inputs"), list):
        raise bad_request("inputs must be a list")
    inputs: list[Any] = body["inputs"]
    if len(inputs) > limit:
        raise bad_request(f"Too many inputs: {len(inputs)}, the maximum is {limit}.")
    return inputs


async def batch_read(request: web.Request) -> web.Response:
    """Ids without associations are listed in a 207's errors, never a 400 (§11.2)."""
    state, from_type, to_type = _types(request)
    started = _now(state)
    inputs = _batch_inputs(await read_json(request), state.settings.association_batch_max_inputs)
    results, errors = [], []
    for item in inputs:
        raw_id = str(item.get("id", "")) if isinstance(item, dict) else ""
        linked = _linked(state, from_type, int(raw_id), to_type) if raw_id.isdigit() else []
        if linked:
            results.append({"from": {"id": raw_id}, "to": linked})
            continue
        errors.append(
            {
                "status": "error",
                "category": "OBJECT_NOT_FOUND",
                "subCategory": "crm.associations.NO_ASSOCIATIONS_FOUND",
                "message": f"No {to_type.singular} is associated with {from_type.singular} "
                f"{raw_id}.",
                "context": {
                    "fromObjectId": [raw_id],
                    "fromObjectType": [from_type.singular],
                    "toObjectType": [to_type.singular],
                },
            }
        )
    body: dict[str, Any] = {
        "status": "COMPLETE",
        "results": results,
        "startedAt": started,
        "completedAt": _now(state),
    }
    if errors:
        body["numErrors"] = len(errors)
        body["errors"] = errors
    return json_response(body, status=207 if errors else 200)


def _ids(item: object) -> tuple[object, object]:
    if not isinstance(item, dict):
        raise bad_request("each input must be an object")
    source, target = item.get("from"), item.get("to")
    if not isinstance(source, dict) or not isinstance(target, dict):
        raise bad_request("each input needs from.id and to.id")
    return source.get("id"), target.get("id")


async def batch_associate_default(request: web.Request) -> web.Response:
    state, from_type, to_type = _types(request)
    started = _now(state)
    inputs = _batch_inputs(await read_json(request), state.settings.batch_max_inputs)
    results = [_default(state, from_type, to_type, *_ids(item)) for item in inputs]
    return json_response(
        {"status": "COMPLETE", "results": results, "startedAt": started, "completedAt": _now(state)}
    )


async def batch_create(request: web.Request) -> web.Response:
    state, from_type, to_type = _types(request)
    started = _now(state)
    inputs = _batch_inputs(await read_json(request), state.settings.batch_max_inputs)
    results = [
        _labelled(state, from_type, to_type, *_ids(item), item.get("types")) for item in inputs
    ]
    return json_response(
        {
            "status": "COMPLETE",
            "results": results,
            "startedAt": started,
            "completedAt": _now(state),
        },
        status=201,
    )


async def batch_archive(request: web.Request) -> web.Response:
    """`{inputs:[{from:{id}, to:[{id}]}]}`: remove every type between each pair."""
    state, from_type, to_type = _types(request)
    inputs = _batch_inputs(await read_json(request), state.settings.batch_max_inputs)
    for item in inputs:
        source = item.get("from") if isinstance(item, dict) else None
        targets = item.get("to") if isinstance(item, dict) else None
        if not isinstance(source, dict) or not isinstance(targets, list):
            raise bad_request("each input needs from.id and a to list")
        from_id = str(source.get("id", ""))
        for target in targets:
            to_id = str(target.get("id", "")) if isinstance(target, dict) else ""
            if from_type is not to_type and from_id.isdigit() and to_id.isdigit():
                state.store.dissociate(*_pair(from_type, int(from_id), int(to_id)), None)
    return web.Response(status=204)


async def batch_archive_labels(request: web.Request) -> web.Response:
    """`{inputs:[{from:{id}, to:{id}, types:[...]}]}`: remove some types of each pair."""
    state, from_type, to_type = _types(request)
    inputs = _batch_inputs(await read_json(request), state.settings.batch_max_inputs)
    for item in inputs:
        raw_from, raw_to = _ids(item)
        type_ids = _spec_type_ids(item.get("types"), from_type, to_type)
        from_id, to_id = str(raw_from), str(raw_to)
        if from_id.isdigit() and to_id.isdigit():
            contact_id, company_id = _pair(from_type, int(from_id), int(to_id))
            state.store.dissociate(contact_id, company_id, _contact_side(from_type, type_ids))
    return web.Response(status=204)
