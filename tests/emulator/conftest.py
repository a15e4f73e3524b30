"""Fixtures: a real emulator on 127.0.0.1 port 0, the official SDK, and a raw HTTP client."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

import aiohttp
import pytest
from hubspot import HubSpot
from multidict import CIMultiDictProxy

from emulator import Emulator, EmulatorSettings

T = TypeVar("T")


@pytest.fixture
def emulator_settings() -> EmulatorSettings:
    """Small seeded data; rate limits off unless a test turns them on (`emu`: tests/conftest.py)."""
    return EmulatorSettings(contacts=40, companies=5, seed=7, rate_limits_enabled=False)


@pytest.fixture
def sdk(emu: Emulator) -> HubSpot:
    """The official SDK pointed at the emulator (both `host` and `base_url`; §7)."""
    return HubSpot(access_token=emu.private_app_token, host=emu.base_url, base_url=emu.base_url)


async def in_thread(call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a blocking SDK call off the event loop that serves the emulator."""
    return await asyncio.to_thread(call, *args, **kwargs)


class Http:
    """Raw HTTP for what the SDK does not send, authenticated with the private-app token."""

    def __init__(self, session: aiohttp.ClientSession, emu: Emulator) -> None:
        self.session = session
        self.emu = emu
        self.token = emu.private_app_token

    async def call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Any = None,
        token: str | None = None,
        headers: dict[str, str] | None = None,
        data: Any = None,
    ) -> tuple[int, Any, CIMultiDictProxy[str]]:
        all_headers = {"Authorization": f"Bearer {token or self.token}"}
        all_headers.update(headers or {})
        async with self.session.request(
            method,
            self.emu.base_url + path,
            json=json,
            params=params,
            headers=all_headers,
            data=data,
        ) as response:
            raw = await response.read()
            body = await response.json(content_type=None) if raw else None
            return response.status, body, response.headers


@pytest.fixture
async def http(emu: Emulator) -> AsyncIterator[Http]:
    async with aiohttp.ClientSession() as session:
        yield Http(session, emu)
