"""HubSpot's answers as ICF exceptions: one function per kind of failure, pinned by table tests.

`error_for` maps an HTTP status (and HubSpot's structured error body, docs/hubspot.md §1.9) to
the exception IDM expects (docs/openicf.md §3.4); `transport_error` does the same for failures
that never got an answer. Texts name what happened in HubSpot's own words (its `category`,
`message` and `propertyName`, which carry no secrets) and never include a response body, a
token or a query string.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass

import aiohttp

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

RETRYABLE_STATUSES = frozenset({423, 429, 477, 500, 502, 503, 504, 521, 522, 523, 524})
"""Statuses HubSpot asks clients to retry after a pause (docs/hubspot.md §1.9, §4)."""

REFUSED_STATUSES = frozenset({423, 429, 477})
"""Retryable statuses that prove the request was not carried out: a create may be resent."""

GAVE_UP_STATUSES = frozenset({504, 524})
"""Retryable statuses of a gateway that stopped waiting for HubSpot: like a timeout of our own,
HubSpot may still carry the request out later (docs/hubspot-connector.md, "Creates and lost
answers")."""

_MAX_MESSAGE = 300


@dataclass(frozen=True)
class HubspotErrorBody:
    """The fields of an error body that are safe to repeat (docs/hubspot.md §1.9, §4)."""

    category: str | None = None
    message: str | None = None
    property_names: tuple[str, ...] = ()
    policy_name: str | None = None
    correlation_id: str | None = None

    @classmethod
    def parse(cls, body: object) -> HubspotErrorBody:
        if not isinstance(body, Mapping):
            return cls()
        names: list[str] = []
        details = body.get("errors")
        first_detail: str | None = None
        for item in details if isinstance(details, list) else []:
            if not isinstance(item, Mapping):
                continue
            if first_detail is None and isinstance(item.get("message"), str):
                first_detail = item["message"]
            names.extend(_property_names(item.get("context")))
        names.extend(_property_names(body.get("context")))
        message = first_detail or _str(body.get("message"))
        return cls(
            category=_str(body.get("category")) or _str(body.get("errorType")),
            message=message,
            property_names=tuple(dict.fromkeys(names)),
            policy_name=_str(body.get("policyName")),
            correlation_id=_str(body.get("correlationId")),
        )


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _property_names(context: object) -> list[str]:
    if not isinstance(context, Mapping):
        return []
    names = context.get("propertyName")
    return [n for n in names if isinstance(n, str)] if isinstance(names, list) else []


def _short(text: str) -> str:
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 1] + "…"


def error_for(status: int, body: object, *, action: str) -> ConnectorException:
    """The ICF exception for HubSpot's answer `status` to `action` (e.g. "create contact").

    The one place where an HTTP status becomes an exception; `tests/.../test_errors.py` pins
    it with a table.
    """
    error = HubspotErrorBody.parse(body)
    category = f" {error.category}" if error.category else ""
    where = ""
    if error.property_names:
        where = " for property " + ", ".join(f"'{n}'" for n in error.property_names)
    said = f": {_short(error.message)}" if error.message else ""
    text = f"HubSpot answered {status}{category}{where} to {action}{said}"
    exc: ConnectorException
    if status == 400 or status == 414:
        exc = InvalidAttributeValueException(text)
    elif status == 401:
        exc = InvalidCredentialException(
            text + " (the access token was refused; check the app's credentials)"
        )
    elif status == 403:
        exc = PermissionDeniedException(
            text + " (the app is missing a scope this call needs; reinstall it with the scope)"
        )
    elif status == 404:
        exc = UnknownUidException(text)
    elif status == 409:
        exc = AlreadyExistsException(text)
    elif status in RETRYABLE_STATUSES:
        policy = f" ({error.policy_name})" if error.policy_name else ""
        exc = RetryableException(f"{text}{policy}; gave up after the retry budget")
    else:
        exc = ConnectorException(text)
    return exc


def transport_error(exc: BaseException, *, action: str, attempts: int) -> ConnectorException:
    """The ICF exception for a call that got no HTTP answer after `attempts` tries."""
    tries = f" after {attempts} attempt{'s' if attempts != 1 else ''}"
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return ConnectionFailedException(
            f"HubSpot's TLS certificate was not trusted when trying to {action} (see "
            "acceptSelfSignedCertificates and disableHostNameVerifier)"
        )
    if isinstance(exc, aiohttp.ClientConnectorError | ConnectionRefusedError):
        return ConnectionFailedException(
            f"could not connect to HubSpot to {action}{tries}: {exc.strerror or type(exc).__name__}"
            if isinstance(exc, aiohttp.ClientConnectorError)
            else f"could not connect to HubSpot to {action}{tries}: connection refused"
        )
    if isinstance(exc, asyncio.TimeoutError | aiohttp.ServerTimeoutError):
        return ConnectorIOException(f"HubSpot did not answer in time to {action}{tries}")
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError):
        return ConnectionBrokenException(f"HubSpot closed the connection to {action}{tries}")
    return ConnectorIOException(f"the call to HubSpot to {action} failed{tries}: {_kind(exc)}")


def _kind(exc: BaseException) -> str:
    return type(exc).__name__
