"""The package stands alone: nothing of the project is imported, the public names are there."""

from __future__ import annotations

import ast
from pathlib import Path

import emulator

PACKAGE = Path(emulator.__file__).parent
PROJECT_ROOMS = {"protocol", "connector", "server", "client", "bench", "tests"}


def _imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_no_module_imports_the_rest_of_the_project() -> None:
    modules = sorted(PACKAGE.glob("*.py"))
    assert len(modules) > 10
    for module in modules:
        assert not _imported_roots(module) & PROJECT_ROOMS, module.name


def test_the_contract_is_importable() -> None:
    for name in ("EmulatorSettings", "run_emulator", "Emulator", "Store", "Faults", "generate"):
        assert name in emulator.__all__
        assert getattr(emulator, name) is not None
