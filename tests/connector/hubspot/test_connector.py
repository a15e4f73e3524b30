"""The operations on every object class, against the emulator."""

from __future__ import annotations

import json

import pytest

from connector.hubspot import HubspotConnector
from connector.registry import ConnectorRegistry
from emulator import Emulator
from protocol.configuration import ConnectorKey
from protocol.errors import (
    AlreadyExistsException,
    ConnectorException,
    InvalidAttributeValueException,
    InvalidCredentialException,
    PermissionDeniedException,
    PreconditionFailedException,
    UnknownUidException,
    UnsupportedOperationException,
)
from protocol.filters import Equals, StartsWith
from protocol.schema import AttributeFlag, AttributeType
from protocol.values import OperationOptions, Uid
from tests.conftest import MakeConnector

from .test_search import ids, read_all

NO_OPTIONS = OperationOptions()


def test_idm_finds_it_under_the_java_connectors_key() -> None:
    registry = ConnectorRegistry.discover()
    key = ConnectorKey(
        bundleName="org.forgerock.openicf.connectors.hubspot-connector",
        bundleVersion="[1.5.0.0,1.6.0.0)",
        connectorName="org.forgerock.openicf.connectors.hubspot.HubspotConnector",
    )
    assert registry.resolve(key) is HubspotConnector
    assert set(HubspotConnector.supported_operations()) >= {
        "CREATE", "GET", "SEARCH", "UPDATE", "DELETE", "SCHEMA", "TEST", "SCRIPT_ON_CONNECTOR",
    }  # fmt: skip


async def test_contact_lifecycle(connector: HubspotConnector, emu: Emulator) -> None:
    uid = await connector.create(
        "contact",
        {
            "__NAME__": ["ada@example.com"],
            "firstname": ["Ada"],
            "lastname": ["Lovelace"],
            "hs_buying_role": ["CHAMPION"],
            "lifecyclestage": ["lead"],
        },
        NO_OPTIONS,
    )
    assert uid.revision
    got = await connector.get("contact", uid, NO_OPTIONS)
    assert got is not None and got.name == "ada@example.com"
    assert got.uid.revision == got.attributes["lastmodifieddate"][0]
    assert got.attributes["hs_buying_role"] == ["CHAMPION"]

    uid = await connector.update(
        "contact", Uid(value=uid.value), {"firstname": ["Augusta"], "lastname": []}, NO_OPTIONS
    )
    got = await connector.get("contact", uid, NO_OPTIONS)
    assert got is not None
    assert got.attributes["firstname"] == ["Augusta"] and got.attributes["lastname"] == []

    uid = await connector.add_attribute_values(
        "contact", uid, {"hs_buying_role": ["END_USER", "CHAMPION"]}, NO_OPTIONS
    )
    got = await connector.get("contact", uid, NO_OPTIONS)
    assert got is not None and got.attributes["hs_buying_role"] == ["CHAMPION", "END_USER"]
    uid = await connector.remove_attribute_values(
        "contact", uid, {"hs_buying_role": ["CHAMPION"]}, NO_OPTIONS
    )
    got = await connector.get("contact", uid, NO_OPTIONS)
    assert got is not None and got.attributes["hs_buying_role"] == ["END_USER"]

    await connector.delete("contact", uid, NO_OPTIONS)
    assert await connector.get("contact", uid, NO_OPTIONS) is None
    assert emu.store.contacts.get(int(uid.value)) is None


async def test_company_lifecycle(connector: HubspotConnector) -> None:
    uid = await connector.create(
        "company",
        {"__NAME__": ["Analytical Engines"], "numberofemployees": [12], "is_public": [False]},
        NO_OPTIONS,
    )
    got = await connector.get("company", uid, NO_OPTIONS)
    assert got is not None and got.name == "Analytical Engines"
    assert got.attributes["numberofemployees"] == [12] and got.attributes["is_public"] == [False]
    uid = await connector.update("company", uid, {"__NAME__": ["Difference Engines"]}, NO_OPTIONS)
    found = await read_all(
        connector, "company", Equals(attribute="__NAME__", value="Difference Engines")
    )
    assert ids(found) == [uid.value]
    await connector.delete("company", uid, NO_OPTIONS)
    assert (
        await read_all(
            connector, "company", Equals(attribute="__NAME__", value="Difference Engines")
        )
        == []
    )


