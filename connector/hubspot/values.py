"""HubSpot property values <-> typed attribute values.

HubSpot sends and takes every value as a string (docs/hubspot.md §1.8): numbers `"17"`,
booleans `"true"`, multi-checkbox enumerations `"a;b"`, dates `YYYY-MM-DD`, datetimes ISO UTC.
Reads turn them into numbers, booleans, lists and ISO strings; writes turn them back. An
unset (null) property reads as an attribute without values, and an empty value list clears it.

Reading is on the hot path of a full read (100,000 objects), so objects are built as
`model_construct` would build them, from values this module has already typed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel

from connector.hubspot.schema import PropertyCatalog, PropertyDef
from protocol.errors import InvalidAttributeValueException
from protocol.values import (
    NAME,
    UID,
    Attributes,
    AttributeValue,
    ConnectorObject,
    GuardedString,
    Uid,
)

Reader = Callable[[str], list[AttributeValue]]


def _read_string(raw: str) -> list[AttributeValue]:
    return [raw]


def _read_number(raw: str) -> list[AttributeValue]:
    try:
        return [int(raw)]
    except ValueError:
        pass
    try:
        return [float(raw)]
    except ValueError:
        return [raw]  # HubSpot validates numbers; keep what it sent rather than lose it


def _read_bool(raw: str) -> list[AttributeValue]:
    lowered = raw.lower()
    if lowered in ("true", "false"):
        return [lowered == "true"]
    return [raw]


def _read_multi(raw: str) -> list[AttributeValue]:
    return [part for part in raw.split(";") if part]


def reader_for(prop: PropertyDef) -> Reader:
    if prop.multi_valued:
        return _read_multi
    if prop.type == "number":
        return _read_number
    if prop.type == "bool":
        return _read_bool
    return _read_string


class ObjectReader:
    """Turns HubSpot objects of one type into ConnectorObjects."""

    def __init__(self, catalog: PropertyCatalog) -> None:
        self.catalog = catalog
        self.object_class = catalog.crm.object_class
        self._name = catalog.crm.name_property
        self._modified = catalog.crm.last_modified
        # Text is most properties: it needs no reader (one call less per value on a full read).
        readers = {name: reader_for(p) for name, p in catalog.by_name.items()}
        self._readers = {name: r for name, r in readers.items() if r is not _read_string}
        self._skip = frozenset({"hs_object_id", self._name})

    def read(self, obj: Mapping[str, Any]) -> ConnectorObject:
        props: Mapping[str, str | None] = obj.get("properties") or {}
        readers, skip = self._readers, self._skip
        attributes: dict[str, list[AttributeValue]] = {}
        for key, raw in props.items():
            if key in skip:
                continue
            if not raw:  # None or ""
                attributes[key] = []
            else:
                reader = readers.get(key)
                attributes[key] = [raw] if reader is None else reader(raw)
        revision = props.get(self._modified) or obj.get("updatedAt")
        uid = _built(Uid, {"value": str(obj["id"]), "revision": revision})
        return _built(
            ConnectorObject,
            {
                "objectClass": self.object_class,
                "uid": uid,
                "name": props.get(self._name) or None,
                "attributes": attributes,
            },
        )


_Built = TypeVar("_Built", bound=BaseModel)
_set = object.__setattr__


def _built(model: type[_Built], fields: dict[str, Any]) -> _Built:
    """`model.model_construct(**fields)` where `fields` holds every field of `model` (which has
    no extra fields, private attributes or post-init): the same object, without the per-field
    alias and default lookups that made `model_construct` over half of the cost of reading an
    object."""
    built = model.__new__(model)
    _set(built, "__dict__", fields)
    _set(built, "__pydantic_fields_set__", set(fields))
    _set(built, "__pydantic_extra__", None)
    _set(built, "__pydantic_private__", None)
    return built


def _text(value: AttributeValue, attribute: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float | str):
        return str(value)
    if isinstance(value, GuardedString):
        return value.reveal()
    raise InvalidAttributeValueException(f"attribute '{attribute}' has a value of no known type")


def to_properties(
    attributes: Attributes, catalog: PropertyCatalog, *, creating: bool
) -> dict[str, str]:
    """HubSpot's `properties` for a create or an update (REPLACE) of these attributes."""
    out: dict[str, str] = {}
    for attribute, values in catalog.attributes(attributes, "the attributes to write").items():
        if attribute == UID:
            raise InvalidAttributeValueException("__UID__ is HubSpot's id and cannot be written")
        prop = catalog.get(catalog.property_name(attribute))
        if prop.read_only:
            raise InvalidAttributeValueException(
                f"attribute '{attribute}' is read-only in HubSpot "
                f"({'NOT_CREATABLE' if creating else 'NOT_UPDATEABLE'})"
            )
        present = [v for v in values if v is not None and v != ""]
        if not present:
            if creating:
                continue  # nothing to clear on a new object
            out[prop.name] = ""  # an empty string clears a property (docs/hubspot.md §1.5)
        elif prop.multi_valued:
            out[prop.name] = ";".join(_text(v, attribute) for v in present)
        elif len(present) > 1:
            raise InvalidAttributeValueException(
                f"attribute '{attribute}' takes one value, got {len(present)}"
            )
        else:
            out[prop.name] = _text(present[0], attribute)
    return out


def attribute_values(obj: ConnectorObject, attribute: str) -> list[AttributeValue]:
    """The values of an attribute of a read object (the name included), [] when unset."""
    if attribute == NAME:
        return [] if obj.name is None else [obj.name]
    return list(obj.attributes.get(attribute) or [])
