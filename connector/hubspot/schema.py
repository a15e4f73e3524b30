"""Object classes, HubSpot property definitions, and the ICF schema built from them.

`contact` and `company` are CRM objects: `__UID__` is HubSpot's id, `__NAME__` is the email
(contact) or the name (company), and HubSpot's own name for it (`email`, `name`) is the same
attribute wherever an attribute is named (filters, attributes to get, sort keys, writes); every
other attribute is a HubSpot property under its own name. A name the schema does not list is
refused (`InvalidAttributeValueException`), never taken as an attribute no object carries,
and `Uid.revision` is the last-modified time (docs/hubspot.md §1.8: `lastmodifieddate` for
contacts, `hs_lastmodifieddate` for companies).

`contactProperties` and `companyProperties` hold the property definitions themselves
(docs/hubspot.md §2): their `__UID__` and `__NAME__` are the property's `name`.

The schema comes from a built-in catalogue of HubSpot's standard properties, or, with
`readSchema`, from the properties API: read-only values become NOT_CREATABLE and
NOT_UPDATEABLE, multi-checkbox enumerations MULTIVALUED, and types map as `TYPES` says.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from protocol.errors import InvalidAttributeValueException
from protocol.schema import AttributeFlag, AttributeInfo, AttributeType, ObjectClassInfo, Schema
from protocol.values import NAME, UID, Attributes, AttributeValue

CONTACT: Final = "contact"
COMPANY: Final = "company"
CONTACT_PROPERTIES: Final = "contactProperties"
COMPANY_PROPERTIES: Final = "companyProperties"


@dataclass(frozen=True, slots=True)
class CrmType:
    """A HubSpot CRM object type as an ICF object class."""

    object_class: str
    path: str
    """`contacts` in `/crm/v3/objects/contacts` and `/crm/v3/properties/contacts`."""
    name_property: str
    last_modified: str
    name_is_unique: bool
    """Whether `__NAME__` can be read by `idProperty` (email is; a company name is not)."""


CRM_TYPES: Final = {
    CONTACT: CrmType(CONTACT, "contacts", "email", "lastmodifieddate", True),
    COMPANY: CrmType(COMPANY, "companies", "name", "hs_lastmodifieddate", False),
}
PROPERTY_CLASSES: Final = {
    CONTACT_PROPERTIES: CRM_TYPES[CONTACT],
    COMPANY_PROPERTIES: CRM_TYPES[COMPANY],
}
OBJECT_CLASSES: Final = (CONTACT, COMPANY, CONTACT_PROPERTIES, COMPANY_PROPERTIES)

TYPES: Final[Mapping[str, AttributeType]] = {
    "string": AttributeType.STRING,
    "number": AttributeType.NUMBER,
    "bool": AttributeType.BOOLEAN,
    "enumeration": AttributeType.STRING,
    "date": AttributeType.STRING,
    "datetime": AttributeType.STRING,
    "phone_number": AttributeType.STRING,
}
"""HubSpot property `type` -> attribute type; dates travel as ISO strings (subtype says which)."""

SERVER_SET: Final = frozenset(
    {"hs_object_id", "createdate", "lastmodifieddate", "hs_lastmodifieddate"}
)
"""Properties HubSpot sets itself on every object."""


@dataclass(frozen=True, slots=True)
class PropertyDef:
    """What the connector needs to know of one HubSpot property."""

    name: str
    type: str = "string"
    field_type: str = "text"
    read_only: bool = False
    unique: bool = False
    """`hasUniqueValue`: HubSpot refuses a second object with the same value, and the property
    can be read by (`idProperty`, docs/hubspot.md §1.4)."""

    @property
    def multi_valued(self) -> bool:
        """Multi-checkbox enumerations hold `a;b` (docs/hubspot.md §1.8)."""
        return self.type == "enumeration" and self.field_type == "checkbox"

    @classmethod
    def from_api(cls, body: Mapping[str, Any]) -> PropertyDef:
        meta = body.get("modificationMetadata") or {}
        read_only = bool(meta.get("readOnlyValue")) or bool(body.get("calculated"))
        return cls(
            name=str(body["name"]),
            type=str(body.get("type", "string")),
            field_type=str(body.get("fieldType", "text")),
            read_only=read_only or body.get("name") in SERVER_SET,
            unique=bool(body.get("hasUniqueValue")),
        )

    def attribute_info(self, name: str | None = None) -> AttributeInfo:
        flags = []
        if self.multi_valued:
            flags.append(AttributeFlag.MULTIVALUED)
        if self.read_only:
            flags += [AttributeFlag.NOT_CREATABLE, AttributeFlag.NOT_UPDATEABLE]
        subtype = self.type if self.type in ("date", "datetime", "enumeration") else None
        return AttributeInfo.model_construct(
            name=name or self.name,
            type=TYPES.get(self.type, AttributeType.STRING),
            flags=flags,
            nativeName=self.name if name is not None else None,
            subtype=subtype,
        )


def _p(name: str, kind: str = "string", field: str = "text", *, ro: bool = False) -> PropertyDef:
    return PropertyDef(name, kind, field, ro)


# HubSpot's standard properties (HubSpot's "default contact/company properties" pages, as
# summarised in docs/openicf.md §6 and docs/hubspot.md §1.4, §1.8).
STANDARD_PROPERTIES: Final[Mapping[str, tuple[PropertyDef, ...]]] = {
    CONTACT: (
        _p("email"),
        _p("firstname"),
        _p("lastname"),
        _p("phone", field="phonenumber"),
        _p("mobilephone", field="phonenumber"),
        _p("fax"),
        _p("company"),
        _p("jobtitle"),
        _p("website"),
        _p("address"),
        _p("city"),
        _p("state"),
        _p("zip"),
        _p("country"),
        _p("industry"),
        _p("lifecyclestage", "enumeration", "radio"),
        _p("hs_lead_status", "enumeration", "radio"),
        _p("hs_buying_role", "enumeration", "checkbox"),
        _p("hs_email_optout", "bool", "booleancheckbox", ro=True),
        _p("associatedcompanyid", "number", "number", ro=True),
        _p("createdate", "datetime", "date", ro=True),
        _p("lastmodifieddate", "datetime", "date", ro=True),
    ),
    COMPANY: (
        _p("name"),
        _p("domain"),
        _p("website"),
        _p("phone", field="phonenumber"),
        _p("address"),
        _p("city"),
        _p("state"),
        _p("zip"),
        _p("country"),
        _p("description", field="textarea"),
        _p("founded_year"),
        _p("industry", "enumeration", "select"),
        _p("type", "enumeration", "select"),
        _p("lifecyclestage", "enumeration", "radio"),
        _p("numberofemployees", "number", "number"),
        _p("annualrevenue", "number", "number"),
        _p("is_public", "bool", "booleancheckbox"),
        _p("num_associated_contacts", "number", "number", ro=True),
        _p("createdate", "datetime", "date", ro=True),
        _p("hs_lastmodifieddate", "datetime", "date", ro=True),
    ),
}


class PropertyCatalog:
    """The properties of one CRM type: what the schema lists and how values convert."""

    def __init__(self, crm: CrmType, properties: Iterable[PropertyDef]) -> None:
        self.crm = crm
        self.by_name: dict[str, PropertyDef] = {}
        for prop in properties:
            if prop.name != "hs_object_id":  # it is __UID__
                self.by_name[prop.name] = prop
        self.by_name.setdefault(crm.name_property, PropertyDef(crm.name_property))
        self.by_name.setdefault(
            crm.last_modified, PropertyDef(crm.last_modified, "datetime", "date", True)
        )
        self.default_properties: tuple[str, ...] = tuple(self.by_name)
        """What a read asks for when no attributesToGet is given: every property listed."""

    def get(self, name: str) -> PropertyDef:
        """The definition of `name`; an unknown property is taken as a string."""
        return self.by_name.get(name) or PropertyDef(name)

    def attribute_name(self, prop: str) -> str:
        return NAME if prop == self.crm.name_property else prop

    def property_name(self, attribute: str) -> str:
        """The HubSpot property behind an attribute name."""
        return self.crm.name_property if attribute == NAME else attribute

    def attribute(self, name: str, where: str) -> str:
        """The attribute `name` names (`email` is `__NAME__` for a contact); an
        `InvalidAttributeValueException` naming it when the object class has none such."""
        if name == self.crm.name_property:
            return NAME
        if name in (UID, NAME) or name in self.by_name:
            return name
        raise unknown_attribute(self.crm.object_class, name, where)

    def attributes(self, attributes: Attributes, where: str) -> Attributes:
        """Attributes to write under their one name each; the name given twice (`__NAME__`
        and `email`) with different values is refused rather than one silently dropped."""
        out: dict[str, list[AttributeValue]] = {}
        for name, values in attributes.items():
            canonical = self.attribute(name, where)
            if canonical in out and out[canonical] != list(values):
                raise InvalidAttributeValueException(
                    f"{name} and {NAME} are the same attribute of a {self.crm.object_class}, "
                    "given different values; give one"
                )
            out[canonical] = list(values)
        return out

    def object_class_info(self) -> ObjectClassInfo:
        attributes = [self.by_name[self.crm.name_property].attribute_info(NAME)]
        attributes += [
            p.attribute_info() for n, p in self.by_name.items() if n != self.crm.name_property
        ]
        return ObjectClassInfo(type=self.crm.object_class, attributes=attributes)


def unknown_attribute(object_class: str, name: str, where: str) -> InvalidAttributeValueException:
    """The refusal of an attribute name the object class does not have."""
    return InvalidAttributeValueException(
        f"{object_class} has no attribute '{name}' (in {where}); the valid names are the "
        f"attributes the schema lists for {object_class}"
    )


def builtin_catalog(object_class: str) -> PropertyCatalog:
    crm = CRM_TYPES[object_class]
    return PropertyCatalog(crm, STANDARD_PROPERTIES[object_class])


def _attr(
    name: str,
    kind: AttributeType = AttributeType.STRING,
    *flags: AttributeFlag,
    subtype: str | None = None,
) -> AttributeInfo:
    return AttributeInfo(name=name, type=kind, flags=list(flags), subtype=subtype)


_RO = (AttributeFlag.NOT_CREATABLE, AttributeFlag.NOT_UPDATEABLE)


def property_definition_class(object_class: str) -> ObjectClassInfo:
    """The schema of `contactProperties` / `companyProperties` (docs/hubspot.md §2)."""
    b, s, n = AttributeType.BOOLEAN, AttributeType.STRING, AttributeType.NUMBER
    return ObjectClassInfo(
        type=object_class,
        attributes=[
            _attr(NAME, s, AttributeFlag.REQUIRED, AttributeFlag.NOT_UPDATEABLE),
            _attr("label", s, AttributeFlag.REQUIRED),
            _attr("type", s, AttributeFlag.REQUIRED),
            _attr("fieldType", s, AttributeFlag.REQUIRED),
            _attr("groupName", s, AttributeFlag.REQUIRED),
            _attr("description"),
            _attr("options", s, AttributeFlag.MULTIVALUED, subtype="json"),
            _attr("displayOrder", n),
            _attr("hasUniqueValue", b, AttributeFlag.NOT_UPDATEABLE),
            _attr("hidden", b),
            _attr("formField", b),
            _attr("calculated", b, *_RO),
            _attr("hubspotDefined", b, *_RO),
            _attr("readOnlyValue", b, *_RO),
            _attr("readOnlyDefinition", b, *_RO),
            _attr("archivable", b, *_RO),
            _attr("createdAt", s, *_RO, subtype="datetime"),
            _attr("updatedAt", s, *_RO, subtype="datetime"),
        ],
    )


def build_schema(
    catalogs: Mapping[str, PropertyCatalog],
    extra: Mapping[str, Iterable[AttributeInfo]] | None = None,
) -> Schema:
    """The schema; `extra` adds attributes that are not HubSpot properties (associations)."""
    classes = []
    for object_class in (CONTACT, COMPANY):
        info = catalogs[object_class].object_class_info()
        added = list((extra or {}).get(object_class, ()))
        classes.append(info.model_copy(update={"attributes": info.attributes + added}))
    classes += [property_definition_class(c) for c in PROPERTY_CLASSES]
    everything = list(OBJECT_CLASSES)
    operations = ("CREATE", "GET", "SEARCH", "UPDATE", "DELETE")
    by_operation = {op: everything for op in operations}
    by_operation["SYNC"] = list(CRM_TYPES)  # and __ALL__, which names both
    return Schema(objectClasses=classes, supportedObjectClassesByOperation=by_operation)
