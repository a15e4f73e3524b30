"""`hubspot-rcs-emulator`: flags to settings, saving data, and a real subprocess."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path

import aiohttp

from emulator import EmulatorSettings, Store
from emulator.cli import build_parser, main, settings_from_args


def test_flags_map_to_settings() -> None:
    args = build_parser().parse_args(
        [
            "--port",
            "0",
            "--contacts",
            "5",
            "--no-rate-limits",
            "--error-statuses",
            "429,423",
            "--client-id",
            "cid",
            "--set",
            "max_filters_per_group=10",
            "--set",
            "list_limit_over_max=clamp",
        ]
    )
    settings = settings_from_args(args)
    assert (settings.port, settings.contacts, settings.rate_limits_enabled) == (0, 5, False)
    assert settings.error_statuses == (429, 423)
    assert settings.client_id == "cid"
    assert settings.client_secret is None
    assert settings.max_filters_per_group == 10
    assert settings.list_limit_over_max == "clamp"


def test_invalid_settings_exit_2() -> None:
    assert main(["--set", "ten_second_limit=0"]) == 2


def test_save_data_writes_json_lines(tmp_path: Path) -> None:
    path = tmp_path / "seed.jsonl"
    assert main(["--contacts", "20", "--companies", "3", "--save-data", str(path)]) == 0
    store = Store(EmulatorSettings())
    assert store.load_jsonl(path) > 23
    assert len(store.contacts) == 20


async def test_subprocess_prints_credentials_and_serves(tmp_path: Path) -> None:
    ready = tmp_path / "ready.json"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "emulator.cli",
        "--port",
        "0",
        "--contacts",
        "25",
        "--refresh-token",
        "given-refresh-token",
        "--ready-file",
        str(ready),
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        banner = (await asyncio.wait_for(process.stdout.readuntil(b"ready in"), 30)).decode()
        info = json.loads(ready.read_text())
        assert info["base_url"] in banner
        assert info["client_secret"] in banner
        assert info["refresh_token"] == "given-refresh-token"
        async with aiohttp.ClientSession() as session:
            form = {
                "grant_type": "refresh_token",
                "client_id": info["client_id"],
                "client_secret": info["client_secret"],
                "refresh_token": info["refresh_token"],
            }
            async with session.post(info["base_url"] + "/oauth/v1/token", data=form) as r:
                token = (await r.json())["access_token"]
            async with session.get(
                info["base_url"] + "/crm/v3/objects/contacts",
                params={"limit": "100"},
                headers={"Authorization": f"Bearer {token}"},
            ) as r:
                assert len((await r.json())["results"]) == 25
            async with session.get(info["admin_url"] + "/state") as r:
                assert (await r.json())["objects"]["contacts"]["live"] == 25
    finally:
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 10) == 0
