"""The connector server: one object owning settings, connectors, configurations, pools, sockets.

`ConnectorServer` listens with websockets' asyncio server on `settings.path` (default
`/openicf`, port 8759 as the Java RCS, docs/openicf.md §1.1, §2.1), hardened as
docs/hardening.md §B1 advises: browser origins refused (`origins=[None]`), compression off,
a maximum frame size, a maximum number of connections (503 beyond), a cap on operations in
flight per connection, ping/pong keepalive, no version in the `Server` header. TLS, and mutual
TLS, come from `ServerSettings.tls_*` (§B2). Health and metrics (`/livez`, `/readyz`,
`/metrics`) are answered from `process_request` before authentication (§B5); then the peer's
client certificate (under mTLS) and key (`server.auth`) are checked before any frame is read.

Every operation is admitted in one place (`admit`) and run in one place (`execute`): resolve the
connector and the configuration, apply its `operationTimeout`, borrow an instance from the
configuration's pool, run.

    async with ConnectorServer(settings, registry, configurations) as server:
        url = server.url        # ws://127.0.0.1:<port>/openicf
        await server.serve_forever()
"""

from __future__ import annotations

import asyncio
import contextlib
import http
import itertools
import signal
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final, Self

__all__ = ["ConnectorServer", "HostedConfiguration", "Persist"]

import structlog
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.http11 import Request, Response

from connector.base import Connector, ConnectorContext, PersistProperty
from connector.registry import ConnectorRegistry, VersionRange, parse_version
from protocol.configuration import (
    ConfigurationRef,
    ConnectorKey,
    InlineConfiguration,
)
from protocol.errors import (
    ConfigurationException,
    OperationTimeoutException,
    RetryableException,
)
from protocol.frames import OperationRequest
from protocol.info import ConfigurationInfo, ConnectorInfo
from protocol.values import GuardedString, JsonValue
from server import dispatch
from server.auth import REALM, Authenticator, Verdict
from server.connection import Connection
from server.logs import get_logger
from server.metrics import ServerMetrics
from server.pool import ConnectorPool, PoolKey, PoolManager, configuration_digest
from server.settings import ServerSettings

log = get_logger("server")

HOUSEKEEPING_INTERVAL_S: Final = 30.0
"""How often idle instances are evicted and unused inline configurations dropped."""
SHUTTING_DOWN: Final = "the server is shutting down; retry on another server"

Persist = Callable[[str, str, GuardedString], None]
"""(configuration name, property name, value) -> store it; blocking, run in a worker thread."""


@dataclass(frozen=True)
class HostedConfiguration:
    """A named configuration the server holds: its name, its connectorRef, its contents."""

    name: str
    connector_ref: ConnectorKey
    configuration: InlineConfiguration
    enabled: bool = True
    """False: held, listed, and refused to every operation (IDM's `enabled: false`)."""
    display_name: str | None = None
    object_types: dict[str, JsonValue] | None = None
    """IDM's `objectTypes` from the provisioner file, handed to clients as they are."""

    @property
    def digest(self) -> str:
        return configuration_digest(self.configuration)


@dataclass(frozen=True)
class _Named:
    hosted: HostedConfiguration
    digest: str


