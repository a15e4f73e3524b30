"""The CRM objects API, driven by the official SDK and, where the SDK cannot, raw HTTP."""

from __future__ import annotations

import json
import re
import time

import pytest
from hubspot import HubSpot
from hubspot.crm.companies import SimplePublicObjectInputForCreate as CompanyInput
from hubspot.crm.contacts import (
    ApiException,
    BatchInputSimplePublicObjectBatchInput,
    BatchInputSimplePublicObjectBatchInputForCreate,
    BatchInputSimplePublicObjectBatchInputUpsert,
    BatchInputSimplePublicObjectId,
    BatchReadInputSimplePublicObjectId,
    SimplePublicObjectInput,
    SimplePublicObjectInputForCreate,
)
from hubspot.crm.deals import ApiException as DealsApiException

from emulator import Emulator, EmulatorSettings
from emulator.values import parse_datetime_ms
from tests.emulator.conftest import Http, in_thread

ISO_MS = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$"


def _create(sdk: HubSpot, **props: str) -> str:
    created = sdk.crm.contacts.basic_api.create(
        simple_public_object_input_for_create=SimplePublicObjectInputForCreate(properties=props)
    )
    return str(created.id)


async def test_create_returns_201_with_server_kept_values(emu: Emulator, http: Http) -> None:
    status, body, headers = await http.call(
        "POST", "/crm/v3/objects/contacts", json={"properties": {"email": "new@example.com"}}
    )
    assert status == 201
    assert headers["Content-Type"] == "application/json;charset=utf-8"
    props = body["properties"]
    assert body["id"] == props["hs_object_id"]
    assert props["createdate"] == body["createdAt"]
    assert props["lastmodifieddate"] == body["updatedAt"]
    assert body["archived"] is False
    assert re.match(ISO_MS, body["createdAt"])
    assert emu.store.contacts.counters.created == 1


async def test_sdk_create_get_update_archive(emu: Emulator, sdk: HubSpot) -> None:
    contact_id = await in_thread(_create, sdk, email="Ada@Example.com", firstname="Ada")
    api = sdk.crm.contacts.basic_api
    got = await in_thread(
        api.get_by_id, "ada@example.com", id_property="email", properties=["email", "firstname"]
    )
    assert got.id == contact_id
    assert got.properties["firstname"] == "Ada"
    before = got.properties["lastmodifieddate"]

    updated = await in_thread(
        api.update,
        contact_id,
        simple_public_object_input=SimplePublicObjectInput(
            properties={"firstname": "", "lastname": "Lovelace"}
        ),
    )
    assert updated.properties["lastname"] == "Lovelace"
    assert "firstname" not in updated.properties or updated.properties["firstname"] is None
    assert updated.properties["lastmodifieddate"] > before

    await in_thread(api.archive, contact_id)
    with pytest.raises(ApiException) as caught:
        await in_thread(api.get_by_id, contact_id)
    assert caught.value.status == 404
    archived = await in_thread(api.get_by_id, contact_id, archived=True)
    assert archived.archived is True
    assert archived.archived_at is not None


async def test_duplicate_email_is_409_with_existing_id(sdk: HubSpot) -> None:
    first = await in_thread(_create, sdk, email="dup@example.com")
    with pytest.raises(ApiException) as caught:
        await in_thread(_create, sdk, email="DUP@example.com")
    assert caught.value.status == 409
    body = json.loads(caught.value.body)
    assert body["message"] == f"Contact already exists. Existing ID: {first}"
    assert body["category"] == "CONFLICT"
    assert body["correlationId"] == caught.value.headers["X-HubSpot-Correlation-Id"]


