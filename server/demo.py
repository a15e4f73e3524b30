"""`hubspot-rcs demo`: the server in front of a seeded HubSpot emulator, for trying it out.

    hubspot-rcs demo [--host 127.0.0.1] [--port 8759] [--contacts 500] [--companies 50]

It starts `hubspot-rcs-emulator` as a subprocess (a HubSpot of its own, on a free loopback
port), writes a configuration directory for it (`run/demo/` by default: ConnectorServer.properties
with the hash of the shared key, `provisioner.openicf-hubspot.json` with the emulator's URL and
credentials in plain text, as an operator would type them, and the `objectTypes` IDM's admin UI
would write from the connector's schema), then runs `hubspot-rcs serve` on that
directory in this process: the production path, which encrypts the secrets on load. Once the
server answers `/readyz` it prints the client commands to try. SIGINT (Ctrl-C) or SIGTERM drain
the server; the emulator is stopped after it, so that operations still running finish against it.

The shared key is `$RCS_KEY` when set, otherwise made up and printed. The demo decides where the
server listens and which key and keystore it uses: the `RCS_*` variables for those are dropped
from its environment (they would point the printed commands elsewhere); other settings apply.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import http.client
import json
import os
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, Final

from connector.base import ConnectorContext
from connector.hubspot import HubspotConnector
from connector.hubspot.configuration import HubspotConfiguration
from protocol.schema import Schema, idm_object_types
from server import keyhash
from server.conf import PROPERTIES_FILE
from server.settings import DEFAULT_PORT

__all__ = ["add_subcommand", "run"]

CONFIGURATION: Final = "hubspot"
"""The name of the demo's configuration: what the printed commands pass to the client."""
KEY_ENV: Final = "RCS_KEY"
DECIDED_BY_DEMO: Final = (
    "RCS_HOST",
    "RCS_PORT",
    "RCS_PATH",
    "RCS_KEY_HASH",
    "RCS_USE_SSL",
    "RCS_KEYSTORE",
    KEY_ENV,  # the client's variable: read here, and the server would warn about it
)
EMULATOR_START_S: Final = 120.0
"""A million contacts take seconds to generate; a stuck emulator should still be noticed."""
EMULATOR_STOP_S: Final = 10.0
READY_POLL_S: Final = 0.1
SEED: Final = 1


@dataclass(frozen=True)
class Emulator:
    """The running emulator subprocess and what its ready file told us."""

    process: subprocess.Popen[bytes]
    base_url: str
    client_id: str
    client_secret: str
    refresh_token: str


Serve = Callable[[Sequence[str]], int]
"""`hubspot-rcs` itself (`server.cli.main`), given the `serve` command line."""


def add_subcommand(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], serve: Serve
) -> None:
    """Add `demo` to `hubspot-rcs`'s subcommands; `serve` is the CLI's entry point."""
    demo = commands.add_parser(
        "demo",
        help="run the server in front of a seeded HubSpot emulator (make run)",
        description="Start a HubSpot emulator (the same contacts each time), write a "
        "configuration directory for it, serve it, and print the client commands to try. "
        "Ctrl-C drains the server, then stops the emulator. The key is $RCS_KEY, or made up "
        "and printed. Example: hubspot-rcs demo --port 9759 --contacts 10000",
    )
    demo.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
    )
    demo.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help="port to listen on; 0 picks a free one (default 8759)",
    )
    demo.add_argument(
        "--contacts", type=int, default=500, help="contacts in the emulator (default 500)"
    )
    demo.add_argument(
        "--companies", type=int, default=50, help="companies in the emulator (default 50)"
    )
    demo.add_argument(
        "--dir",
        type=Path,
        default=Path("run") / "demo",
        help="the demo's configuration directory (default ./run/demo)",
    )
    demo.set_defaults(func=lambda args: run(args, serve))


