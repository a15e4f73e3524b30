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