@pytest.mark.parametrize(
    ("props", "code"),
    [
        ({"no_such_property": "x"}, "PROPERTY_DOESNT_EXIST"),
        ({"hs_object_id": "5"}, "READ_ONLY_VALUE"),
        ({"createdate": "2024-01-01T00:00:00Z"}, "READ_ONLY_VALUE"),
        ({"email": "not-an-email"}, "INVALID_EMAIL"),
        ({"lifecyclestage": "Lead"}, "INVALID_OPTION"),
        ({"hs_buying_role": "CHAMPION;NOPE"}, "INVALID_OPTION"),
        ({"num_associated_deals": "3"}, "READ_ONLY_VALUE"),
    ],
)
async def test_invalid_values_are_400_validation_errors(
    sdk: HubSpot, props: dict[str, str], code: str
) -> None:
    contact_id = await in_thread(_create, sdk, email="valid@example.com")
    with pytest.raises(ApiException) as caught:
        await in_thread(
            sdk.crm.contacts.basic_api.update,
            contact_id,
            simple_public_object_input=SimplePublicObjectInput(properties=props),
        )
    assert caught.value.status == 400
    body = json.loads(caught.value.body)
    assert body["category"] == "VALIDATION_ERROR"
    assert body["message"].startswith("Property values were not valid: ")
    assert [e["code"] for e in body["errors"]] == [code]
    assert body["errors"][0]["context"]["propertyName"] == list(props)


async def test_multi_checkbox_values_and_append(sdk: HubSpot) -> None:
    contact_id = await in_thread(_create, sdk, email="roles@example.com", hs_buying_role="CHAMPION")
    api = sdk.crm.contacts.basic_api
    updated = await in_thread(
        api.update,
        contact_id,
        simple_public_object_input=SimplePublicObjectInput(
            properties={"hs_buying_role": ";END_USER"}
        ),
    )
    assert updated.properties["hs_buying_role"] == "CHAMPION;END_USER"


async def test_non_numeric_id_and_unknown_id(http: Http) -> None:
    status, body, _ = await http.call("GET", "/crm/v3/objects/contacts/abc")
    assert (status, body["category"]) == (404, "OBJECT_NOT_FOUND")
    status, body, _ = await http.call("GET", "/crm/v3/objects/contacts/999999")
    assert status == 404
    assert body["message"] == "resource not found"
    assert "category" not in body


@pytest.mark.parametrize("alias", ["contacts", "contact", "0-1", "CONTACTS"])
async def test_object_type_aliases(http: Http, alias: str) -> None:
    status, body, _ = await http.call("GET", f"/crm/v3/objects/{alias}", params={"limit": "1"})
    assert status == 200
    assert len(body["results"]) == 1


@pytest.mark.parametrize("alias", ["companies", "company", "0-2"])
async def test_company_aliases_and_default_properties(http: Http, alias: str) -> None:
    status, body, _ = await http.call("GET", f"/crm/v3/objects/{alias}", params={"limit": "1"})
    assert status == 200
    assert set(body["results"][0]["properties"]) == {
        "createdate",
        "domain",
        "hs_lastmodifieddate",
        "hs_object_id",
        "name",
    }


async def test_default_and_requested_properties(http: Http) -> None:
    _, body, _ = await http.call("GET", "/crm/v3/objects/contacts", params={"limit": "1"})
    assert set(body["results"][0]["properties"]) == {
        "createdate",
        "email",
        "firstname",
        "hs_object_id",
        "lastmodifieddate",
        "lastname",
    }
    _, body, _ = await http.call(
        "GET",
        "/crm/v3/objects/contacts",
        params={"limit": "1", "properties": "city,fax,unknown_prop"},
    )
    props = body["results"][0]["properties"]
    # Requested ones (unset ones as null, unknown ones omitted) plus the server-kept ones.
    assert set(props) == {"city", "fax", "createdate", "hs_object_id", "lastmodifieddate"}
    assert props["fax"] is None


async def test_list_pages_through_everything_once(emu: Emulator, sdk: HubSpot) -> None:
    everything = await in_thread(sdk.crm.contacts.get_all, properties=["email"])
    assert len(everything) == len(emu.store.contacts) == 40
    ids = [int(c.id) for c in everything]
    assert ids == sorted(set(ids))


