"""`hubspot-rcs` tells an operator what to do: a taken port names the setting that moves it, a
missing configuration directory says how to make one."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

from tests.conftest import command
from tests.server.conf_samples import SAMPLE_ENV, copy_conf


def hubspot_rcs(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("RCS_")}
    return subprocess.run(
        [*command("hubspot-rcs"), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=environ | env,
    )


def test_serve_on_a_taken_port_names_the_setting_that_moves_it(tmp_path: Path) -> None:
    conf = copy_conf(tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = hubspot_rcs(
            "serve", "--conf", str(conf), cwd=tmp_path, env=SAMPLE_ENV | {"RCS_PORT": str(port)}
        )
    assert result.returncode == 1
    assert result.stderr == (
        f"cannot listen on 127.0.0.1:{port}: the port is taken (another server?); choose "
        f"another with connectorserver.port in {conf / 'ConnectorServer.properties'} or "
        "RCS_PORT\n"
    )


def test_a_missing_configuration_directory_says_how_to_make_one(tmp_path: Path) -> None:
    result = hubspot_rcs("serve", "--conf", "rcs-conf", cwd=tmp_path, env={})
    assert result.returncode == 1
    assert result.stderr == (
        "1 configuration error:\n"
        "  rcs-conf: no such directory; make one from the sample (cp -r conf rcs-conf, then "
        "hubspot-rcs key set --conf rcs-conf; docs/configuration.md), or point --conf at yours\n"
    )
