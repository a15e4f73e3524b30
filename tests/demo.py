"""`hubspot-rcs demo` as a fixture: the server and its emulator in real processes, on free ports."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import KEY, command


@dataclass(frozen=True)
class Demo:
    url: str
    """The connector server, ws://127.0.0.1:<port>/openicf."""
    emulator_url: str
    """The HubSpot emulator behind it, http://127.0.0.1:<port>."""


def start_demo(cwd: Path, *args: str) -> subprocess.Popen[str]:
    """`hubspot-rcs demo ARGS` in `cwd`, with `RCS_KEY=KEY`, JSON logs, no other RCS_ setting."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("RCS_")}
    return subprocess.Popen(
        [*command("hubspot-rcs"), "demo", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environ | {"RCS_KEY": KEY, "RCS_LOG_FORMAT": "json"},
    )


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


@contextlib.contextmanager
def running_demo(scratch: Path) -> Iterator[Demo]:
    """`hubspot-rcs demo --port 0` with `RCS_KEY=KEY`, stopped with Ctrl-C (SIGINT) at exit."""
    process = start_demo(scratch, "--port", "0", "--dir", str(scratch / "demo"))
    try:
        printed = banner(process)
        words = [w for line in printed for w in line.split()]
        url = next(w for w in words if w.startswith("ws://"))
        emulator_url = next(w for w in words if w.startswith("http://"))
        yield Demo(url, emulator_url)
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
