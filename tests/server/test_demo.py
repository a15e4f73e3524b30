"""`hubspot-rcs demo` as a user runs it: a real process, the commands it prints, then Ctrl-C."""

from __future__ import annotations

import json
import os
import shlex
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from client.connection import RcsClient
from server.secrets.envelope import Place, decrypt
from server.secrets.jsonedit import json_path
from server.secrets.keystore import Keystore
from tests.conftest import KEY, command

PROVISIONER = "provisioner.openicf-hubspot.json"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (from /proc: no library needed, Linux only)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # the process left while we looked
            continue
        # `pid (comm) state ppid ...`; comm may hold spaces and parentheses
        if int(text.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def banner(process: subprocess.Popen[str]) -> list[str]:
    """The lines the demo prints once ready (log lines on the same stdout are skipped)."""
    assert process.stdout is not None
    lines: list[str] = []
    for line in process.stdout:
        if line.startswith("{"):  # a JSON log line
            continue
        lines.append(line.rstrip("\n"))
        if "hubspot-rcs-client" in line and " create " in line:  # the last command printed
            return lines
    stderr = process.stderr.read() if process.stderr else ""
    raise AssertionError(f"the demo printed no commands; stdout: {lines}; stderr: {stderr}")


def start_demo(cwd: Path, port: int, *, contacts: int, companies: int) -> subprocess.Popen[str]:
    """`hubspot-rcs demo` on `port`, its configuration in `cwd/demo`, as a user starts it."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("RCS_")}
    return subprocess.Popen(
        [
            *command("hubspot-rcs"),
            *("demo", "--port", str(port), "--dir", str(cwd / "demo")),
            *("--contacts", str(contacts), "--companies", str(companies)),
        ],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environ | {"RCS_KEY": KEY, "RCS_LOG_FORMAT": "json"},
    )


def run_printed(line: str, cwd: Path) -> list[dict[str, Any]]:
    """Run one printed client command as a user would paste it; its JSON output lines."""
    result = subprocess.run(
        shlex.split(line),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=os.environ | {"RCS_KEY": KEY},
    )
    assert result.returncode == 0, f"{line}\n{result.stderr}"
    return [json.loads(output) for output in result.stdout.splitlines()]


@pytest.mark.timeout(120)
async def test_the_demo_serves_hubspot_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    port = free_port()
    conf = tmp_path / "demo"
    demo = start_demo(tmp_path, port, contacts=300, companies=30)
    try:
        printed = banner(demo)
        url = f"ws://127.0.0.1:{port}/openicf"
        assert any(url in line for line in printed)
        assert any("300 contacts, 30 companies" in line for line in printed)
        emulator_url = next(w for line in printed for w in line.split() if w.startswith("http:"))
        [emulator] = children(demo.pid)
        assert "hubspot-rcs-emulator" in Path(f"/proc/{emulator}/cmdline").read_text()

        commands = [line.strip() for line in printed if "hubspot-rcs-client" in line]
        # client --url URL <command> hubspot ...
        assert [shlex.split(c)[3:5] for c in commands] == [
            ["test", "hubspot"],
            ["search", "hubspot"],
            ["search", "hubspot"],
            ["create", "hubspot"],
        ]
        [tested] = run_printed(commands[0], tmp_path)
        assert tested["ok"] is True and "contact" in tested["objectTypes"]
        assert tested["displayName"] == "HubSpot Connector"
        # the provisioner file carries objectTypes, so objects print under IDM's names
        *smiths, result = run_printed(commands[1], tmp_path)
        assert smiths and {c["lastname"] for c in smiths} == {"Smith"}
        assert all(set(c) >= {"_id", "email", "firstname"} for c in smiths)
        assert "remainingPagedResults" in result["searchResult"]
        *companies, result = run_printed(commands[2], tmp_path)
        assert len(companies) == 5 and result["searchResult"]["pagedResultsCookie"]
        assert all(set(c) == {"_id", "_rev", "name", "domain"} for c in companies)
        [uid] = run_printed(commands[3], tmp_path)

        async with await RcsClient.connect(url, KEY) as client:
            hubspot = await client.facade("hubspot")
            created = await hubspot.get("contact", uid["value"])
            assert created is not None and created.name == "ann.lee@example.com"
            assert created.attributes["firstname"] == ["Ann"]
    finally:
        demo.send_signal(signal.SIGINT)
        status = demo.wait(timeout=60)
    assert status == 0, demo.stderr.read() if demo.stderr else ""

    # The emulator went with it: reaped (no /proc entry), its port closed.
    deadline = time.monotonic() + 10
    while Path(f"/proc/{emulator}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not Path(f"/proc/{emulator}").exists()
    address = urlsplit(emulator_url)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((address.hostname, address.port), timeout=2).close()

    # The secrets went into the file in plain text and came out encrypted, nowhere else plain.
    properties = json.loads((conf / PROVISIONER).read_text())["configurationProperties"]
    keystore = Keystore.load(conf / "keys" / "keystore.json")
    for name in ("clientSecret", "refreshToken"):
        assert set(properties[name]) == {"$crypto"}
        place = Place(PROVISIONER, json_path(["configurationProperties", name]))
        plain = decrypt(keystore, properties[name], place).encode()
        for path in tmp_path.rglob("*"):
            assert not path.is_file() or plain not in path.read_bytes(), path
    assert (conf / PROVISIONER).stat().st_mode & 0o077 == 0


def test_a_taken_port_stops_the_demo_before_anything_starts(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [*command("hubspot-rcs"), "demo", "--port", str(port), "--dir", str(tmp_path / "d")],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr and "--port" in result.stderr
    assert not (tmp_path / "d").exists()
