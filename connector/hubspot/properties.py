"""`contactProperties` / `companyProperties`: HubSpot property definitions as ICF objects.

A definition (docs/hubspot.md §2) becomes an object whose `__UID__` and `__NAME__` are its
`name` and whose revision is its `updatedAt`; `modificationMetadata` flattens into
`readOnlyValue`, `readOnlyDefinition` and `archivable`. Enumeration `options` are a
multi-valued attribute of JSON texts (`{"label": ..., "value": ..., ...}`), since ICF values are
scalars; on writes a plain text is taken as an option whose label is its value.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from protocol.errors import InvalidAttributeValueException
from protocol.values import NAME, UID, Attributes, AttributeValue, ConnectorObject, Uid

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
