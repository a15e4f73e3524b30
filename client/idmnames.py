"""IDM's names for a system's objects, mapped to native names as IDM's system endpoint maps them.

A provisioner file's `objectTypes` (docs/configuration.md) keys each object type by the name IDM
uses in `system/<name>/<objectType>`; `nativeType` is the connector's object class, and each
property's `nativeName` the connector's attribute (`email` may be `__NAME__`). IDM's `_id` is
always `__UID__`. The client takes IDM's names in filters, attributes to get, sort keys and
attributes to write, and prints objects under IDM's names (docs/protocol.md, CONNECTOR_INFO):

    {"_id": "1001", "_rev": "1712...", "email": "ann@example.com", "firstname": "Ann"}

A name the section does not declare passes through as it is, so native names (`__NAME__`) keep
working; so does an attribute the connector returns that the section does not declare, printed
under its native name (IDM would drop it; the client loses nothing).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from protocol.filters import Filter, rename_attributes
from protocol.values import NAME, UID, Attributes, ConnectorObject, SortKey

ID: str = "_id"
REVISION: str = "_rev"


@dataclass(frozen=True)
class IdmProperty:
    name: str
    native_name: str
    multi_valued: bool


@dataclass(frozen=True)
class ObjectType:
    """One entry of `objectTypes`: IDM's name for an object class, and for its attributes."""

    name: str
    native_type: str
    properties: dict[str, IdmProperty] = field(default_factory=dict)

    @classmethod
    def from_json(cls, name: str, body: Mapping[str, Any]) -> ObjectType:
        native_type = body.get("nativeType")
        properties: dict[str, IdmProperty] = {}
        declared = body.get("properties")
        for prop, schema in (declared if isinstance(declared, Mapping) else {}).items():
            if not isinstance(schema, Mapping):
                continue
            native = schema.get("nativeName")
            properties[prop] = IdmProperty(
                name=prop,
                native_name=native if isinstance(native, str) and native else prop,
                multi_valued=schema.get("type") == "array",
            )
        return cls(
            name=name,
            native_type=native_type if isinstance(native_type, str) and native_type else name,
            properties=properties,
        )

    def native_name(self, name: str) -> str:
        """The connector's name for the attribute IDM calls `name`."""
        if name == ID:
            return UID
        prop = self.properties.get(name)
        return prop.native_name if prop is not None else name

    def filter(self, node: Filter) -> Filter:
        return rename_attributes(node, self.native_name)

    def attributes_to_get(self, names: list[str]) -> list[str]:
        """`_id` is always returned, so it is not asked for."""
        return list(dict.fromkeys(self.native_name(n) for n in names if n != ID))

    def sort_keys(self, keys: list[SortKey]) -> list[SortKey]:
        return [k.model_copy(update={"field": self.native_name(k.field)}) for k in keys]

    def attributes(self, attributes: Attributes) -> Attributes:
        out: dict[str, Any] = {}
        for name, values in attributes.items():
            out.setdefault(self.native_name(name), []).extend(values)
        return out

    def idm_object(self, obj: ConnectorObject) -> dict[str, Any]:
        """The object as IDM's system endpoint shows it."""
        native: dict[str, list[Any]] = {}
        if obj.name is not None:
            native[NAME] = [obj.name]
        # values as the protocol writes them (a secret stays {"$guarded": ...})
        native.update(obj.model_dump(mode="json", by_alias=True)["attributes"])
        out: dict[str, Any] = {ID: obj.uid.value}
        if obj.uid.revision is not None:
            out[REVISION] = obj.uid.revision
        shown: set[str] = set()
        for prop in self.properties.values():
            values = native.get(prop.native_name)
            if values is None:
                continue
            shown.add(prop.native_name)
            single = not prop.multi_valued and len(values) <= 1
            out[prop.name] = (values[0] if values else None) if single else values
        for attribute, values in native.items():
            if attribute not in shown:
                out[attribute] = values
        return out


def object_type(object_types: Mapping[str, Any] | None, name: str) -> ObjectType | None:
    """The object type IDM calls `name` in this `objectTypes` section; None when the section
    is absent or does not declare it (the name is then the connector's object class)."""
    if not isinstance(object_types, Mapping):
        return None
    body = object_types.get(name)
    if not isinstance(body, Mapping):
        return None
    return ObjectType.from_json(name, body)
