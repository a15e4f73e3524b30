"""HTTP to HubSpot: one session per configuration, OAuth, rate limits, retries.

`HubspotHttp` is the `SharedResources` of a configuration: every pooled instance of it calls
HubSpot through the same aiohttp session (at most `maximumConnections` connections), the same
access token and the same rate limiter. `request()` is the one way out:

1. wait for the rate limiter (ratelimit.py);
2. send with the current access token;
3. what to do next is `retry.decide`'s answer, the one retry decision (the token refresh asks it
   too): a 401 refreshes the token and resends (docs/hubspot.md §3.1: tokens live 30 minutes,
   and "expired" is a 401 EXPIRED_AUTHENTICATION), and only a fresh token refused as invalid
   means bad credentials (one that expired before its first use is refreshed again); 429, 423,
   477 and 5xx are retried after the wait HubSpot's headers and window say (`_wait_for`), with
   jitter, at most `maxRetries` times; so are timeouts and dropped connections;
4. a call that is not idempotent (a create) is never resent blindly: after an ambiguous
   failure (no answer, or a 5xx) the caller's `recover` looks the object up first, told when
   that attempt ended and whether HubSpot may still be carrying one of them out (`Uncertain`);
   a lookup that fails says the create may have happened;
5. what is left becomes an ICF exception (errors.py).

Cancellation goes straight through: the server cancels the task, and the call in flight stops.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Literal

import aiohttp
import orjson
import structlog

from connector.base import ConnectorContext, PersistProperty, SharedResources
from connector.hubspot.configuration import HubspotConfiguration
from connector.hubspot.errors import GAVE_UP_STATUSES, error_for, transport_error
from connector.hubspot.metrics import ConfigurationMetrics, HubspotMetrics
from connector.hubspot.ratelimit import RateLimiter
from connector.hubspot.retry import Attempt, decide
from connector.hubspot.tls import pinned_self_signed, ssl_context
from protocol.errors import (
    ConnectorException,
    ConnectorIOException,
    ConnectorSecurityException,
    InvalidCredentialException,
    RetryableException,
)
from protocol.values import GuardedString

log = structlog.get_logger("connector.hubspot")

Method = Literal["GET", "POST", "PATCH", "PUT", "DELETE"]

TOKEN_PATH = "/oauth/v3/token"  # noqa: S105 - a path, not a secret
"""v1 (`/oauth/v1/token`) is sunset on 2027-02-16; v3 takes the same form (docs/hubspot.md §3.2)."""

_MAX_WAIT_S = 60.0
_REFRESH_MARGIN_S = 300.0


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    body: Any
    """The JSON body, or None for 204 and bodies that are not JSON."""


@dataclass(frozen=True, slots=True)
class Uncertain:
    """What a create's recovery knows of its attempts that may have been carried out."""

    ended: float
    """`time.monotonic()` when the last of them ended: whatever HubSpot did of an attempt that
    it answered (a 5xx) or whose connection it closed, it did by then. Search lags that by its
    indexing delay (docs/hubspot.md §1.7), so the wait for it runs from here."""
    unfinished: bool
    """Whether one of them was given up on while HubSpot may still be carrying it out (our
    timeout, or a gateway's: 504, 524): it may be carried out at any later moment."""


Recover = Callable[[Uncertain], Awaitable[Response | None]]
"""Looks up what an ambiguous create may have created; None means it provably was not created
(so it may be sent again)."""


class _Sending:
    """One attempt's trace: whether its request was written. Until then (no connection, or
    none free before the timeout) HubSpot never saw it, and a create may be sent again."""

    __slots__ = ("written",)

    def __init__(self) -> None:
        self.written = False


async def _written(
    session: aiohttp.ClientSession,
    context: SimpleNamespace,
    params: aiohttp.TraceRequestHeadersSentParams,
) -> None:
    sending = context.trace_request_ctx
    if isinstance(sending, _Sending):
        sending.written = True


def _jitter(seconds: float) -> float:
    return seconds * random.uniform(1.0, 1.25)


def _backoff(attempt: int) -> float:
    """Exponential, from 0.2 s: 5 retries wait about 6 s in all."""
    return _jitter(min(_MAX_WAIT_S, 0.1 * 2**attempt))


