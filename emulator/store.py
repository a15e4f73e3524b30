"""The in-memory CRM: objects of each type, their associations, and property definitions.

Records are kept in id order, which is creation order, so a list page is a bisect and a slice
(O(page), not O(n)) and search walks them in HubSpot's default order ("in order of object
creation", docs/hubspot.md §1.7). Server-kept values (`hs_object_id`, `createdate`, the
last-modified property) live in fields, not in the property dict, to keep a million contacts
small (the goal is under 2 GiB).
"""

from __future__ import annotations

import bisect
import json
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from operator import attrgetter
from pathlib import Path
from typing import Any, TextIO

from emulator.errors import PropertyValueError, conflict, validation_error
from emulator.objecttypes import COMPANIES, CONTACTS, OBJECT_TYPES, ObjectType
from emulator.properties import PropertyRegistry, default_registries
from emulator.settings import EmulatorSettings
from emulator.values import Clock

__all__ = [
    "ASSOCIATION_TYPES",
    "AssociationStore",
    "AssociationType",
    "ObjectTable",
    "Record",
    "Store",
    "WriteCounters",
]

_ID = attrgetter("id")
History = list[tuple[str | None, int, str]]  # (value, epoch ms, sourceType), newest first


class Record:
    """One CRM object. `props` holds only values that are set, as strings."""

    __slots__ = ("archived_ms", "created_ms", "id", "props", "search_view", "updated_ms")

    def __init__(self, object_id: int, props: dict[str, str], created_ms: int, updated_ms: int):
        self.id = object_id
        self.props = props
        self.created_ms = created_ms
        self.updated_ms = updated_ms
        self.archived_ms: int | None = None
        # Set while a write is not yet visible to search (the indexing delay, §1.7):
        # (monotonic time it becomes visible, the record search still sees or None).
        self.search_view: tuple[float, Record | None] | None = None

    def snapshot(self) -> Record:
        """A detached copy, as the search index would still hold it."""
        return Record(self.id, dict(self.props), self.created_ms, self.updated_ms)


@dataclass(slots=True)
class WriteCounters:
    """How many writes a table received, so tests can assert on what a client sent."""

    created: int = 0
    updated: int = 0
    archived: int = 0


@dataclass(frozen=True, slots=True)
class AssociationType:
    """A HUBSPOT_DEFINED association type between contacts and companies (§5.2)."""

    type_id: int
    from_type: str
    to_type: str
    label: str | None  # the v4 label: "Primary" or null for unlabeled
    v3_name: str  # the `type` of inline v3 associations (§5.1)
    inverse_id: int


ASSOCIATION_TYPES: dict[int, AssociationType] = {
    t.type_id: t
    for t in (
        AssociationType(1, "contacts", "companies", "Primary", "contact_to_company", 2),
        AssociationType(2, "companies", "contacts", "Primary", "company_to_contact", 1),
        AssociationType(279, "contacts", "companies", None, "contact_to_company_unlabeled", 280),
        AssociationType(280, "companies", "contacts", None, "company_to_contact_unlabeled", 279),
    )
}
PRIMARY_TO_COMPANY = 1
UNLABELED_TO_COMPANY = 279
UNLABELED_TO_CONTACT = 280


