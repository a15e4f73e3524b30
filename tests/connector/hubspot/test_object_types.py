"""The `objectTypes` IDM's admin UI writes for a schema: here for the HubSpot connector's."""

from __future__ import annotations

from connector.hubspot.schema import CRM_TYPES, build_schema, builtin_catalog
from protocol.schema import idm_object_types


def test_hubspot_object_types_as_idm_writes_them() -> None:
    schema = build_schema({c: builtin_catalog(c) for c in CRM_TYPES})
    types = idm_object_types(schema)
    assert set(types) == {"contact", "company", "contactProperties", "companyProperties"}
    contact = types["contact"]
    assert {k: v for k, v in contact.items() if k != "properties"} == {
        "$schema": "http://json-schema.org/draft-03/schema",
        "id": "contact",
        "type": "object",
        "nativeType": "contact",
    }
    properties = contact["properties"]
    assert isinstance(properties, dict)
    # __NAME__ under HubSpot's name for it; no __UID__ (IDM's _id is the uid)
    assert properties["email"] == {
        "type": "string",
        "nativeName": "__NAME__",
        "nativeType": "string",
    }
    assert "__UID__" not in properties and "__NAME__" not in properties
    assert properties["hs_buying_role"] == {
        "type": "array",
        "items": {"type": "string", "nativeType": "string"},
        "nativeName": "hs_buying_role",
        "nativeType": "string",
    }
    assert properties["createdate"]["flags"] == ["NOT_CREATABLE", "NOT_UPDATEABLE"]
    assert properties["associatedcompanyid"]["type"] == "number"
    company = types["company"]["properties"]
    assert isinstance(company, dict) and company["name"]["nativeName"] == "__NAME__"
    definitions = types["contactProperties"]["properties"]
    assert isinstance(definitions, dict)
    assert definitions["__NAME__"]["required"] is True