class AccessTokens:
    """The access token of one configuration: fetched from the refresh token, cached, and
    refreshed ahead of expiry by one task while the others wait for it."""

    def __init__(
        self,
        config: HubspotConfiguration,
        session: Callable[[], aiohttp.ClientSession],
        persist: PersistProperty | None,
        request_kwargs: Callable[[], dict[str, Any]],
        metrics: ConfigurationMetrics,
    ) -> None:
        self._config = config
        self._metrics = metrics
        self._session = session
        self._persist = persist
        self._request_kwargs = request_kwargs
        self._refresh_token = config.refreshToken
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = asyncio.Lock()
        self.refreshes = 0
        """How many access tokens were fetched: each is a generation, later ones fresher."""
        self.unsaved: str | None = None
        """Set while a rotated refresh token is held in memory only: what the operator must do."""

    @property
    def generation(self) -> int:
        return self.refreshes

    def _fresh(self) -> bool:
        return self._token is not None and time.monotonic() < self._expires_at

    async def get(self) -> str:
        if self._fresh():
            assert self._token is not None
            return self._token
        async with self._lock:
            if not self._fresh():  # another task may have refreshed while we waited
                await self._refresh()
            assert self._token is not None
            return self._token

    def invalidate(self, token: str) -> None:
        """HubSpot refused `token`; the next `get` fetches a new one (unless already done)."""
        if self._token == token:
            self._token = None

    async def refresh_now(self) -> None:
        async with self._lock:
            await self._refresh()

    async def _refresh(self) -> None:
        try:
            await self._fetch()
        except Exception:  # a cancelled operation is not a failed refresh: not counted
            self._metrics.token_refresh(ok=False)
            raise
        self._metrics.token_refresh(ok=True)

    async def _fetch(self) -> None:
        config = self._config
        form = {
            "grant_type": "refresh_token",
            "client_id": config.clientId,
            "client_secret": config.clientSecret.reveal(),
            "refresh_token": self._refresh_token.reveal(),
        }
        url = config.base_url + TOKEN_PATH
        number = 0
        while True:
            number += 1
            try:
                async with self._session().post(url, data=form, **self._request_kwargs()) as resp:
                    status: int | None = resp.status
                    body = await _json(resp)
                outcome = Attempt(status, fresh_token=True)  # a refused refresh is not retried
            except aiohttp.ClientConnectorCertificateError as exc:
                raise transport_error(exc, action="refresh the access token", attempts=1) from None
            except (aiohttp.ClientError, TimeoutError) as exc:
                status, body, failure = None, None, exc
                outcome = Attempt(None)
            decision = decide(outcome, number=number, max_retries=config.maxRetries)
            if decision.next == "retry":
                await asyncio.sleep(_backoff(number))
                continue
            if status is None:
                raise transport_error(
                    failure, action="refresh the access token", attempts=number
                ) from None
            break
        if status != 200 or not isinstance(body, Mapping) or "access_token" not in body:
            raise _token_error(status, body)
        self._token = str(body["access_token"])
        lifetime = float(body.get("expires_in", 1800))
        self._expires_at = time.monotonic() + lifetime - min(_REFRESH_MARGIN_S, lifetime / 10)
        self.refreshes += 1
        log.info("hubspot.access_token_refreshed", lifetime_s=lifetime)
        new_refresh = body.get("refresh_token")
        if isinstance(new_refresh, str) and new_refresh != self._refresh_token.reveal():
            # HubSpot may rotate the refresh token; the old one may stop working.
            self._refresh_token = GuardedString(new_refresh)
            log.info("hubspot.refresh_token_rotated")
            await self._store_refresh_token()

    async def _store_refresh_token(self) -> None:
        """Hand the rotated refresh token to the server to store. When that fails the
        configuration keeps working on the token in memory, and says loudly, until a later
        rotation is stored, that a restart would lose it (docs/hubspot-connector.md, "OAuth")."""
        if self._persist is None:
            return  # an inline configuration: IDM owns it
        try:
            await self._persist("refreshToken", self._refresh_token)
        except Exception as exc:  # any failure to store is reported, none is fatal
            self.unsaved = (
                "HubSpot rotated the refresh token and the server could not store it "
                f"({type(exc).__name__}: {exc}). The configuration keeps working on the new "
                "token in memory, but after a restart it will fail. Make the configuration "
                "file writable by the server (or fix the error above); the token is stored at "
                "the next refresh. If the server must restart first, authorize the app again "
                "and set the new refreshToken in the configuration"
            )
            self._metrics.refresh_token_unsaved(True)
            log.error("hubspot.refresh_token_not_stored", problem=self.unsaved)
            return
        if self.unsaved is not None:
            log.info("hubspot.refresh_token_stored")
        self.unsaved = None
        self._metrics.refresh_token_unsaved(False)