class ObjectTable:
    """Objects of one type, with unique-value indexes and write counters."""

    def __init__(
        self,
        object_type: ObjectType,
        registry: PropertyRegistry,
        settings: EmulatorSettings,
        clock: Clock,
    ) -> None:
        self.object_type = object_type
        self.registry = registry
        self.settings = settings
        self.clock = clock
        self.counters = WriteCounters()
        self._records: dict[int, Record] = {}
        self._live: list[Record] = []  # id order
        self._archived: list[Record] = []  # id order
        self._next_id = object_type.first_id
        # idProperty name -> lower-cased value -> id of the (oldest live) holder
        self._index: dict[str, dict[str, int]] = {}
        self._history: dict[int, dict[str, History]] = {}
        self.version = 0
        """Bumped on every write, so that search can reuse a result until something changes."""
        self.search_cache: OrderedDict[str, tuple[int, int, list[Record]]] = OrderedDict()

    # -- reading --------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._live)

    @property
    def archived_count(self) -> int:
        return len(self._archived)

    def get(self, object_id: int, *, archived: bool = False) -> Record | None:
        """Return a live record, or with `archived=True` an archived one."""
        record = self._records.get(object_id)
        if record is None or (record.archived_ms is not None) != archived:
            return None
        return record

    def find(self, id_property: str, value: str) -> Record | None:
        """Find a live record by a unique property (`email`, `domain`, custom unique ones)."""
        if id_property == "hs_object_id":
            return self.get(int(value)) if value.isdigit() else None
        index = self._index.get(id_property)
        if index is not None:
            found = index.get(value.lower())
            return None if found is None else self.get(found)
        lowered = value.lower()
        for record in self._live:
            held = record.props.get(id_property)
            if held is not None and held.lower() == lowered:
                return record
        return None

    def page(self, start_id: int, limit: int, *, archived: bool = False) -> list[Record]:
        """Return up to `limit` records with id >= `start_id`, in id order (a bisect)."""
        records = self._archived if archived else self._live
        start = bisect.bisect_left(records, start_id, key=_ID)
        return records[start : start + limit]

    def live(self) -> list[Record]:
        """Live records in creation order; the list is the table's own, do not mutate it."""
        return self._live

    def history(self, record: Record, name: str) -> History:
        """Values a property had, newest first (for `propertiesWithHistory`)."""
        return self._history.get(record.id, {}).get(name, [])

    # -- writing --------------------------------------------------------------------------------

    def validate(
        self, values: Mapping[str, object], current: Record | None
    ) -> dict[str, str | None]:
        """Normalise written values; raise the 400 listing every invalid one (§1.5, §1.9)."""
        problems: list[PropertyValueError] = []
        changes: dict[str, str | None] = {}
        for name, raw in values.items():
            prop = self.registry.get(name)
            if prop is None:
                problems.append(
                    PropertyValueError(
                        name, "PROPERTY_DOESNT_EXIST", f'Property "{name}" does not exist'
                    )
                )
                continue
            if prop.read_only_value:
                problems.append(
                    PropertyValueError(
                        name,
                        "READ_ONLY_VALUE",
                        f'"{name}" is a read only property; its value cannot be set.',
                    )
                )
                continue
            try:
                old = None if current is None else current.props.get(name)
                changes[name] = prop.normalize(raw, old)
            except PropertyValueError as problem:
                problems.append(problem)
        if problems:
            raise validation_error(problems)
        return changes

    def check_unique(self, changes: Mapping[str, str | None], current: Record | None) -> None:
        """Raise 409 when a unique value is held by another live record (§1.5)."""
        for name in self._unique_names():
            value = changes.get(name)
            if value is None:
                continue
            holder = self.find(name, value)
            if holder is None or (current is not None and holder.id == current.id):
                continue
            if current is not None and name == "email" and not self.settings.email_update_conflict:
                continue
            if self.object_type is CONTACTS and name == "email":
                raise conflict(f"Contact already exists. Existing ID: {holder.id}")
            raise conflict(
                f"A {self.object_type.singular} with {name} {value!r} already exists. "
                f"Existing ID: {holder.id}"
            )

    def create(self, values: Mapping[str, object], *, source: str = "API") -> Record:
        """Validate and create one object; the caller has checked nothing."""
        changes = self.validate(values, None)
        self.check_unique(changes, None)
        return self.insert({k: v for k, v in changes.items() if v is not None}, source=source)

    def insert(self, props: dict[str, str], *, source: str = "API") -> Record:
        """Create an object from already-valid values."""
        now = self.clock.now_ms()
        record = Record(self._next_id, props, now, now)
        self._next_id += 1
        self._records[record.id] = record
        self._live.append(record)
        self._index_add(record)
        self._record_history(record, props, now, source)
        self._hide_from_search(record, None)
        self.version += 1
        self.counters.created += 1
        return record

    def update(self, record: Record, values: Mapping[str, object]) -> Record:
        """Validate and apply a PATCH; an empty string clears a value."""
        changes = self.validate(values, record)
        self.check_unique(changes, record)
        self.apply(record, changes)
        return record

    def apply(
        self, record: Record, changes: Mapping[str, str | None], *, source: str = "API"
    ) -> None:
        """Apply already-valid changes; every write bumps the last-modified time (§1.5).

        Writes the server makes itself (`source` other than "API", e.g. `associatedcompanyid`
        following an association) are not counted as client updates.
        """
        self._hide_from_search(record, record.snapshot())
        indexed = not self.registry.unique_names().isdisjoint(changes)
        if indexed:
            self._index_remove(record)
        for name, value in changes.items():
            if value is None:
                record.props.pop(name, None)
            else:
                record.props[name] = value
        record.updated_ms = self.clock.now_ms()
        if indexed:
            self._index_add(record)
        self._record_history(record, changes, record.updated_ms, source)
        self.version += 1
        if source == "API":
            self.counters.updated += 1

    def archive(self, record: Record) -> None:
        """Move a live record to the archive (it vanishes from get, list and search)."""
        if record.archived_ms is not None:
            return
        self._index_remove(record)
        del self._live[bisect.bisect_left(self._live, record.id, key=_ID)]
        record.archived_ms = self.clock.now_ms()
        record.updated_ms = record.archived_ms  # archiving is a write too: `updatedAt` follows
        bisect.insort(self._archived, record, key=_ID)
        self.version += 1
        self.counters.archived += 1

    def load(self, object_id: int, props: dict[str, str], created_ms: int, updated_ms: int) -> None:
        """Add a trusted record (generator, JSON lines) without validation or history."""
        record = Record(object_id, props, created_ms, updated_ms)
        self._records[object_id] = record
        if not self._live or self._live[-1].id < object_id:
            self._live.append(record)
        else:
            bisect.insort(self._live, record, key=_ID)
        self._next_id = max(self._next_id, object_id + 1)
        self._index_add(record)
        self.version += 1

    def reindex(self) -> None:
        """Rebuild the unique-value indexes (after a custom unique property is created)."""
        self._index = {}
        for record in self._live:
            self._index_add(record)

    # -- internals ------------------------------------------------------------------------------

    def _unique_names(self) -> frozenset[str]:
        """The indexed names whose values must be unique (domains are not, by default)."""
        names = self.registry.unique_names()
        if self.object_type is COMPANIES and not self.settings.unique_company_domain:
            names = names - {"domain"}
        return names

    def _index_add(self, record: Record) -> None:
        for name in self.registry.unique_names():
            value = record.props.get(name)
            if value is not None:
                key = value.lower()
                # Share the string when it is already lower-case: a million emails add up.
                self._index.setdefault(name, {}).setdefault(
                    value if key == value else key, record.id
                )

    def _index_remove(self, record: Record) -> None:
        for name in self.registry.unique_names():
            value = record.props.get(name)
            index = self._index.get(name)
            if value is None or index is None:
                continue
            key = value.lower()
            if index.get(key) != record.id:
                continue
            del index[key]
            if name in self._unique_names():
                continue
            # Duplicate domains are allowed (§1.5): hand the key to the next live holder.
            for other in self._live:
                held = other.props.get(name)
                if other is not record and held is not None and held.lower() == key:
                    index[key] = other.id
                    break

    def _record_history(
        self, record: Record, changes: Mapping[str, str | None], at_ms: int, source: str
    ) -> None:
        per_record = self._history.setdefault(record.id, {})
        for name, value in changes.items():
            per_record.setdefault(name, []).insert(0, (value, at_ms, source))

    def _hide_from_search(self, record: Record, before: Record | None) -> None:
        delay = self.settings.indexing_delay_s
        if delay <= 0:
            return
        visible_at = self.clock.monotonic() + delay
        pending = record.search_view
        if pending is not None and self.clock.monotonic() < pending[0]:
            before = pending[1]  # search still sees the version before the first pending write
        record.search_view = (visible_at, before)


