"""The client examples of docs/operations.md run as written against the demo.

They use IDM's forms (`email`, `name`, `_id`, single quotes in a filter): the demo's provisioner
file carries the `objectTypes` IDM would write, and the connector takes HubSpot's names too.
Only the script example is left out: the demo does not enable scripting.
"""

from __future__ import annotations

import re
import shlex
import signal
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import command
from tests.server.test_demo import banner, free_port, run_printed, start_demo

DOC = Path(__file__).resolve().parents[2] / "docs" / "operations.md"


def examples() -> list[str]:
    """The `hubspot-rcs-client` lines of the command-line client section, continuations joined
    and trailing comments dropped."""
    section = DOC.read_text().split("## The command-line client", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, flags=re.S)
    assert block is not None
    text = block.group(1).replace("\\\n", " ")
    found = []
    for line in text.splitlines():
        line = re.sub(r"\s+#.*$", "", line.strip())
        # `> page1.jsonl` and `$cookie` are the shell's: tests/docs/test_examples.py runs the
        # block as written; here each line runs alone, the cookie put in by the test.
        if line.startswith("hubspot-rcs-client ") and " script " not in line and " > " not in line:
            found.append(line)
    return found


def run(line: str, url: str, cwd: Path) -> list[Any]:
    """Run a documented `hubspot-rcs-client ...` line against the server at `url`."""
    client = shlex.join([*command("hubspot-rcs-client"), "--url", url])
    if line.split()[1:] == ["info"]:
        line += " --json"  # as written it prints a table (run as written by tests/docs)
    return run_printed(f"{client} {line.removeprefix('hubspot-rcs-client ')}", cwd)


def test_the_examples_name_idm_forms() -> None:
    text = "\n".join(examples())
    for form in ("email sw", "--attributes email", "--attr email=", "name co", "_id eq"):
        assert form in text


@pytest.mark.timeout(180)
def test_the_client_examples_run_against_the_demo(tmp_path: Path) -> None:
    port = free_port()
    demo = start_demo(tmp_path, port, contacts=200, companies=40)
    url = f"ws://127.0.0.1:{port}/openicf"
    outputs: dict[str, list[Any]] = {}
    try:
        banner(demo)
        *_, first = run("hubspot-rcs-client search hubspot contact --page-size 100", url, tmp_path)
        cookie = first["searchResult"]["pagedResultsCookie"]
        for line in examples():
            outputs[line] = run(line.replace('"$cookie"', cookie), url, tmp_path)
        created = next(out for line, out in outputs.items() if " create " in line)[0]["value"]
        by_email = "--query-filter 'email eq \"ann@example.com\"'"
        *anns, _ = run(f"hubspot-rcs-client search hubspot contact {by_email}", url, tmp_path)
        assert [a["_id"] for a in anns] == [created]
    finally:
        demo.send_signal(signal.SIGINT)
        demo.wait(timeout=60)

    def output(fragment: str) -> list[Any]:
        return next(out for line, out in outputs.items() if fragment in line)

    [tested] = output(" test hubspot")
    assert tested["ok"] is True and tested["displayName"] == "HubSpot Connector"
    assert {"__ALL__", "contact", "company"} <= set(tested["objectTypes"])
    [systems] = next(out for line, out in outputs.items() if line.endswith(" test"))
    assert [s["name"] for s in systems] == ["hubspot"]
    *found, _ = output('email sw "ann"')
    assert all(o["email"].startswith("ann") and o["lastname"] == "Lee" for o in found)
    *by_id, _ = output("_id eq 1001")
    assert [o["_id"] for o in by_id] == ["1001"]  # ann@example.com is created further down
    *companies, _ = output('name co "Inc"')
    assert companies and all(
        "Inc" in c["name"] and set(c) <= {"_id", "_rev", "name", "domain"} for c in companies
    )
    [one] = output("get hubspot contact 1001")
    assert one["_id"] == "1001" and "@" in one["email"] and set(one) <= {"_id", "_rev", "email"}
