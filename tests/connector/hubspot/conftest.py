"""Fixtures: a HubSpot connector configured for the emulator (`emu`, tests/conftest.py)."""

from __future__ import annotations

import pytest

from connector.hubspot import HubspotConnector
from tests.conftest import MakeConnector


@pytest.fixture
async def connector(make_connector: MakeConnector) -> HubspotConnector:
    return await make_connector()
