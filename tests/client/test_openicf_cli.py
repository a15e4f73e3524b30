"""`hubspot-rcs-client --protocol openicf`: the same commands print the same thing as on JSON.

Each protocol gets a fresh stack of real processes: a seeded `hubspot-rcs-emulator`, a
`hubspot-rcs serve` on a tmp conf dir (port 0) hosting the in-memory and HubSpot connectors, and
one `hubspot-rcs-client` process per command. Configurations are provisioner files given as
`@FILE`, as IDM sends its own with every request.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from connector.hubspot import HubspotConnector
from tests.client.test_idm_dialect import ACCOUNT
from tests.client.test_openicf_connection import same_schema, without_clock
from tests.conftest import KEY, KEY_HASH, MEMORY_KEY, command, serve


@dataclass
class Stack:
    url: str
    memory: Path
    hubspot: Path
    directory: Path


@contextmanager
def stack(tmp: Path) -> Iterator[Stack]:
    """Emulator and server processes, and provisioner files for both connectors."""
    tmp.mkdir(parents=True, exist_ok=True)
    ready = tmp / "emulator.json"
    emulator = subprocess.Popen(
        [sys.executable, "-m", "emulator.cli", "--port", "0", "--contacts", "30",
         "--companies", "4", "--seed", "5", "--no-rate-limits", "--ready-file", str(ready)],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    server: subprocess.Popen[str] | None = None
    try:
        for _ in range(600):
            if ready.exists() and ready.read_text().endswith("\n"):
                break
            time.sleep(0.05)
        hub = json.loads(ready.read_text())
        conf = tmp / "conf"
        conf.mkdir()
        (conf / "ConnectorServer.properties").write_text(
            f"connectorserver.port=0\nconnectorserver.key={KEY_HASH}\n"
            "connectorserver.memoryConnectorEnabled=true\n"
        )
        memory = tmp / "provisioner.openicf-memory.json"
        memory.write_text(
            json.dumps(
                {
                    "connectorRef": MEMORY_KEY.model_dump() | {"bundleVersion": "[1.0,2.0)"},
                    "configurationProperties": {"seed": 40, "pageSize": 7},
                }
            )
        )
        directory = tmp / "provisioner.openicf-directory.json"  # with IDM's objectTypes
        directory.write_text(
            json.dumps(
                {
                    "connectorRef": MEMORY_KEY.model_dump() | {"bundleVersion": "[1.0,2.0)"},
                    "configurationProperties": {"seed": 30},
                    "objectTypes": {"account": ACCOUNT},
                }
            )
        )
        hubspot = tmp / "provisioner.openicf-hubspot.json"
        hubspot.write_text(
            json.dumps(
                {
                    "connectorRef": HubspotConnector.connector_key.model_dump()
                    | {"bundleVersion": "[1.5.0.0,1.6.0.0)", "connectorHostRef": "rcs"},
                    "configurationProperties": {
                        "clientId": hub["client_id"],
                        "clientSecret": hub["client_secret"],
                        "refreshToken": hub["refresh_token"],
                        "apiBaseUrl": hub["base_url"],
                        "permitsPerSecond": "1000",
                        "searchRequestsPerSecond": "1000",
                    },
                }
            )
        )
        server, url = serve(conf)
        for pipe in (server.stdout, server.stderr):
            # Drain its logs: an unread pipe fills (64 KiB) and the server would stop on a write.
            threading.Thread(target=pipe.read, daemon=True).start()  # type: ignore[union-attr]
        yield Stack(url, memory, hubspot, directory)
    finally:
        for process in (server, emulator):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait()


def client(url: str, protocol: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*command("hubspot-rcs-client"), "--url", url, "--protocol", protocol, *args],
        capture_output=True,
        text=True,
        env=os.environ | {"RCS_KEY": KEY},
        timeout=60,
        check=False,
    )


COMPANY = "41"
"""The uid of the company the commands create: the in-memory connector numbers its objects
across classes, after the 40 seeded contacts."""


def commands(s: Stack) -> list[list[str]]:
    memory, hubspot, directory = f"@{s.memory}", f"@{s.hubspot}", f"@{s.directory}"
    return [
        ["test", directory],
        ["search", directory, "account", "--query-filter", 'mail sw "user000001"',
         "--attributes", "mail,givenName", "--sort-keys=-givenName"],
        ["create", directory, "account", "--attr", "mail=ann@example.com", "--attr", "sn=Lee"],
        ["test", memory],
        ["validate", memory],
        ["schema", memory],
        ["create", memory, "company", "--attr", "__NAME__=Acme", "--attr", "tags=a",
         "--json", '{"size": 42}'],
        ["create", memory, "company", "--attr", "__NAME__=Acme"],
        ["get", memory, "company", COMPANY],
        ["update", memory, "company", COMPANY, "--add", "--attr", "tags=b"],
        ["update", memory, "company", COMPANY, "--remove", "--attr", "tags=a"],
        ["update", memory, "company", COMPANY, "--attr", "industry=tools", "--attr", "size="],
        ["update", memory, "company", COMPANY, "--revision", "1", "--attr", "x=y"],
        ["get", memory, "company", COMPANY, "--attributes", "industry"],
        ["search", memory, "contact"],
        ["search", memory, "contact", "--query-filter",
         'firstname sw "First1" and lastname eq "Last12"'],
        ["search", memory, "contact", "--page-size", "3", "--sort-keys=-firstname",
         "--attributes", "firstname", "--count-policy", "EXACT"],
        ["search", memory, "contact", "--page-size", "3", "--offset", "4"],
        ["search", memory, "nothing"],
        ["search", memory, "contact", "--query-filter", "false"],
        ["script", memory, "--language", "count", "--text", "contact"],
        ["script", memory, "--language", "echo", "--text", "hi", "--arg", "n:=1"],
        ["sync", memory, "company"],
        ["sync", memory, "company", "--token", "0"],
        ["delete", memory, "company", COMPANY],
        ["get", memory, "company", COMPANY],
        ["sync", memory, "company"],
        ["sync", memory, "company", "--token", "0"],
        ["delete", memory, "company", COMPANY],
        ["test", hubspot],
        ["schema", hubspot],
        ["search", hubspot, "contact", "--page-size", "10"],
        ["search", hubspot, "company", "--attributes", "name,domain"],
        ["search", hubspot, "contact", "--query-filter", 'lastname sw "A"',
         "--attributes", "email,lastname"],
        ["get", hubspot, "contact", "999999"],
    ]  # fmt: skip


def transcript(tmp: Path, protocol: str) -> list[tuple[int, str, str]]:
    """(exit status, stdout, stderr) of every command, with the tmp paths taken out."""
    with stack(tmp) as s:
        out = []
        for args in commands(s):
            result = client(s.url, protocol, *args)
            stdout = result.stdout
            if args[0] == "schema" and result.returncode == 0:
                stdout = json.dumps(same_schema(json.loads(stdout)))  # what both wires carry
            elif s.hubspot.name in " ".join(args) and result.returncode == 0:
                # The emulator dates its seeded records from the time it starts.
                stdout = "\n".join(
                    json.dumps(without_clock(json.loads(line))) for line in stdout.splitlines()
                )
            out.append(
                (
                    result.returncode,
                    stdout.replace(str(tmp), "<tmp>"),
                    result.stderr.replace(str(tmp), "<tmp>"),
                )
            )
        return out


def test_every_command_prints_the_same_on_both_wires(tmp_path: Path) -> None:
    json_wire = transcript(tmp_path / "json", "json")
    openicf = transcript(tmp_path / "openicf", "openicf")
    names = commands_names()
    create = names.index(
        'create @memory company --attr __NAME__=Acme --attr tags=a --json {"size": 42}'
    )
    assert json.loads(openicf[create][1])["value"] == COMPANY  # the later commands act on it
    for args, ours, theirs in zip(names, openicf, json_wire, strict=True):
        assert ours == theirs, args


def commands_names() -> list[str]:
    fake = Stack("", Path("memory"), Path("hubspot"), Path("directory"))  # names only
    return [" ".join(c) for c in commands(fake)]


@pytest.fixture(scope="module")
def openicf_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with stack(tmp_path_factory.mktemp("openicf")) as s:
        yield s


def test_info_lists_the_connectors_with_their_properties(openicf_stack: Stack) -> None:
    result = client(openicf_stack.url, "openicf", "info", "--json")
    assert result.returncode == 0, result.stderr
    info: dict[str, Any] = json.loads(result.stdout)
    assert info["configurations"] == []  # the OpenICF wire has no named configurations
    hubspot = next(
        c
        for c in info["connectors"]
        if c["connectorKey"] == HubspotConnector.connector_key.model_dump()
    )
    secrets = {p["name"] for p in hubspot["configurationProperties"] if p["confidential"]}
    assert {"clientSecret", "refreshToken"} <= secrets
    json_info = json.loads(client(openicf_stack.url, "json", "info", "--json").stdout)
    for ours, theirs in zip(info["connectors"], json_info["connectors"], strict=True):
        assert ours == theirs | {"objectClasses": []}


def test_a_configuration_name_is_refused_with_what_to_do(openicf_stack: Stack) -> None:
    result = client(openicf_stack.url, "openicf", "test", "hubspot")
    assert result.returncode == 2
    assert "@provisioner.openicf-hubspot.json" in result.stderr
    assert "--protocol json" in result.stderr
