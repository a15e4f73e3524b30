"""The shell examples of the documentation, run as written.

A fenced block whose info string is `sh` is run by bash (`-e -o pipefail`) in a scratch
directory holding a copy of `conf/`, with the project's commands on `PATH`, `RCS_KEY` set and
`RCS_URL` pointing at a running `hubspot-rcs demo` (or, for a block that starts its own
`hubspot-rcs serve`, `RCS_PORT` and `RCS_URL` at a free port). A block marked
`sh illustration` is shown, not run: it needs what a test cannot have (root, Docker, a real
HubSpot, a server in the foreground). Every fence says what it holds: `sh`, `sh illustration`,
`text` for output, `json`, `properties`, `yaml`, `python`.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import KEY, command
from tests.demo import running_demo

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", ROOT / "conf" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(?P<info>[^\n`]*)\n(?P<body>.*?)^```\s*$", re.MULTILINE | re.DOTALL)
LANGUAGES = {"sh", "text", "json", "properties", "yaml", "python"}
ILLUSTRATION = "illustration"
BLOCK_TIMEOUT_S = 180


@dataclass(frozen=True)
class Block:
    document: Path
    line: int
    info: str
    body: str

    @property
    def runs(self) -> bool:
        return self.info == "sh"

    def __str__(self) -> str:
        return f"{self.document.relative_to(ROOT)}:{self.line}"


def blocks() -> list[Block]:
    found = []
    for document in DOCUMENTS:
        text = document.read_text()
        for match in FENCE.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            found.append(Block(document, line, match["info"].strip(), match["body"]))
    return found


def shell_blocks() -> list[Block]:
    return [b for b in blocks() if b.runs]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_every_fence_says_what_it_holds() -> None:
    wrong = [
        f"{b}: ```{b.info}"
        for b in blocks()
        if b.info.split(" ")[0] not in LANGUAGES
        or (b.info.startswith("sh ") and b.info != f"sh {ILLUSTRATION}")
    ]
    assert not wrong, "\n".join(wrong)


def test_the_documentation_has_examples_that_run() -> None:
    assert len(shell_blocks()) >= 5


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`hubspot-rcs demo` on a free port, as `make run` starts it; its URL."""
    with running_demo(tmp_path_factory.mktemp("demo")) as running:
        yield running.url


def run_block(block: Block, cwd: Path, url: str, port: int | None) -> None:
    shutil.copytree(ROOT / "conf", cwd / "conf")
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("RCS_", "HUBSPOT_"))}
    bin_dir = str(Path(command("hubspot-rcs")[0]).parent)
    environ |= {
        "PATH": f"{bin_dir}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}{environ['PATH']}",
        "RCS_KEY": KEY,
        "RCS_URL": url,
        "RCS_LOG_FORMAT": "json",
    }
    if port is not None:
        environ["RCS_PORT"] = str(port)
    process = subprocess.Popen(
        ["bash", "-e", "-o", "pipefail", "-c", block.body],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=environ,
        start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=BLOCK_TIMEOUT_S)
    finally:
        # A block that started a server in the background leaves nothing behind.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 0, f"{block} failed ({process.returncode}):\n{output[-4000:]}"


@pytest.mark.timeout(600)
@pytest.mark.parametrize(
    "block", [b for b in shell_blocks() if "hubspot-rcs serve" in b.body], ids=str
)
def test_a_block_that_starts_a_server_runs(block: Block, tmp_path: Path) -> None:
    port = free_port()
    run_block(block, tmp_path, f"ws://127.0.0.1:{port}/openicf", port)


@pytest.mark.timeout(600)
@pytest.mark.parametrize(
    "block", [b for b in shell_blocks() if "hubspot-rcs serve" not in b.body], ids=str
)
def test_a_block_runs_against_the_demo(block: Block, demo: str, tmp_path: Path) -> None:
    run_block(block, tmp_path, demo, None)
