"""`hubspot-rcs demo` as a fixture: the server and its emulator in real processes, on free ports."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.server.test_demo import banner, start_demo


@dataclass(frozen=True)
class Demo:
    url: str
    """The connector server, ws://127.0.0.1:<port>/openicf."""
    emulator_url: str
    """The HubSpot emulator behind it, http://127.0.0.1:<port>."""


@contextlib.contextmanager
def running_demo(scratch: Path) -> Iterator[Demo]:
    """`hubspot-rcs demo --port 0` with `RCS_KEY=KEY`, stopped with Ctrl-C (SIGINT) at exit."""
    process = start_demo(scratch, 0, contacts=500, companies=50)
    try:
        printed = banner(process)
        words = [w for line in printed for w in line.split()]
        url = next(w for w in words if w.startswith("ws://"))
        emulator_url = next(w for w in words if w.startswith("http://"))
        yield Demo(url, emulator_url)
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