class ConnectorServer:
    """The daemon's heart; start it with `async with` (or `start()` / `aclose()`)."""

    def __init__(
        self,
        settings: ServerSettings,
        registry: ConnectorRegistry,
        configurations: Mapping[str, HostedConfiguration] | None = None,
        *,
        persist: Persist | None = None,
    ) -> None:
        if not settings.key_hash:
            raise ConfigurationException(
                "connectorserver.key is not set: the server accepts no peer without a key"
            )
        self.settings = settings
        self.registry = registry
        self._ssl = _ssl_context(settings)  # before anything listens: a bad file stops the start
        self.metrics = ServerMetrics(
            connections=lambda: len(self.connections),
            pools=lambda: self.pools,
            draining=lambda: self.draining,
        )
        self.pools = PoolManager(
            inline_idle_s=settings.inline_configuration_idle_s, metrics=self.metrics
        )
        self.authenticator = Authenticator(
            settings.key_hash,
            delay_s=settings.auth_failure_delay_s,
            delay_max_s=settings.auth_failure_delay_max_s,
        )
        self.connections: dict[str, Connection] = {}
        self.draining = False
        self.serving = False
        """True from the end of `start()` until `aclose()`: with `draining`, what /readyz says."""
        self._hurry = asyncio.Event()
        self._drain_task: asyncio.Task[None] | None = None
        self._persist = persist
        self._named: dict[str, _Named] = {}
        self._ids = itertools.count(1)
        self._ws: Server | None = None
        self._housekeeper: asyncio.Task[None] | None = None
        self._stopped = asyncio.Event()
        self._limits = dispatch.Limits(
            settings.search_frame_max_objects, settings.search_frame_max_bytes
        )
        self.set_configurations(configurations or {})

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        if self.authenticator.weak:
            log.warning(
                "auth.weak_key_hash",
                detail="connectorserver.key is the Java RCS's unsalted SHA-1; "
                "set a new key with `hubspot-rcs key set`",
            )
        s = self.settings
        self._ws = await serve(
            self._handle,
            s.host,
            s.port,
            process_request=self._process_request,
            origins=[None],  # no browser: refuse every handshake that carries an Origin
            compression=None,
            max_size=s.max_frame_bytes,
            max_queue=s.max_queue_frames,
            ping_interval=s.ping_interval_s,
            ping_timeout=s.ping_timeout_s,
            open_timeout=s.open_timeout_s,
            close_timeout=s.close_timeout_s,
            server_header=None,
            ssl=self._ssl,
        )
        self._housekeeper = asyncio.get_running_loop().create_task(self._housekeeping())
        self.serving = True
        log.info(
            "server.listening",
            host=s.host,
            port=self.port,
            path=s.path,
            tls=s.use_ssl,
            mtls=s.tls_client_ca_file is not None,
        )

    @property
    def port(self) -> int:
        """The bound port (the real one when settings ask for port 0)."""
        assert self._ws is not None, "the server is not started"
        sockname = next(iter(self._ws.sockets)).getsockname()
        return int(sockname[1])

    @property
    def url(self) -> str:
        scheme = "wss" if self.settings.use_ssl else "ws"
        host = self.settings.host if ":" not in self.settings.host else f"[{self.settings.host}]"
        return f"{scheme}://{host}:{self.port}{self.settings.path}"

    async def serve_forever(self) -> None:
        """Return once the server has stopped (after `drain()` or `aclose()`)."""
        await self._stopped.wait()

    async def drain(self, timeout_s: float | None = None) -> None:
        """Stop taking work, let running operations finish, then close (SIGTERM, §B5).

        The sequence of docs/hardening.md §B5: `/readyz` answers 503 at once (so a load
        balancer stops sending), new connections get 503 and new operations an error; running
        operations get `drain_timeout_s` to finish (`hurry()` ends the wait early); those
        still running are stopped and answered with an error frame; then every socket closes
        with 1001 and the pools are disposed.
        """
        self.draining = True
        limit = self.settings.drain_timeout_s if timeout_s is None else timeout_s
        pending = {t for c in self.connections.values() for t in c.operations.values()}
        log.info("server.draining", operations=len(pending), timeout_s=limit)
        try:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + limit
            hurry = loop.create_task(self._hurry.wait())
            try:
                while pending and not self._hurry.is_set():
                    remaining = deadline - loop.time()
                    if remaining <= 0:
                        break
                    done, _ = await asyncio.wait(
                        pending | {hurry}, timeout=remaining, return_when=asyncio.FIRST_COMPLETED
                    )
                    pending -= done
            finally:
                hurry.cancel()
            if pending:
                log.warning("server.drain_cut_short", operations=len(pending))
            stopped = RetryableException(SHUTTING_DOWN)
            await asyncio.gather(*(c.fail_operations(stopped) for c in self.connections.values()))
        finally:
            await self.aclose()

    def hurry(self) -> None:
        """Stop waiting for running operations (a second SIGTERM or SIGINT)."""
        self._hurry.set()

    async def aclose(self) -> None:
        """Close every socket (1001), wait for the handlers, dispose of every pool."""
        if self._housekeeper is not None:
            self._housekeeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._housekeeper
            self._housekeeper = None
        self.serving = False
        if self._ws is not None:
            self._ws.close(code=1001, reason="server shutting down")
            await self._ws.wait_closed()
            self._ws = None
        await self.pools.aclose()
        log.info("server.stopped")
        self._stopped.set()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def install_signal_handlers(self) -> None:
        """SIGTERM and SIGINT drain, then stop (docker stop, Kubernetes pod deletion); a
        second one stops the operations still running at once (an impatient Ctrl-C)."""
        loop = asyncio.get_running_loop()

        def on_signal(signum: signal.Signals) -> None:
            if self._drain_task is None:
                log.info("server.signal", signal=signum.name)
                self._drain_task = loop.create_task(self.drain())
            else:
                log.info("server.signal", signal=signum.name, detail="stopping what still runs")
                self.hurry()

        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, on_signal, signum)

    async def _housekeeping(self) -> None:
        while True:
            await asyncio.sleep(HOUSEKEEPING_INTERVAL_S)
            try:
                await self.pools.housekeep()
            except Exception:
                log.exception("pool.housekeeping_failed")

    # -- configurations ---------------------------------------------------------------------

    def set_configurations(self, configurations: Mapping[str, HostedConfiguration]) -> None:
        """Install the named configurations (at start, or on reload).

        A configuration that changed gets a new pool on its next use; its old pool finishes
        the operations it lent instances to, then closes. A removed one's pool closes too.
        """
        named = {name: _Named(c, c.digest) for name, c in configurations.items()}
        for name in set(self._named) | set(named):
            keep = named.get(name)
            previous = self._named.get(name)
            if previous is not None and (keep is None or keep.digest != previous.digest):
                self.pools.retire_named(name)
        self._named = named

    def configuration_infos(self) -> list[ConfigurationInfo]:
        return [
            ConfigurationInfo(
                name=name,
                connectorRef=n.hosted.connector_ref,
                enabled=n.hosted.enabled,
                displayName=n.hosted.display_name,
                objectTypes=n.hosted.object_types,
            )
            for name, n in sorted(self._named.items())
        ]

    def connector_infos(self) -> list[ConnectorInfo]:
        return [c.info() for c in self.registry.all()]

    # -- operations -------------------------------------------------------------------------

    def admit(self, connection: Connection, request: OperationRequest) -> None:
        """The one place a new operation is let in, or refused with a clear error."""
        if self.draining:
            self.metrics.refused_operations.labels("draining").inc()
            raise RetryableException(SHUTTING_DOWN)
        limit = self.settings.max_inflight_per_connection
        if len(connection.operations) >= limit:
            self.metrics.refused_operations.labels("in_flight_limit").inc()
            raise RetryableException(
                f"too many operations in flight on this connection (limit {limit}); "
                "wait for some to finish or open another connection"
            )

    def pool_for(self, request: OperationRequest) -> tuple[ConnectorPool, InlineConfiguration]:
        """Resolve the connector and the configuration an operation names, to their pool."""
        connector_class = self.registry.resolve(request.connectorKey)
        key = connector_class.connector_key
        connector_id = f"{key.bundleName}:{key.bundleVersion}:{key.connectorName}"
        chosen = request.configuration
        if isinstance(chosen, ConfigurationRef):
            named = self._named.get(chosen.name)
            if named is None:
                known = ", ".join(sorted(self._named)) or "none"
                raise ConfigurationException(
                    f"unknown configuration {chosen.name!r} (this server holds: {known})"
                )
            if not named.hosted.enabled:
                raise ConfigurationException(
                    f"configuration {chosen.name!r} is disabled (enabled: false in its "
                    "provisioner file): it is not served"
                )
            _check_ref(named.hosted, connector_class)
            configuration, name, digest = named.hosted.configuration, chosen.name, named.digest
            inline = False
        else:
            configuration, digest, inline = chosen, configuration_digest(chosen), True
            name = f"inline:{digest[:12]}"
        pool_key = PoolKey(connector_id, name, digest)
        pool = self.pools.lookup(pool_key)
        if pool is None or pool.closed:
            context = self._context(connector_class, configuration, name, inline)
            pool = self.pools.get(
                pool_key, connector_class, context, configuration.poolConfigOption, inline=inline
            )
        return pool, configuration

    def _context(
        self,
        connector_class: type[Connector],
        configuration: InlineConfiguration,
        name: str,
        inline: bool,
    ) -> ConnectorContext:
        typed = connector_class.configuration_class.from_properties(
            configuration.configurationProperties
        )
        persist: PersistProperty | None = None
        if not inline and self._persist is not None:
            store = self._persist

            async def persist_property(property_name: str, value: GuardedString) -> None:
                await asyncio.to_thread(store, name, property_name, value)

            persist = persist_property
        return ConnectorContext(
            configuration=typed,
            configuration_name=name,
            scripting_enabled=self.settings.scripting_enabled,
            persist_property=persist,
            metrics=self.metrics.registry,
        )

    async def execute(self, request: OperationRequest, outbox: dispatch.Outbox) -> None:
        """Run an admitted operation under its operationTimeout and send its answer."""
        pool, configuration = self.pool_for(request)
        timeout_ms = configuration.timeout_ms(request.operation_name)
        # -1 is ICF's NO_TIMEOUT; 0 would time out at once, which nobody means: no limit either.
        deadline = timeout_ms / 1000 if timeout_ms > 0 else None
        try:
            async with asyncio.timeout(deadline) as scope:
                async with pool.lease() as connector:
                    await dispatch.run(
                        connector, request, configuration.resultsHandlerConfig, self._limits, outbox
                    )
        except TimeoutError:
            if not scope.expired():
                raise
            raise OperationTimeoutException(
                f"{request.operation_name} ran past its operationTimeout of {timeout_ms} ms "
                "and was stopped"
            ) from None

    # -- the HTTP side of the upgrade -------------------------------------------------------

    async def _process_request(
        self, connection: ServerConnection, request: Request
    ) -> Response | None:
        path = request.path.partition("?")[0]
        # Probes: tiny bodies, no versions, no dependency checks (§B5; Kubernetes'
        # "using-api/health-checks": machines read the status code).
        if path == "/livez":
            return _plain(connection, http.HTTPStatus.OK, "ok\n")
        if path == "/readyz":
            if self.draining:
                return _plain(connection, http.HTTPStatus.SERVICE_UNAVAILABLE, "draining\n")
            if not self.serving:
                return _plain(connection, http.HTTPStatus.SERVICE_UNAVAILABLE, "starting\n")
            return _plain(connection, http.HTTPStatus.OK, "ok\n")
        if path not in (self.settings.path, "/metrics") or (
            path == "/metrics" and not self.settings.metrics_enabled
        ):
            return _plain(connection, http.HTTPStatus.NOT_FOUND, "not found\n")
        if not _has_client_certificate(connection, self.settings):
            self.metrics.upgrades_refused.labels("no_client_certificate").inc()
            log.warning("auth.failed", peer=_peer(connection), reason="no client certificate")
            return _plain(connection, http.HTTPStatus.FORBIDDEN, "client certificate required\n")
        if path == "/metrics":
            return self._metrics_response(connection, request)
        if self.draining:
            self.metrics.upgrades_refused.labels("draining").inc()
            return _plain(connection, http.HTTPStatus.SERVICE_UNAVAILABLE, "shutting down\n")
        if len(self.connections) >= self.settings.max_connections:
            self.metrics.upgrades_refused.labels("max_connections").inc()
            log.warning("connection.refused", reason="max_connections", peer=_peer(connection))
            return _plain(connection, http.HTTPStatus.SERVICE_UNAVAILABLE, "too many connections\n")
        verdict = await self.authenticator.check(
            _peer(connection), request.headers.get("Authorization")
        )
        if verdict is Verdict.OK:
            return None
        missing = verdict is Verdict.MISSING
        self.metrics.upgrades_refused.labels("unauthenticated" if missing else "wrong_key").inc()
        log.warning(
            "auth.failed",
            peer=_peer(connection),
            reason="no credentials" if missing else "wrong key",
        )
        response = _plain(connection, http.HTTPStatus(verdict.value), "Failed to connect\n")
        if verdict is Verdict.MISSING:
            response.headers["WWW-Authenticate"] = REALM
        return response

    def _metrics_response(self, connection: ServerConnection, request: Request) -> Response:
        """The registry in Prometheus' text format (or OpenMetrics, when the scraper asks)."""
        body, content_type = self.metrics.render(request.headers.get("Accept"))
        response = _plain(connection, http.HTTPStatus.OK, body.decode())
        del response.headers["Content-Type"]
        response.headers["Content-Type"] = content_type
        return response

    async def _handle(self, ws: ServerConnection) -> None:
        conn_id = f"c{next(self._ids)}"
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(conn_id=conn_id)
        connection = Connection(self, ws, conn_id)
        self.connections[conn_id] = connection
        self.metrics.connections_opened.inc()
        subject = _client_subject(ws)
        if subject is not None:
            log.info("connection.open", peer=_peer(ws), client_certificate=subject)
        else:
            log.info("connection.open", peer=_peer(ws))
        try:
            await connection.serve()
        except Exception:
            # websockets would log this through the stdlib logger we silence: say it here.
            log.exception("connection.failed")
        finally:
            del self.connections[conn_id]
            log.info(
                "connection.close",
                code=ws.close_code,
                operations=connection.operations_run,
            )