async def test_list_cursor_is_opaque_and_independent_of_properties(http: Http) -> None:
    _, first, _ = await http.call("GET", "/crm/v3/objects/contacts", params={"limit": "7"})
    cursor = first["paging"]["next"]["after"]
    assert not cursor.isdigit()
    assert first["paging"]["next"]["link"].endswith(cursor)
    pages = []
    for properties in ("email", "city,country"):
        _, page, _ = await http.call(
            "GET",
            "/crm/v3/objects/contacts",
            params={"limit": "7", "after": cursor, "properties": properties},
        )
        pages.append([r["id"] for r in page["results"]])
    assert pages[0] == pages[1]
    assert int(pages[0][0]) > int(first["results"][-1]["id"])


async def test_list_limits(emu: Emulator, http: Http) -> None:
    status, body, _ = await http.call("GET", "/crm/v3/objects/contacts", params={"limit": "101"})
    assert (status, body["category"]) == (400, "VALIDATION_ERROR")
    status, _, _ = await http.call(
        "GET",
        "/crm/v3/objects/contacts",
        params={"limit": "51", "propertiesWithHistory": "email"},
    )
    assert status == 400
    emu.settings.list_limit_over_max = "clamp"
    status, body, _ = await http.call("GET", "/crm/v3/objects/contacts", params={"limit": "500"})
    assert status == 200
    assert len(body["results"]) == 40
    _, body, _ = await http.call("GET", "/crm/v3/objects/contacts")
    assert len(body["results"]) == 10  # the default


async def test_list_archived_shows_only_archived(sdk: HubSpot, http: Http) -> None:
    await in_thread(sdk.crm.contacts.basic_api.archive, "1001")
    _, live, _ = await http.call("GET", "/crm/v3/objects/contacts", params={"limit": "100"})
    assert "1001" not in [r["id"] for r in live["results"]]
    _, archived, _ = await http.call("GET", "/crm/v3/objects/contacts", params={"archived": "TRUE"})
    assert [r["id"] for r in archived["results"]] == ["1001"]
    assert archived["results"][0]["archived"] is True


async def test_archive_unknown_id_is_a_setting(emu: Emulator, http: Http) -> None:
    status, _, _ = await http.call("DELETE", "/crm/v3/objects/contacts/424242")
    assert status == 204
    emu.settings.archive_unknown_id_status = 404
    status, _, _ = await http.call("DELETE", "/crm/v3/objects/contacts/424242")
    assert status == 404


async def test_properties_with_history(sdk: HubSpot, http: Http) -> None:
    contact_id = await in_thread(_create, sdk, email="h@example.com", firstname="One")
    await in_thread(
        sdk.crm.contacts.basic_api.update,
        contact_id,
        simple_public_object_input=SimplePublicObjectInput(properties={"firstname": "Two"}),
    )
    got = await in_thread(
        sdk.crm.contacts.basic_api.get_by_id, contact_id, properties_with_history=["firstname"]
    )
    history = got.properties_with_history["firstname"]
    assert [h.value for h in history] == ["Two", "One"]
    assert history[0].source_type == "API"
    # Generated records have no history but their current value.
    _, body, _ = await http.call(
        "GET", "/crm/v3/objects/contacts/1001", params={"propertiesWithHistory": "email"}
    )
    assert len(body["propertiesWithHistory"]["email"]) == 1


async def test_values_travel_as_strings(sdk: HubSpot, http: Http) -> None:
    status, body, _ = await http.call(
        "POST",
        "/crm/v3/objects/companies",
        json={
            "properties": {
                "name": "Strings Inc",
                "numberofemployees": 17,
                "is_public": True,
                "annualrevenue": 1.5,
            }
        },
    )
    assert status == 201
    props = body["properties"]
    assert (props["numberofemployees"], props["is_public"], props["annualrevenue"]) == (
        "17",
        "true",
        "1.5",
    )
    assert props["hs_lastmodifieddate"] == body["updatedAt"]
    company = await in_thread(
        sdk.crm.companies.basic_api.create,
        simple_public_object_input_for_create=CompanyInput(properties={"name": "Other"}),
    )
    assert isinstance(company.id, str)


