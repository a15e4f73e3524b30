"""The HTTP side of the upgrade: probes, metrics, then who may open a socket, on which wire.

Health and metrics (`/livez`, `/readyz`, `/metrics`) are answered before authentication
(docs/hardening.md §B5); then the client certificate (under mutual TLS), the drain, the
connection limit and the key are checked before any frame is read.

One path serves two wires. A client that offers the subprotocol `v1.openicf.forgerock.org`
gets OpenICF's protobuf RPC (docs/openicf-rpc.md), and is answered as the Java connector server
answers (its §6): `401 Unauthorized. ` with the Basic realm when it sent no key, `403 Failed To
connect` with no headers and no body when the key is wrong. Everything else gets the JSON
protocol (docs/protocol.md) and its own answers.

Browser origins are refused (docs/hardening.md §B1). The Java client sends an `Origin` even on
plain `ws` (`wss://host:port`); a browser never sends a `ws`/`wss` origin, so on the OpenICF wire
such an origin is let through and every other one refused.
"""

from __future__ import annotations

import http
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

    @property
    def connection_count(self) -> int: ...


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
        if self.state.connection_count >= self.settings.max_connections:
            self.metrics.upgrades_refused.labels("max_connections").inc()
            log.warning("connection.refused", reason="max_connections", peer=peer(connection))
            return _plain(connection, http.HTTPStatus.SERVICE_UNAVAILABLE, "too many connections\n")
        verdict = await self.authenticator.check(
            peer(connection), request.headers.get("Authorization")
        )
        if verdict is Verdict.OK:
            return None
        missing = verdict is Verdict.MISSING
        self.metrics.upgrades_refused.labels("unauthenticated" if missing else "wrong_key").inc()
        reason = "no credentials" if missing else "wrong key"
        if wire is Wire.OPENICF:
            log.warning("auth.failed", peer=peer(connection), reason=reason, wire=wire.value)
            # The Java server's exact heads (OpenICF's WebSocket filter), which IDM expects.
            if missing:
                return _java_status(401, "Unauthorized. ", Headers({"WWW-Authenticate": REALM}))
            return _java_status(403, "Failed To connect")
        log.warning("auth.failed", peer=peer(connection), reason=reason)
        response = _plain(connection, http.HTTPStatus(verdict.value), "Failed to connect\n")
        if missing:
            response.headers["WWW-Authenticate"] = REALM
        return response

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
