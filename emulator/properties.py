"""Property definitions, and the validation of values written to objects against them.

Shapes and rules from docs/hubspot.md §2 (Properties API) and §1.8 (values travel as strings:
booleans `"true"`, numbers `"17"`, multi-checkbox `"a;b"`, dates `YYYY-MM-DD`, datetimes ISO UTC
with milliseconds). The definitions below are a realistic subset of HubSpot's own.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from emulator.errors import HubSpotError, PropertyValueError, bad_request
from emulator.objecttypes import COMPANIES, CONTACTS, OBJECT_TYPES, ObjectType
from emulator.values import format_date, format_datetime_ms, parse_date_ms, parse_datetime_ms

__all__ = ["Option", "Property", "PropertyRegistry", "default_registries"]

# type -> allowed fieldType (docs/hubspot.md §2 table; `phone_number` from PropertyCreate's enum).
FIELD_TYPES: dict[str, frozenset[str]] = {
    "bool": frozenset({"booleancheckbox", "calculation_equation"}),
    "enumeration": frozenset(
        {"booleancheckbox", "checkbox", "radio", "select", "calculation_equation"}
    ),
    "date": frozenset({"date"}),
    "datetime": frozenset({"date"}),
    "string": frozenset(
        {"text", "textarea", "html", "phonenumber", "phone_number", "file", "calculation_equation"}
    ),
    "number": frozenset({"number", "calculation_equation"}),
}
_NAME = re.compile(r"[a-z][a-z0-9_]{0,99}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_TRUE_FALSE = {"true": "true", "false": "false"}


@dataclass(frozen=True, slots=True)
class Option:
    """One enumeration option: `{label, value, hidden, description, displayOrder}`."""

    label: str
    value: str
    display_order: int = 0
    hidden: bool = False
    description: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "value": self.value,
            "description": self.description,
            "displayOrder": self.display_order,
            "hidden": self.hidden,
        }


@dataclass(slots=True)
class Property:
    """A property definition as `GET /crm/v3/properties/{type}` returns it."""

    name: str
    label: str
    type: str
    field_type: str
    group_name: str
    description: str = ""
    options: tuple[Option, ...] = ()
    display_order: int = -1
    calculated: bool = False
    has_unique_value: bool = False
    hidden: bool = False
    hubspot_defined: bool = True
    form_field: bool = False
    read_only_value: bool = False
    read_only_definition: bool = True
    archivable: bool = False
    created_ms: int = 1_262_304_000_000  # 2010-01-01, before any seeded record
    updated_ms: int = 1_262_304_000_000
    archived_ms: int | None = None
    option_values: frozenset[str] = field(default=frozenset(), repr=False)

    def __post_init__(self) -> None:
        self.option_values = frozenset(o.value for o in self.options)

    @property
    def archived(self) -> bool:
        return self.archived_ms is not None

    @property
    def multi_valued(self) -> bool:
        """Multi-checkbox enumerations hold `a;b` (docs/hubspot.md §1.8)."""
        return self.type == "enumeration" and self.field_type == "checkbox"

    def to_json(self, *, omit_zero_ms: bool = False) -> dict[str, Any]:
        body: dict[str, Any] = {
            "name": self.name,
            "label": self.label,
            "type": self.type,
            "fieldType": self.field_type,
            "description": self.description,
            "groupName": self.group_name,
            "options": [o.to_json() for o in self.options],
            "displayOrder": self.display_order,
            "calculated": self.calculated,
            "externalOptions": False,
            "hasUniqueValue": self.has_unique_value,
            "hidden": self.hidden,
            "hubspotDefined": self.hubspot_defined,
            "modificationMetadata": {
                "archivable": self.archivable,
                "readOnlyDefinition": self.read_only_definition,
                "readOnlyValue": self.read_only_value,
            },
            "formField": self.form_field,
            "dataSensitivity": "non_sensitive",
            "createdAt": format_datetime_ms(self.created_ms, omit_zero_ms=omit_zero_ms),
            "updatedAt": format_datetime_ms(self.updated_ms, omit_zero_ms=omit_zero_ms),
            "archived": self.archived,
        }
        if self.archived_ms is not None:
            body["archivedAt"] = format_datetime_ms(self.archived_ms, omit_zero_ms=omit_zero_ms)
        return body

    def normalize(self, raw: object, current: str | None) -> str | None:
        """Validate one written value and return it as stored; None clears it.

        An empty string clears the value (docs/hubspot.md §1.5). Raises PropertyValueError with
        HubSpot's error code otherwise.
        """
        if raw is None or raw == "":
            return None
        if isinstance(raw, bool):
            text = "true" if raw else "false"
        elif isinstance(raw, int | float):
            text = _number_text(raw)
        elif isinstance(raw, str):
            text = raw
        else:
            raise PropertyValueError(
                self.name, "INVALID_PROPERTY_VALUE", f"{raw!r} is not a valid value"
            )
        kind = self.type
        if kind == "number":
            return self._number(text)
        if kind == "bool":
            value = _TRUE_FALSE.get(text.strip().lower())
            if value is None:
                raise PropertyValueError(
                    self.name, "INVALID_BOOLEAN", f"{text} was not a valid boolean"
                )
            return value
        if kind == "enumeration":
            return self._enumeration(text, current)
        if kind == "date":
            epoch_ms = parse_date_ms(raw)
            if epoch_ms is None:
                raise PropertyValueError(
                    self.name,
                    "INVALID_DATE",
                    f"{text} is at not midnight UTC or is not a valid date",
                )
            return format_date(epoch_ms)
        if kind == "datetime":
            epoch_ms = parse_datetime_ms(raw)
            if epoch_ms is None:
                raise PropertyValueError(
                    self.name, "INVALID_DATETIME", f"{text} is not a valid datetime"
                )
            return format_datetime_ms(epoch_ms)
        if self.name == "email" and not _EMAIL.fullmatch(text):
            raise PropertyValueError(self.name, "INVALID_EMAIL", f"Email address {text} is invalid")
        return text

    def _number(self, text: str) -> str:
        stripped = text.strip()
        try:
            number = float(stripped)
        except ValueError:
            number = math.nan
        if not math.isfinite(number):
            raise PropertyValueError(self.name, "INVALID_INTEGER", f"{text} was not a valid number")
        return stripped

    def _enumeration(self, text: str, current: str | None) -> str:
        # Enumerations compare case-sensitively (docs/hubspot.md §1.7); a leading `;` appends to
        # a multi-checkbox value (§1.5).
        if self.multi_valued:
            append = text.startswith(";")
            wanted = [part for part in text.split(";") if part]
            if append and current:
                wanted = current.split(";") + [v for v in wanted if v not in current.split(";")]
        else:
            wanted = [text]
        for value in wanted:
            if value not in self.option_values:
                allowed = ", ".join(f'label: "{o.label}"\nvalue: "{o.value}"' for o in self.options)
                raise PropertyValueError(
                    self.name,
                    "INVALID_OPTION",
                    f"{value} was not one of the allowed options: [{allowed}]",
                )
        return ";".join(wanted) if wanted else ""


def _number_text(value: int | float) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class PropertyRegistry:
    """The property definitions of one object type: HubSpot's own, plus custom ones."""

    def __init__(self, object_type: ObjectType, properties: Iterable[Property]) -> None:
        self.object_type = object_type
        self._by_name: dict[str, Property] = {p.name: p for p in properties}
        self._unique: frozenset[str] | None = None

    def get(self, name: str) -> Property | None:
        """Return a live (unarchived) property by name."""
        prop = self._by_name.get(name)
        return None if prop is None or prop.archived else prop

    def get_any(self, name: str) -> Property | None:
        """Return a property by name, archived or not."""
        return self._by_name.get(name)

    def all(self, *, archived: bool = False) -> list[Property]:
        """Return live properties, or only archived ones (the `archived=true` reading)."""
        return [p for p in self._by_name.values() if p.archived == archived]

    def unique_names(self) -> frozenset[str]:
        """Names usable as `idProperty`, besides `hs_object_id` (docs/hubspot.md §1.4)."""
        if self._unique is None:
            custom = {p.name for p in self.all() if p.has_unique_value and not p.hubspot_defined}
            self._unique = frozenset({self.object_type.id_property, *custom})
        return self._unique

    def create(self, body: Mapping[str, Any], now_ms: int) -> Property:
        """Create a custom property from a `PropertyCreate` body."""
        name = body.get("name")
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise bad_request(f"Invalid property name {name!r}", propertyName=[str(name)])
        existing = self._by_name.get(name)
        if existing is not None and not existing.archived:
            raise HubSpotError(
                409,
                f"A property named '{name}' already exists.",
                category="OBJECT_ALREADY_EXISTS",
            )
        for required in ("label", "type", "fieldType", "groupName"):
            if not isinstance(body.get(required), str):
                raise bad_request(f"Property {required} is required", propertyName=[name])
        kind, field_type = str(body["type"]), str(body["fieldType"])
        if field_type not in FIELD_TYPES.get(kind, frozenset()):
            raise bad_request(
                f"Invalid type/fieldType combination: {kind}/{field_type}", propertyName=[name]
            )
        options = _parse_options(body.get("options"), name)
        if kind == "enumeration" and not options and field_type != "booleancheckbox":
            raise bad_request("Enumeration properties need options", propertyName=[name])
        if kind == "enumeration" and field_type == "booleancheckbox" and not options:
            options = (Option("Yes", "true", 0), Option("No", "false", 1))
        prop = Property(
            name=name,
            label=str(body["label"]),
            type=kind,
            field_type=field_type,
            group_name=str(body["groupName"]),
            description=str(body.get("description", "")),
            options=options,
            display_order=int(body.get("displayOrder", -1)),
            has_unique_value=bool(body.get("hasUniqueValue", False)),
            hidden=bool(body.get("hidden", False)),
            hubspot_defined=False,
            form_field=bool(body.get("formField", False)),
            read_only_definition=False,
            archivable=True,
            created_ms=now_ms,
            updated_ms=now_ms,
        )
        self._by_name[name] = prop
        self._unique = None
        return prop

    def update(self, name: str, body: Mapping[str, Any], now_ms: int) -> Property:
        """Apply a `PropertyUpdate` body; HubSpot-defined definitions are read-only."""
        prop = self.get(name)
        if prop is None:
            raise _property_not_found(name, self.object_type)
        if prop.read_only_definition:
            raise bad_request(f"Property {name} has a read-only definition", propertyName=[name])
        kind = str(body.get("type", prop.type))
        field_type = str(body.get("fieldType", prop.field_type))
        if field_type not in FIELD_TYPES.get(kind, frozenset()):
            raise bad_request(
                f"Invalid type/fieldType combination: {kind}/{field_type}", propertyName=[name]
            )
        options = prop.options
        if "options" in body:
            options = _parse_options(body["options"], name)
        updated = replace(
            prop,
            label=str(body.get("label", prop.label)),
            type=kind,
            field_type=field_type,
            group_name=str(body.get("groupName", prop.group_name)),
            description=str(body.get("description", prop.description)),
            options=options,
            display_order=int(body.get("displayOrder", prop.display_order)),
            hidden=bool(body.get("hidden", prop.hidden)),
            form_field=bool(body.get("formField", prop.form_field)),
            updated_ms=now_ms,
        )
        self._by_name[name] = updated
        self._unique = None
        return updated

    def archive(self, name: str, now_ms: int) -> None:
        """Archive a custom property; HubSpot's own are not archivable."""
        prop = self.get(name)
        if prop is None:
            raise _property_not_found(name, self.object_type)
        if not prop.archivable:
            raise bad_request(f"Property {name} is not archivable", propertyName=[name])
        prop.archived_ms = now_ms
        self._unique = None


