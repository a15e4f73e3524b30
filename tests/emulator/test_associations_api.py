"""Associations: inline on v3 reads and the v4 endpoints, through the official SDK (§5)."""

from __future__ import annotations

import json

import pytest
from hubspot import HubSpot
from hubspot.crm.associations.v4 import (
    ApiException,
    AssociationSpec,
    BatchInputPublicAssociationMultiArchive,
    BatchInputPublicAssociationMultiPost,
    BatchInputPublicDefaultAssociationMultiPost,
    BatchInputPublicFetchAssociationsBatchRequest,
)

from emulator import Emulator
from tests.emulator.conftest import Http, in_thread


def _ids(emu: Emulator) -> tuple[int, int, int]:
    """A contact without associations and two companies."""
    contact = emu.store.contacts.create({"email": "assoc@example.com"})
    companies = emu.store.companies.live()
    return contact.id, companies[0].id, companies[1].id


async def test_default_then_primary_then_delete(emu: Emulator, sdk: HubSpot) -> None:
    contact_id, first, second = _ids(emu)
    v4 = sdk.crm.associations.v4.basic_api
    default = await in_thread(v4.create_default, "contacts", contact_id, "companies", first)
    assert default.results[0].association_spec.association_type_id == 279

    labelled = await in_thread(
        v4.create,
        "contact",
        contact_id,
        "company",
        second,
        association_spec=[
            AssociationSpec(association_category="HUBSPOT_DEFINED", association_type_id=1)
        ],
    )
    assert labelled.labels == ["Primary"]
    assert labelled.from_object_type_id == "0-1"

    page = await in_thread(v4.get_page, "contacts", contact_id, "companies")
    by_company = {
        int(r.to_object_id): sorted(t.type_id for t in r.association_types) for r in page.results
    }
    assert by_company == {first: [279], second: [1, 279]}
    contact = emu.store.contacts.get(contact_id)
    assert contact is not None
    assert contact.props["associatedcompanyid"] == str(second)

    # The reverse direction carries the inverse type ids.
    reverse = await in_thread(v4.get_page, "companies", second, "contacts")
    mine = [r for r in reverse.results if int(r.to_object_id) == contact_id]
    assert [sorted(t.type_id for t in r.association_types) for r in mine] == [[2, 280]]

    await in_thread(v4.archive, "contacts", contact_id, "companies", second)
    page = await in_thread(v4.get_page, "contacts", contact_id, "companies")
    assert [int(r.to_object_id) for r in page.results] == [first]
    assert "associatedcompanyid" not in contact.props


async def test_a_new_primary_demotes_the_old_one(emu: Emulator, http: Http) -> None:
    contact_id, first, second = _ids(emu)
    spec = [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 1}]
    for company in (first, second):
        status, _, _ = await http.call(
            "PUT",
            f"/crm/v4/objects/contacts/{contact_id}/associations/companies/{company}",
            json=spec,
        )
        assert status == 201
    links = emu.store.associations.of("contacts", contact_id, "companies")
    assert dict(links) == {first: frozenset({279}), second: frozenset({1, 279})}


async def test_inline_associations_on_reads(emu: Emulator, http: Http) -> None:
    contact_id, first, _ = _ids(emu)
    emu.store.associate(contact_id, first, [1])
    for alias in ("companies", "company", "0-2"):
        _, body, _ = await http.call(
            "GET", f"/crm/v3/objects/contacts/{contact_id}", params={"associations": alias}
        )
        assert body["associations"] == {
            "companies": {
                "results": [
                    {"id": str(first), "type": "contact_to_company"},
                    {"id": str(first), "type": "contact_to_company_unlabeled"},
                ]
            }
        }
    _, body, _ = await http.call(
        "GET", f"/crm/v3/objects/companies/{first}", params={"associations": "contacts,deals"}
    )
    types = {(a["id"], a["type"]) for a in body["associations"]["contacts"]["results"]}
    assert (str(contact_id), "company_to_contact") in types
    # No key at all when there is nothing associated.
    lonely = emu.store.contacts.create({"email": "lonely@example.com"})
    _, body, _ = await http.call(
        "GET", f"/crm/v3/objects/contacts/{lonely.id}", params={"associations": "companies"}
    )
    assert "associations" not in body


async def test_batch_read_lists_unassociated_ids_in_a_207(emu: Emulator, sdk: HubSpot) -> None:
    contact_id, first, _ = _ids(emu)
    emu.store.associate(contact_id, first, [279])
    batch = sdk.crm.associations.v4.batch_api
    result = await in_thread(
        batch.get_page,
        "contact",
        "companies",
        batch_input_public_fetch_associations_batch_request=(
            BatchInputPublicFetchAssociationsBatchRequest(
                inputs=[{"id": str(contact_id)}, {"id": "999999"}]
            )
        ),
    )
    assert [r._from.id for r in result.results] == [str(contact_id)]
    assert result.results[0].to[0].to_object_id == str(first)  # the SDK types it a string
    assert result.num_errors == 1
    assert result.errors[0].sub_category == "crm.associations.NO_ASSOCIATIONS_FOUND"
    assert result.errors[0].message == "No company is associated with contact 999999."
    assert result.errors[0].context["toObjectType"] == ["company"]


