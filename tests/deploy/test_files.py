"""The Dockerfile and the compose file, checked by the tools operators run on them."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from server.cli import parser
from server.conf import env_name
from server.conf.settings_source import LOADER_ENV
from server.settings import ServerSettings

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


def found(pattern: str, text: str) -> str:
    """The first group of `pattern`'s first match in `text` (which must match)."""
    match = re.search(pattern, text, re.MULTILINE)
    assert match is not None, pattern
    return match[1]


def test_compose_passes_only_what_the_server_reads() -> None:
    """Every RCS_* variable is a setting (docs/configuration.md) and the HUBSPOT_* ones are
    exactly the tokens of the sample provisioner file the compose file mounts a copy of."""
    text = (ROOT / "docker-compose.yml").read_text()
    settings = {env_name(name) for name in ServerSettings.model_fields} | set(LOADER_ENV.values())
    assert set(re.findall(r"^\s+(RCS_\w+):", text, re.MULTILINE)) <= settings
    sample = (ROOT / "conf" / "provisioner.openicf-hubspot.json").read_text()
    expected = {re.sub(r"[.-]", "_", token).upper() for token in re.findall(r"&\{([^}|]+)", sample)}
    assert set(re.findall(r"^\s+(HUBSPOT_\w+):", text, re.MULTILINE)) == expected


def test_health_checks_are_the_clis_probe_and_the_grace_period_covers_the_drain() -> None:
    compose = (ROOT / "docker-compose.yml").read_text()
    dockerfile = (ROOT / "Dockerfile").read_text()
    compose_probe = json.loads(found(r'test: (\["CMD", "hubspot-rcs".*\])', compose))[2:]
    image_probe = json.loads(found(r'CMD (\["hubspot-rcs", "health".*\])', dockerfile))[1:]
    for argv in (compose_probe, image_probe):
        args = parser().parse_args(argv)
        assert args.command == "health" and args.conf == Path("/opt/rcs/conf")
    assert "--ready" in compose_probe  # compose gates on readiness; the image's probe is liveness
    assert "./deploy/conf:/opt/rcs/conf" in compose
    grace = int(found(r"stop_grace_period: (\d+)s", compose))
    drain = float(found(r'RCS_DRAIN_TIMEOUT_S: "(\d+)"', compose))
    assert grace > drain + ServerSettings().close_timeout_s