async def test_batch_read_create_update_upsert_archive(emu: Emulator, sdk: HubSpot) -> None:
    batch = sdk.crm.contacts.batch_api
    created = await in_thread(
        batch.create,
        batch_input_simple_public_object_batch_input_for_create=(
            BatchInputSimplePublicObjectBatchInputForCreate(
                inputs=[
                    {"properties": {"email": f"b{i}@example.com", "firstname": f"B{i}"}}
                    for i in range(3)
                ]
            )
        ),
    )
    assert created.status == "COMPLETE"
    ids = sorted(r.id for r in created.results)
    assert len(ids) == 3

    read = await in_thread(
        batch.read,
        batch_read_input_simple_public_object_id=BatchReadInputSimplePublicObjectId(
            inputs=[{"id": i} for i in ids], properties=["firstname"], properties_with_history=[]
        ),
    )
    assert sorted(r.properties["firstname"] for r in read.results) == ["B0", "B1", "B2"]

    updated = await in_thread(
        batch.update,
        batch_input_simple_public_object_batch_input=BatchInputSimplePublicObjectBatchInput(
            inputs=[{"id": i, "properties": {"lastname": "Batch"}} for i in ids]
        ),
    )
    assert {r.properties["lastname"] for r in updated.results} == {"Batch"}

    upserted = await in_thread(
        batch.upsert,
        batch_input_simple_public_object_batch_input_upsert=(
            BatchInputSimplePublicObjectBatchInputUpsert(
                inputs=[
                    {"id": "b0@example.com", "idProperty": "email", "properties": {"city": "X"}},
                    {"id": "new@example.com", "idProperty": "email", "properties": {"city": "Y"}},
                ]
            )
        ),
    )
    assert sorted((r.new, r.properties["city"]) for r in upserted.results) == [
        (False, "X"),
        (True, "Y"),
    ]

    before = len(emu.store.contacts)
    await in_thread(
        batch.archive,
        batch_input_simple_public_object_id=BatchInputSimplePublicObjectId(
            inputs=[{"id": i} for i in ids]
        ),
    )
    assert len(emu.store.contacts) == before - 3


async def test_batch_read_missing_ids_is_207(http: Http) -> None:
    status, body, _ = await http.call(
        "POST",
        "/crm/v3/objects/contacts/batch/read",
        json={"inputs": [{"id": "1001"}, {"id": "999999"}], "properties": ["email"]},
    )
    assert status == 207
    assert body["numErrors"] == 1
    assert body["errors"][0]["context"]["ids"] == ["999999"]
    assert [r["id"] for r in body["results"]] == ["1001"]


async def test_batch_limits_and_duplicates(http: Http) -> None:
    inputs = [{"properties": {"email": f"x{i}@example.com"}} for i in range(101)]
    status, body, _ = await http.call(
        "POST", "/crm/v3/objects/contacts/batch/create", json={"inputs": inputs}
    )
    assert (status, body["category"]) == (400, "VALIDATION_ERROR")
    status, body, _ = await http.call(
        "POST",
        "/crm/v3/objects/contacts/batch/create",
        json={"inputs": [{"properties": {"email": "same@example.com"}}] * 2},
    )
    assert (status, body["category"]) == (409, "CONFLICT")


async def test_batch_create_with_trace_ids_is_multi_status(emu: Emulator, http: Http) -> None:
    status, body, _ = await http.call(
        "POST",
        "/crm/v3/objects/contacts/batch/create",
        json={
            "inputs": [
                {"properties": {"email": "ok@example.com"}, "objectWriteTraceId": "a"},
                {"properties": {"email": "broken"}, "objectWriteTraceId": "b"},
            ]
        },
    )
    assert status == 207
    assert len(body["results"]) == 1
    assert body["errors"][0]["context"]["objectWriteTraceId"] == ["b"]