async def test_errors_of_writes(connector: HubspotConnector) -> None:
    everyone = await read_all(connector, "contact")
    taken = str(everyone[0].name)
    with pytest.raises(AlreadyExistsException, match="Existing ID"):
        await connector.create("contact", {"__NAME__": [taken]}, NO_OPTIONS)
    with pytest.raises(InvalidAttributeValueException, match="'lifecyclestage'"):
        await connector.create(
            "contact", {"__NAME__": ["x@example.com"], "lifecyclestage": ["nope"]}, NO_OPTIONS
        )
    with pytest.raises(UnknownUidException):
        await connector.update("contact", Uid(value="999999999"), {"firstname": ["A"]}, NO_OPTIONS)
    with pytest.raises(UnknownUidException):
        await connector.delete("contact", Uid(value="999999999"), NO_OPTIONS)
    with pytest.raises(UnknownUidException):
        await connector.add_attribute_values(
            "contact", Uid(value="999999999"), {"hs_buying_role": ["CHAMPION"]}, NO_OPTIONS
        )
    with pytest.raises(InvalidAttributeValueException, match="single-valued"):
        await connector.add_attribute_values(
            "contact", everyone[0].uid, {"firstname": ["A"]}, NO_OPTIONS
        )


async def test_a_stale_revision_is_refused(connector: HubspotConnector) -> None:
    everyone = await read_all(connector, "contact")
    stale = Uid(value=everyone[0].uid.value, revision="2000-01-01T00:00:00.000Z")
    with pytest.raises(PreconditionFailedException, match="changed since"):
        await connector.update("contact", stale, {"firstname": ["B"]}, NO_OPTIONS)
    with pytest.raises(PreconditionFailedException):
        await connector.add_attribute_values(
            "contact", stale, {"hs_buying_role": ["CHAMPION"]}, NO_OPTIONS
        )
    current = await connector.update("contact", everyone[0].uid, {"firstname": ["B"]}, NO_OPTIONS)
    await connector.update("contact", current, {"firstname": ["C"]}, NO_OPTIONS)


@pytest.mark.parametrize("object_class", ["contactProperties", "companyProperties"])
async def test_property_definitions(connector: HubspotConnector, object_class: str) -> None:
    every = await read_all(connector, object_class)
    assert any(o.uid.value == "createdate" for o in every)
    stage = await connector.get(object_class, Uid(value="lifecyclestage"), NO_OPTIONS)
    assert stage is not None and stage.attributes["type"] == ["enumeration"]
    assert {json.loads(str(o))["value"] for o in stage.attributes["options"]} >= {"lead"}
    created = await connector.get(object_class, Uid(value="createdate"), NO_OPTIONS)
    assert created is not None and created.attributes["readOnlyValue"] == [True]

    uid = await connector.create(
        object_class,
        {
            "__NAME__": ["favourite_engine"],
            "label": ["Favourite engine"],
            "type": ["enumeration"],
            "fieldType": ["checkbox"],
            "groupName": ["contactinformation"],
            "options": ["difference", json.dumps({"label": "Analytical", "value": "analytical"})],
        },
        NO_OPTIONS,
    )
    assert uid.value == "favourite_engine"
    await connector.update(object_class, uid, {"label": ["Engine of choice"]}, NO_OPTIONS)
    found = await read_all(connector, object_class, StartsWith(attribute="label", value="Engine"))
    assert ids(found) == ["favourite_engine"]
    options = [json.loads(str(o)) for o in found[0].attributes["options"]]
    assert [(o["label"], o["value"]) for o in options] == [
        ("difference", "difference"),
        ("Analytical", "analytical"),
    ]
    await connector.delete(object_class, uid, NO_OPTIONS)
    assert await connector.get(object_class, uid, NO_OPTIONS) is None
    with pytest.raises(UnknownUidException):
        await connector.delete(object_class, uid, NO_OPTIONS)


async def test_property_definitions_page(connector: HubspotConnector) -> None:
    every = ids(await read_all(connector, "contactProperties"))
    seen: list[str] = []
    cookie = None
    while True:
        options = OperationOptions(pageSize=4, pagedResultsCookie=cookie)
        pages = [p async for p in connector.search("contactProperties", None, options)]
        seen += [o.uid.value for p in pages for o in p.objects]
        cookie = pages[-1].result.pagedResultsCookie if pages[-1].result else None
        if cookie is None:
            break
    assert seen == every


