"""The Dockerfile and the compose file, checked by the tools operators run on them."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_dockerfile_is_hadolint_clean() -> None:
    hadolint = Path(sys.executable).with_name("hadolint")
    result = subprocess.run(
        [str(hadolint), "--no-color", str(ROOT / "Dockerfile")], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_takes_its_base_from_a_build_argument_and_runs_as_non_root() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert text.startswith("#") and "ARG BASE_IMAGE=python:3.12-slim" in text
    assert "FROM ${BASE_IMAGE} AS build" in text
    for line in ("EXPOSE 8759", "STOPSIGNAL SIGTERM", "USER 10001:10001", "HEALTHCHECK"):
        assert line in text
    assert "curl" not in text


@pytest.mark.skipif(
    shutil.which("docker-compose") is None,
    reason="docker-compose is not installed (.ci/run installs Debian's package)",
)
def test_compose_file_is_valid(tmp_path: Path) -> None:
    result = subprocess.run(
        ["docker-compose", "-f", str(ROOT / "docker-compose.yml"), "config", "--quiet"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    profiles = subprocess.run(
        [
            "docker-compose",
            "-f",
            str(ROOT / "docker-compose.yml"),
            "--profile",
            "demo",
            "config",
            "--services",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    assert set(profiles.stdout.split()) == {"rcs", "hubspot-emulator"}
