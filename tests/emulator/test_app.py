"""HubSpot's edge: envelopes, headers, parameter parsing, long URLs and unemulated routes."""

from __future__ import annotations

import uuid

import pytest
from hubspot import HubSpot
from hubspot.crm.contacts import (
    BatchReadInputSimplePublicObjectId,
    PublicObjectSearchRequest,
    SimplePublicObjectInputForCreate,
)

from emulator import Emulator
from tests.emulator.conftest import Http, in_thread


async def test_success_headers(http: Http) -> None:
    status, _, headers = await http.call("GET", "/crm/v3/objects/contacts")
    assert status == 200
    assert headers["Content-Type"] == "application/json;charset=utf-8"
    uuid.UUID(headers["X-HubSpot-Correlation-Id"])


@pytest.mark.parametrize(
    "path",
    [
        "/crm/v3/objects/deals",
        "/crm/v3/objects/tickets/search",
        "/companies/v2/companies/paged",
        "/properties/v1/deals/properties",
        "/crm/v3/objects/contacts/merge",
        "/nothing/here",
    ],
)
async def test_anything_not_emulated_is_403_missing_scopes(http: Http, path: str) -> None:
    status, body, headers = await http.call("GET" if "merge" not in path else "POST", path)
    assert status == 403  # never 404: peers give up on 404 (§11.1)
    assert body["category"] == "MISSING_SCOPES"
    assert body["status"] == "error"
    assert body["correlationId"] == headers["X-HubSpot-Correlation-Id"]


async def test_unemulated_methods_are_403_too(http: Http) -> None:
    status, body, _ = await http.call("PUT", "/crm/v3/objects/contacts")
    assert (status, body["category"]) == (403, "MISSING_SCOPES")


async def test_invalid_json_is_400(http: Http) -> None:
    status, body, _ = await http.call(
        "POST",
        "/crm/v3/objects/contacts",
        data=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    assert (status, body["category"]) == (400, "VALIDATION_ERROR")
    assert body["message"].startswith("Invalid input JSON on line 1, column 2: ")


async def test_array_parameters_repeated_or_comma_separated(http: Http) -> None:
    for params in (
        [("properties", "city"), ("properties", "country")],
        [("properties", "city,country")],
        [("properties", "city,"), ("properties", "country")],
    ):
        _, body, _ = await http.call("GET", "/crm/v3/objects/contacts", params=params)
        assert {"city", "country"} <= set(body["results"][0]["properties"])


@pytest.mark.parametrize("value", ["false", "False", "FALSE", "0"])
async def test_booleans_in_any_case(http: Http, value: str) -> None:
    status, body, _ = await http.call("GET", "/crm/v3/objects/contacts", params={"archived": value})
    assert status == 200
    assert body["results"]


async def test_unknown_parameters_are_ignored(http: Http) -> None:
    status, _, _ = await http.call(
        "GET",
        "/crm/v3/objects/contacts",
        params={"sort": "asc", "order_by": "lastmodifieddate", "hapikey": "x"},
    )
    assert status == 200


async def test_long_request_lines_are_accepted(emu: Emulator, http: Http) -> None:
    # Meltano and tap-hubspot send ~27 KB of property names in the URL (§11.6).
    names = ",".join(f"custom_property_number_{i}" for i in range(1500))
    assert len(names) > 30_000
    status, body, _ = await http.call(
        "GET", "/crm/v3/objects/contacts", params={"properties": names, "limit": "1"}
    )
    assert status == 200
    assert len(body["results"]) == 1


async def test_get_with_a_json_body_is_accepted(http: Http) -> None:
    status, _, _ = await http.call("GET", "/crm/v3/objects/contacts", json={})
    assert status == 200  # Meltano sends one (§11.5)


async def test_large_search_bodies_are_accepted(http: Http) -> None:
    properties = [f"property_{i}" for i in range(3000)]
    status, body, _ = await http.call(
        "POST", "/crm/v3/objects/contacts/search", json={"properties": properties, "limit": 1}
    )
    assert status == 200
    assert body["total"] == 40


async def test_each_answer_gets_its_own_correlation_id(http: Http) -> None:
    ids = {
        (await http.call("GET", "/crm/v3/objects/contacts/0"))[2]["X-HubSpot-Correlation-Id"]
        for _ in range(3)
    }
    assert len(ids) == 3


async def test_requests_are_recorded(emu: Emulator, http: Http) -> None:
    await http.call("GET", "/crm/v3/objects/contacts", params={"limit": "2"})
    await http.call("GET", "/crm/v3/objects/deals")
    assert [(r.method, r.path, r.query, r.status) for r in emu.requests] == [
        ("GET", "/crm/v3/objects/contacts", "limit=2", 200),
        ("GET", "/crm/v3/objects/deals", "", 403),
    ]
    assert len(emu.requests_to("/crm/v3/objects/contacts", "GET")) == 1


async def test_answers_satisfy_the_sdk_models_with_validation_on(emu: Emulator) -> None:
    """With `client_side_validation`, the SDK refuses answers missing a required field."""
    strict = HubSpot(
        access_token=emu.private_app_token,
        host=emu.base_url,
        base_url=emu.base_url,
        client_side_validation=True,
    )

    def every_shape() -> None:
        contacts = strict.crm.contacts
        contacts.basic_api.get_page(
            limit=5, associations=["companies"], properties_with_history=["email"]
        )
        created = contacts.basic_api.create(
            simple_public_object_input_for_create=SimplePublicObjectInputForCreate(
                properties={"email": "strict@example.com"}, associations=[]
            )
        )
        contacts.search_api.do_search(
            public_object_search_request=PublicObjectSearchRequest(
                filter_groups=[], sorts=[], properties=["email"], limit=5, after="0"
            )
        )
        contacts.batch_api.read(
            batch_read_input_simple_public_object_id=BatchReadInputSimplePublicObjectId(
                inputs=[{"id": created.id}], properties=["email"], properties_with_history=[]
            )
        )
        strict.crm.companies.basic_api.get_page(limit=5)
        for object_type in ("contacts", "companies"):
            strict.crm.properties.core_api.get_all(object_type)
        v4 = strict.crm.associations.v4.basic_api
        company_id = str(emu.store.companies.live()[0].id)
        v4.create_default("contacts", created.id, "companies", company_id)
        v4.get_page("contacts", created.id, "companies")
        tokens = strict.oauth.tokens_api.create(
            grant_type="refresh_token",
            client_id=emu.client_id,
            client_secret=emu.client_secret,
            refresh_token=emu.refresh_token,
        )
        strict.oauth.access_tokens_api.get(tokens.access_token)
        strict.oauth.refresh_tokens_api.get(emu.refresh_token)

    await in_thread(every_shape)