async def test_a_custom_property_can_be_written_on_a_contact(
    make_connector: MakeConnector,
) -> None:
    connector = await make_connector(readSchema="true")
    await connector.create(
        "contactProperties",
        {
            "__NAME__": ["shoe_size"],
            "label": ["Shoe size"],
            "type": ["number"],
            "fieldType": ["number"],
            "groupName": ["contactinformation"],
        },
        NO_OPTIONS,
    )
    uid = await connector.create(
        "contact", {"__NAME__": ["feet@example.com"], "shoe_size": [43]}, NO_OPTIONS
    )
    got = await connector.get("contact", uid, NO_OPTIONS)
    assert got is not None and got.attributes["shoe_size"] == [43]
    schema = await connector.schema()
    contact = schema.object_class("contact")
    assert contact is not None
    shoe = contact.attribute("shoe_size")
    assert shoe is not None and shoe.type == AttributeType.NUMBER


@pytest.mark.parametrize("read_schema", [False, True])
async def test_schema_both_ways(
    make_connector: MakeConnector, read_schema: bool, emu: Emulator
) -> None:
    connector = await make_connector(readSchema=read_schema)
    schema = await connector.schema()
    assert [o.type for o in schema.objectClasses] == [
        "contact", "company", "contactProperties", "companyProperties",
    ]  # fmt: skip
    contact = schema.object_class("contact")
    assert contact is not None
    name = contact.attribute("__NAME__")
    assert name is not None and name.nativeName == "email"
    role = contact.attribute("hs_buying_role")
    assert role is not None and role.has(AttributeFlag.MULTIVALUED)
    created = contact.attribute("createdate")
    assert created is not None
    assert created.has(AttributeFlag.NOT_CREATABLE) and created.has(AttributeFlag.NOT_UPDATEABLE)
    assert created.subtype == "datetime"
    assert contact.attribute("hs_object_id") is None  # it is __UID__
    read = emu.requests_to("/crm/v3/properties/")
    assert bool(read) is read_schema
    if read_schema:
        await connector.schema()
        assert len(emu.requests_to("/crm/v3/properties/")) == len(read)  # cached


async def test_the_test_operation_says_what_failed(
    make_connector: MakeConnector, emu: Emulator
) -> None:
    connector = await make_connector()
    await connector.test()
    assert [r.path for r in emu.requests[-2:]] == ["/oauth/v3/token", "/crm/v3/objects/contacts"]
    broken = await make_connector(clientSecret="wrong")
    with pytest.raises(InvalidCredentialException, match="while refreshing the access token"):
        await broken.test()


async def test_scripts_are_off_unless_the_server_enables_them(
    make_connector: MakeConnector,
) -> None:
    off = await make_connector()
    with pytest.raises(PermissionDeniedException, match=r"connectorserver\.scriptingEnabled=true"):
        await off.run_script_on_connector("python", "return 1", {}, NO_OPTIONS)


async def test_a_script_calls_hubspot_through_the_connector(
    make_connector: MakeConnector, emu: Emulator
) -> None:
    on = await make_connector(scripting_enabled=True)
    script = (
        "page = await connector.request('GET', '/crm/v3/objects/contacts',\n"
        "                               params={'limit': str(arguments['limit'])})\n"
        "return {'ids': [r['id'] for r in page['results']],\n"
        "        'client': connector.configuration.clientId}"
    )
    result = await on.run_script_on_connector("Python", script, {"limit": 3}, NO_OPTIONS)
    assert len(result["ids"]) == 3 and result["client"] == emu.client_id
    with pytest.raises(InvalidAttributeValueException, match="not JSON"):
        await on.run_script_on_connector("python", "return object()", {}, NO_OPTIONS)
    with pytest.raises(InvalidAttributeValueException, match="Python scripts only"):
        await on.run_script_on_connector("groovy", "return 1", {}, NO_OPTIONS)
    with pytest.raises(InvalidAttributeValueException, match="does not compile"):
        await on.run_script_on_connector("python", "return (", {}, NO_OPTIONS)
    with pytest.raises(ConnectorException, match="the script raised ValueError: boom") as raised:
        await on.run_script_on_connector("python", "raise ValueError('boom')", {}, NO_OPTIONS)
    assert type(raised.value) is ConnectorException


@pytest.mark.parametrize("write", ["update", "add_attribute_values", "remove_attribute_values"])
async def test_writing_an_object_class_hubspot_lacks_is_unsupported(
    make_connector: MakeConnector, write: str
) -> None:
    connector = await make_connector()
    with pytest.raises(UnsupportedOperationException, match="'nosuchclass' is not HubSpot's"):
        await getattr(connector, write)("nosuchclass", Uid(value="1"), {"x": ["y"]}, NO_OPTIONS)