def _property_not_found(name: str, object_type: ObjectType) -> HubSpotError:
    return HubSpotError(
        404,
        f"Unable to find property {name} for object type {object_type.type_id}",
        category="OBJECT_NOT_FOUND",
    )


def _parse_options(raw: object, name: str) -> tuple[Option, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise bad_request("options must be a list", propertyName=[name])
    options = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict) or not isinstance(item.get("value"), str):
            raise bad_request("Each option needs a label and a value", propertyName=[name])
        options.append(
            Option(
                label=str(item.get("label", item["value"])),
                value=item["value"],
                display_order=int(item.get("displayOrder", index)),
                hidden=bool(item.get("hidden", False)),
                description=str(item.get("description", "")),
            )
        )
    return tuple(options)


# --- HubSpot's own definitions -----------------------------------------------------------------


def _options(*pairs: str) -> tuple[Option, ...]:
    """Options from alternating value, label arguments."""
    return tuple(
        Option(label=pairs[i + 1], value=pairs[i], display_order=i // 2)
        for i in range(0, len(pairs), 2)
    )


def _prop(
    name: str,
    label: str,
    kind: str = "string",
    field_type: str = "text",
    group: str = "",
    *,
    options: tuple[Option, ...] = (),
    read_only: bool = False,
    calculated: bool = False,
    unique: bool = False,
    form_field: bool = False,
) -> Property:
    return Property(
        name=name,
        label=label,
        type=kind,
        field_type=field_type,
        group_name=group,
        options=options,
        calculated=calculated,
        has_unique_value=unique,
        read_only_value=read_only or calculated,
        form_field=form_field,
    )


_LIFECYCLE = _options(
    "subscriber", "Subscriber",
    "lead", "Lead",
    "marketingqualifiedlead", "Marketing Qualified Lead",
    "salesqualifiedlead", "Sales Qualified Lead",
    "opportunity", "Opportunity",
    "customer", "Customer",
    "evangelist", "Evangelist",
    "other", "Other",
)  # fmt: skip
_LEAD_STATUS = _options(
    "NEW", "New",
    "OPEN", "Open",
    "IN_PROGRESS", "In Progress",
    "OPEN_DEAL", "Open Deal",
    "UNQUALIFIED", "Unqualified",
    "ATTEMPTED_TO_CONTACT", "Attempted to Contact",
    "CONNECTED", "Connected",
    "BAD_TIMING", "Bad Timing",
)  # fmt: skip
_BUYING_ROLE = _options(
    "BUDGET_HOLDER", "Budget Holder",
    "CHAMPION", "Champion",
    "DECISION_MAKER", "Decision Maker",
    "END_USER", "End User",
    "EXECUTIVE_SPONSOR", "Executive Sponsor",
    "INFLUENCER", "Influencer",
    "LEGAL_AND_COMPLIANCE", "Legal & Compliance",
    "OTHER", "Other",
)  # fmt: skip
_YES_NO = _options("true", "Yes", "false", "No")
INDUSTRIES = (
    "ACCOUNTING",
    "AIRLINES_AVIATION",
    "APPAREL_FASHION",
    "AUTOMOTIVE",
    "BANKING",
    "BIOTECHNOLOGY",
    "COMPUTER_SOFTWARE",
    "CONSTRUCTION",
    "CONSUMER_GOODS",
    "EDUCATION_MANAGEMENT",
    "FINANCIAL_SERVICES",
    "HOSPITAL_HEALTH_CARE",
    "INFORMATION_TECHNOLOGY_AND_SERVICES",
    "INSURANCE",
    "MARKETING_AND_ADVERTISING",
    "RETAIL",
    "TELECOMMUNICATIONS",
)
_INDUSTRY = tuple(
    Option(label=v.replace("_", " ").title(), value=v, display_order=i)
    for i, v in enumerate(INDUSTRIES)
)
_COMPANY_TYPE = _options(
    "PROSPECT", "Prospect",
    "PARTNER", "Partner",
    "RESELLER", "Reseller",
    "VENDOR", "Vendor",
    "OTHER", "Other",
)  # fmt: skip

_CI = "contactinformation"


def _contact_properties() -> list[Property]:
    return [
        _prop("email", "Email", group=_CI, form_field=True),
        _prop("firstname", "First Name", group=_CI, form_field=True),
        _prop("lastname", "Last Name", group=_CI, form_field=True),
        _prop("phone", "Phone Number", "string", "phonenumber", _CI, form_field=True),
        _prop("mobilephone", "Mobile Phone Number", "string", "phonenumber", _CI),
        _prop("fax", "Fax Number", group=_CI),
        _prop("company", "Company Name", group=_CI, form_field=True),
        _prop("jobtitle", "Job Title", group=_CI, form_field=True),
        _prop("website", "Website URL", group=_CI),
        _prop("address", "Street Address", group=_CI),
        _prop("city", "City", group=_CI),
        _prop("state", "State/Region", group=_CI),
        _prop("zip", "Postal Code", group=_CI),
        _prop("country", "Country/Region", group=_CI),
        _prop("industry", "Industry", group=_CI),
        _prop("lifecyclestage", "Lifecycle Stage", "enumeration", "radio", _CI, options=_LIFECYCLE),
        _prop("hs_lead_status", "Lead Status", "enumeration", "radio", "sales_properties",
              options=_LEAD_STATUS),
        _prop("hs_buying_role", "Buying Role", "enumeration", "checkbox", "sales_properties",
              options=_BUYING_ROLE),
        _prop("hs_email_optout", "Unsubscribed from all email", "bool", "booleancheckbox",
              "emailinformation", options=_YES_NO, read_only=True),
        _prop("hs_marketable_until_renewal", "Marketing contact until next update",
              "enumeration", "booleancheckbox", _CI, options=_YES_NO, read_only=True),
        _prop("hs_additional_emails", "Additional email addresses", "enumeration", "checkbox",
              _CI, read_only=True),
        _prop("associatedcompanyid", "Primary Associated Company ID", "number", "number", _CI,
              read_only=True),
        _prop("num_associated_deals", "Number of Associated Deals", "number", "number",
              "deal_information", calculated=True),
        _prop("hs_lifecyclestage_lead_date", "Became a Lead Date", "datetime", "date", _CI,
              calculated=True),
        _prop("createdate", "Create Date", "datetime", "date", _CI, read_only=True),
        _prop("lastmodifieddate", "Last Modified Date", "datetime", "date", _CI, read_only=True),
        _prop("hs_object_id", "Record ID", "number", "number", _CI, read_only=True),
    ]  # fmt: skip


_CO = "companyinformation"


def _company_properties() -> list[Property]:
    return [
        _prop("name", "Company name", group=_CO, form_field=True),
        _prop("domain", "Company Domain Name", group=_CO, form_field=True),
        _prop("website", "Website URL", group=_CO),
        _prop("phone", "Phone Number", "string", "phonenumber", _CO),
        _prop("address", "Street Address", group=_CO),
        _prop("city", "City", group=_CO),
        _prop("state", "State/Region", group=_CO),
        _prop("zip", "Postal Code", group=_CO),
        _prop("country", "Country/Region", group=_CO),
        _prop("description", "Description", "string", "textarea", _CO),
        _prop("founded_year", "Year Founded", group=_CO),
        _prop("industry", "Industry", "enumeration", "select", _CO, options=_INDUSTRY),
        _prop("type", "Type", "enumeration", "select", _CO, options=_COMPANY_TYPE),
        _prop("lifecyclestage", "Lifecycle Stage", "enumeration", "radio", _CO,
              options=_LIFECYCLE),
        _prop("numberofemployees", "Number of Employees", "number", "number", _CO),
        _prop("annualrevenue", "Annual Revenue", "number", "number", _CO),
        _prop("is_public", "Is Public", "bool", "booleancheckbox", _CO, options=_YES_NO),
        _prop("num_associated_contacts", "Number of Associated Contacts", "number", "number",
              _CO, calculated=True),
        _prop("hs_num_child_companies", "Number of child companies", "number", "number", _CO,
              calculated=True),
        _prop("createdate", "Create Date", "datetime", "date", _CO, read_only=True),
        _prop("hs_lastmodifieddate", "Last Modified Date", "datetime", "date", _CO,
              read_only=True),
        _prop("hs_object_id", "Record ID", "number", "number", _CO, read_only=True),
    ]  # fmt: skip


def default_registries(custom_string_properties: int = 0) -> dict[str, PropertyRegistry]:
    """Fresh registries for contacts and companies, keyed by the plural type name.

    `custom_string_properties` adds that many custom text properties to each type, so that a
    benchmark can state and vary the property count (docs/hubspot.md §11.8).
    """
    registries: dict[str, PropertyRegistry] = {}
    for object_type, builder in ((CONTACTS, _contact_properties), (COMPANIES, _company_properties)):
        props = builder()
        for index, prop in enumerate(props):
            prop.display_order = index
        custom: Sequence[Property] = [
            Property(
                name=f"custom_text_{i:04d}",
                label=f"Custom text {i}",
                type="string",
                field_type="text",
                group_name=f"{object_type.singular}information",
                hubspot_defined=False,
                read_only_definition=False,
                archivable=True,
            )
            for i in range(custom_string_properties)
        ]
        registries[object_type.name] = PropertyRegistry(object_type, [*props, *custom])
    assert set(registries) == {t.name for t in OBJECT_TYPES}
    return registries
