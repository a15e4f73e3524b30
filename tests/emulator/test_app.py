"""HubSpot's edge: envelopes, headers, parameter parsing, long URLs and unemulated routes."""

from __future__ import annotations

import uuid

import pytest

from emulator import Emulator
from tests.emulator.conftest import Http


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
