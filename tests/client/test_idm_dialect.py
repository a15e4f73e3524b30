"""`hubspot-rcs-client` speaking IDM: objectTypes names, and `test` as IDM's system endpoint.

A real server process on a tmp conf dir whose provisioner files carry `objectTypes` and
`connectorRef.displayName` as IDM writes them; real client processes.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import KEY, KEY_HASH, MEMORY_KEY, command, serve

# IDM's names for the memory connector's contacts: an `account` whose `mail` is `__NAME__`.
ACCOUNT = {
    "$schema": "http://json-schema.org/draft-03/schema",
    "id": "__ACCOUNT__",
    "type": "object",
    "nativeType": "contact",
    "properties": {
        "mail": {"type": "string", "nativeName": "__NAME__", "nativeType": "string"},
        "givenName": {"type": "string", "nativeName": "firstname", "nativeType": "string"},
        "sn": {"type": "string", "nativeName": "lastname", "nativeType": "string"},
        "tags": {
            "type": "array",
            "items": {"type": "string", "nativeType": "string"},
            "nativeName": "tags",
            "nativeType": "string",
        },
    },
}
REF = MEMORY_KEY.model_dump() | {"bundleVersion": "[1.0,2.0)"}


@dataclass
class Served:
    url: str
    conf: Path


def provisioner(properties: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"connectorRef": dict(REF), "configurationProperties": properties, **extra}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    conf = tmp_path_factory.mktemp("conf")
    (conf / "ConnectorServer.properties").write_text(
        f"connectorserver.port=0\nconnectorserver.key={KEY_HASH}\n"
        "connectorserver.memoryConnectorEnabled=true\n"
    )
    files = {
        "directory": provisioner(
            {"seed": 30},
            objectTypes={"account": ACCOUNT},
        )
        | {"connectorRef": REF | {"displayName": "Directory", "systemType": "provisioner.openicf"}},
        "locked": provisioner({"apiKey": "wrong", "expectedApiKey": "right"}),
        "retired": provisioner({"seed": 1}, enabled=False),
    }
    for name, document in files.items():
        (conf / f"provisioner.openicf-{name}.json").write_text(json.dumps(document))
    process, url = serve(conf)
    yield Served(url, conf)
    process.kill()
    process.wait()


def run(served: Served, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*command("hubspot-rcs-client"), "--url", served.url, *args],
        capture_output=True,
        text=True,
        env=os.environ | {"RCS_KEY": KEY},
        timeout=60,
        check=False,
    )


def lines(result: subprocess.CompletedProcess[str]) -> list[Any]:
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_test_without_a_name_lists_every_system_as_idm_does(served: Served) -> None:
    [systems] = lines(run(served, "test"))
    ref = {k: REF[k] for k in ("bundleName", "bundleVersion", "connectorName")}
    assert systems == [
        {
            "name": "directory",
            "enabled": True,
            "config": "config/provisioner.openicf/directory",
            "connectorRef": ref,
            "displayName": "Directory",
            "objectTypes": ["__ALL__", "account"],
            "ok": True,
        },
        {
            "name": "locked",
            "enabled": True,
            "config": "config/provisioner.openicf/locked",
            "connectorRef": ref,
            "displayName": "In-memory Connector",
            "objectTypes": ["__ALL__", "company", "contact"],
            "error": "Connection Error",
            "ok": False,
        },
        {
            "name": "retired",
            "enabled": False,
            "config": "config/provisioner.openicf/retired",
            "connectorRef": ref,
            "displayName": "In-memory Connector",
            "objectTypes": ["__ALL__", "company", "contact"],
            "error": "connector not available",
            "ok": False,
        },
    ]


def test_a_failing_test_prints_idms_report_and_the_cause(served: Served) -> None:
    result = run(served, "test", "locked")
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert (report["ok"], report["error"]) == (False, "Connection Error")
    assert "InvalidCredentialException: apiKey is not the expected key" in result.stderr
    disabled = run(served, "test", "retired")
    assert disabled.returncode == 1
    assert json.loads(disabled.stdout)["error"] == "connector not available"
    assert "disabled" in disabled.stderr


def test_idm_names_in_filters_attributes_and_output(served: Served) -> None:
    *found, result = lines(
        run(
            served,
            *("search", "directory", "account"),
            *("--query-filter", "givenName eq 'First7' or _id eq 9"),
            *("--attributes", "mail,givenName", "--sort-keys=-givenName"),
        )
    )
    assert found == [
        {"_id": "9", "_rev": "1", "mail": "user0000009@example.com", "givenName": "First9"},
        {"_id": "7", "_rev": "1", "mail": "user0000007@example.com", "givenName": "First7"},
    ]
    assert "remainingPagedResults" in result["searchResult"]
    *by_mail, _ = lines(
        run(
            served,
            *("search", "directory", "account", "--query-filter"),
            'mail sw "user000001" and !(sn eq "Last11")',
        )
    )
    assert sorted(o["_id"] for o in by_mail) == [str(n) for n in range(10, 20) if n != 11]
    # what objectTypes does not declare is kept, under the connector's name and as a list
    first = by_mail[0]
    assert set(first) == {"_id", "_rev", "mail", "givenName", "sn", "phone", "lifecyclestage"}
    assert first["lifecyclestage"] == ["lead"] and isinstance(first["sn"], str)


def test_idm_names_in_writes(served: Served) -> None:
    [uid] = lines(
        run(
            served,
            *("create", "directory", "account"),
            *("--attr", "mail=idm@example.com", "--attr", "givenName=Idm", "--attr", "tags=a"),
        )
    )
    lines(run(served, "update", "directory", "account", uid["value"], "--attr", "sn=Names"))
    [got] = lines(run(served, "get", "directory", "account", uid["value"]))
    assert got == {
        "_id": uid["value"],
        "_rev": "2",
        "mail": "idm@example.com",
        "givenName": "Idm",
        "sn": "Names",
        "tags": ["a"],
    }
    refused = run(served, "create", "directory", "account", "--attr", "nickname=N")
    assert refused.returncode == 1
    assert "no attribute 'nickname'" in refused.stderr


def test_a_local_provisioner_file_brings_its_object_types(served: Served, tmp_path: Path) -> None:
    path = tmp_path / "provisioner.openicf-inline.json"
    path.write_text(
        json.dumps(provisioner({"seed": 12}, objectTypes={"person": ACCOUNT | {"id": "person"}}))
    )
    *found, _ = lines(
        run(served, "search", f"@{path}", "person", "--query-filter", "_id eq 3 or _id eq '4'")
    )
    assert [(o["_id"], o["mail"]) for o in found] == [
        ("3", "user0000003@example.com"),
        ("4", "user0000004@example.com"),
    ]
    [report] = lines(run(served, "test", f"@{path}"))
    assert report["name"] == "inline" and report["objectTypes"] == ["__ALL__", "person"]
