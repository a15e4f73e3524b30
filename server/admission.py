"""The HTTP side of the upgrade: probes, metrics, then who may open a socket, on which wire.

Health and metrics (`/livez`, `/readyz`, `/metrics`) are answered before authentication
(docs/hardening.md §B5); then the client certificate (under mutual TLS), the drain, the
connection limit and the key are checked before any frame is read. A connection counts against
`max_connections` from the moment it passes that check until its socket closes, so upgrades
arriving together cannot all slip under the limit while their keys are being checked.

One path serves two wires. A client that offers the subprotocol `v1.openicf.forgerock.org`
gets OpenICF's protobuf RPC (docs/openicf-rpc.md), and is answered as the Java connector server
answers (docs/openicf-rpc.md §6): `401 Unauthorized. ` with the Basic realm when it sent no
key, `403 Failed To connect` with no headers and no body when the key is wrong. Everything
else gets the JSON protocol (docs/protocol.md) and its own answers.

Browser origins are refused (docs/hardening.md §B1). The Java client sends an `Origin` even on
plain `ws` (`wss://host:port`); a browser never sends a `ws`/`wss` origin, so on the OpenICF wire
such an origin is let through and every other one refused.
"""

from __future__ import annotations

import http
import math
from collections.abc import Sequence
from enum import Enum
from typing import Final, Protocol

from websockets.asyncio.server import ServerConnection
from websockets.datastructures import Headers
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from server.auth import REALM, Authenticator, Verdict
from server.logs import get_logger
from server.metrics import ServerMetrics
from server.settings import ServerSettings
from server.tls import has_client_certificate

log = get_logger("server")

OPENICF_SUBPROTOCOL: Final = "v1.openicf.forgerock.org"


class Wire(Enum):
    JSON = "json"
    OPENICF = "openicf"


class ServerState(Protocol):
    """What admission reads of the server's state."""

    @property
    def draining(self) -> bool: ...

    @property
    def serving(self) -> bool: ...

    def problems(self) -> list[str]:
        """What an operator must fix while the server keeps serving (readiness says it)."""
        ...


def offered_subprotocols(request: Request) -> list[str]:
    """Every subprotocol the client offered (the Java client sends the header twice)."""
    return [
        token.strip()
        for value in request.headers.get_all("Sec-WebSocket-Protocol")
        for token in value.split(",")
        if token.strip()
    ]


def wire_of(request: Request) -> Wire:
    return Wire.OPENICF if OPENICF_SUBPROTOCOL in offered_subprotocols(request) else Wire.JSON


def select_subprotocol(
    connection: ServerConnection, offered: Sequence[Subprotocol]
) -> Subprotocol | None:
    """Accept the OpenICF subprotocol when offered (the 101 names it once); no other."""
    if OPENICF_SUBPROTOCOL in offered:
        return Subprotocol(OPENICF_SUBPROTOCOL)
    return None


def _java_status(status: int, reason: str, headers: Headers | None = None) -> Response:
    """A response exactly as the Java connector server writes it: no body, few headers."""
    return Response(status, reason, headers or Headers(), b"")


def _origin_allowed(origin: str | None, wire: Wire) -> bool:
    if origin is None:
        return True
    return wire is Wire.OPENICF and origin.lower().startswith(("ws://", "wss://"))


