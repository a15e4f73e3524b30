"""HubSpot's error envelope, and the exception handlers raise to produce it.

Shape from docs/hubspot.md §1.9: `{status:"error", message, correlationId, category?, errors?,
context?, subCategory?, links?}`. The middleware in `app.py` adds the correlation id, which is
also sent as `X-HubSpot-Correlation-Id` (§9 "Headers").
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "HubSpotError",
    "PropertyValueError",
    "bad_request",
    "conflict",
    "missing_scopes",
    "not_found",
    "validation_error",
]

MISSING_SCOPES_MESSAGE = (
    "This app hasn't been granted all required scopes to make this call. Read more about "
    "required scopes here: https://developers.hubspot.com/scopes."
)


class HubSpotError(Exception):
    """An HTTP error answered in HubSpot's JSON envelope.

    `body` holds the envelope without `correlationId`, which is added per response. Bodies that
    are not the standard envelope (OAuth's RFC 6749 errors, 429s) pass `body` whole.
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        category: str | None = None,
        errors: Sequence[Mapping[str, Any]] | None = None,
        context: Mapping[str, Any] | None = None,
        sub_category: str | None = None,
        body: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.headers = dict(headers or {})
        if body is not None:
            self.body: dict[str, Any] = dict(body)
            return
        envelope: dict[str, Any] = {"status": "error", "message": message}
        if category is not None:
            envelope["category"] = category
        if sub_category is not None:
            envelope["subCategory"] = sub_category
        if errors is not None:
            envelope["errors"] = [dict(e) for e in errors]
        if context is not None:
            envelope["context"] = dict(context)
        self.body = envelope


class PropertyValueError(Exception):
    """One invalid property value, in the terms of HubSpot's `Property values were not valid`.

    Codes seen in real answers (docs/hubspot.md §1.9): PROPERTY_DOESNT_EXIST, READ_ONLY_VALUE,
    INVALID_EMAIL, INVALID_OPTION, INVALID_INTEGER, INVALID_DATE, INVALID_DATETIME,
    INVALID_BOOLEAN.
    """

    def __init__(self, name: str, code: str, message: str) -> None:
        super().__init__(message)
        self.name = name
        self.code = code
        self.message = message


def validation_error(problems: Sequence[PropertyValueError]) -> HubSpotError:
    """Build the 400 for invalid property values, with both the legacy text and `errors`."""
    described = [
        {
            "isValid": False,
            "message": p.message,
            "error": p.code,
            "name": p.name,
            "localizedErrorMessage": p.message,
        }
        for p in problems
    ]
    message = "Property values were not valid: " + json.dumps(described, separators=(",", ":"))
    return HubSpotError(
        400,
        message,
        category="VALIDATION_ERROR",
        errors=[
            {"message": p.message, "code": p.code, "context": {"propertyName": [p.name]}}
            for p in problems
        ],
    )


def bad_request(message: str, **context: list[str]) -> HubSpotError:
    """A 400 VALIDATION_ERROR for a malformed request (limits, shapes, parameters)."""
    return HubSpotError(400, message, category="VALIDATION_ERROR", context=context or None)


def not_found() -> HubSpotError:
    """The 404 for an unknown id: "resource not found" and no category (§1.9)."""
    return HubSpotError(404, "resource not found")


def conflict(message: str) -> HubSpotError:
    """A 409 CONFLICT, e.g. "Contact already exists. Existing ID: 123" (§1.5)."""
    return HubSpotError(409, message, category="CONFLICT")


def missing_scopes(scopes: Sequence[str] = ()) -> HubSpotError:
    """The 403 for anything not emulated; peers skip a stream on it quietly (§11.1)."""
    return HubSpotError(
        403,
        MISSING_SCOPES_MESSAGE,
        category="MISSING_SCOPES",
        errors=[
            {
                "message": "One or more of the following scopes are required.",
                "context": {"requiredGranularScopes": list(scopes)},
            }
        ],
    )
