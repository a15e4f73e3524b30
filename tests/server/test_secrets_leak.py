"""A whole session with known secret values, then every log line and conf file searched for them.

Start (plain-text secrets encrypted on load), `test`, searches across a token expiry (the refresh
token rotates and is written back), a failed authentication, HubSpot errors, the client's `test`
output (the configuration IDM would echo), SIGTERM. No secret may appear anywhere.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

from client.connection import RcsClient
from emulator import Emulator, EmulatorSettings
from protocol.errors import (
    AlreadyExistsException,
    InvalidCredentialException,
    UnknownUidException,
)
from protocol.filters import Presence
from server.keyhash import hash_key
from tests.conftest import command

KEY = "leak-check-shared-key-7c1f"
CLIENT_SECRET = "leak-check-client-secret-2b9e"
REFRESH_TOKEN = "leak-check-refresh-token-5d3a"


@pytest.fixture
def emulator_settings() -> EmulatorSettings:
    return EmulatorSettings(
        contacts=60,
        companies=3,
        seed=5,
        rate_limits_enabled=False,
        rotate_refresh_tokens=True,
        client_id="leak-check-client-id",
        client_secret=CLIENT_SECRET,
        refresh_token=REFRESH_TOKEN,
    )


def write_conf(conf: Path, emu: Emulator) -> None:
    conf.mkdir()
    (conf / "ConnectorServer.properties").write_text(
        f"connectorserver.port=0\nconnectorserver.key={hash_key(KEY)}\n"
    )
    provisioner = {
        "connectorRef": {
            "bundleName": "org.forgerock.openicf.connectors.hubspot-connector",
            "bundleVersion": "[1.5.0.0,1.6.0.0)",
            "connectorName": "org.forgerock.openicf.connectors.hubspot.HubspotConnector",
        },
        "configurationProperties": {
            "clientId": emu.client_id,
            "clientSecret": CLIENT_SECRET,
            "refreshToken": REFRESH_TOKEN,
            "apiBaseUrl": emu.base_url,
            "permitsPerSecond": "100",
        },
    }
    (conf / "provisioner.openicf-hubspot.json").write_text(json.dumps(provisioner, indent=2))


async def wait_for_port(log: Path, process: asyncio.subprocess.Process) -> int:
    for _ in range(300):
        for line in log.read_text().splitlines():
            event = json.loads(line)
            if event.get("event") == "server.listening":
                return int(event["port"])
        if process.returncode is not None:
            break
        await asyncio.sleep(0.05)
    raise AssertionError(f"the server did not start: {log.read_text()}")


async def test_no_secret_in_any_log_line_or_conf_file(emu: Emulator, tmp_path: Path) -> None:
    conf, stdout, stderr = tmp_path / "conf", tmp_path / "stdout.log", tmp_path / "stderr.log"
    write_conf(conf, emu)
    # No throttle after the wrong key below: the right one follows it from the same address.
    env = os.environ | {
        "RCS_LOG_FORMAT": "json",
        "RCS_LOG_LEVEL": "debug",
        "RCS_AUTH_FAILURE_DELAY_S": "0",
    }
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = await asyncio.create_subprocess_exec(
            *command("hubspot-rcs"), "serve", "--conf", str(conf), stdout=out, stderr=err, env=env
        )
    try:
        port = await wait_for_port(stdout, process)
        url = f"ws://127.0.0.1:{port}/openicf"
        async with await RcsClient.connect(url, KEY) as client:
            hubspot = await client.facade("hubspot")
            await hubspot.test()
            async with hubspot.search("contact", Presence(attribute="__NAME__")) as results:
                contacts = [o async for o in results]
            assert len(contacts) == 60
            emu.expire_access_tokens()  # the next call refreshes; the refresh token rotates
            async with hubspot.search("company") as results:
                assert len([o async for o in results]) == 3
            with pytest.raises(UnknownUidException):
                await hubspot.update("contact", "999999999", {"firstname": ["X"]})
            with pytest.raises(AlreadyExistsException):
                await hubspot.create("contact", {"__NAME__": [contacts[0].name]})
        with pytest.raises(InvalidCredentialException, match="HTTP 403"):
            await RcsClient.connect(url, "not-" + KEY)
        echoed = await asyncio.to_thread(
            subprocess.run,
            [*command("hubspot-rcs-client"), "--url", url, "test", "hubspot"],
            capture_output=True,
            text=True,
            env=os.environ | {"RCS_KEY": KEY},
            timeout=60,
        )
        assert echoed.returncode == 0, echoed.stderr
        assert json.loads(echoed.stdout)["ok"] is True
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 30) == 0

    secrets = {KEY, CLIENT_SECRET, REFRESH_TOKEN, *emu.issued_tokens()}
    assert len(emu.issued_tokens()) >= 4, "the session should have refreshed and rotated tokens"
    places = {"server stdout": stdout.read_text(), "server stderr": stderr.read_text()}
    places["client test output"] = echoed.stdout + echoed.stderr
    places |= {str(p.relative_to(tmp_path)): p.read_text() for p in conf.rglob("*") if p.is_file()}
    assert len(places["server stdout"].splitlines()) > 5
    for place, text in places.items():
        for secret in secrets:
            assert secret not in text, f"a secret appears in {place}"

    stored = json.loads((conf / "provisioner.openicf-hubspot.json").read_text())
    for name in ("clientSecret", "refreshToken"):
        assert "$crypto" in stored["configurationProperties"][name]
