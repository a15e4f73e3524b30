"""The one status -> exception mapping, pinned by a table; texts carry no bodies or secrets."""

from __future__ import annotations

import ssl
from typing import Any

import aiohttp
import pytest

from connector.hubspot.errors import error_for, transport_error
from protocol.errors import (
    AlreadyExistsException,
    ConnectionBrokenException,
    ConnectionFailedException,
    ConnectorException,
    ConnectorIOException,
    InvalidAttributeValueException,
    InvalidCredentialException,
    PermissionDeniedException,
    RetryableException,
    UnknownUidException,
)

VALIDATION = {
    "status": "error",
    "message": "Property values were not valid: [{...secret-ish raw text...}]",
    "errors": [
        {
            "message": "lifecyclestage was not one of the allowed options",
            "code": "INVALID_OPTION",
            "context": {"propertyName": ["lifecyclestage"]},
        }
    ],
    "category": "VALIDATION_ERROR",
    "correlationId": "a43683b0-5717-4ceb-80b4-104d02915d8c",
}


@pytest.mark.parametrize(
    ("status", "body", "expected", "fragment"),
    [
        (400, VALIDATION, InvalidAttributeValueException,
         "HubSpot answered 400 VALIDATION_ERROR for property 'lifecyclestage' to create contact: "
         "lifecyclestage was not one of the allowed options"),
        (400, {"message": "bad"}, InvalidAttributeValueException, "400 to create contact: bad"),
        (401, {"category": "INVALID_AUTHENTICATION", "message": "Authentication credentials "
               "not found."}, InvalidCredentialException, "401 INVALID_AUTHENTICATION"),
        (403, {"category": "MISSING_SCOPES", "message": "missing"}, PermissionDeniedException,
         "missing a scope"),
        (404, {"message": "resource not found"}, UnknownUidException, "404 to create contact"),
        (409, {"category": "CONFLICT", "message": "Contact already exists. Existing ID: 5"},
         AlreadyExistsException, "Existing ID: 5"),
        (414, None, InvalidAttributeValueException, "414"),
        (423, None, RetryableException, "retry budget"),
        (429, {"errorType": "RATE_LIMIT", "policyName": "TEN_SECONDLY_ROLLING",
               "message": "You have reached your ten_secondly_rolling limit."},
         RetryableException, "(TEN_SECONDLY_ROLLING)"),
        (500, None, RetryableException, "500"),
        (502, "<html>gateway</html>", RetryableException, "502"),
        (503, None, RetryableException, "503"),
        (504, None, RetryableException, "504"),
        (477, None, RetryableException, "477"),
        (418, None, ConnectorException, "418"),
    ],
)  # fmt: skip
def test_status_maps_to_the_icf_exception(
    status: int, body: object, expected: type[ConnectorException], fragment: str
) -> None:
    exc = error_for(status, body, action="create contact")
    assert type(exc) is expected
    assert fragment in str(exc)


def test_texts_never_repeat_the_raw_body() -> None:
    text = str(error_for(400, VALIDATION, action="create contact"))
    assert "secret-ish" not in text and "Property values were not valid" not in text
    assert "<html>" not in str(error_for(502, "<html>gateway</html>", action="read"))


def test_long_messages_are_cut() -> None:
    text = str(error_for(400, {"message": "x" * 5000}, action="read"))
    assert len(text) < 400


def _key() -> Any:
    return aiohttp.client_reqrep.ConnectionKey("127.0.0.1", 9, False, True, None, None, None)


def _connector_error() -> aiohttp.ClientConnectorError:
    return aiohttp.ClientConnectorError(_key(), ConnectionRefusedError(111, "Connection refused"))


def _certificate_error() -> aiohttp.ClientConnectorCertificateError:
    return aiohttp.ClientConnectorCertificateError(_key(), ssl.SSLCertVerificationError("bad"))


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (_connector_error(), ConnectionFailedException),
        (_certificate_error(), ConnectionFailedException),
        (ConnectionRefusedError(), ConnectionFailedException),
        (TimeoutError(), ConnectorIOException),
        (aiohttp.ServerDisconnectedError(), ConnectionBrokenException),
        (aiohttp.ClientPayloadError("truncated"), ConnectionBrokenException),
        (aiohttp.ClientOSError(), ConnectorIOException),
    ],
)
def test_transport_failures_map_to_io_exceptions(
    exc: BaseException, expected: type[ConnectorException]
) -> None:
    mapped = transport_error(exc, action="list contacts", attempts=6)
    assert type(mapped) is expected
    assert "list contacts" in str(mapped)