async def test_create_with_association(emu: Emulator, http: Http) -> None:
    company_id = emu.store.companies.live()[0].id
    status, body, _ = await http.call(
        "POST",
        "/crm/v3/objects/contacts",
        json={
            "properties": {"email": "linked@example.com"},
            "associations": [
                {
                    "to": {"id": str(company_id)},
                    "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 1}],
                }
            ],
        },
    )
    assert status == 201
    _, got, _ = await http.call(
        "GET",
        f"/crm/v3/objects/contacts/{body['id']}",
        params={"associations": "companies", "properties": "associatedcompanyid"},
    )
    assert got["properties"]["associatedcompanyid"] == str(company_id)
    assert got["associations"]["companies"]["results"] == [
        {"id": str(company_id), "type": "contact_to_company"},
        {"id": str(company_id), "type": "contact_to_company_unlabeled"},
    ]


async def test_write_timestamps_are_never_in_the_future(emu: Emulator, http: Http) -> None:
    _, body, _ = await http.call("GET", "/crm/v3/objects/contacts", params={"limit": "100"})
    now_ms = time.time() * 1000
    for result in body["results"]:
        updated = parse_datetime_ms(result["updatedAt"])
        assert updated is not None
        assert updated <= now_ms


@pytest.mark.parametrize("emulator_settings", [EmulatorSettings(location_header_on_create=True)])
async def test_location_header_is_a_setting(http: Http) -> None:
    _, body, headers = await http.call(
        "POST", "/crm/v3/objects/contacts", json={"properties": {"email": "loc@example.com"}}
    )
    assert headers["Location"].endswith(f"/crm/v3/objects/contacts/{body['id']}")


async def test_companies_through_the_sdk(emu: Emulator, sdk: HubSpot) -> None:
    api = sdk.crm.companies
    page = await in_thread(api.basic_api.get_page, limit=2, associations=["contacts"])
    assert len(page.results) == 2
    assert page.results[0].associations["contacts"].results
    domain = page.results[0].properties["domain"]
    found = await in_thread(api.basic_api.get_by_id, domain, id_property="domain")
    assert found.id == page.results[0].id
    result = await in_thread(
        api.search_api.do_search,
        {
            "filterGroups": [
                {"filters": [{"propertyName": "domain", "operator": "EQ", "value": domain}]}
            ]
        },
    )
    assert [r.id for r in result.results] == [found.id]
    assert len(await in_thread(api.get_all)) == 5


async def test_unemulated_object_types_through_the_sdk(sdk: HubSpot) -> None:
    with pytest.raises(DealsApiException) as caught:
        await in_thread(sdk.crm.deals.basic_api.get_page)
    assert caught.value.status == 403
    assert json.loads(caught.value.body)["category"] == "MISSING_SCOPES"


async def test_batch_update_with_a_missing_id_is_207(http: Http) -> None:
    status, body, _ = await http.call(
        "POST",
        "/crm/v3/objects/contacts/batch/update",
        json={
            "inputs": [
                {"id": "1001", "properties": {"city": "Lyon"}},
                {"id": "999999", "properties": {"city": "Lyon"}},
            ]
        },
    )
    assert status == 207
    assert [r["properties"]["city"] for r in body["results"]] == ["Lyon"]
    assert body["errors"][0]["category"] == "OBJECT_NOT_FOUND"
    assert body["errors"][0]["context"] == {"ids": ["999999"]}


async def test_history_of_server_kept_properties(http: Http) -> None:
    _, body, _ = await http.call(
        "GET",
        "/crm/v3/objects/contacts/1001",
        params={"propertiesWithHistory": "createdate,lastmodifieddate,hs_object_id"},
    )
    history = body["propertiesWithHistory"]
    assert history["createdate"][0]["value"] == body["createdAt"]
    assert history["lastmodifieddate"][0]["value"] == body["updatedAt"]
    assert history["hs_object_id"][0]["value"] == "1001"
