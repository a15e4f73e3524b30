"""The change log an incremental reader relies on (§1.5, §5.2), seen through the official SDK."""

from __future__ import annotations

from hubspot import HubSpot
from hubspot.crm.contacts import BatchReadInputSimplePublicObjectId, SimplePublicObjectId

from emulator import Emulator
from tests.emulator.conftest import in_thread


async def test_an_association_moves_both_ends(emu: Emulator, sdk: HubSpot) -> None:
    contact = await in_thread(
        sdk.crm.contacts.basic_api.create, {"properties": {"email": "ends@example.com"}}
    )
    company_id = str(emu.store.companies.live()[0].id)
    company = await in_thread(sdk.crm.companies.basic_api.get_by_id, company_id)
    await in_thread(
        sdk.crm.associations.v4.basic_api.create_default,
        "contacts",
        contact.id,
        "companies",
        company_id,
    )
    contact_after = await in_thread(sdk.crm.contacts.basic_api.get_by_id, contact.id)
    company_after = await in_thread(
        sdk.crm.companies.basic_api.get_by_id,
        company_id,
        properties=["num_associated_contacts"],
    )
    assert contact_after.updated_at > contact.updated_at
    assert company_after.updated_at > company.updated_at
    assert company_after.properties["num_associated_contacts"] == str(
        len(emu.store.associations.of("companies", int(company_id), "contacts"))
    )

    await in_thread(
        sdk.crm.associations.v4.basic_api.archive, "companies", company_id, "contacts", contact.id
    )
    contact_last = await in_thread(sdk.crm.contacts.basic_api.get_by_id, contact.id)
    assert contact_last.updated_at > contact_after.updated_at


async def test_archived_objects_carry_archived_at(emu: Emulator, sdk: HubSpot) -> None:
    api = sdk.crm.contacts.basic_api
    contact = await in_thread(api.create, {"properties": {"email": "gone@example.com"}})
    await in_thread(api.archive, contact.id)

    page = await in_thread(api.get_page, archived=True, limit=100)
    [listed] = [r for r in page.results if r.id == contact.id]
    assert listed.archived is True
    assert listed.archived_at is not None
    assert listed.updated_at == listed.archived_at  # archiving is the last write

    batch = await in_thread(
        sdk.crm.contacts.batch_api.read,
        BatchReadInputSimplePublicObjectId(
            inputs=[SimplePublicObjectId(id=contact.id)],
            properties=["email"],
            properties_with_history=[],
        ),
        archived=True,
    )
    assert [(r.id, r.archived) for r in batch.results] == [(contact.id, True)]
