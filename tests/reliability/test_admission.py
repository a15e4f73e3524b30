"""Defects 5 and 6: the connection limit and the failed-key throttle, on a real server over
real sockets (127.0.0.2 is another address of the loopback interface)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from structlog.testing import capture_logs
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from server.app import ConnectorServer
from server.auth import LOG_EVERY_S, Authenticator, Verdict
from tests.conftest import KEY, KEY_HASH, registry, settings

BAD = {"Authorization": "Bearer not-the-key"}
GOOD = {"Authorization": f"Bearer {KEY}"}


async def upgrade(
    url: str, headers: dict[str, str], source: str = "127.0.0.1"
) -> tuple[int, ClientConnection | None]:
    try:
        ws = await connect(url, additional_headers=headers, local_addr=(source, 0))
    except InvalidStatus as exc:
        return exc.response.status_code, None
    return 101, ws


@contextlib.asynccontextmanager
async def server(**overrides: object) -> AsyncIterator[ConnectorServer]:
    async with ConnectorServer(settings(**overrides), registry()) as running:
        yield running


async def test_max_connections_holds_for_upgrades_arriving_together() -> None:
    """Defect 5: 40 valid upgrades at once against a limit of 10: 10 open, 30 get 503."""
    async with server(max_connections=10) as rcs:
        results = await asyncio.gather(*(upgrade(rcs.url, GOOD) for _ in range(40)))
        opened = [ws for status, ws in results if ws is not None]
        try:
            assert len(opened) == 10
            assert sorted(status for status, _ in results).count(503) == 30
        finally:
            for ws in opened:
                await ws.close()
        # The slots come back as the sockets close.
        for _ in range(50):
            if not rcs.admission.admitted:
                break
            await asyncio.sleep(0.05)
        status, again = await upgrade(rcs.url, GOOD)
        assert status == 101 and again is not None
        await again.close()


async def test_a_wrong_key_throttles_its_address_before_the_check() -> None:
    """Defect 6: after a wrong key, the right one from that address is refused until the delay
    has passed (a brute force learns nothing from a fast 101), and another address is let in
    at once."""
    async with (
        asyncio.timeout(20),
        server(auth_failure_delay_s=30, auth_failure_delay_max_s=60) as rcs,
    ):
        assert (await upgrade(rcs.url, BAD))[0] == 403
        status, _ = await upgrade(rcs.url, GOOD)
        assert status == 429
        status, ws = await upgrade(rcs.url, GOOD, source="127.0.0.2")
        assert status == 101 and ws is not None
        await ws.close()


async def test_a_burst_of_guesses_gets_one_checked_and_every_refusal_counted() -> None:
    async with (
        asyncio.timeout(30),
        server(auth_failure_delay_s=30, auth_failure_delay_max_s=60) as rcs,
    ):
        with capture_logs() as logs:
            statuses = await asyncio.gather(*(upgrade(rcs.url, BAD) for _ in range(60)))
        codes = sorted(status for status, _ in statuses)
        assert codes.count(403) == 1 and codes.count(429) == 59
        refused = rcs.metrics.registry.get_sample_value
        total = sum(
            refused("rcs_upgrades_refused_total", {"reason": reason}) or 0.0
            for reason in ("wrong_key", "throttled")
        )
        assert total == 60
        lines = [e for e in logs if e["event"] == "auth.failed"]
        assert 1 <= len(lines) <= 2  # aggregated, not a line per guess
        status, ws = await upgrade(rcs.url, GOOD, source="127.0.0.2")
        assert status == 101 and ws is not None
        await ws.close()


async def test_every_refusal_is_logged_in_the_end_aggregated() -> None:
    """A burst's refusals beyond the first line are logged by the next housekeeping, counted,
    once the address's last line is LOG_EVERY_S old (a fake clock: no waiting)."""
    now = [1000.0]
    auth = Authenticator(KEY_HASH, delay_s=30, delay_max_s=60, clock=lambda: now[0])
    assert await auth.check("10.0.0.9", "Bearer wrong") is Verdict.WRONG
    assert auth.refused("10.0.0.9") == 1  # the first is logged at once
    for _ in range(25):
        assert await auth.check("10.0.0.9", "Bearer wrong") is Verdict.THROTTLED
        assert auth.refused("10.0.0.9") is None  # aggregated, not a line per guess
    assert auth.unlogged() == []  # the last line is recent
    now[0] += LOG_EVERY_S
    assert auth.unlogged() == [("10.0.0.9", 25)]
    assert auth.unlogged() == []