async def test_batch_read_of_a_same_type_pair_is_not_a_400(emu: Emulator, http: Http) -> None:
    status, body, _ = await http.call(
        "POST",
        "/crm/v4/associations/contact/contacts/batch/read",
        json={"inputs": [{"id": "1001"}]},
    )
    assert status == 207  # Airbyte's search path ends with 0 records on a 400 (§11.2)
    assert body["results"] == []


async def test_to_object_id_is_an_integer(emu: Emulator, http: Http) -> None:
    contact_id, first, _ = _ids(emu)
    emu.store.associate(contact_id, first, [279])
    _, body, _ = await http.call(
        "POST",
        "/crm/v4/associations/contacts/companies/batch/read",
        json={"inputs": [{"id": str(contact_id)}]},
    )
    assert body["results"][0]["to"][0]["toObjectId"] == first


async def test_batch_associate_default_and_archive(emu: Emulator, sdk: HubSpot) -> None:
    contact_id, first, second = _ids(emu)
    batch = sdk.crm.associations.v4.batch_api
    await in_thread(
        batch.create_default,
        "contacts",
        "companies",
        batch_input_public_default_association_multi_post=(
            BatchInputPublicDefaultAssociationMultiPost(
                inputs=[
                    {"from": {"id": str(contact_id)}, "to": {"id": str(company)}}
                    for company in (first, second)
                ]
            )
        ),
    )
    assert set(emu.store.associations.of("contacts", contact_id, "companies")) == {first, second}
    await in_thread(
        batch.archive,
        "contacts",
        "companies",
        batch_input_public_association_multi_archive=BatchInputPublicAssociationMultiArchive(
            inputs=[{"from": {"id": str(contact_id)}, "to": [{"id": str(first)}]}]
        ),
    )
    assert set(emu.store.associations.of("contacts", contact_id, "companies")) == {second}


async def test_archiving_an_object_drops_its_associations(emu: Emulator, http: Http) -> None:
    contact_id, first, _ = _ids(emu)
    emu.store.associate(contact_id, first, [1])
    await http.call("DELETE", f"/crm/v3/objects/companies/{first}")
    assert not emu.store.associations.of("contacts", contact_id, "companies")
    contact = emu.store.contacts.get(contact_id)
    assert contact is not None
    assert "associatedcompanyid" not in contact.props


async def test_errors(emu: Emulator, sdk: HubSpot, http: Http) -> None:
    contact_id, first, _ = _ids(emu)
    v4 = sdk.crm.associations.v4.basic_api
    with pytest.raises(ApiException) as caught:
        await in_thread(v4.create_default, "contacts", contact_id, "companies", 999)
    assert caught.value.status == 404
    status, body, _ = await http.call(
        "PUT",
        f"/crm/v4/objects/contacts/{contact_id}/associations/companies/{first}",
        json=[{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 2}],
    )
    assert (status, body["category"]) == (400, "VALIDATION_ERROR")
    status, body, _ = await http.call("GET", "/crm/v4/objects/contacts/1001/associations/deals")
    assert (status, json.dumps(body["category"])) == (403, '"MISSING_SCOPES"')


async def test_batch_labelled_create_and_labels_archive(emu: Emulator, sdk: HubSpot) -> None:
    contact_id, first, _ = _ids(emu)
    batch = sdk.crm.associations.v4.batch_api
    primary = {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 2}
    created = await in_thread(
        batch.create,
        "companies",
        "contacts",
        batch_input_public_association_multi_post=BatchInputPublicAssociationMultiPost(
            inputs=[{"from": {"id": str(first)}, "to": {"id": str(contact_id)}, "types": [primary]}]
        ),
    )
    assert created.results[0].labels == ["Primary"]
    assert emu.store.associations.of("contacts", contact_id, "companies")[first] == {1, 279}
    await in_thread(
        batch.archive_labels,
        "companies",
        "contacts",
        batch_input_public_association_multi_post=BatchInputPublicAssociationMultiPost(
            inputs=[{"from": {"id": str(first)}, "to": {"id": str(contact_id)}, "types": [primary]}]
        ),
    )
    assert emu.store.associations.of("contacts", contact_id, "companies")[first] == {279}
    contact = emu.store.contacts.get(contact_id)
    assert contact is not None
    assert "associatedcompanyid" not in contact.props


async def test_list_pages_inside_v4(emu: Emulator, http: Http) -> None:
    company = emu.store.companies.live()[0]
    total = len(emu.store.associations.of("companies", company.id, "contacts"))
    assert total > 2
    seen: list[int] = []
    after = None
    while True:
        params = {"limit": "2", **({"after": after} if after else {})}
        _, body, _ = await http.call(
            "GET", f"/crm/v4/objects/companies/{company.id}/associations/contacts", params=params
        )
        seen += [r["toObjectId"] for r in body["results"]]
        after = body.get("paging", {}).get("next", {}).get("after")
        if after is None:
            break
    assert len(seen) == len(set(seen)) == total
