"""What `hubspot-rcs-client` tells a user who got something wrong: one line, and the exit status
of the one table (docs/operations.md "The command-line client")."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from client import exits
from server.app import ConnectorServer
from tests.conftest import (
    KEY,
    MEMORY_KEY,
    command,
    hosted,
    memory_configuration,
    registry,
    settings,
)
from tests.demo import Demo, running_demo
from tests.server.certificates import Authority

PROG = "hubspot-rcs-client: "


@dataclass(frozen=True)
class Ran:
    status: int
    stdout: str
    stderr: str


async def client(url: str, *args: str, key: str = KEY, env: dict[str, str] | None = None) -> Ran:
    process = await asyncio.create_subprocess_exec(
        *command("hubspot-rcs-client"),
        "--url",
        url,
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={k: v for k, v in os.environ.items() if not k.startswith("RCS_")}
        | {"RCS_KEY": key}
        | (env or {}),
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    return Ran(process.returncode, out.decode(), err.decode())


def one_line(ran: Ran) -> str:
    """The message, which must be exactly one line and not a traceback."""
    assert ran.stderr.endswith("\n") and ran.stderr.count("\n") == 1, ran.stderr
    assert "Traceback" not in ran.stderr
    return ran.stderr.strip()


@pytest.fixture
async def memory() -> AsyncIterator[ConnectorServer]:
    configurations = {"memory": hosted("memory", memory_configuration(seed=20))}
    async with ConnectorServer(settings(), registry(), configurations) as server:
        yield server


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    with running_demo(tmp_path_factory.mktemp("demo")) as running:
        yield running


def provisioner_document(**properties: object) -> dict[str, object]:
    """A provisioner file for the in-memory connector, to send inline (`@FILE`)."""
    ref = MEMORY_KEY.model_dump() | {"bundleVersion": "[1.0,2.0)"}
    return {"connectorRef": ref, "configurationProperties": properties}


def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# -- the URL and the connection ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "says"),
    [
        (
            "http://127.0.0.1:8759/openicf",
            "--url http://127.0.0.1:8759/openicf: not a WebSocket URL; give "
            "ws://HOST:PORT/openicf, or wss:// for a server with TLS "
            "(did you mean ws://127.0.0.1:8759/openicf?)",
        ),
        ("ws:///openicf", "--url ws:///openicf: not a WebSocket URL"),
        ("127.0.0.1:8759", "--url 127.0.0.1:8759: not a WebSocket URL"),
        ("ws://127.0.0.1:99999/openicf", "--url ws://127.0.0.1:99999/openicf: Port out of range"),
    ],
)
async def test_a_url_that_is_not_websocket_is_one_line(url: str, says: str) -> None:
    ran = await client(url, "info")
    assert ran.status == exits.USAGE
    assert one_line(ran).startswith(PROG + says)


async def test_nothing_listening_says_how_to_start_a_server() -> None:
    url = f"ws://127.0.0.1:{unused_port()}/openicf"
    ran = await client(url, "info")
    assert ran.status == exits.CONNECTION
    message = one_line(ran)
    assert message.startswith(f"{PROG}cannot connect to {url}: ")
    assert message.endswith("(is the server running? `hubspot-rcs serve`, or `make run`)")


async def test_wss_to_a_plain_server_says_use_ws(memory: ConnectorServer) -> None:
    ran = await client(memory.url.replace("ws://", "wss://"), "info")
    assert ran.status == exits.CONNECTION
    assert one_line(ran).endswith(
        "ended the connection in the TLS handshake; if it does not serve TLS, use ws://"
    )


async def test_ws_to_a_tls_server_says_use_wss(tmp_path: Path) -> None:
    issued = Authority(tmp_path).server()
    tls = settings(use_ssl=True, tls_cert_file=issued.cert, tls_key_file=issued.key)
    async with ConnectorServer(tls, registry(), {}) as server:
        ran = await client(server.url.replace("wss://", "ws://"), "info")
    assert ran.status == exits.CONNECTION
    assert one_line(ran).endswith(
        "did not answer with HTTP; if it serves TLS (connectorserver.usessl=true), use wss://"
    )


async def test_an_http_port_that_is_not_a_connector_server_is_not_blamed_on_the_key(
    demo: Demo,
) -> None:
    url = demo.emulator_url.replace("http://", "ws://") + "/openicf"
    ran = await client(url, "info")
    assert ran.status == exits.CONNECTION
    message = one_line(ran)
    assert "not a WebSocket upgrade: it is not a connector server" in message
    assert "key" not in message


async def test_a_path_that_is_not_the_servers_says_so(memory: ConnectorServer) -> None:
    ran = await client(memory.url.replace("/openicf", "/rcs"), "info")
    assert ran.status == exits.CONNECTION
    assert "answered HTTP 404" in one_line(ran) and "the default path is /openicf" in ran.stderr


async def test_a_wrong_key_is_a_refusal_that_names_the_setting(memory: ConnectorServer) -> None:
    ran = await client(memory.url, "info", key="not-the-key")
    assert ran.status == exits.REFUSED
    assert one_line(ran) == (
        "org.identityconnectors.framework.common.exceptions.InvalidCredentialException: "
        "the server refused the key (HTTP 403): the key must be the one whose hash is "
        "connectorserver.key (RCS_KEY, --key-file)"
    )


async def test_repeated_wrong_keys_are_refused_not_timed_out() -> None:
    # After a wrong key the server throttles the address (429, the key unchecked): each try
    # still reads "refused the key" with exit status 1, never a timeout.
    defaults = settings(auth_failure_delay_s=0.5, auth_failure_delay_max_s=3.0)
    async with ConnectorServer(defaults, registry(), {}) as server:
        for _ in range(6):
            ran = await client(server.url, "info", key="guess")
            assert ran.status == exits.REFUSED, ran.stderr
            assert "refused the key" in one_line(ran)


def test_the_default_slow_down_stays_well_within_the_upgrade_timeout() -> None:
    from server.settings import ServerSettings

    defaults = ServerSettings()
    assert defaults.auth_failure_delay_max_s * 3 <= defaults.open_timeout_s


# -- the command line ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("create", "memory", "contact", "--attr", "firstname"), "--attr 'firstname': expected "),
        (("create", "memory", "contact", "--attr", "n:=nope"), "--attr n:=nope: the value after "),
        (("create", "memory", "contact", "--json", "[1]"), "--json must be an object"),
        (("search", "memory", "contacts"),
         "'contacts' is not an object class of configuration 'memory'; it has: "),
        (("info", "--key-file", "/nonexistent/key"), None),
    ],
)  # fmt: skip
async def test_command_line_mistakes_are_not_dressed_as_java_exceptions(
    memory: ConnectorServer, args: tuple[str, ...], says: str | None
) -> None:
    if args[1:2] == ("--key-file",):
        ran = await client(memory.url, "--key-file", args[2], args[0])
        says = "--key-file /nonexistent/key: No such file or directory"
    else:
        ran = await client(memory.url, *args)
    assert ran.status == exits.USAGE
    message = one_line(ran)
    assert says is not None and message.startswith(PROG + says), message
    assert "Exception" not in message and "org.identityconnectors" not in message


@pytest.mark.parametrize(
    ("query_filter", "says"),
    [
        ('lastname eq "Smi', 'the string opened by " is not closed (at character 13):'),
        ("lastname eq", "the filter ends too early: a value was expected (at the end of"),
    ],
)
async def test_a_filter_that_cannot_be_read_shows_where(
    memory: ConnectorServer, query_filter: str, says: str
) -> None:
    ran = await client(memory.url, "search", "memory", "contact", "--query-filter", query_filter)
    assert ran.status == exits.USAGE
    first, shown, caret = ran.stderr.splitlines()
    assert first.startswith(f"{PROG}--query-filter: {says}")
    assert shown.strip() == query_filter and caret.strip() == "^"
    assert "Exception" not in ran.stderr


async def test_an_unknown_option_is_argparse_usage(memory: ConnectorServer) -> None:
    ran = await client(memory.url, "search", "memory", "contact", "--order", "lastname")
    assert ran.status == exits.USAGE
    assert "hubspot-rcs-client: error: unrecognized arguments: --order lastname" in ran.stderr


async def test_a_refusal_by_the_connector_keeps_its_icf_class(memory: ConnectorServer) -> None:
    ran = await client(memory.url, "get", "memory", "contact", "999")
    assert ran.status == exits.REFUSED
    assert one_line(ran).startswith(
        "org.identityconnectors.framework.common.exceptions.UnknownUidException: "
    )


async def test_ctrl_c_is_interrupted_130(memory: ConnectorServer, tmp_path: Path) -> None:
    document = provisioner_document(virtualObjects=1_000_000)
    path = tmp_path / "many.json"
    path.write_text(json.dumps(document))
    process = await asyncio.create_subprocess_exec(
        *command("hubspot-rcs-client"), "--url", memory.url, "search", f"@{path}", "contact",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=os.environ | {"RCS_KEY": KEY},
    )  # fmt: skip
    assert process.stdout is not None and process.stderr is not None
    await process.stdout.readline()  # the search is streaming
    process.send_signal(signal.SIGINT)
    _, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == exits.INTERRUPTED
    assert err.decode() == f"{PROG}interrupted\n"


async def test_test_at_file_names_the_configuration_by_its_name(
    memory: ConnectorServer, tmp_path: Path
) -> None:
    document = {"name": "crm-memory", **provisioner_document(seed=3)}
    named = tmp_path / "provisioner.openicf-other.json"
    named.write_text(json.dumps(document))
    ran = await client(memory.url, "test", f"@{named}")
    assert ran.status == exits.OK, ran.stderr
    report = json.loads(ran.stdout)
    assert report["name"] == "crm-memory"
    assert report["config"] == "config/provisioner.openicf/crm-memory"
    del document["name"]
    named.write_text(json.dumps(document))  # no name: IDM's file name says it
    report = json.loads((await client(memory.url, "test", f"@{named}")).stdout)
    assert report["name"] == "other"


# -- against HubSpot (the demo) -----------------------------------------------------------------


async def test_a_script_that_raises_reports_the_scripts_error(demo: Demo) -> None:
    text = "total = arguments['n']\nreturn total / 0"
    ran = await client(demo.url, "script", "hubspot", "--language", "python", "--text", text,
                       "--arg", "n:=1")  # fmt: skip
    assert ran.status == exits.REFUSED
    assert one_line(ran) == (
        "org.identityconnectors.framework.common.exceptions.ConnectorException: "
        "the script raised ZeroDivisionError: division by zero (line 2)"
    )


async def test_count_policy_exact_is_honoured_or_refused(demo: Demo) -> None:
    for args in (
        ("--page-size", "5"),  # HubSpot's list endpoint, which has no total: counted apart
        ("--query-filter", 'lastname eq "Smith"'),  # every match read: counted
    ):
        ran = await client(demo.url, "search", "hubspot", "contact", "--count-policy", "EXACT",
                           *args)  # fmt: skip
        assert ran.status == exits.OK, (args, ran.stderr)
        *objects, last = [json.loads(line) for line in ran.stdout.splitlines()]
        result = last["searchResult"]
        assert result["totalPagedResultsPolicy"] == "EXACT", args
        expected = 500 if args[0] == "--page-size" else len(objects)
        assert result["totalPagedResults"] == expected > 0
    # A page of a search HubSpot cannot count exactly (its text match is case-insensitive and
    # the connector refines it): the page is written, and the missing count is an error.
    ran = await client(demo.url, "search", "hubspot", "contact", "--count-policy", "EXACT",
                       "--page-size", "2", "--query-filter", 'lastname eq "Smith"')  # fmt: skip
    assert ran.status == exits.REFUSED
    assert one_line(ran) == (
        "hubspot-rcs-client: --count-policy EXACT: the connector did not count the matches "
        "for this search (its SearchResult has no exact totalPagedResults)"
    )
    assert json.loads(ran.stdout.splitlines()[-1])["searchResult"]["pagedResultsCookie"]
