"""`run_emulator`: ephemeral ports, the handle, TLS with a generated certificate, prepared data."""

from __future__ import annotations

import ssl

import aiohttp
from hubspot import HubSpot

from emulator import EmulatorSettings, Store, generate, run_emulator
from tests.emulator.conftest import in_thread


async def test_ephemeral_ports_and_handle() -> None:
    async with run_emulator() as first, run_emulator() as second:
        assert first.base_url != second.base_url
        assert first.base_url.startswith("http://127.0.0.1:")
        assert first.client_id != second.client_id
        assert len(first.store.contacts) == 0


async def test_tls_with_a_generated_certificate() -> None:
    async with run_emulator(EmulatorSettings(tls=True, contacts=3)) as emu:
        assert emu.base_url.startswith("https://")
        assert emu.tls_cert_file is not None
        context = ssl.create_default_context(cafile=str(emu.tls_cert_file))
        async with (
            aiohttp.ClientSession() as session,
            session.get(
                emu.base_url + "/crm/v3/objects/contacts",
                headers={"Authorization": f"Bearer {emu.private_app_token}"},
                ssl=context,
            ) as response,
        ):
            assert response.status == 200
        sdk = HubSpot(
            access_token=emu.private_app_token,
            host=emu.base_url,
            base_url=emu.base_url,
            ssl_ca_cert=str(emu.tls_cert_file),
        )
        page = await in_thread(sdk.crm.contacts.basic_api.get_page)
        assert len(page.results) == 3


async def test_a_prepared_store_is_served_as_is() -> None:
    settings = EmulatorSettings(contacts=999)  # ignored: the store is given
    store = Store(settings)
    generate(store, contacts=4, companies=1, seed=1)
    async with run_emulator(settings, store=store) as emu:
        assert emu.store is store
        assert len(emu.store.contacts) == 4
