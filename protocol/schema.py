"""The schema a connector reports: object classes and their attributes, with ICF's flags.

Modelled on `Schema{ObjectClassInfo{type, isContainer, AttributeInfo{name, type, flags}}}`
(docs/openicf.md §5); IDM turns it into `objectTypes` (MULTIVALUED becomes `type: array`).
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from protocol.values import _Model


class AttributeFlag(StrEnum):
    """`AttributeInfo.Flags`. Note ICF's spelling: UPDATEABLE."""

    REQUIRED = "REQUIRED"
    MULTIVALUED = "MULTIVALUED"
    NOT_CREATABLE = "NOT_CREATABLE"
    NOT_UPDATEABLE = "NOT_UPDATEABLE"
    NOT_READABLE = "NOT_READABLE"
    NOT_RETURNED_BY_DEFAULT = "NOT_RETURNED_BY_DEFAULT"


class AttributeType(StrEnum):
    """Value types, named as JSON names them; `guardedString` is a secret."""

    STRING = "string"
    INTEGER = "integer"
    NUMBER = "number"
    BOOLEAN = "boolean"
    GUARDED_STRING = "guardedString"
    OBJECT = "object"


class AttributeInfo(_Model):
    name: str = Field(min_length=1)
    type: AttributeType = AttributeType.STRING
    flags: list[AttributeFlag] = Field(default_factory=list)
    nativeName: str | None = None
    """The resource's own name, where it differs (IDM's `nativeName`)."""
    subtype: str | None = None
    """A finer type, e.g. `datetime`, `date`, `email`: a hint for mapping, not enforced."""

    def has(self, flag: AttributeFlag) -> bool:
        return flag in self.flags


class ObjectClassInfo(_Model):
    type: str = Field(min_length=1)
    isContainer: bool = False
    attributes: list[AttributeInfo]

    def attribute(self, name: str) -> AttributeInfo | None:
        return next((a for a in self.attributes if a.name == name), None)


class Schema(_Model):
    objectClasses: list[ObjectClassInfo]
    supportedObjectClassesByOperation: dict[str, list[str]] = Field(default_factory=dict)
    """Operation name (`CREATE`, `SEARCH`, ...) -> the object classes it supports."""

    def object_class(self, name: str) -> ObjectClassInfo | None:
        return next((o for o in self.objectClasses if o.type == name), None)


JSON_SCHEMA_DRAFT03 = "http://json-schema.org/draft-03/schema"

_IDM_TYPES: dict[AttributeType, tuple[str, str]] = {
    AttributeType.STRING: ("string", "string"),
    AttributeType.INTEGER: ("integer", "integer"),
    AttributeType.NUMBER: ("number", "JAVA_TYPE_DOUBLE"),
    AttributeType.BOOLEAN: ("boolean", "boolean"),
    AttributeType.GUARDED_STRING: ("string", "JAVA_TYPE_GUARDEDSTRING"),
    AttributeType.OBJECT: ("object", "object"),
}
"""Attribute type -> IDM's JSON `type` and `nativeType`."""


def idm_object_types(schema: Schema) -> dict[str, dict[str, object]]:
    """The `objectTypes` section IDM's admin UI writes for a connector with this schema.

    One object type per object class, keyed by its name, each property as IDM's
    `ConnectorUtil` describes an `AttributeInfo` (docs/openicf.md §3.2): `type` (an `array` of
    `items` when MULTIVALUED), `required`, `nativeName`, `nativeType`, and the other flags.
    `__NAME__` is listed under the resource's own name for it where the schema gives one
    (`email` for a HubSpot contact), so that IDM's name and HubSpot's are the same.
    """
    types: dict[str, dict[str, object]] = {}
    for info in schema.objectClasses:
        properties: dict[str, object] = {}
        for attribute in info.attributes:
            json_type, native_type = _IDM_TYPES[attribute.type]
            prop: dict[str, object] = {}
            if attribute.has(AttributeFlag.MULTIVALUED):
                prop["type"] = "array"
                prop["items"] = {"type": json_type, "nativeType": native_type}
            else:
                prop["type"] = json_type
            if attribute.has(AttributeFlag.REQUIRED):
                prop["required"] = True
            prop["nativeName"] = attribute.name
            prop["nativeType"] = native_type
            flags = [
                flag.value
                for flag in attribute.flags
                if flag not in (AttributeFlag.MULTIVALUED, AttributeFlag.REQUIRED)
            ]
            if flags:
                prop["flags"] = flags
            key = attribute.name
            if attribute.name == "__NAME__" and attribute.nativeName:
                key = attribute.nativeName
            properties[key] = prop
        types[info.type] = {
            "$schema": JSON_SCHEMA_DRAFT03,
            "id": info.type,
            "type": "object",
            "nativeType": info.type,
            "properties": properties,
        }
    return types
