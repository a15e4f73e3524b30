"""The connector server: its lifecycle, and the parts it is made of.

`ConnectorServer` listens with websockets' asyncio server on `settings.path` (default
`/openicf`, port 8759 as the Java RCS, docs/openicf.md §1.1, §2.1), hardened as
docs/hardening.md §B1 advises: compression off, a maximum frame size, a maximum number of
connections (503 beyond), a cap on operations in flight per connection, ping/pong keepalive, no
version in the `Server` header. It is made of parts that each do one job:

- `server.admission`: the HTTP side of the upgrade (probes, metrics, certificate, key, wire);
- `server.tls`: the TLS context (and mutual TLS) from `ServerSettings.tls_*` (§B2);
- `server.configurations`: the named configurations and one pool per configuration;
- `server.runner`: admitting and running operations, for any wire;
- `server.connection` (JSON) and `server.openicf` (OpenICF's protobuf RPC): the wires.

    async with ConnectorServer(settings, registry, configurations) as server:
        url = server.url        # ws://127.0.0.1:<port>/openicf
        await server.serve_forever()
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import signal
from collections.abc import Hashable, Mapping
from typing import Final, Protocol, Self

__all__ = ["ConnectorServer", "HostedConfiguration", "Persist"]

import structlog
from websockets.asyncio.server import Server, ServerConnection, serve

from connector.registry import ConnectorRegistry
from protocol.errors import ConfigurationException, RetryableException
from protocol.info import ConfigurationInfo, ConnectorInfo
from server.admission import Admission, Wire, peer, select_subprotocol
from server.auth import Authenticator
from server.configurations import Configurations, HostedConfiguration, Persist
from server.connection import Connection
from server.facades import Facades
from server.logs import get_logger
from server.metrics import ServerMetrics
from server.openicf import OpenICFHub, push_configuration_change
from server.pool import PoolManager
from server.runner import SHUTTING_DOWN, OperationRunner
from server.settings import ServerSettings
from server.tls import client_subject, ssl_context

log = get_logger("server")

HOUSEKEEPING_INTERVAL_S: Final = 30.0
"""How often idle instances are evicted and unused inline configurations dropped."""


class _Served(Protocol):
    """A wire's connection, as the server tracks it."""

    async def serve(self) -> None: ...

    @property
    def operations_run(self) -> int: ...

    @property
    def operations(self) -> Mapping[Hashable, asyncio.Task[None]]:
        """What runs for this connection (a connection group's, on the OpenICF wire)."""


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
        self._ssl = ssl_context(settings)  # before anything listens: a bad file stops the start
        self.metrics = ServerMetrics(
            connections=lambda: len(self.connections),
            pools=lambda: self.pools,
            draining=lambda: self.draining,
        )
        self.pools = PoolManager(
            inline_idle_s=settings.inline_configuration_idle_s,
            inline_max=settings.inline_configuration_max,
            metrics=self.metrics,
        )
        self.authenticator = Authenticator(
            settings.key_hash,
            delay_s=settings.auth_failure_delay_s,
            delay_max_s=settings.auth_failure_delay_max_s,
        )
        self.configurations = Configurations(
            registry,
            self.pools,
            scripting_enabled=settings.scripting_enabled,
            metrics=self.metrics.registry,
            persist=persist,
        )
        self.runner = OperationRunner(
            self.configurations.pool_for,
            self.metrics,
            max_in_flight=settings.max_inflight_per_connection,
        )
        self.admission = Admission(settings, self.metrics, self.authenticator, self)
        self.openicf = OpenICFHub(
            self.runner, Facades(registry), settings=settings, metrics=self.metrics
        )
        self.configurations.facade_persist = push_configuration_change
        self.connections: dict[str, _Served] = {}
        self.serving = False
        """True from the end of `start()` until `aclose()`: with `draining`, what /readyz says."""
        self._hurry = asyncio.Event()
        self._drain_task: asyncio.Task[None] | None = None
        self._ids = itertools.count(1)
        self._ws: Server | None = None
        self._housekeeper: asyncio.Task[None] | None = None
        self._stopped = asyncio.Event()
        self.set_configurations(configurations or {})

    @property
    def draining(self) -> bool:
        return self.runner.draining

    @property
    def connection_count(self) -> int:
        return len(self.connections)

    def problems(self) -> list[str]:
        """What the configurations' shared resources ask an operator to fix (readiness)."""
        found = []
        for pool in self.pools:
            shared = pool.shared
            if shared is not None:
                name = pool.key.configuration_name
                found += [f"configuration {name}: {problem}" for problem in shared.problems()]
        return found

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
            process_request=self.admission.process_request,
            select_subprotocol=select_subprotocol,
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
        self.runner.draining = True
        limit = self.settings.drain_timeout_s if timeout_s is None else timeout_s
        pending = self.runner.running
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
            await self.runner.fail_all(stopped)
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
            self.admission.log_unlogged_refusals()

    # -- configurations ---------------------------------------------------------------------

    def set_configurations(self, configurations: Mapping[str, HostedConfiguration]) -> None:
        """Install the named configurations (at start, or on reload); see `Configurations.set`."""
        self.configurations.set(configurations)

    def configuration_infos(self) -> list[ConfigurationInfo]:
        return self.configurations.configuration_infos()

    def connector_infos(self) -> list[ConnectorInfo]:
        return self.configurations.connector_infos()

    # -- connections ------------------------------------------------------------------------

    async def _handle(self, ws: ServerConnection) -> None:
        conn_id = f"c{next(self._ids)}"
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(conn_id=conn_id)
        connection = self._connection(ws, conn_id)
        self.connections[conn_id] = connection
        self.metrics.connections_opened.inc()
        subject = client_subject(ws)
        wire = Wire.OPENICF if ws.subprotocol is not None else Wire.JSON
        if subject is not None:
            log.info("connection.open", peer=peer(ws), wire=wire.value, client_certificate=subject)
        else:
            log.info("connection.open", peer=peer(ws), wire=wire.value)
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

    def _connection(self, ws: ServerConnection, conn_id: str) -> _Served:
        if ws.subprotocol is not None:
            return self.openicf.connection(ws, conn_id)
        return Connection(
            ws,
            conn_id,
            self.runner.operations(),
            self.configurations,
            metrics=self.metrics,
            settings=self.settings,
        )