def _token_error(status: int, body: object) -> ConnectorException:
    """HubSpot refused the refresh (docs/hubspot.md §3.1): say which credential and what to do."""
    fields = body if isinstance(body, Mapping) else {}
    code = str(fields.get("status") or fields.get("error") or "")
    if status in (400, 401) and code.upper() in ("BAD_CLIENT_ID", "BAD_CLIENT_SECRET"):
        return InvalidCredentialException(
            f"HubSpot refused the app credentials ({code}): check clientId and clientSecret"
        )
    if status in (400, 401):
        return InvalidCredentialException(
            f"HubSpot refused the refresh token ({code or status}): it is invalid, expired or "
            "revoked. Authorize the app again and set the new refreshToken in the configuration"
        )
    return error_for(status, body, action="refresh the access token")


async def _json(resp: aiohttp.ClientResponse) -> Any:
    if resp.status == 204:
        return None
    data = await resp.read()
    if not data:
        return None
    try:
        return orjson.loads(data)  # half the time of json.loads on a page of 100 contacts
    except ValueError:
        return None


def _retry_after(headers: Mapping[str, str]) -> float | None:
    value = headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


class HubspotHttp(SharedResources):
    """What the pooled instances of one configuration share: session, token, limiter."""

    def __init__(self, context: ConnectorContext) -> None:
        config = context.configuration
        assert isinstance(config, HubspotConfiguration)
        self.config = config
        self.context = context
        self.limiter = RateLimiter(config.permitsPerSecond, config.searchRequestsPerSecond)
        self.metrics = HubspotMetrics.of(context.metrics).bind(context.configuration_name)
        self._session: aiohttp.ClientSession | None = None
        self._open_lock = asyncio.Lock()
        self._timeout = aiohttp.ClientTimeout(total=config.requestTimeoutSeconds)
        self.tokens = AccessTokens(
            config, self._get_session, context.persist_property, self._request_kwargs, self.metrics
        )
        self.answers: Counter[int] = Counter()
        """How many answers of each status HubSpot gave (0: none, the call failed in transit)."""

    def _get_session(self) -> aiohttp.ClientSession:
        assert self._session is not None, "open() first"
        return self._session

    def _request_kwargs(self) -> dict[str, Any]:
        return {"proxy": self.config.proxy_url, "timeout": self._timeout}

    async def open(self) -> None:
        """Open the session (once); reads a self-signed certificate first when allowed."""
        async with self._open_lock:
            if self._session is not None:
                return
            pem = await pinned_self_signed(self.config)
            connector = aiohttp.TCPConnector(
                limit=self.config.maximumConnections,
                ssl=ssl_context(self.config, trusted_pem=pem),
            )
            tracing = aiohttp.TraceConfig()
            tracing.on_request_headers_sent.append(_written)
            self._session = aiohttp.ClientSession(
                connector=connector,
                trust_env=False,  # the proxy is the configuration's, not the environment's
                headers={"Accept": "application/json"},
                trace_configs=[tracing],
            )

    def problems(self) -> list[str]:
        return [self.tokens.unsaved] if self.tokens.unsaved else []

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def request(
        self,
        method: Method,
        path: str,
        *,
        action: str,
        params: Mapping[str, str] | list[tuple[str, str]] | None = None,
        json_body: Any = None,
        search: bool = False,
        idempotent: bool = True,
        recover: Recover | None = None,
        expect: frozenset[int] = frozenset(),
        acquired: bool = False,
    ) -> Response:
        """Call HubSpot; return a 2xx answer (or one in `expect`), or raise its exception.

        `action` says what the call does ("read contact 51") for error texts; `acquired`, that
        the caller took the first attempt's rate-limiter permit already (coalesce.py).
        """
        if self._session is None:
            await self.open()
        session = self._get_session()
        url = self.config.base_url + path
        max_retries = self.config.maxRetries
        number = 0
        ambiguous = False  # an earlier attempt may have been carried out
        unfinished = False  # ... and HubSpot may still be carrying it out
        refreshed_after = -1  # the token generation refused last; a later one is fresh
        while True:
            number += 1
            if acquired:
                acquired = False
            else:
                await self.limiter.acquire(search=search, waited=self.metrics.waited)
            token = await self.tokens.get()
            fresh = self.tokens.generation > refreshed_after >= 0
            failure: BaseException | None = None
            status: int | None = None
            body: Any = None
            headers: Mapping[str, str] = {}
            sending = _Sending()
            try:
                async with session.request(
                    method,
                    url,
                    params=params,
                    json=json_body,
                    headers={"Authorization": f"Bearer {token}"},
                    proxy=self.config.proxy_url,
                    timeout=self._timeout,
                    trace_request_ctx=sending,
                ) as resp:
                    status = resp.status
                    self.answers[status] += 1
                    self.metrics.answered(status)
                    headers = resp.headers
                    self.limiter.observe(headers)
                    body = await _json(resp)
            except aiohttp.ClientConnectorCertificateError as exc:
                raise transport_error(exc, action=action, attempts=number) from None
            except (aiohttp.ClientError, TimeoutError) as exc:
                self.answers[0] += 1
                self.metrics.answered(None)
                failure = exc
            policy = body.get("policyName") if isinstance(body, Mapping) else None
            policy = policy if isinstance(policy, str) else None
            category = body.get("category") if isinstance(body, Mapping) else None
            decision = decide(
                Attempt(
                    status,
                    # A request never written never reached HubSpot; one written may have.
                    reached=sending.written,
                    policy=policy,
                    fresh_token=fresh,
                    expired=status == 401 and category == "EXPIRED_AUTHENTICATION",
                ),
                number=number,
                max_retries=max_retries,
                idempotent=idempotent,
                ambiguous=ambiguous,
                expect=expect,
            )
            if status == 429:
                self.metrics.refused(policy)
            if decision.recover:
                ambiguous = True
                gave_up = isinstance(failure, TimeoutError) or status in GAVE_UP_STATUSES
                unfinished = unfinished or gave_up
                uncertain = Uncertain(ended=time.monotonic(), unfinished=unfinished)
                found = await self._recover(recover, action, uncertain)
                if found is not None:
                    return found
            if decision.next != "refresh":
                refreshed_after = -1  # the token has been used: no longer fresh
            if decision.next == "answer":
                return Response(status or 0, body)
            if decision.next == "refresh":
                # Expired (or revoked) access token: refresh and resend; not a retry, unless
                # the token was fresh (retry.py).
                if not decision.counted:
                    number -= 1
                refreshed_after = self.tokens.generation
                self.tokens.invalidate(token)
                continue
            if decision.next == "retry":
                if status is None:
                    wait = _backoff(number)
                    self.metrics.retry("transport")
                else:
                    wait = self._wait_for(status, policy, headers, number, search=search)
                    self.metrics.retry(str(status))
                log.warning(
                    "hubspot.retry", action=action, status=status,
                    failure=type(failure).__name__ if failure else None, attempt=number,
                    wait_s=round(wait, 3),
                )  # fmt: skip
                await asyncio.sleep(wait)
                continue
            if failure is not None:
                raise transport_error(failure, action=action, attempts=number) from None
            assert status is not None
            raise error_for(status, body, action=action)

    def _wait_for(
        self,
        status: int,
        policy: str | None,
        headers: Mapping[str, str],
        attempt: int,
        *,
        search: bool,
    ) -> float:
        """How long to wait before resending after a retryable status: as long as HubSpot's
        headers and window say, no longer (docs/hubspot.md §1.9, §4)."""
        retry_after = _retry_after(headers)
        if status == 429:
            wait = self.limiter.refused(policy, retry_after, search=search)
            return _jitter(min(_MAX_WAIT_S, wait)) if wait else _backoff(attempt)
        if status == 423:
            return _jitter(max(2.0, retry_after or 2.0))  # "wait at least 2 seconds"
        if retry_after is not None:
            return _jitter(min(_MAX_WAIT_S, retry_after))
        return _backoff(attempt)

    async def _recover(
        self, recover: Recover | None, action: str, uncertain: Uncertain
    ) -> Response | None:
        if recover is None:
            raise ConnectorException(
                f"the call to {action} may or may not have been carried out, and there is no "
                "way to tell; it was not sent again"
            )
        try:
            return await recover(uncertain)
        except (RetryableException, ConnectorIOException, ConnectorSecurityException) as exc:
            # The lookup itself failed: what the create did is unknown, and must be said so
            # (docs/hubspot-connector.md, "Creates and lost answers").
            raise ConnectorException(
                f"the call to {action} may have happened: it failed without an answer, and "
                f"looking for what it made failed too ({exc.message}). It was not sent again; "
                "check HubSpot before doing it again",
                cause=exc,
            ) from exc
