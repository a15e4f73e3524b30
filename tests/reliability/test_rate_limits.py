"""Defect 8: a 429 HubSpot gives while its window has room holds only the refused call, briefly;
a 429 on a full window holds everyone until a slot frees. Against the emulator, with HubSpot's
rate-limit headers on every answer. (Speed is measured by bench.hubspot_429.)"""

from __future__ import annotations

import pytest
from structlog.testing import capture_logs

from emulator import Emulator, EmulatorSettings
from protocol.values import OperationOptions, Uid
from tests.conftest import MakeConnector

CONTACTS = "/crm/v3/objects/contacts"
WINDOWED = EmulatorSettings(
    contacts=20, companies=1, seed=5, rate_limits_enabled=True, ten_second_limit=100
)


@pytest.mark.parametrize("emulator_settings", [WINDOWED])
async def test_a_429_on_a_window_with_room_pauses_nobody(
    make_connector: MakeConnector, emu: Emulator
) -> None:
    connector = await make_connector()
    first = str(emu.store.contacts.live()[0].id)
    await connector.get("contact", Uid(value=first), OperationOptions())  # learns the window
    emu.faults.add(status=429, count=1, path_prefix=CONTACTS, method="GET")
    with capture_logs() as logs:
        found = await connector.get("contact", Uid(value=first), OperationOptions())
    assert found is not None
    assert connector.http.limiter.window.limit == 100
    # The wait the connector chose (what it logs), not a clock reading: a short back-off, not
    # the ten seconds until the oldest call leaves the window.
    [retry] = [e for e in logs if e["event"] == "hubspot.retry"]
    assert retry["status"] == 429 and retry["wait_s"] < 1.0
    assert connector.http.limiter.window.delay() == 0.0  # and nobody else is held
    assert [r.status for r in emu.requests_to(CONTACTS)][-2:] == [429, 200]


@pytest.mark.parametrize(
    "emulator_settings",
    [
        EmulatorSettings(
            contacts=5, companies=1, seed=5, ten_second_limit=4, ten_second_window_s=2.0
        )
    ],
)
async def test_a_429_on_a_full_window_holds_every_caller(
    make_connector: MakeConnector, emu: Emulator
) -> None:
    connector = await make_connector()
    limiter = connector.http.limiter
    first = str(emu.store.contacts.live()[0].id)
    for _ in range(3):
        await connector.get("contact", Uid(value=first), OperationOptions())
    # HubSpot's window is spent (someone else used it too): its 429 says Remaining 0.
    emu.faults.clear()
    assert limiter.window.limit == 4
    assert limiter.refused("TEN_SECONDLY_ROLLING", None, search=False) > 0
    assert limiter.window.delay() > 0
