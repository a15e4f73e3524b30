"""The Properties API through the official SDK, and values validated against definitions (§2)."""

from __future__ import annotations

import json

import pytest
from hubspot import HubSpot
from hubspot.crm.properties import ApiException, PropertyCreate, PropertyUpdate

from emulator import Emulator
from tests.emulator.conftest import Http, in_thread


async def test_definitions_are_realistic(sdk: HubSpot) -> None:
    contacts = await in_thread(sdk.crm.properties.core_api.get_all, object_type="contacts")
    by_name = {p.name: p for p in contacts.results}
    assert by_name["email"].type == "string"
    assert by_name["lifecyclestage"].field_type == "radio"
    assert "customer" in [o.value for o in by_name["lifecyclestage"].options]
    assert by_name["hs_buying_role"].field_type == "checkbox"
    assert by_name["createdate"].type == "datetime"
    assert by_name["createdate"].modification_metadata.read_only_value is True
    assert by_name["num_associated_deals"].calculated is True
    companies = await in_thread(sdk.crm.properties.core_api.get_all, object_type="company")
    names = {p.name for p in companies.results}
    assert {"name", "domain", "hs_lastmodifieddate", "industry", "is_public"} <= names
    assert "lastmodifieddate" not in names


async def test_get_one_and_unknown(sdk: HubSpot) -> None:
    core = sdk.crm.properties.core_api
    email = await in_thread(core.get_by_name, "contacts", "email")
    assert email.label == "Email"
    with pytest.raises(ApiException) as caught:
        await in_thread(core.get_by_name, "contacts", "nope")
    assert caught.value.status == 404


async def test_custom_property_lifecycle(emu: Emulator, sdk: HubSpot, http: Http) -> None:
    core = sdk.crm.properties.core_api
    created = await in_thread(
        core.create,
        "contacts",
        PropertyCreate(
            name="favourite_colour",
            label="Favourite colour",
            type="enumeration",
            field_type="select",
            group_name="contactinformation",
            options=[
                {"label": "Red", "value": "red", "displayOrder": 0, "hidden": False},
                {"label": "Blue", "value": "blue", "displayOrder": 1, "hidden": False},
            ],
        ),
    )
    assert created.hubspot_defined is False
    assert created.modification_metadata.archivable is True

    status, _, _ = await http.call(
        "POST",
        "/crm/v3/objects/contacts",
        json={"properties": {"email": "c@example.com", "favourite_colour": "red"}},
    )
    assert status == 201
    status, body, _ = await http.call(
        "POST",
        "/crm/v3/objects/contacts",
        json={"properties": {"email": "d@example.com", "favourite_colour": "green"}},
    )
    assert status == 400
    assert body["errors"][0]["code"] == "INVALID_OPTION"
    assert "was not one of the allowed options" in body["errors"][0]["message"]

    updated = await in_thread(
        core.update, "contacts", "favourite_colour", PropertyUpdate(label="Colour")
    )
    assert updated.label == "Colour"

    await in_thread(core.archive, "contacts", "favourite_colour")
    names = {p.name for p in (await in_thread(core.get_all, "contacts")).results}
    assert "favourite_colour" not in names
    archived = await in_thread(core.get_all, "contacts", archived=True)
    assert [p.name for p in archived.results] == ["favourite_colour"]


async def test_duplicate_and_hubspot_defined(sdk: HubSpot) -> None:
    core = sdk.crm.properties.core_api
    with pytest.raises(ApiException) as caught:
        await in_thread(
            core.create,
            "contacts",
            PropertyCreate(
                name="email",
                label="Email",
                type="string",
                field_type="text",
                group_name="contactinformation",
            ),
        )
    assert caught.value.status == 409
    with pytest.raises(ApiException) as caught:
        await in_thread(core.archive, "contacts", "email")
    assert caught.value.status == 400
    with pytest.raises(ApiException) as caught:
        await in_thread(
            core.create,
            "contacts",
            PropertyCreate(
                name="bad_combo",
                label="Bad",
                type="number",
                field_type="select",
                group_name="contactinformation",
            ),
        )
    assert json.loads(caught.value.body)["category"] == "VALIDATION_ERROR"


@pytest.mark.parametrize(
    ("kind", "field_type", "written", "stored", "error"),
    [
        ("number", "number", "42", "42", None),
        ("number", "number", 3.25, "3.25", None),
        ("number", "number", "forty", None, "INVALID_INTEGER"),
        ("date", "date", "2024-02-29", "2024-02-29", None),
        ("date", "date", 1709164800000, "2024-02-29", None),
        ("date", "date", "1709164800001", None, "INVALID_DATE"),
        ("datetime", "date", "2024-01-17T19:55:04.281Z", "2024-01-17T19:55:04.281Z", None),
        ("datetime", "date", "1705521304281", "2024-01-17T19:55:04.281Z", None),
        ("datetime", "date", "last tuesday", None, "INVALID_DATETIME"),
        ("bool", "booleancheckbox", "TRUE", "true", None),
        ("bool", "booleancheckbox", "maybe", None, "INVALID_BOOLEAN"),
        ("string", "text", "", None, None),
    ],
)
async def test_values_are_validated_by_type(
    http: Http,
    kind: str,
    field_type: str,
    written: object,
    stored: str | None,
    error: str | None,
) -> None:
    status, _, _ = await http.call(
        "POST",
        "/crm/v3/properties/contacts",
        json={
            "name": "typed_value",
            "label": "Typed value",
            "type": kind,
            "fieldType": field_type,
            "groupName": "contactinformation",
        },
    )
    assert status == 201
    status, body, _ = await http.call(
        "POST",
        "/crm/v3/objects/contacts",
        json={"properties": {"email": "t@example.com", "typed_value": written}},
    )
    if error is not None:
        assert status == 400
        assert body["errors"][0]["code"] == error
        return
    assert status == 201
    assert body["properties"].get("typed_value") == stored


async def test_unique_custom_property_is_an_id_property(emu: Emulator, http: Http) -> None:
    await http.call(
        "POST",
        "/crm/v3/properties/contacts",
        json={
            "name": "employee_number",
            "label": "Employee number",
            "type": "string",
            "fieldType": "text",
            "groupName": "contactinformation",
            "hasUniqueValue": True,
        },
    )
    _, created, _ = await http.call(
        "POST",
        "/crm/v3/objects/contacts",
        json={"properties": {"employee_number": "E-7"}},
    )
    status, got, _ = await http.call(
        "GET", "/crm/v3/objects/contacts/E-7", params={"idProperty": "employee_number"}
    )
    assert (status, got["id"]) == (200, created["id"])
    status, _, _ = await http.call(
        "POST", "/crm/v3/objects/contacts", json={"properties": {"employee_number": "e-7"}}
    )
    assert status == 409


async def test_legacy_and_schema_routes(http: Http) -> None:
    status, body, _ = await http.call("GET", "/properties/v2/contact/properties")
    assert status == 200
    assert isinstance(body, list)
    assert {"name", "type"} <= set(body[0])
    status, body, _ = await http.call("GET", "/crm/v3/schemas")
    assert (status, body) == (200, {"results": []})
    status, body, _ = await http.call("GET", "/crm/v3/properties/contacts/groups")
    assert "contactinformation" in [g["name"] for g in body["results"]]
    status, body, _ = await http.call("GET", "/crm/v3/properties/deals")
    assert (status, body["category"]) == (403, "MISSING_SCOPES")
