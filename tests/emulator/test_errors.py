"""HubSpot's error envelope (§1.9)."""

from __future__ import annotations

import json

from emulator.errors import PropertyValueError, missing_scopes, not_found, validation_error


def test_validation_error_has_the_legacy_message_and_errors() -> None:
    error = validation_error(
        [PropertyValueError("x", "PROPERTY_DOESNT_EXIST", 'Property "x" does not exist')]
    )
    assert error.status == 400
    prefix = "Property values were not valid: "
    assert error.body["message"].startswith(prefix)
    described = json.loads(error.body["message"][len(prefix) :])
    assert described == [
        {
            "isValid": False,
            "message": 'Property "x" does not exist',
            "error": "PROPERTY_DOESNT_EXIST",
            "name": "x",
            "localizedErrorMessage": 'Property "x" does not exist',
        }
    ]
    assert error.body["errors"][0]["context"] == {"propertyName": ["x"]}


def test_not_found_has_no_category() -> None:
    assert not_found().body == {"status": "error", "message": "resource not found"}


def test_missing_scopes_names_the_scopes() -> None:
    body = missing_scopes(["crm.objects.deals.read"]).body
    assert body["category"] == "MISSING_SCOPES"
    assert body["errors"][0]["context"]["requiredGranularScopes"] == ["crm.objects.deals.read"]
