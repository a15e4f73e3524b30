"""`contactProperties` / `companyProperties`: HubSpot property definitions as ICF objects.

The object classes of definitions are a connector of their own inside the HubSpot connector:
`PropertyDefinitions` runs their operations against HubSpot's properties API, and the
connector hands every operation on these classes to it.

A definition (docs/hubspot.md §2) becomes an object whose `__UID__` and `__NAME__` are its
`name` and whose revision is its `updatedAt`; `modificationMetadata` flattens into
`readOnlyValue`, `readOnlyDefinition` and `archivable`. Enumeration `options` are a
multi-valued attribute of JSON texts (`{"label": ..., "value": ..., ...}`), since ICF values are
scalars; on writes a plain text is taken as an option whose label is its value.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from typing import Any
from urllib.parse import quote

from connector.base import SearchPage
from connector.hubspot.http import Response, Uncertain
from connector.hubspot.planner import ReadByIds, plan
from connector.hubspot.schema import (
    PROPERTY_CLASSES,
    builtin_catalog,
    property_definition_class,
    unknown_attribute,
)
from connector.hubspot.search import Position
from connector.hubspot.shared import HubspotShared
from protocol.errors import InvalidAttributeValueException, UnsupportedOperationException
from protocol.filters import Filter, attributes_of, matcher
from protocol.values import (
    NAME,
    UID,
    Attributes,
    AttributeValue,
    ConnectorObject,
    OperationOptions,
    SearchResult,
    Uid,
)

_SCALARS = (
    "label",
    "type",
    "fieldType",
    "groupName",
    "description",
    "displayOrder",
    "hasUniqueValue",
    "hidden",
    "formField",
    "calculated",
    "hubspotDefined",
    "createdAt",
    "updatedAt",
)
_METADATA = ("readOnlyValue", "readOnlyDefinition", "archivable")
_WRITABLE = frozenset(
    {
        "label",
        "type",
        "fieldType",
        "groupName",
        "description",
        "displayOrder",
        "hasUniqueValue",
        "hidden",
        "formField",
        "options",
    }
)


def definition_object(object_class: str, body: Mapping[str, Any]) -> ConnectorObject:
    name = str(body["name"])
    attributes: dict[str, list[AttributeValue]] = {}
    for key in _SCALARS:
        value = body.get(key)
        attributes[key] = [] if value is None or value == "" else [value]
    meta = body.get("modificationMetadata") or {}
    for key in _METADATA:
        value = meta.get(key)
        attributes[key] = [] if value is None else [bool(value)]
    attributes["options"] = [
        json.dumps(option, separators=(",", ":"), sort_keys=True)
        for option in body.get("options") or []
    ]
    return ConnectorObject(
        objectClass=object_class,
        uid=Uid(value=name, revision=body.get("updatedAt")),
        name=name,
        attributes=attributes,
    )


def _option(value: AttributeValue, index: int) -> dict[str, Any]:
    if not isinstance(value, str):
        raise InvalidAttributeValueException("each value of 'options' is a JSON object or a text")
    if value.lstrip().startswith("{"):
        try:
            option = json.loads(value)
        except ValueError:
            raise InvalidAttributeValueException(
                f"value {index + 1} of 'options' is not valid JSON"
            ) from None
        if not isinstance(option, dict) or not isinstance(option.get("value"), str):
            raise InvalidAttributeValueException(
                f"value {index + 1} of 'options' needs a text 'value'"
            )
        option.setdefault("label", option["value"])
        option.setdefault("displayOrder", index)
        option.setdefault("hidden", False)
        return option
    return {"label": value, "value": value, "displayOrder": index, "hidden": False}


def definition_body(attributes: Attributes, *, creating: bool) -> dict[str, Any]:
    """A PropertyCreate / PropertyUpdate body from the attributes (docs/hubspot.md §2)."""
    body: dict[str, Any] = {}
    for attribute, values in attributes.items():
        if attribute in (NAME, UID):
            if not creating:
                raise InvalidAttributeValueException(
                    "a property's name cannot change; create a new property instead"
                )
            if len(values) != 1 or not isinstance(values[0], str):
                raise InvalidAttributeValueException("__NAME__ takes one text: the property name")
            body["name"] = values[0]
            continue
        if attribute not in _WRITABLE:
            raise InvalidAttributeValueException(
                f"attribute '{attribute}' of a property definition cannot be written"
            )
        if attribute == "options":
            body["options"] = [_option(v, i) for i, v in enumerate(values)]
        elif len(values) > 1:
            raise InvalidAttributeValueException(f"attribute '{attribute}' takes one value")
        elif values:
            body[attribute] = values[0]
        elif attribute == "description":
            body[attribute] = ""
    if creating:
        missing = [k for k in ("name", "label", "type", "fieldType", "groupName") if k not in body]
        if missing:
            names = ", ".join("__NAME__" if k == "name" else k for k in missing)
            raise InvalidAttributeValueException(f"a new property needs {names}")
    return body


class PropertyDefinitions:
    """The operations on `contactProperties` and `companyProperties` (docs/hubspot.md §2)."""

    def __init__(self, http: HubspotShared) -> None:
        self.http = http

    async def get(
        self, object_class: str, uid: Uid, options: OperationOptions
    ) -> ConnectorObject | None:
        _check_names(object_class, None, options)
        crm = PROPERTY_CLASSES[object_class]
        answer = await self.http.request(
            "GET",
            f"/crm/v3/properties/{crm.path}/{quote(uid.value, safe='')}",
            expect=frozenset({404}),
            action=f"read {object_class} {uid.value}",
        )
        if answer.status == 404 or not answer.body or answer.body.get("archived"):
            return None
        return definition_object(object_class, answer.body)

    async def search(
        self, object_class: str, filter: Filter | None, options: OperationOptions
    ) -> AsyncIterator[SearchPage]:
        _check_names(object_class, filter, options)
        # Only the equals-on-__UID__ plans matter here: definitions are few, and read whole.
        found = plan(filter, builtin_catalog(PROPERTY_CLASSES[object_class].object_class))
        objects: list[ConnectorObject]
        if isinstance(found, ReadByIds) and found.id_property is None:
            none = OperationOptions()
            objects = [
                o
                for i in found.ids
                if (o := await self.get(object_class, Uid(value=i), none)) is not None
            ]
        else:
            crm = PROPERTY_CLASSES[object_class]
            answer = await self.http.request(
                "GET", f"/crm/v3/properties/{crm.path}", action=f"read {object_class}"
            )
            objects = [
                definition_object(object_class, body)
                for body in (answer.body or {}).get("results") or []
            ]
        if filter is not None:
            keep = matcher(filter)
            objects = [o for o in objects if keep(o)]
        if options.sortKeys:
            for key in reversed(options.sortKeys):
                field = key.field
                objects.sort(key=lambda o: _sort_value(o, field), reverse=not key.ascending)
        async for page in _pages_in_memory(objects, options):
            yield page

    async def create(
        self, object_class: str, attributes: Attributes, options: OperationOptions
    ) -> Uid:
        crm = PROPERTY_CLASSES[object_class]
        body = definition_body(attributes, creating=True)
        name = str(body["name"])

        async def recover(_: Uncertain) -> Response | None:
            # The name is unique: read at once, and a resend cannot make a second one.
            found = await self.get(object_class, Uid(value=name), options)
            return None if found is None else Response(201, {"name": name})

        answer = await self.http.request(
            "POST",
            f"/crm/v3/properties/{crm.path}",
            json_body=body,
            idempotent=False,
            recover=recover,
            action=f"create {object_class} {name}",
        )
        self.http.forget_schema()
        return Uid(value=name, revision=(answer.body or {}).get("updatedAt"))

    async def update(
        self, object_class: str, uid: Uid, attributes: Attributes, options: OperationOptions
    ) -> Uid:
        crm = PROPERTY_CLASSES[object_class]
        body = definition_body(attributes, creating=False)
        answer = await self.http.request(
            "PATCH",
            f"/crm/v3/properties/{crm.path}/{quote(uid.value, safe='')}",
            json_body=body,
            action=f"update {object_class} {uid.value}",
        )
        self.http.forget_schema()
        return Uid(value=uid.value, revision=(answer.body or {}).get("updatedAt"))

    async def add_attribute_values(
        self, object_class: str, uid: Uid, attributes: Attributes, options: OperationOptions
    ) -> Uid:
        raise _no_value_updates()

    async def remove_attribute_values(
        self, object_class: str, uid: Uid, attributes: Attributes, options: OperationOptions
    ) -> Uid:
        raise _no_value_updates()

    async def delete(self, object_class: str, uid: Uid, options: OperationOptions) -> None:
        crm = PROPERTY_CLASSES[object_class]
        await self.http.request(
            "DELETE",
            f"/crm/v3/properties/{crm.path}/{quote(uid.value, safe='')}",
            action=f"archive {object_class} {uid.value}",
        )
        self.http.forget_schema()


def _check_names(object_class: str, filter: Filter | None, options: OperationOptions) -> None:
    """Refuse a name the schema does not list, rather than match nothing."""
    known = {UID, *(a.name for a in property_definition_class(object_class).attributes)}
    places = (
        ("the filter", sorted(attributes_of(filter)) if filter is not None else []),
        ("the attributes to get", options.attributesToGet or []),
        ("the sort keys", [k.field for k in options.sortKeys or []]),
    )
    for where, names in places:
        for name in names:
            if name not in known:
                raise unknown_attribute(object_class, name, where)


def _no_value_updates() -> UnsupportedOperationException:
    return UnsupportedOperationException(
        "add or remove values of a property definition's options with UPDATE"
    )


def _sort_value(obj: ConnectorObject, field: str) -> tuple[bool, str]:
    values = obj.values(field) or []
    return (not values, str(values[0]) if values else "")


async def _pages_in_memory(
    objects: list[ConnectorObject], options: OperationOptions
) -> AsyncIterator[SearchPage]:
    """Paging over a list read whole: the cookie is an index."""
    start = 0
    if options.pagedResultsOffset is not None and options.pagedResultsOffset >= 1:
        start = options.pagedResultsOffset - 1
    elif options.pagedResultsCookie:
        start = Position.decode(options.pagedResultsCookie).skip
    if options.pageSize is None:
        yield SearchPage(objects[start:], SearchResult())
        return
    end = start + options.pageSize
    page = objects[start:end]
    remaining = max(0, len(objects) - end)
    cookie = Position(None, end).encode() if remaining else None
    yield SearchPage(page, SearchResult(pagedResultsCookie=cookie, remainingPagedResults=remaining))
