"""The two commands a newcomer types: `make run` installs what the demo needs and no more,
`make test` the dev tools too."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def planned(target: str, tmp_path: Path) -> str:
    """What `make -n <target>` would run in a fresh clone (no .venv yet)."""
    for name in ("Makefile", "pyproject.toml"):
        shutil.copy(ROOT / name, tmp_path / name)
    result = subprocess.run(
        ["make", "-n", target], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    return result.stdout


@pytest.mark.skipif(
    shutil.which("make") is None, reason="make is not installed (.ci/run installs it)"
)
def test_make_run_installs_the_project_without_the_dev_extras(tmp_path: Path) -> None:
    run = planned("run", tmp_path)
    assert "pip install -q -e ." in run and "[dev]" not in run
    assert "hubspot-rcs demo" in run
    test = planned("test", tmp_path)
    assert "pip install -q -e '.[dev]'" in test and "pytest" in test


@pytest.mark.skipif(
    shutil.which("make") is None, reason="make is not installed (.ci/run installs it)"
)
@pytest.mark.parametrize(
    ("target", "runs"), [("soak", "python -m bench.soak"), ("proto", "test_generated.py")]
)
def test_the_other_targets_install_what_they_run_first(
    tmp_path: Path, target: str, runs: str
) -> None:
    """In a fresh clone `make soak` and `make proto` create .venv with the dev tools first."""
    planned_commands = planned(target, tmp_path)
    assert "pip install -q -e '.[dev]'" in planned_commands
    assert planned_commands.index("pip install") < planned_commands.index(runs)