class Admission:
    """`process_request` for the listener."""

    def __init__(
        self,
        settings: ServerSettings,
        metrics: ServerMetrics,
        authenticator: Authenticator,
        state: ServerState,
    ) -> None:
        self.settings = settings
        self.metrics = metrics
        self.authenticator = authenticator
        self.state = state
        self.admitted: set[ServerConnection] = set()
        """Connections past the limit check, until their socket closes."""

    async def process_request(
        self, connection: ServerConnection, request: Request
    ) -> Response | None:
        path = request.path.partition("?")[0]
        # Probes: tiny bodies, no versions, no dependency checks (§B5; Kubernetes'
        # "using-api/health-checks": machines read the status code).
        if path == "/livez":
            return _plain(connection, http.HTTPStatus.OK, "ok\n")
        if path == "/readyz":
            if self.state.draining:
                return _plain(connection, http.HTTPStatus.SERVICE_UNAVAILABLE, "draining\n")
            if not self.state.serving:
                return _plain(connection, http.HTTPStatus.SERVICE_UNAVAILABLE, "starting\n")
            problems = self.state.problems()
            if problems:
                # Still serving (every operation works), so still ready; the body says what
                # an operator must fix before the next restart (docs/operations.md).
                text = "".join(f"problem: {p}\n" for p in problems)
                return _plain(connection, http.HTTPStatus.OK, f"ok\n{text}")
            return _plain(connection, http.HTTPStatus.OK, "ok\n")
        if path not in (self.settings.path, "/metrics") or (
            path == "/metrics" and not self.settings.metrics_enabled
        ):
            return _plain(connection, http.HTTPStatus.NOT_FOUND, "not found\n")
        if not has_client_certificate(connection, self.settings):
            self.metrics.upgrades_refused.labels("no_client_certificate").inc()
            log.warning("auth.failed", peer=peer(connection), reason="no client certificate")
            return _plain(connection, http.HTTPStatus.FORBIDDEN, "client certificate required\n")
        if path == "/metrics":
            return self._metrics_response(connection, request)
        wire = wire_of(request)
        origin = request.headers.get("Origin")
        if not _origin_allowed(origin, wire):
            self.metrics.upgrades_refused.labels("origin").inc()
            return _plain(
                connection,
                http.HTTPStatus.FORBIDDEN,
                f"Failed to open a WebSocket connection: invalid Origin header: {origin}.\n",
            )
        if self.state.draining:
            self.metrics.upgrades_refused.labels("draining").inc()
            return _plain(connection, http.HTTPStatus.SERVICE_UNAVAILABLE, "shutting down\n")
        if len(self.admitted) >= self.settings.max_connections:
            self.metrics.upgrades_refused.labels("max_connections").inc()
            log.warning("connection.refused", reason="max_connections", peer=peer(connection))
            return _plain(connection, http.HTTPStatus.SERVICE_UNAVAILABLE, "too many connections\n")
        self._count(connection)
        address = peer(connection)
        try:
            verdict = await self.authenticator.check(address, request.headers.get("Authorization"))
        except BaseException:
            self.admitted.discard(connection)
            raise
        if verdict is Verdict.OK:
            return None
        self.admitted.discard(connection)
        return self._refuse(connection, address, verdict, wire)

    def _count(self, connection: ServerConnection) -> None:
        """Count `connection` against the limit until its socket closes."""
        self.admitted.add(connection)

        def forget(_: object) -> None:
            self.admitted.discard(connection)

        connection.connection_lost_waiter.add_done_callback(forget)

    def _refuse(
        self, connection: ServerConnection, address: str, verdict: Verdict, wire: Wire
    ) -> Response:
        """Every refusal is counted; they are logged one line per address now and then, with
        how many there were (a brute force is not a line per guess)."""
        reason = {
            Verdict.MISSING: "no credentials",
            Verdict.WRONG: "wrong key",
            Verdict.THROTTLED: "throttled after failed keys",
        }[verdict]
        metric = {Verdict.MISSING: "unauthenticated", Verdict.WRONG: "wrong_key"}
        self.metrics.upgrades_refused.labels(metric.get(verdict, "throttled")).inc()
        count = self.authenticator.refused(address)
        if count is not None:
            fields: dict[str, object] = {"peer": address, "reason": reason}
            if count > 1:
                fields["refused"] = count
            if wire is Wire.OPENICF:
                fields["wire"] = wire.value
            log.warning("auth.failed", **fields)
        missing = verdict is Verdict.MISSING
        if wire is Wire.OPENICF:
            # The Java server's exact heads (OpenICF's WebSocket filter), which IDM expects;
            # a throttled key is refused as a wrong one.
            if missing:
                return _java_status(401, "Unauthorized. ", Headers({"WWW-Authenticate": REALM}))
            return _java_status(403, "Failed To connect")
        if verdict is Verdict.THROTTLED:
            wait = max(1, math.ceil(self.authenticator.retry_after(address)))
            response = _plain(
                connection,
                http.HTTPStatus.TOO_MANY_REQUESTS,
                f"too many failed keys from this address; retry in {wait} s\n",
            )
            response.headers["Retry-After"] = str(wait)
            return response
        response = _plain(connection, http.HTTPStatus(verdict.value), "Failed to connect\n")
        if missing:
            response.headers["WWW-Authenticate"] = REALM
        return response

    def log_unlogged_refusals(self) -> None:
        """The refusals `_refuse` left for later, one line per address (housekeeping)."""
        for address, count in self.authenticator.unlogged():
            log.warning(
                "auth.failed", peer=address, reason="throttled after failed keys", refused=count
            )

    def _metrics_response(self, connection: ServerConnection, request: Request) -> Response:
        """The registry in Prometheus' text format (or OpenMetrics, when the scraper asks)."""
        body, content_type = self.metrics.render(request.headers.get("Accept"))
        response = _plain(connection, http.HTTPStatus.OK, body.decode())
        del response.headers["Content-Type"]
        response.headers["Content-Type"] = content_type
        return response


def _plain(connection: ServerConnection, status: http.HTTPStatus, text: str) -> Response:
    return connection.respond(status, text)


def peer(connection: ServerConnection) -> str:
    address = connection.remote_address
    return str(address[0]) if address else "unknown"
