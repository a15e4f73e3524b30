"""The connector server: one object owning settings, connectors, configurations, pools, sockets.

`ConnectorServer` listens with websockets' asyncio server on `settings.path` (default
`/openicf`, port 8759 as the Java RCS, openicf-rcs.md §1.1, §2.1), hardened as
style-and-hardening.md §B1 advises: browser origins refused (`origins=[None]`), compression off,
a maximum frame size, a maximum number of connections (503 beyond), a cap on operations in
flight per connection, ping/pong keepalive, no version in the `Server` header. Health answers
(`/livez`, `/readyz`) come from `process_request` before authentication; then the peer's key is
checked (`server.auth`) before any frame is read.

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
from protocol.values import GuardedString
from server import dispatch
from server.auth import REALM, Authenticator, Verdict
from server.connection import Connection
from server.logs import get_logger
from server.pool import ConnectorPool, PoolKey, PoolManager, configuration_digest
from server.settings import ServerSettings

log = get_logger("server")

HOUSEKEEPING_INTERVAL_S: Final = 30.0
"""How often idle instances are evicted and unused inline configurations dropped."""

Persist = Callable[[str, str, GuardedString], None]
"""(configuration name, property name, value) -> store it; blocking, run in a worker thread."""


@dataclass(frozen=True)
class HostedConfiguration:
    """A named configuration the server holds: its name, its connectorRef, its contents."""

    name: str
    connector_ref: ConnectorKey
    configuration: InlineConfiguration

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
        self.pools = PoolManager(inline_idle_s=settings.inline_configuration_idle_s)
        self.authenticator = Authenticator(
            settings.key_hash,
            delay_s=settings.auth_failure_delay_s,
            delay_max_s=settings.auth_failure_delay_max_s,
        )
        self.connections: dict[str, Connection] = {}
        self.draining = False
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
            ssl=_ssl_context(s),
        )
        self._housekeeper = asyncio.get_running_loop().create_task(self._housekeeping())
        log.info("server.listening", host=s.host, port=self.port, path=s.path, tls=s.use_ssl)

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

        While draining `/readyz` answers 503, new connections get 503 and new operations an
        error; operations still running after `drain_timeout_s` are stopped and answered with
        an error; then every socket closes with 1001.
        """
        self.draining = True
        limit = self.settings.drain_timeout_s if timeout_s is None else timeout_s
        running = [t for c in self.connections.values() for t in c.operations.values()]
        log.info("server.draining", operations=len(running), timeout_s=limit)
        if running:
            await asyncio.wait(running, timeout=limit or None)
        stopped = RetryableException("the server is shutting down; retry on another server")
        await asyncio.gather(*(c.fail_operations(stopped) for c in self.connections.values()))
        await self.aclose()

    async def aclose(self) -> None:
        """Close every socket (1001), wait for the handlers, dispose of every pool."""
        if self._housekeeper is not None:
            self._housekeeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._housekeeper
            self._housekeeper = None
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
        """SIGTERM and SIGINT drain, then stop (docker stop, Kubernetes pod deletion)."""
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(
                signum, lambda: loop.create_task(self.drain()) if not self.draining else None
            )

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
            ConfigurationInfo(name=name, connectorRef=n.hosted.connector_ref)
            for name, n in sorted(self._named.items())
        ]

    def connector_infos(self) -> list[ConnectorInfo]:
        return [c.info() for c in self.registry.all()]

    # -- operations -------------------------------------------------------------------------

    def admit(self, connection: Connection, request: OperationRequest) -> None:
        """The one place a new operation is let in, or refused with a clear error."""
        if self.draining:
            raise RetryableException("the server is shutting down; retry on another server")
        limit = self.settings.max_inflight_per_connection
        if len(connection.operations) >= limit:
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
        if path == "/livez":
            return _plain(connection, http.HTTPStatus.OK, "ok\n")
        if path == "/readyz":
            if self.draining:
                return _plain(connection, http.HTTPStatus.SERVICE_UNAVAILABLE, "draining\n")
            return _plain(connection, http.HTTPStatus.OK, "ok\n")
        if path != self.settings.path:
            return _plain(connection, http.HTTPStatus.NOT_FOUND, "not found\n")
        if self.draining:
            return _plain(connection, http.HTTPStatus.SERVICE_UNAVAILABLE, "shutting down\n")
        if len(self.connections) >= self.settings.max_connections:
            log.warning("connection.refused", reason="max_connections", peer=_peer(connection))
            return _plain(connection, http.HTTPStatus.SERVICE_UNAVAILABLE, "too many connections\n")
        verdict = await self.authenticator.check(
            _peer(connection), request.headers.get("Authorization")
        )
        if verdict is Verdict.OK:
            return None
        log.warning(
            "auth.failed",
            peer=_peer(connection),
            reason="no credentials" if verdict is Verdict.MISSING else "wrong key",
        )
        response = _plain(connection, http.HTTPStatus(verdict.value), "Failed to connect\n")
        if verdict is Verdict.MISSING:
            response.headers["WWW-Authenticate"] = REALM
        return response

    async def _handle(self, ws: ServerConnection) -> None:
        conn_id = f"c{next(self._ids)}"
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(conn_id=conn_id)
        connection = Connection(self, ws, conn_id)
        self.connections[conn_id] = connection
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


def _ssl_context(settings: ServerSettings) -> ssl.SSLContext | None:
    """TLS as hypercorn builds it (style-and-hardening.md §A5, §B2); mTLS with a client CA."""
    if not settings.use_ssl:
        return None
    if settings.tls_cert_file is None or settings.tls_key_file is None:
        raise ConfigurationException("TLS needs tls_cert_file and tls_key_file")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(settings.tls_cert_file, settings.tls_key_file)
    if settings.tls_client_ca_file is not None:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(settings.tls_client_ca_file)
    return context