class AssociationStore:
    """Contact <-> company associations, stored in both directions with their type ids."""

    def __init__(self) -> None:
        # (fromType, toType) -> from id -> to id -> type ids
        self._edges: dict[tuple[str, str], dict[int, dict[int, frozenset[int]]]] = {
            ("contacts", "companies"): {},
            ("companies", "contacts"): {},
        }
        self._interned: dict[frozenset[int], frozenset[int]] = {}
        self.version = 0
        """Bumped on every change (search filters on `associations.*` depend on it)."""

    def of(self, from_type: str, from_id: int, to_type: str) -> Mapping[int, frozenset[int]]:
        """Associated ids and their type ids, in the order they were made."""
        edges = self._edges.get((from_type, to_type))
        if edges is None:
            return {}
        return edges.get(from_id, {})

    def pairs(self) -> Iterator[tuple[int, int, frozenset[int]]]:
        """Every (contact id, company id, type ids seen from the contact)."""
        for contact_id, companies in self._edges[("contacts", "companies")].items():
            for company_id, types in companies.items():
                yield contact_id, company_id, types

    def count(self) -> int:
        """Number of associated contact-company pairs."""
        return sum(len(v) for v in self._edges[("contacts", "companies")].values())

    def add(self, contact_id: int, company_id: int, contact_side_types: Iterable[int]) -> None:
        """Add type ids (as seen from the contact: 1, 279) and mirror them (2, 280)."""
        self.version += 1
        forward = self._edges[("contacts", "companies")].setdefault(contact_id, {})
        backward = self._edges[("companies", "contacts")].setdefault(company_id, {})
        types = forward.get(company_id, frozenset()) | frozenset(contact_side_types)
        forward[company_id] = self._intern(types)
        backward[contact_id] = self._intern(
            frozenset(ASSOCIATION_TYPES[t].inverse_id for t in types)
        )

    def remove_types(self, contact_id: int, company_id: int, types: Iterable[int]) -> None:
        """Remove some type ids; removing the unlabeled one removes them all (§5.2)."""
        forward = self._edges[("contacts", "companies")].get(contact_id, {})
        remaining = forward.get(company_id, frozenset()) - frozenset(types)
        if UNLABELED_TO_COMPANY not in remaining:
            remaining = frozenset()
        self._set(contact_id, company_id, remaining)

    def remove(self, contact_id: int, company_id: int) -> None:
        """Remove every association between a contact and a company."""
        self._set(contact_id, company_id, frozenset())

    def drop(self, object_type: str, object_id: int) -> list[int]:
        """Remove every association of an archived object; returns the other side's ids."""
        other_type = "companies" if object_type == "contacts" else "contacts"
        others = list(self._edges[(object_type, other_type)].get(object_id, {}))
        for other in others:
            if object_type == "contacts":
                self.remove(object_id, other)
            else:
                self.remove(other, object_id)
        return others

    def _set(self, contact_id: int, company_id: int, types: frozenset[int]) -> None:
        self.version += 1
        forward = self._edges[("contacts", "companies")]
        backward = self._edges[("companies", "contacts")]
        if types:
            forward.setdefault(contact_id, {})[company_id] = self._intern(types)
            backward.setdefault(company_id, {})[contact_id] = self._intern(
                frozenset(ASSOCIATION_TYPES[t].inverse_id for t in types)
            )
            return
        for edges, a, b in ((forward, contact_id, company_id), (backward, company_id, contact_id)):
            targets = edges.get(a)
            if targets is not None:
                targets.pop(b, None)
                if not targets:
                    del edges[a]

    def _intern(self, types: frozenset[int]) -> frozenset[int]:
        return self._interned.setdefault(types, types)


