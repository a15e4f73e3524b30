"""`hubspot-rcs`: run the connector server (`serve`), probe it, manage its key and secrets.

    hubspot-rcs serve --conf conf/
    hubspot-rcs health --conf conf/ [--ready]     # exit 0 when /livez (/readyz) answers 200

`serve` loads `conf/` (`server.conf`: ConnectorServer.properties, the provisioner files, the
environment), checks every configuration against the installed connectors, and listens until
SIGTERM or SIGINT, which drain it (docs/operations.md). SIGHUP reloads the configurations: a
changed one gets a fresh pool, its old pool finishes what it lent out. A configuration error
stops the start with every problem listed on stderr and exit status 1.

`health` is the container's probe (Dockerfile HEALTHCHECK): it reads only the listener's
settings from `conf/` and the environment, and asks the running server's `/livez` (or `/readyz`)
on loopback; it needs no key, and loads no secret.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import http.client
import importlib.metadata
import os
import signal
import ssl
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from connector.registry import ConnectorRegistry
from protocol.configuration import ConnectorKey
from protocol.errors import ConnectorException
from protocol.heap import settle_after_startup
from protocol.values import GuardedString
from server import logs
from server.app import ConnectorServer, HostedConfiguration
from server.conf import (
    PROPERTIES_FILE,
    ConfigurationError,
    LoadedConf,
    RegistryLookup,
    load_conf,
    persist_property,
    reload_conf,
)
from server.conf.settings_source import read_settings
from server.demo import add_subcommand as add_demo
from server.properties import load as load_properties
from server.secrets.cli import add_subcommands
from server.settings import ServerSettings

log = logs.get_logger("server.cli")


def hosted_configurations(loaded: LoadedConf) -> dict[str, HostedConfiguration]:
    """The server's view of the loaded provisioner files."""
    return {
        name: HostedConfiguration(
            name=name,
            connector_ref=ConnectorKey(
                bundleName=config.connectorRef.bundleName,
                bundleVersion=config.connectorRef.bundleVersion,
                connectorName=config.connectorRef.connectorName,
            ),
            configuration=config,
            enabled=config.enabled,
            display_name=config.connectorRef.displayName,
            object_types=config.objectTypes,
        )
        for name, config in loaded.configurations.items()
    }


class _Daemon:
    """The running server and the configuration it was loaded from (kept for reloads)."""

    def __init__(self, loaded: LoadedConf, registry: ConnectorRegistry) -> None:
        self.loaded = loaded
        self.registry = registry
        self.server = ConnectorServer(
            loaded.settings, registry, hosted_configurations(loaded), persist=self.persist
        )
        self.reloading: asyncio.Task[None] | None = None
        """The reload under way, kept referenced: a task nobody holds may be collected."""
        self._reload_again = False

    def persist(self, name: str, property_name: str, value: GuardedString) -> None:
        persist_property(self.loaded, name, property_name, value)

    def request_reload(self) -> None:
        """SIGHUP: one reload at a time. A signal during a reload asks for one more after it
        (the files may have changed again), never for a second one alongside."""
        if self.reloading is not None and not self.reloading.done():
            self._reload_again = True
            return
        self.reloading = asyncio.get_running_loop().create_task(self._reloads())

    async def _reloads(self) -> None:
        while True:
            try:
                await self.reload()
            except Exception:
                log.exception("conf.reload_failed")
            if not self._reload_again:
                return
            self._reload_again = False

    async def reload(self) -> None:
        result = await asyncio.to_thread(
            reload_conf, self.loaded, confidential=RegistryLookup(self.registry)
        )
        if not result.accepted:
            log.error("conf.reload_refused", issues=[str(i) for i in result.issues])
            return
        self.loaded = result.conf
        for warning in result.conf.warnings:
            log.warning("conf.warning", detail=warning)
        self.server.set_configurations(hosted_configurations(result.conf))
        log.info(
            "conf.reloaded",
            added=list(result.added),
            removed=list(result.removed),
            changed=list(result.changed),
        )
        if result.settings_changed:
            log.warning("conf.settings_need_restart", settings=sorted(result.settings_changed))

    async def run(self) -> None:
        await self.server.start()
        self.server.install_signal_handlers()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGHUP, self.request_reload)
        await self.server.serve_forever()


def _is_reference(registry: ConnectorRegistry, ref: ConnectorKey) -> bool:
    """Whether a configuration's connectorRef names a reference connector (the in-memory one)."""
    try:
        return registry.resolve(ref).reference
    except ConnectorException:
        return False


