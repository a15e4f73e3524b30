"""CRM objects as HubSpot writes them (docs/hubspot.md §0.1-§0.3, §1.2, §1.4, §5.1).

`{id, properties, createdAt, updatedAt, archived}` with every value a string, `hs_object_id`
equal to `id`, `createdate` and the last-modified property mirroring `createdAt`/`updatedAt`.
The property set is computed once per request and reused for every record of a page.
"""

from __future__ import annotations

from typing import Any

from emulator.objecttypes import ObjectType, resolve_object_type
from emulator.store import ASSOCIATION_TYPES, AssociationStore, ObjectTable, Record
from emulator.values import format_datetime_ms

__all__ = ["ObjectRenderer"]

_PLAIN, _ID, _CREATED, _UPDATED = 0, 1, 2, 3


class ObjectRenderer:
    """Renders records of one table for one request's `properties`, history and associations."""

    def __init__(
        self,
        table: ObjectTable,
        associations: AssociationStore,
        *,
        properties: list[str] | None,
        with_history: list[str] | None = None,
        association_types: list[str] | None = None,
        all_properties: bool = False,
        null_for_unset: bool = True,
        omit_zero_ms: bool = False,
    ) -> None:
        object_type = table.object_type
        self.table = table
        self.associations = associations
        self.null_for_unset = null_for_unset
        self.omit_zero_ms = omit_zero_ms
        self.all_properties = all_properties
        names: list[str]
        if properties:
            # Requested ones that exist (unknown ones are ignored; §1.3), plus the server-kept
            # ones that always come back (§1.4).
            names = [p for p in properties if table.registry.get(p) is not None]
            names += [p for p in object_type.server_properties if p not in names]
        else:
            names = list(object_type.default_properties)
        self.fields = [(name, _kind(name, object_type)) for name in dict.fromkeys(names)]
        self._field_names = frozenset(names)
        self.history = [p for p in with_history or [] if table.registry.get(p) is not None]
        self.association_targets: list[ObjectType] = []
        for name in association_types or []:
            other = resolve_object_type(name)
            if (
                other is not None
                and other is not object_type
                and other not in (self.association_targets)
            ):
                self.association_targets.append(other)

    def render(self, record: Record, *, with_associations: bool = True) -> dict[str, Any]:
        """One object in the shape of SimplePublicObject(WithAssociations)."""
        omit = self.omit_zero_ms
        created = format_datetime_ms(record.created_ms, omit_zero_ms=omit)
        updated = format_datetime_ms(record.updated_ms, omit_zero_ms=omit)
        record_id = str(record.id)
        props = record.props
        values: dict[str, str | None] = {}
        fields = self.fields
        if self.all_properties:
            fields = fields + [(n, _PLAIN) for n in props if n not in self._field_names]
        for name, kind in fields:
            if kind == _PLAIN:
                value = props.get(name)
                if value is not None or self.null_for_unset:
                    values[name] = value
            elif kind == _ID:
                values[name] = record_id
            elif kind == _CREATED:
                values[name] = created
            else:
                values[name] = updated
        body: dict[str, Any] = {
            "id": record_id,
            "properties": values,
            "createdAt": created,
            "updatedAt": updated,
            "archived": record.archived_ms is not None,
        }
        if record.archived_ms is not None:
            body["archivedAt"] = format_datetime_ms(record.archived_ms, omit_zero_ms=omit)
        if self.history:
            body["propertiesWithHistory"] = {
                name: self._history(record, name) for name in self.history
            }
        if with_associations and self.association_targets:
            associations = {}
            for other in self.association_targets:
                linked = self.associations.of(self.table.object_type.name, record.id, other.name)
                if linked:
                    associations[other.name] = {
                        "results": [
                            {"id": str(to_id), "type": ASSOCIATION_TYPES[type_id].v3_name}
                            for to_id, type_ids in linked.items()
                            for type_id in sorted(type_ids)
                        ]
                    }
            if associations:  # omitted when there are none (§5.1)
                body["associations"] = associations
        return body

    def _history(self, record: Record, name: str) -> list[dict[str, Any]]:
        kind = _kind(name, self.table.object_type)
        if kind == _ID:
            return [self._entry(str(record.id), record.created_ms, "API")]
        if kind in (_CREATED, _UPDATED):
            stamp = record.created_ms if kind == _CREATED else record.updated_ms
            text = format_datetime_ms(stamp, omit_zero_ms=self.omit_zero_ms)
            return [self._entry(text, stamp, "API")]
        entries = self.table.history(record, name)
        if entries:
            return [self._entry(v, at, source) for v, at, source in entries]
        value = record.props.get(name)
        if value is None:
            return []
        # Loaded or generated records carry no history: their value dates from creation.
        return [self._entry(value, record.created_ms, "IMPORT")]

    def _entry(self, value: str | None, at_ms: int, source: str) -> dict[str, Any]:
        return {
            "value": value if value is not None else "",
            "timestamp": format_datetime_ms(at_ms, omit_zero_ms=self.omit_zero_ms),
            "sourceType": source,
            "sourceId": "emulator" if source == "API" else None,
            "updatedByUserId": None,
        }


def _kind(name: str, object_type: ObjectType) -> int:
    if name == "hs_object_id":
        return _ID
    if name == "createdate":
        return _CREATED
    if name == object_type.last_modified:
        return _UPDATED
    return _PLAIN