def _check_ref(hosted: HostedConfiguration, connector_class: type[Connector]) -> None:
    ref, key = hosted.connector_ref, connector_class.connector_key
    matches = (
        ref.bundleName == key.bundleName
        and ref.connectorName == key.connectorName
        and parse_version(key.bundleVersion) in VersionRange.parse(ref.bundleVersion)
    )
    if not matches:
        raise ConfigurationException(f"configuration {hosted.name!r} is for {ref}, not for {key}")


def _plain(connection: ServerConnection, status: http.HTTPStatus, text: str) -> Response:
    return connection.respond(status, text)


def _peer(connection: ServerConnection) -> str:
    address = connection.remote_address
    return str(address[0]) if address else "unknown"


TLS_CIPHERS: Final = "ECDHE+AESGCM:ECDHE+CHACHA20"
"""TLS 1.2 suites: forward secret, AEAD only (hypercorn's choice plus ChaCha20 for CPUs without
AES instructions). TLS 1.3 suites are all of that kind and are not affected by this list."""


def _ssl_context(settings: ServerSettings) -> ssl.SSLContext | None:
    """TLS as hypercorn builds it (docs/hardening.md §A5, §B2): TLS 1.2 at least, modern
    ciphers, no TLS compression (CRIME). With a client CA, mutual TLS.

    Mutual TLS asks every client for a certificate and refuses a presented one that the CA did
    not sign during the handshake. A client that presents none completes the handshake
    (`CERT_OPTIONAL`), and `process_request` refuses it with 403 on every path but the probes:
    a platform's HTTPS probe carries no client certificate, and a peer that forgot its
    certificate reads "client certificate required" instead of a reset connection.
    """
    cert, key, ca = settings.tls_cert_file, settings.tls_key_file, settings.tls_client_ca_file
    if not settings.use_ssl:
        if ca is not None:
            raise ConfigurationException(
                "connectorserver.tlsClientCaFile is set but connectorserver.usessl is not: "
                "mutual TLS needs TLS"
            )
        return None
    if cert is None or key is None:
        raise ConfigurationException(
            "connectorserver.usessl is true: set connectorserver.tlsCertFile and "
            "connectorserver.tlsKeyFile"
        )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(TLS_CIPHERS)
    context.options |= ssl.OP_NO_COMPRESSION
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigurationException(
            f"cannot load the TLS certificate {cert} with its key {key}: {_reason(exc)}"
        ) from None
    if ca is not None:
        context.verify_mode = ssl.CERT_OPTIONAL
        try:
            context.load_verify_locations(ca)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigurationException(
                f"cannot load the client CA file {ca}: {_reason(exc)}"
            ) from None
    return context


def _reason(exc: OSError) -> str:
    """`KEY_VALUES_MISMATCH`, `No such file or directory`: the words, not the errno."""
    return str(getattr(exc, "reason", None) or exc.strerror or exc)


def _has_client_certificate(connection: ServerConnection, settings: ServerSettings) -> bool:
    """Under mutual TLS, whether the peer presented a certificate (the handshake verified it)."""
    if settings.tls_client_ca_file is None:
        return True
    tls = connection.transport.get_extra_info("ssl_object")
    return tls is not None and bool(tls.getpeercert())


def _client_subject(connection: ServerConnection) -> str | None:
    """The commonName of a verified client certificate, for the connection's log line."""
    tls = connection.transport.get_extra_info("ssl_object")
    certificate = tls.getpeercert() if tls is not None else None
    if not certificate:
        return None
    for rdn in certificate.get("subject", ()):
        for name, value in rdn:
            if name == "commonName":
                return str(value)
    return "?"
