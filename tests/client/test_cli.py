"""The two commands as an operator runs them: `hubspot-rcs serve` and `hubspot-rcs-client`.

One real server process on a tmp conf dir (never the tracked `conf/`), real client processes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from client.cli import parse_attributes, parse_sort_keys
from protocol.values import SortKey
from tests.conftest import KEY, KEY_HASH, MEMORY_KEY, command, serve


@dataclass
class Served:
    process: subprocess.Popen[str]
    url: str
    conf: Path


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    conf = tmp_path_factory.mktemp("conf")
    (conf / "ConnectorServer.properties").write_text(
        f"connectorserver.port=0\nconnectorserver.key={KEY_HASH}\n"
        "connectorserver.memoryConnectorEnabled=true\n"
    )
    provisioner = {
        "connectorRef": MEMORY_KEY.model_dump() | {"bundleVersion": "[1.0,2.0)"},
        "configurationProperties": {"seed": 40, "pageSize": 7},
        "poolConfigOption": {"maxObjects": 4, "maxIdle": 4},
        "operationTimeout": {"TEST": 10000},
    }
    (conf / "provisioner.openicf-memory.json").write_text(json.dumps(provisioner))
    process, url = serve(conf)
    yield Served(process, url, conf)
    if process.poll() is None:
        process.kill()
        process.wait()


def client(served: Served, *args: str, key: str = KEY) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"RCS_KEY": key}
    return subprocess.run(
        [*command("hubspot-rcs-client"), "--url", served.url, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def lines(result: subprocess.CompletedProcess[str]) -> list[Any]:
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_info_lists_the_connector_and_the_configuration(served: Served) -> None:
    [info] = lines(client(served, "info", "--json"))
    assert MEMORY_KEY.model_dump() in [c["connectorKey"] for c in info["connectors"]]
    assert [c["name"] for c in info["configurations"]] == ["memory"]


def test_test_prints_what_idm_prints(served: Served) -> None:
    [report] = lines(client(served, "test", "memory"))
    assert report == {
        "name": "memory",
        "enabled": True,
        "config": "config/provisioner.openicf/memory",
        "connectorRef": MEMORY_KEY.model_dump() | {"bundleVersion": "[1.0,2.0)"},
        "displayName": "In-memory Connector",
        "objectTypes": ["__ALL__", "company", "contact"],
        "ok": True,
    }


def test_search_writes_objects_then_the_search_result(served: Served) -> None:
    out = lines(
        client(
            served,
            "search",
            "memory",
            "contact",
            "--query-filter",
            'firstname sw "First1" and lastname eq "Last12"',
        )
    )
    assert [o["uid"]["value"] for o in out[:-1]] == ["12"]
    assert out[-1]["searchResult"] == {
        "remainingPagedResults": -1,
        "totalPagedResultsPolicy": "NONE",
        "totalPagedResults": -1,
    }
    page = lines(
        client(
            served, "search", "memory", "contact", "--page-size", "3", "--sort-keys=-firstname",
            "--attributes", "firstname", "--count-policy", "EXACT",
        )
    )  # fmt: skip
    assert [o["attributes"] for o in page[:-1]] == [
        {"firstname": ["First9"]},
        {"firstname": ["First8"]},
        {"firstname": ["First7"]},
    ]
    result = page[-1]["searchResult"]
    assert result["totalPagedResults"] == 40 and result["pagedResultsCookie"]
    after = lines(
        client(
            served, "search", "memory", "contact", "--page-size", "2", "--sort-keys=-firstname",
            "--cookie", result["pagedResultsCookie"],
        )
    )  # fmt: skip
    assert [o["attributes"]["firstname"] for o in after[:-1]] == [["First6"], ["First5"]]


def test_create_get_update_delete_script(served: Served) -> None:
    [uid] = lines(
        client(
            served, "create", "memory", "company", "--attr", "__NAME__=Acme",
            "--attr", "tags=a", "--json", '{"size": 42}',
        )
    )  # fmt: skip
    [found] = lines(client(served, "get", "memory", "company", uid["value"]))
    assert found["name"] == "Acme" and found["attributes"] == {"tags": ["a"], "size": [42]}
    [uid] = lines(
        client(served, "update", "memory", "company", uid["value"], "--add", "--attr", "tags=b")
    )
    [found] = lines(client(served, "get", "memory", "company", uid["value"]))
    assert found["attributes"]["tags"] == ["a", "b"] and found["uid"] == uid
    stale = client(served, "update", "memory", "company", uid["value"], "--revision", "1",
                   "--attr", "tags=")  # fmt: skip
    assert stale.returncode == 1
    assert stale.stderr.startswith(
        "org.identityconnectors.framework.common.exceptions.PreconditionFailedException: "
    )
    assert lines(client(served, "delete", "memory", "company", uid["value"])) == [{}]
    gone = client(served, "get", "memory", "company", uid["value"])
    assert gone.returncode == 1 and "UnknownUidException" in gone.stderr
    assert lines(
        client(served, "script", "memory", "--language", "count", "--text", "contact")
    ) == [40]


def test_a_connector_can_persist_a_property_encrypted(served: Served) -> None:
    assert lines(
        client(served, "script", "memory", "--language", "persist", "--text", "apiKey",
               "--arg", "value=rotated-token")
    ) == [True]  # fmt: skip
    stored = json.loads((served.conf / "provisioner.openicf-memory.json").read_text())
    assert "$crypto" in stored["configurationProperties"]["apiKey"]
    assert "rotated-token" not in json.dumps(stored)


def test_schema(served: Served) -> None:
    [schema] = lines(client(served, "schema", "memory"))
    assert {c["type"] for c in schema["objectClasses"]} == {"contact", "company"}


@pytest.mark.parametrize(
    ("args", "status", "says"),
    [
        (("test", "nope"), 1, "ConfigurationException: unknown configuration 'nope'"),
        (("search", "memory", "contact", "--query-filter", "a eq"), 2, "ends too early"),
        (
            ("search", "memory", "nothing"),
            2,
            "'nothing' is not an object class of configuration 'memory'; it has: ",
        ),
    ],
)
def test_errors_go_to_stderr_with_the_icf_class(
    served: Served, args: tuple[str, ...], status: int, says: str
) -> None:
    result = client(served, *args)
    assert result.returncode == status and says in result.stderr


def test_a_wrong_key_is_refused(served: Served) -> None:
    result = client(served, "info", key="not-the-key")
    assert result.returncode == 1
    assert "InvalidCredentialException: the server refused the key (HTTP 403)" in result.stderr


def test_inline_provisioner_file(served: Served, tmp_path: Path) -> None:
    document = json.loads((served.conf / "provisioner.openicf-memory.json").read_text())
    document["configurationProperties"] = {"seed": 2}
    path = tmp_path / "inline.json"
    path.write_text(json.dumps(document))
    out = lines(client(served, "search", f"@{path}", "contact"))
    assert len(out) == 3


def test_a_reader_that_goes_away_stops_the_search_quietly(served: Served, tmp_path: Path) -> None:
    document = json.loads((served.conf / "provisioner.openicf-memory.json").read_text())
    document["configurationProperties"] = {"virtualObjects": 200_000}
    path = tmp_path / "many.json"
    path.write_text(json.dumps(document))
    reader = subprocess.Popen(
        [*command("hubspot-rcs-client"), "--url", served.url, "search", f"@{path}", "contact"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ | {"RCS_KEY": KEY},
    )
    assert reader.stdout is not None and reader.stderr is not None
    assert json.loads(reader.stdout.readline())["objectClass"] == "contact"
    reader.stdout.close()  # as `| head -1` does
    assert reader.wait(timeout=60) == 141
    assert reader.stderr.read() == ""


def test_sigterm_drains_and_exits_cleanly(served: Served) -> None:
    served.process.send_signal(signal.SIGTERM)
    assert served.process.wait(timeout=30) == 0
    assert served.process.stdout is not None
    events = [json.loads(line)["event"] for line in served.process.stdout]
    assert "server.draining" in events and events[-1] == "server.stopped"


def test_attribute_arguments() -> None:
    assert parse_attributes(["a=1", "a=2", "n:=3", "empty="], '{"j": ["x"], "k": null}') == {
        "j": ["x"],
        "k": [],
        "a": ["1", "2"],
        "n": [3],
        "empty": [],
    }
    assert parse_sort_keys("lastname,-firstname") == [
        SortKey(field="lastname"),
        SortKey(field="firstname", ascending=False),
    ]