def run(args: argparse.Namespace, serve: Serve) -> int:
    """Start the emulator, write the configuration, serve until signalled; the exit status."""
    try:
        port = _free_port(args.host, args.port)
    except OSError as error:
        hint = " (another server? choose --port)" if error.errno == errno.EADDRINUSE else ""
        where = f"{args.host}:{args.port}"
        print(f"hubspot-rcs demo: cannot listen on {where}: {error}{hint}", file=sys.stderr)
        return 1
    made_up = not os.environ.get(KEY_ENV)
    key = secrets.token_urlsafe(24) if made_up else os.environ[KEY_ENV]
    for name in DECIDED_BY_DEMO:
        os.environ.pop(name, None)
    conf: Path = args.dir
    # Until serve installs its own handlers, SIGTERM must still reach the `finally` below.
    previous = signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        with _emulator(args.contacts, args.companies) as emulator:
            _write_conf(conf, host=args.host, port=port, key=key, emulator=emulator)
            url = f"ws://{_url_host(args.host)}:{port}/openicf"
            banner = _banner(url, conf, emulator, args, key if made_up else None)
            done = threading.Event()
            threading.Thread(
                target=_announce, args=(args.host, port, banner, done), daemon=True
            ).start()
            try:  # serve's own handlers replace ours once its event loop runs
                return serve(["serve", "--conf", str(conf)])
            finally:
                done.set()
    except (_Stopped, KeyboardInterrupt):
        return 0
    except EmulatorError as error:
        print(f"hubspot-rcs demo: {error}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGTERM, previous)


class EmulatorError(Exception):
    """The emulator did not start."""


class _Stopped(Exception):
    """SIGTERM before the server was up."""


def _exit_on_signal(signum: int, frame: FrameType | None) -> None:
    raise _Stopped


def _write_conf(conf: Path, *, host: str, port: int, key: str, emulator: Emulator) -> None:
    """The demo's configuration directory, as an operator would write it for the emulator.

    Secrets go in as plain text: `serve` encrypts them on load, as in production. Files already
    there (the keystore from an earlier run, a provisioner file added by hand) are kept.
    """
    conf.mkdir(parents=True, exist_ok=True)
    conf.chmod(0o700)
    (conf / PROPERTIES_FILE).write_text(
        "# Written by `hubspot-rcs demo` at each start.\n"
        f"connectorserver.ifaddress={host}\n"
        f"connectorserver.port={port}\n"
        f"connectorserver.key={keyhash.hash_key(key)}\n"
        "connectorserver.keystore=keys/keystore.json\n"
        # Scripts run code sent over the wire: on for a demo that only this machine can reach.
        f"connectorserver.scriptingEnabled={'true' if _loopback(host) else 'false'}\n"
    )
    ref = HubspotConnector.connector_key
    properties = {
        "clientId": emulator.client_id,
        "clientSecret": emulator.client_secret,
        "refreshToken": emulator.refresh_token,
        "apiBaseUrl": emulator.base_url,
        "readSchema": True,
        "maximumConnections": "10",
        "permitsPerSecond": "10",
    }
    provisioner = {
        "connectorRef": {
            "bundleName": ref.bundleName,
            "bundleVersion": "[1.5.0.0,1.6.0.0)",
            "connectorName": ref.connectorName,
            "displayName": HubspotConnector.display_name,
            "systemType": "provisioner.openicf",
        },
        "configurationProperties": properties,
        "resultsHandlerConfig": {"enableFilteredResultsHandler": False},
        "objectTypes": idm_object_types(asyncio.run(_schema(properties))),
    }
    path = conf / f"provisioner.openicf-{CONFIGURATION}.json"
    path.unlink(missing_ok=True)  # created afresh, so 0600 holds even if it was widened
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(json.dumps(provisioner, indent=2) + "\n")


async def _schema(properties: dict[str, Any]) -> Schema:
    """The connector's schema for the emulator, read as IDM reads it to write `objectTypes`."""
    context = ConnectorContext(
        configuration=HubspotConfiguration.from_properties(properties),
        configuration_name=CONFIGURATION,
    )
    shared = await HubspotConnector.open_shared(context)
    try:
        connector = HubspotConnector(context, shared)
        await connector.init()
        return await connector.schema()
    finally:
        await shared.aclose()


@contextlib.contextmanager
def _emulator(contacts: int, companies: int) -> Iterator[Emulator]:
    """Run `hubspot-rcs-emulator` on a free loopback port; stop it on exit.

    It gets a session of its own, so Ctrl-C reaches only the server: the emulator stays up
    while the server drains, and is terminated after it. Its credentials come back through the
    ready file, in a private temporary directory, never on a command line.
    """
    with tempfile.TemporaryDirectory(prefix="hubspot-rcs-demo-") as scratch:
        ready = Path(scratch) / "ready.json"
        argv = [
            *_emulator_command(),
            *("--host", "127.0.0.1", "--port", "0", "--ready-file", str(ready)),
            *("--contacts", str(contacts), "--companies", str(companies), "--seed", str(SEED)),
        ]
        process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, start_new_session=True)
        try:
            info = _wait_ready(process, ready)
            ready.unlink()
            yield Emulator(
                process=process,
                base_url=info["base_url"],
                client_id=info["client_id"],
                client_secret=info["client_secret"],
                refresh_token=info["refresh_token"],
            )
        finally:
            process.terminate()
            try:
                process.wait(EMULATOR_STOP_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _emulator_command() -> list[str]:
    """The emulator's script beside this Python (a venv, the image), or its module."""
    script = Path(sys.executable).parent / "hubspot-rcs-emulator"
    return [str(script)] if script.exists() else [sys.executable, "-m", "emulator.cli"]


def _wait_ready(process: subprocess.Popen[bytes], ready: Path) -> dict[str, Any]:
    deadline = time.monotonic() + EMULATOR_START_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise EmulatorError(f"the emulator exited with status {process.returncode}")
        with contextlib.suppress(FileNotFoundError, json.JSONDecodeError):
            info: dict[str, Any] = json.loads(ready.read_text())  # may still be half-written
            return info
        time.sleep(READY_POLL_S)
    raise EmulatorError(f"the emulator was not ready within {EMULATOR_START_S:.0f} s")


def _free_port(host: str, port: int) -> int:
    """`port` if it can be bound on `host` (a free one for 0), so a clash fails before anything
    starts, and the readiness probe below cannot mistake another server for ours."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))
        return int(probe.getsockname()[1])


def _announce(host: str, port: int, banner: str, done: threading.Event) -> None:
    """Print the banner once the server answers `/readyz`; give up when serve has returned."""
    probe_host = "127.0.0.1" if host in ("0.0.0.0", "") else "::1" if host == "::" else host
    while not done.wait(READY_POLL_S):
        connection = http.client.HTTPConnection(probe_host, port, timeout=1)
        try:
            connection.request("GET", "/readyz")
            if connection.getresponse().status == http.HTTPStatus.OK:
                print(banner, flush=True)
                return
        except OSError:
            pass
        finally:
            connection.close()


def _banner(
    url: str, conf: Path, emulator: Emulator, args: argparse.Namespace, made_up_key: str | None
) -> str:
    client = _shown(Path(sys.executable).parent / "hubspot-rcs-client")
    if url != "ws://127.0.0.1:8759/openicf":
        client += f" --url {url}"
    key_line = (
        f"export {KEY_ENV}={shlex.quote(made_up_key)}"
        if made_up_key is not None
        else f"# export {KEY_ENV}=<the key you gave the demo>   (not echoed here)"
    )
    commands = [
        key_line,
        f"{client} test {CONFIGURATION}",
        f"{client} search {CONFIGURATION} contact --query-filter 'lastname eq \"Smith\"'"
        " --attributes firstname,lastname,jobtitle",
        f"{client} search {CONFIGURATION} company --page-size 5 --attributes name,domain",
        f"{client} create {CONFIGURATION} contact --attr email=ann.lee@example.com"
        " --attr firstname=Ann --attr lastname=Lee",
    ]
    return "\n".join(
        [
            "",
            f"hubspot-rcs demo: the connector server is ready on {url}",
            f"  configuration  {CONFIGURATION!r}, in {_shown(conf)}/ (its secrets now encrypted)",
            f"  HubSpot        the emulator on {emulator.base_url} "
            f"({args.contacts} contacts, {args.companies} companies)",
            "",
            "Try it from another shell (Ctrl-C here stops the server and the emulator):",
            "",
            *(f"  {line}" for line in commands),
            "",
        ]
    )


def _shown(path: Path) -> str:
    """`path` relative to the working directory when it is under it: shorter to copy."""
    absolute = path if path.is_absolute() else Path.cwd() / path
    with contextlib.suppress(ValueError):
        return str(absolute.relative_to(Path.cwd()))
    return str(path)


def _loopback(host: str) -> bool:
    return host in ("127.0.0.1", "::1", "localhost")


def _url_host(host: str) -> str:
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host
