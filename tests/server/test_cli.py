"""`hubspot-rcs serve` as a process: a refused start, a SIGHUP reload, the health probe."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
from pathlib import Path
from typing import Any

from client.connection import RcsClient
from tests.conftest import KEY, KEY_HASH, MEMORY_KEY, command


def write_conf(conf: Path, seed: int) -> None:
    (conf / "ConnectorServer.properties").write_text(
        f"connectorserver.port=0\nconnectorserver.key={KEY_HASH}\n"
        "connectorserver.memoryConnectorEnabled=true\n"
    )
    provisioner = {
        "connectorRef": MEMORY_KEY.model_dump(),
        "configurationProperties": {"seed": seed},
    }
    (conf / "provisioner.openicf-memory.json").write_text(json.dumps(provisioner))


def serve(conf: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*command("hubspot-rcs"), "serve", "--conf", str(conf)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ | {"RCS_LOG_FORMAT": "json"},
    )


def next_event(process: subprocess.Popen[str], name: str) -> dict[str, Any]:
    assert process.stdout is not None
    for line in process.stdout:
        event: dict[str, Any] = json.loads(line)
        if event["event"] == name:
            return event
    raise AssertionError(
        f"no {name} event; stderr: {process.stderr.read() if process.stderr else ''}"
    )


def test_a_bad_configuration_stops_the_start_with_every_problem(tmp_path: Path) -> None:
    write_conf(tmp_path, seed=-1)
    (tmp_path / "provisioner.openicf-other.json").write_text('{"connectorRef": {}}')
    result = subprocess.run(
        [*command("hubspot-rcs"), "serve", "--conf", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "provisioner.openicf-memory.json" in result.stderr
    assert "provisioner.openicf-other.json" in result.stderr


async def test_sighup_reloads_the_configurations(tmp_path: Path) -> None:
    write_conf(tmp_path, seed=3)
    process = serve(tmp_path)
    try:
        port = next_event(process, "server.listening")["port"]
        url = f"ws://127.0.0.1:{port}/openicf"
        async with await RcsClient.connect(url, KEY) as client:
            memory = await client.facade("memory")
            assert await memory.script_on_connector("count", "contact") == 3
            write_conf(tmp_path, seed=5)
            process.send_signal(signal.SIGHUP)
            reloaded = await asyncio.to_thread(next_event, process, "conf.reloaded")
            assert reloaded["changed"] == ["memory"]
            assert await memory.script_on_connector("count", "contact") == 5
        for probe in ([], ["--ready"]):
            assert health(tmp_path, port, *probe).returncode == 0
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    stopped = health(tmp_path, port)
    assert stopped.returncode == 1 and "/livez" in stopped.stderr


def health(conf: Path, port: int, *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*command("hubspot-rcs"), "health", "--conf", str(conf), *options],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=os.environ | {"RCS_PORT": str(port)},
    )


def test_a_server_whose_log_reader_went_away_still_stops_on_sigterm(tmp_path: Path) -> None:
    """Nothing reads stdout any more (a log collector died): the server says so once on stderr,
    and SIGTERM still drains and stops it."""
    write_conf(tmp_path, seed=1)
    process = serve(tmp_path)
    try:
        next_event(process, "server.listening")
        assert process.stdout is not None
        process.stdout.close()  # the reader goes away: the next log line meets EPIPE
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
        assert process.stderr is not None
        assert "the log cannot be written (Broken pipe)" in process.stderr.read()
    finally:
        process.kill()
        process.wait()
