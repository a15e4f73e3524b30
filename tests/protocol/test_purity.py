"""protocol/ is sans-I/O: it imports no asyncio, websockets, aiohttp, socket or ssl."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PROTOCOL = Path(__file__).resolve().parents[2] / "protocol"
BANNED = {"asyncio", "websockets", "aiohttp", "socket", "ssl", "selectors", "subprocess"}


def _imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize(
    "path", sorted(PROTOCOL.rglob("*.py")), ids=lambda p: str(p.relative_to(PROTOCOL))
)
def test_module_imports_nothing_that_does_io(path: Path) -> None:
    assert _imported_roots(path) & BANNED == set()


def test_importing_protocol_loads_no_event_loop_or_network_library() -> None:
    # pydantic itself pulls in `socket` through importlib.metadata, so the run-time check is
    # on the I/O frameworks; the source check above covers everything protocol/ names itself.
    code = (
        "import sys, protocol, protocol.codec, protocol.session, protocol.wire_schema;"
        "import protocol.openicf.wire, protocol.openicf.legacy, protocol.openicf.objects;"
        "print(','.join(m for m in ('asyncio', 'websockets', 'aiohttp') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