def _serve(args: argparse.Namespace) -> int:
    registry = ConnectorRegistry.discover()
    try:
        loaded = load_conf(args.conf, confidential=RegistryLookup(registry))
    except ConfigurationError as error:
        print(error, file=sys.stderr)
        return 1
    settings = loaded.settings
    if not settings.memory_connector_enabled:
        registry_all, registry = registry, registry.without_reference()
        memory = [
            name
            for name, hosted in hosted_configurations(loaded).items()
            if _is_reference(registry_all, hosted.connector_ref)
        ]
        if memory:
            print(
                "the in-memory connector is not hosted by this server, and "
                + ", ".join(f"configuration {n!r}" for n in sorted(memory))
                + " uses it: set connectorserver.memoryConnectorEnabled=true in "
                "ConnectorServer.properties (or RCS_MEMORY_CONNECTOR_ENABLED=true), or remove "
                "the configuration",
                file=sys.stderr,
            )
            return 1
    logs.configure(settings.log_level, settings.log_format)
    for warning in loaded.warnings:
        log.warning("conf.warning", detail=warning)
    try:
        daemon = _Daemon(loaded, registry)
        settle_after_startup()
        asyncio.run(daemon.run())
    except ConnectorException as error:
        print(f"{error.wire_class}: {error.message}", file=sys.stderr)
        return 1
    except OSError as error:
        where = f"{settings.host}:{settings.port}"
        if error.errno == errno.EADDRINUSE:
            print(
                f"cannot listen on {where}: the port is taken (another server?); choose another "
                f"with connectorserver.port in {args.conf / PROPERTIES_FILE} or RCS_PORT",
                file=sys.stderr,
            )
        elif error.errno == errno.EADDRNOTAVAIL:
            print(
                f"cannot listen on {where}: no such address on this machine; set "
                f"connectorserver.ifaddress in {args.conf / PROPERTIES_FILE} or RCS_HOST",
                file=sys.stderr,
            )
        else:
            print(f"cannot listen on {where}: {error}", file=sys.stderr)
        return 1
    return 0


def _listener_settings(conf: Path) -> ServerSettings:
    path = conf / PROPERTIES_FILE
    properties = load_properties(path) if path.exists() else {}
    source = read_settings(properties, str(path), os.environ, conf)
    if source.settings is None:
        raise ConfigurationError(source.issues)
    return source.settings


def _health(args: argparse.Namespace) -> int:
    try:
        settings = _listener_settings(args.conf)
    except (ConfigurationError, OSError) as error:
        print(error, file=sys.stderr)
        return 1
    deadline = time.monotonic() + args.wait
    while True:
        problem = _probe(settings, "/readyz" if args.ready else "/livez")
        if problem is None:
            return 0
        if time.monotonic() >= deadline:
            print(problem, file=sys.stderr)
            return 1
        time.sleep(HEALTH_POLL_S)


HEALTH_POLL_S = 0.2


def _probe(settings: ServerSettings, path: str) -> str | None:
    """None when the listener answers `path` with 200; otherwise what went wrong."""
    wildcard = settings.host in ("0.0.0.0", "::", "")  # listening everywhere: probe loopback
    host = "127.0.0.1" if wildcard else settings.host
    connection: http.client.HTTPConnection
    if settings.use_ssl:
        # Our own listener on loopback: its certificate names the public host, not 127.0.0.1,
        # and the probe carries no secret, so it does not verify the certificate.
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        connection = http.client.HTTPSConnection(host, settings.port, timeout=3, context=context)
    else:
        connection = http.client.HTTPConnection(host, settings.port, timeout=3)
    try:
        connection.request("GET", path)
        status = connection.getresponse().status
    except OSError as error:
        return f"{path}: {error}"
    finally:
        connection.close()
    return None if status == http.HTTPStatus.OK else f"{path}: HTTP {status}"


SERVE_DESCRIPTION = (
    "Load the configuration directory (ConnectorServer.properties, every "
    "provisioner.openicf-<name>.json, the RCS_* environment), check every configuration "
    "against the installed connectors, then listen until SIGTERM or SIGINT, which drain it. "
    "SIGHUP reloads the configurations. A configuration error stops the start: every problem "
    "is listed on stderr, with exit status 1."
)
HEALTH_DESCRIPTION = (
    "Ask the running server's /livez (or /readyz) on loopback, as a container's probe does. It "
    "reads only the listener's settings, needs no key and loads no secret. Exit status 0 when "
    "the answer is 200, 1 otherwise with the reason on stderr."
)
CONF_HELP = "the configuration directory, e.g. /etc/hubspot-rcs (default ./conf)"


def version() -> str:
    try:
        return importlib.metadata.version("hubspot-rcs")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="hubspot-rcs",
        description="A remote connector server for HubSpot and IDM.",
        epilog="Example: hubspot-rcs key set --conf conf --generate && hubspot-rcs serve "
        "--conf conf",
    )
    top.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = commands.add_parser(
        "serve", help="run the connector server", description=SERVE_DESCRIPTION
    )
    serve.add_argument("--conf", type=Path, default=Path("conf"), help=CONF_HELP)
    serve.set_defaults(func=_serve)
    health = commands.add_parser(
        "health",
        help="probe the running server (exit 0 when healthy)",
        description=HEALTH_DESCRIPTION,
    )
    health.add_argument("--conf", type=Path, default=Path("conf"), help=CONF_HELP)
    health.add_argument(
        "--ready",
        action="store_true",
        help="ask /readyz (ready to take work) instead of /livez (alive) (default: /livez)",
    )
    health.add_argument(
        "--wait",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="keep asking until healthy or this many seconds have passed, e.g. 10 (default 0: "
        "ask once)",
    )
    health.set_defaults(func=_health)
    add_subcommands(commands)
    add_demo(commands, serve=main)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    status: int = args.func(args)
    return status


if __name__ == "__main__":
    raise SystemExit(main())
