"""Contacts tied to companies, as attributes, against the real emulator's v4 API."""

from __future__ import annotations

import pytest

from connector.hubspot import HubspotConnector
from emulator import Emulator
from protocol.errors import (
    InvalidAttributeValueException,
    PreconditionFailedException,
    UnknownUidException,
)
from protocol.filters import Equals
from protocol.values import OperationOptions, Uid

LINKS = OperationOptions(attributesToGet=["__NAME__", "companies", "primaryCompany"])


def v4_calls(emu: Emulator) -> int:
    return len(emu.requests_to("/crm/v4"))


async def test_create_read_replace_add_remove(connector: HubspotConnector, emu: Emulator) -> None:
    first, second, third = (str(c.id) for c in emu.store.companies.live()[:3])
    uid = await connector.create(
        "contact",
        {
            "__NAME__": ["tied@example.com"],
            "companies": [first, second],
            "primaryCompany": [second],
        },
        OperationOptions(),
    )
    got = await connector.get("contact", uid, LINKS)
    assert got is not None
    assert sorted(map(str, got.attributes["companies"])) == sorted([first, second])
    assert got.attributes["primaryCompany"] == [second]
    assert got.uid.revision == uid.revision  # the returned revision is the one after the links

    # Each write returns the revision it left; a stale one is refused.
    uid = await connector.update("contact", uid, {"companies": [second, third]}, OperationOptions())
    stale = uid
    uid = await connector.add_attribute_values(
        "contact", uid, {"companies": [first]}, OperationOptions()
    )
    with pytest.raises(PreconditionFailedException):
        await connector.remove_attribute_values(
            "contact", stale, {"companies": [third]}, OperationOptions()
        )
    uid = await connector.remove_attribute_values(
        "contact", uid, {"companies": [third]}, OperationOptions()
    )
    got = await connector.get("contact", uid, LINKS)
    assert got is not None
    assert sorted(map(str, got.attributes["companies"])) == sorted([first, second])
    assert emu.store.associations.of("contacts", int(uid.value), "companies").keys() == {
        int(first),
        int(second),
    }
    uid = await connector.update("contact", uid, {"primaryCompany": [first]}, OperationOptions())
    company = await connector.get(
        "company", Uid(value=first), OperationOptions(attributesToGet=["contacts"])
    )
    assert company is not None and uid.value in company.attributes["contacts"]
    await connector.update(
        "contact", Uid(value=uid.value), {"primaryCompany": []}, OperationOptions()
    )
    got = await connector.get("contact", uid, LINKS)
    assert got is not None and got.attributes["primaryCompany"] == []
    assert sorted(map(str, got.attributes["companies"])) == sorted([first, second])


async def test_full_reads_do_not_call_the_associations_api(
    connector: HubspotConnector, emu: Emulator
) -> None:
    pages = [p async for p in connector.search("contact", None, OperationOptions())]
    objects = [o for p in pages for o in p.objects]
    assert objects and all("companies" not in o.attributes for o in objects)
    assert v4_calls(emu) == 0
    pages = [p async for p in connector.search("contact", None, LINKS)]
    objects = [o for p in pages for o in p.objects]
    assert v4_calls(emu) == 1  # one batch read for the 60 contacts
    tied = {str(c) for c, _, _ in emu.store.associations.pairs()}
    assert {o.uid.value for o in objects if o.attributes["companies"]} == tied


async def test_bad_values_are_refused_clearly(connector: HubspotConnector, emu: Emulator) -> None:
    uid = await connector.create("contact", {"__NAME__": ["bad@example.com"]}, OperationOptions())
    with pytest.raises(InvalidAttributeValueException, match="HubSpot ids"):
        await connector.update("contact", uid, {"companies": ["acme"]}, OperationOptions())
    with pytest.raises(InvalidAttributeValueException, match="single-valued"):
        await connector.add_attribute_values(
            "contact", uid, {"primaryCompany": ["1"]}, OperationOptions()
        )
    with pytest.raises(UnknownUidException, match="no companies 999999; nothing was written"):
        await connector.update(
            "contact", uid, {"firstname": ["Kept"], "companies": ["999999"]}, OperationOptions()
        )
    with pytest.raises(UnknownUidException, match="no companies 999998"):
        await connector.create(
            "contact",
            {"__NAME__": ["half@example.com"], "companies": ["999998"]},
            OperationOptions(),
        )
    assert emu.store.contacts.find("email", "half@example.com") is None
    record = emu.store.contacts.find("email", "bad@example.com")
    assert record is not None and "firstname" not in record.props
    with pytest.raises(InvalidAttributeValueException, match="cannot search on companies"):
        async for _ in connector.search(
            "contact", Equals(attribute="companies", value="1"), OperationOptions()
        ):
            pass
