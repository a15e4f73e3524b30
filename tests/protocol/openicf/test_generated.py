"""The committed protobuf bindings are exactly what the pinned generators make of the schema.

Run as a script (`make proto`) it regenerates them in place.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
PROTO_DIR = Path("protocol/openicf/proto")
GENERATED = [
    f"{name}_pb2.{ext}" for name in ("common", "operations", "rpc") for ext in ("py", "pyi")
]


def regenerate(out: Path) -> None:
    """Runs protoc (grpcio-tools) with mypy-protobuf over the schema, writing under `out`."""
    from grpc_tools import protoc

    plugin = Path(sys.executable).parent / "protoc-gen-mypy"
    sources = sorted(str(p.relative_to(ROOT)) for p in (ROOT / PROTO_DIR).glob("*.proto"))
    cwd = Path.cwd()
    os.chdir(ROOT)  # protoc names the sources relative to the include root
    try:
        argv = ["protoc", "-I.", f"--plugin=protoc-gen-mypy={plugin}"]
        argv += [f"--python_out={out}", f"--mypy_out={out}", *sources]
        if protoc.main(argv) != 0:
            raise RuntimeError("protoc failed")
    finally:
        os.chdir(cwd)


def test_regenerating_gives_the_committed_bindings(tmp_path: Path) -> None:
    pytest.importorskip("grpc_tools")
    regenerate(tmp_path)
    for name in GENERATED:
        fresh = (tmp_path / PROTO_DIR / name).read_text()
        assert fresh == (ROOT / PROTO_DIR / name).read_text(), f"{name} is stale: run make proto"


if __name__ == "__main__":
    regenerate(ROOT)
