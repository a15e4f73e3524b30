"""The two CRM object types the emulator serves, and the names clients use for them."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["COMPANIES", "CONTACTS", "OBJECT_TYPES", "ObjectType", "resolve_object_type"]


@dataclass(frozen=True, slots=True)
class ObjectType:
    """What differs between contacts and companies on the wire.

    Sources: docs/hubspot.md §0.3 (last-modified names), §1.4 (default properties and id
    properties), §1.7 (`query` searchable properties), §0.5 (aliases).
    """

    name: str  # plural, as in `/crm/v3/objects/contacts`
    singular: str
    type_id: str  # `0-1`, `0-2`
    label: str  # upper-case singular, as in "Could not get some CONTACT objects"
    last_modified: str  # `lastmodifieddate` or `hs_lastmodifieddate`
    id_property: str  # the built-in unique `idProperty` besides `hs_object_id`
    default_properties: tuple[str, ...]
    query_properties: tuple[str, ...]
    first_id: int  # ids are per type; distinct ranges make a mixed-up type visible

    @property
    def server_properties(self) -> tuple[str, str, str]:
        """Properties the server keeps and always returns with any explicit `properties`."""
        return ("createdate", "hs_object_id", self.last_modified)


CONTACTS = ObjectType(
    name="contacts",
    singular="contact",
    type_id="0-1",
    label="CONTACT",
    last_modified="lastmodifieddate",
    id_property="email",
    default_properties=(
        "createdate",
        "email",
        "firstname",
        "hs_object_id",
        "lastmodifieddate",
        "lastname",
    ),
    query_properties=(
        "firstname",
        "lastname",
        "email",
        "phone",
        "hs_additional_emails",
        "fax",
        "mobilephone",
        "company",
        "hs_marketable_until_renewal",
    ),
    first_id=1001,
)

COMPANIES = ObjectType(
    name="companies",
    singular="company",
    type_id="0-2",
    label="COMPANY",
    last_modified="hs_lastmodifieddate",
    id_property="domain",
    default_properties=("createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name"),
    query_properties=("website", "phone", "name", "domain"),
    first_id=2_000_000_001,
)

OBJECT_TYPES: tuple[ObjectType, ...] = (CONTACTS, COMPANIES)

_ALIASES: dict[str, ObjectType] = {}
for _t in OBJECT_TYPES:
    for _alias in (_t.name, _t.singular, _t.type_id):
        _ALIASES[_alias] = _t


def resolve_object_type(name: str) -> ObjectType | None:
    """Resolve `contacts|contact|0-1` and `companies|company|0-2` (docs/hubspot.md §0.5).

    Case-insensitive; None for any other type, which the routes answer with 403 (§11.1).
    """
    return _ALIASES.get(name.lower())