class Store:
    """Everything the emulated HubSpot account holds."""

    def __init__(self, settings: EmulatorSettings, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock = clock or Clock()
        self.properties = default_registries(settings.custom_properties)
        self.tables: dict[str, ObjectTable] = {
            t.name: ObjectTable(t, self.properties[t.name], settings, self.clock)
            for t in OBJECT_TYPES
        }
        self.associations = AssociationStore()

    @property
    def contacts(self) -> ObjectTable:
        return self.tables["contacts"]

    @property
    def companies(self) -> ObjectTable:
        return self.tables["companies"]

    def table(self, name: str) -> ObjectTable:
        """The table of a type by its plural name (`contacts`, `companies`)."""
        return self.tables[name]

    def associate(self, contact_id: int, company_id: int, types: Iterable[int]) -> None:
        """Associate a contact and a company with types seen from the contact (1 and/or 279).

        A primary (1) association also creates the unlabeled one and demotes the contact's
        previous primary company; the contact's `associatedcompanyid` follows it (§5.2).
        """
        wanted = set(types)
        if PRIMARY_TO_COMPANY in wanted:
            wanted.add(UNLABELED_TO_COMPANY)
            companies = self.associations.of("contacts", contact_id, "companies")
            for other, other_types in list(companies.items()):
                if other != company_id and PRIMARY_TO_COMPANY in other_types:
                    self.associations.remove_types(contact_id, other, (PRIMARY_TO_COMPANY,))
                    self.associations.add(contact_id, other, (UNLABELED_TO_COMPANY,))
            contact = self.contacts.get(contact_id)
            if contact is not None:
                self.contacts.apply(
                    contact, {"associatedcompanyid": str(company_id)}, source="ASSOCIATIONS"
                )
        self.associations.add(contact_id, company_id, wanted)
        self._touch(contact_id, company_id)

    def dissociate(self, contact_id: int, company_id: int, types: Iterable[int] | None) -> None:
        """Remove some (or, with None, all) types between a contact and a company."""
        before = self.associations.of("contacts", contact_id, "companies").get(company_id)
        if types is None:
            self.associations.remove(contact_id, company_id)
        else:
            self.associations.remove_types(contact_id, company_id, types)
        after = self.associations.of("contacts", contact_id, "companies").get(company_id)
        lost_primary = before is not None and PRIMARY_TO_COMPANY in before
        if lost_primary and (after is None or PRIMARY_TO_COMPANY not in after):
            contact = self.contacts.get(contact_id)
            if contact is not None:
                self.contacts.apply(contact, {"associatedcompanyid": None}, source="ASSOCIATIONS")
        if before is not None:
            self._touch(contact_id, company_id)

    def _touch(self, contact_id: int | None, company_id: int | None) -> None:
        """An association changed: both ends are written (§1.5, every write moves the
        last-modified time), and the company's `num_associated_contacts` is counted again.

        That both ends move is what an incremental reader needs to see the change; HubSpot
        recalculates the count property on the company, and the contact's side is assumed to
        move alike (docs/emulator.md).
        """
        if contact_id is not None:
            contact = self.contacts.get(contact_id)
            if contact is not None:
                self.contacts.apply(contact, {}, source="ASSOCIATIONS")
        if company_id is not None:
            company = self.companies.get(company_id)
            if company is not None:
                count = len(self.associations.of("companies", company_id, "contacts"))
                self.companies.apply(
                    company, {"num_associated_contacts": str(count)}, source="ASSOCIATIONS"
                )

    def archive(self, table: ObjectTable, record: Record) -> None:
        """Archive an object and drop its associations (they vanish with it)."""
        others = self.associations.drop(table.object_type.name, record.id)
        table.archive(record)
        if table.object_type is COMPANIES:
            for contact_id in others:
                contact = self.contacts.get(contact_id)
                if contact is not None and contact.props.get("associatedcompanyid") == str(
                    record.id
                ):
                    self.contacts.apply(
                        contact, {"associatedcompanyid": None}, source="ASSOCIATIONS"
                    )
                self._touch(contact_id, None)
        else:
            for company_id in others:
                self._touch(None, company_id)

    # -- JSON lines -----------------------------------------------------------------------------

    def save_jsonl(self, path: Path) -> int:
        """Write live objects and their associations as JSON lines; returns the line count."""
        lines = 0
        with path.open("w", encoding="utf-8") as out:
            for table in self.tables.values():
                for record in table.live():
                    _write_line(
                        out,
                        {
                            "type": table.object_type.name,
                            "id": record.id,
                            "createdMs": record.created_ms,
                            "updatedMs": record.updated_ms,
                            "properties": record.props,
                        },
                    )
                    lines += 1
            for contact_id, company_id, types in self.associations.pairs():
                _write_line(
                    out,
                    {
                        "type": "association",
                        "contact": contact_id,
                        "company": company_id,
                        "types": sorted(types),
                    },
                )
                lines += 1
        return lines

    def load_jsonl(self, path: Path) -> int:
        """Load what `save_jsonl` wrote (without validation); returns the line count."""
        lines = 0
        intern: dict[str, str] = {}
        with path.open(encoding="utf-8") as source:
            for line in source:
                item = json.loads(line)
                kind = item["type"]
                if kind == "association":
                    self.associations.add(item["contact"], item["company"], item["types"])
                else:
                    props = {intern.setdefault(k, k): v for k, v in item["properties"].items()}
                    self.tables[kind].load(item["id"], props, item["createdMs"], item["updatedMs"])
                lines += 1
        return lines


def _write_line(out: TextIO, item: Mapping[str, Any]) -> None:
    out.write(json.dumps(item, separators=(",", ":")))
    out.write("\n")
