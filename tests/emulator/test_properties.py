"""Property definitions and value normalisation, without HTTP (§1.8, §2)."""

from __future__ import annotations

import pytest

from emulator.errors import HubSpotError, PropertyValueError
from emulator.objecttypes import CONTACTS
from emulator.properties import Option, Property, PropertyRegistry, default_registries


def _enum(field_type: str) -> Property:
    return Property(
        name="colour",
        label="Colour",
        type="enumeration",
        field_type=field_type,
        group_name="g",
        options=(Option("Red", "red"), Option("Blue", "blue")),
    )


@pytest.mark.parametrize(
    ("prop", "raw", "current", "stored"),
    [
        (_enum("select"), "red", None, "red"),
        (_enum("checkbox"), "red;blue", None, "red;blue"),
        (_enum("checkbox"), ";blue", "red", "red;blue"),
        (_enum("checkbox"), ";red", "red", "red"),
        (_enum("checkbox"), "blue", "red", "blue"),
        (_enum("select"), "", "red", None),
        (_enum("select"), None, "red", None),
    ],
)
def test_enumerations(prop: Property, raw: object, current: str | None, stored: str | None) -> None:
    assert prop.normalize(raw, current) == stored


@pytest.mark.parametrize(("field_type", "raw"), [("select", "Red"), ("checkbox", "red;green")])
def test_enumeration_options_are_case_sensitive(field_type: str, raw: str) -> None:
    with pytest.raises(PropertyValueError) as caught:
        _enum(field_type).normalize(raw, None)
    assert caught.value.code == "INVALID_OPTION"
    assert 'label: "Red"\nvalue: "red"' in caught.value.message


def test_non_scalar_values_are_rejected() -> None:
    text = Property(name="t", label="T", type="string", field_type="text", group_name="g")
    with pytest.raises(PropertyValueError):
        text.normalize({"nested": 1}, None)
    assert text.normalize(12, None) == "12"


def test_default_registries_and_custom_counts() -> None:
    registries = default_registries(custom_string_properties=3)
    contacts = registries["contacts"]
    assert contacts.object_type is CONTACTS
    assert contacts.get("custom_text_0002") is not None
    assert contacts.unique_names() == frozenset({"email"})
    assert all(p.hubspot_defined for p in contacts.all() if not p.name.startswith("custom_"))
    assert {p.type for p in contacts.all()} >= {
        "string",
        "number",
        "datetime",
        "bool",
        "enumeration",
    }


def test_unique_names_follow_custom_definitions() -> None:
    registry = PropertyRegistry(CONTACTS, [])
    registry.create(
        {
            "name": "badge",
            "label": "Badge",
            "type": "string",
            "fieldType": "text",
            "groupName": "g",
            "hasUniqueValue": True,
        },
        0,
    )
    assert registry.unique_names() == frozenset({"email", "badge"})
    registry.archive("badge", 1)
    assert registry.unique_names() == frozenset({"email"})
    with pytest.raises(HubSpotError):
        registry.update("badge", {"label": "x"}, 2)


@pytest.mark.parametrize(
    "body",
    [
        {"name": "Bad Name", "label": "x", "type": "string", "fieldType": "text", "groupName": "g"},
        {"name": "ok", "type": "string", "fieldType": "text", "groupName": "g"},
        {
            "name": "ok",
            "label": "x",
            "type": "enumeration",
            "fieldType": "select",
            "groupName": "g",
        },
        {"name": "ok", "label": "x", "type": "date", "fieldType": "text", "groupName": "g"},
        {
            "name": "ok",
            "label": "x",
            "type": "enumeration",
            "fieldType": "radio",
            "groupName": "g",
            "options": [{"label": "no value"}],
        },
    ],
)
def test_invalid_definitions_are_400(body: dict[str, object]) -> None:
    with pytest.raises(HubSpotError) as caught:
        PropertyRegistry(CONTACTS, []).create(body, 0)
    assert caught.value.status == 400


def test_boolean_checkbox_enumerations_get_yes_and_no() -> None:
    prop = PropertyRegistry(CONTACTS, []).create(
        {
            "name": "agreed",
            "label": "Agreed",
            "type": "enumeration",
            "fieldType": "booleancheckbox",
            "groupName": "g",
        },
        0,
    )
    assert prop.normalize("true", None) == "true"
