"""HubSpot's own name property is `__NAME__`, and unknown names are refused: through the server.

A contact's `email` and a company's `name` are the attribute ICF calls `__NAME__` (docs/hubspot-
connector.md): a filter, attributes to get, a sort key or a write may use either name. A name the
schema does not list is an `InvalidAttributeValueException` that names it, never an empty result.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from client.connection import Facade, RcsClient
from client.queryfilter import parse_query_filter
from connector.hubspot import HubspotConnector
from connector.registry import ConnectorRegistry
from emulator import Emulator, EmulatorSettings
from protocol.configuration import InlineConfiguration
from protocol.errors import InvalidAttributeValueException
from protocol.filters import Filter
from protocol.values import ConnectorObject, OperationOptions, SortKey
from server.app import ConnectorServer, HostedConfiguration
from server.keyhash import hash_key
from server.settings import ServerSettings
from tests.conftest import properties_for

KEY = "names-key"


@pytest.fixture
def emulator_settings() -> EmulatorSettings:
    return EmulatorSettings(contacts=40, companies=12, seed=21, rate_limits_enabled=False)


@pytest.fixture
async def hubspot(emu: Emulator) -> AsyncIterator[Facade]:
    configuration = InlineConfiguration.model_validate(
        {"configurationProperties": properties_for(emu)}
    )
    hosted = HostedConfiguration(
        name="hubspot", connector_ref=HubspotConnector.connector_key, configuration=configuration
    )
    server_settings = ServerSettings(
        host="127.0.0.1", port=0, key_hash=hash_key(KEY), auth_failure_delay_s=0.0
    )
    async with (
        ConnectorServer(
            server_settings, ConnectorRegistry([HubspotConnector]), {"hubspot": hosted}
        ) as server,
        await RcsClient.connect(server.url, KEY) as client,
    ):
        yield await client.facade("hubspot")


async def found(
    hubspot: Facade, object_class: str, query: str, **options: Any
) -> list[ConnectorObject]:
    parsed = parse_query_filter(query)
    assert not isinstance(parsed, bool)
    flt: Filter = parsed
    async with hubspot.search(object_class, flt, **options) as results:
        return [o async for o in results]


async def everything(hubspot: Facade, object_class: str) -> list[ConnectorObject]:
    async with hubspot.search(object_class, None) as results:
        return [o async for o in results]


def uids(objects: list[ConnectorObject]) -> list[str]:
    return sorted(o.uid.value for o in objects)


async def test_email_is_the_contacts_name(hubspot: Facade) -> None:
    contacts = await everything(hubspot, "contact")
    ann = contacts[3]
    assert ann.name is not None
    by_name = await found(hubspot, "contact", f'__NAME__ eq "{ann.name}"')
    assert uids(by_name) == [ann.uid.value]
    assert uids(await found(hubspot, "contact", f'email eq "{ann.name}"')) == [ann.uid.value]
    prefix = ann.name[:3]
    expected = uids([c for c in contacts if c.name and c.name.startswith(prefix)])
    assert uids(await found(hubspot, "contact", f'__NAME__ sw "{prefix}"')) == expected
    assert uids(await found(hubspot, "contact", f'email sw "{prefix}"')) == expected
    assert uids(await found(hubspot, "contact", f'_id eq "{ann.uid.value}"')) == [ann.uid.value]
    assert uids(await found(hubspot, "contact", f"_id eq {ann.uid.value}")) == [ann.uid.value]
    assert uids(await found(hubspot, "contact", f'__UID__ eq "{ann.uid.value}"')) == [ann.uid.value]
    # email among the attributes to get returns the name, and a sort on email sorts by it
    (only,) = await found(
        hubspot, "contact", f'email eq "{ann.name}"', attributesToGet=["email", "firstname"]
    )
    assert only.name == ann.name and set(only.attributes) == {"firstname"}
    ordered = await found(
        hubspot, "contact", "email pr", sortKeys=[SortKey(field="email", ascending=False)]
    )
    names = [o.name or "" for o in ordered]
    assert names == sorted(names, reverse=True) and len(names) == len(contacts)


async def test_name_is_the_companys_name(hubspot: Facade) -> None:
    companies = await everything(hubspot, "company")
    acme = companies[1]
    assert acme.name is not None
    part = acme.name[1:4]
    expected = uids([c for c in companies if c.name and part in c.name])
    assert expected
    assert uids(await found(hubspot, "company", f'__NAME__ co "{part}"')) == expected
    assert uids(await found(hubspot, "company", f'name co "{part}"')) == expected
    assert uids(await found(hubspot, "company", f'name eq "{acme.name}"')) == uids(
        await found(hubspot, "company", f'__NAME__ eq "{acme.name}"')
    )


async def test_writes_take_either_name(hubspot: Facade) -> None:
    uid = await hubspot.create("contact", {"email": ["idm.names@example.com"]})
    got = await hubspot.get("contact", uid.value)
    assert got is not None and got.name == "idm.names@example.com"
    await hubspot.update("contact", uid, {"email": ["renamed@example.com"]})
    got = await hubspot.get("contact", uid.value, OperationOptions(attributesToGet=["email"]))
    assert got is not None and got.name == "renamed@example.com"
    with pytest.raises(InvalidAttributeValueException, match="same attribute"):
        await hubspot.create("contact", {"email": ["a@example.com"], "__NAME__": ["b@example.com"]})
    company = await hubspot.create("company", {"name": ["Names Inc"]})
    got = await hubspot.get("company", company.value)
    assert got is not None and got.name == "Names Inc"


@pytest.mark.parametrize(
    "query", ['emial eq "x"', 'firstname eq "x" and nickname pr', '!(nickname sw "a")']
)
async def test_an_unknown_attribute_in_a_filter_is_refused(hubspot: Facade, query: str) -> None:
    bad = "emial" if "emial" in query else "nickname"
    with pytest.raises(InvalidAttributeValueException) as error:
        await found(hubspot, "contact", query)
    assert f"'{bad}'" in error.value.message and "schema" in error.value.message


async def test_unknown_attributes_to_get_sort_keys_and_writes_are_refused(hubspot: Facade) -> None:
    contacts = await everything(hubspot, "contact")
    uid = contacts[0].uid
    with pytest.raises(InvalidAttributeValueException, match=r"'nickname'.*attributes to get"):
        await found(hubspot, "contact", "email pr", attributesToGet=["firstname", "nickname"])
    with pytest.raises(InvalidAttributeValueException, match=r"'nickname'.*attributes to get"):
        await hubspot.get("contact", uid.value, OperationOptions(attributesToGet=["nickname"]))
    with pytest.raises(InvalidAttributeValueException, match=r"'nickname'.*sort keys"):
        await found(hubspot, "contact", "email pr", sortKeys=[SortKey(field="nickname")])
    with pytest.raises(InvalidAttributeValueException, match=r"'nickname'.*to write"):
        await hubspot.create("contact", {"__NAME__": ["n@example.com"], "nickname": ["N"]})
    with pytest.raises(InvalidAttributeValueException, match=r"'nickname'.*to write"):
        await hubspot.update("contact", uid, {"nickname": ["N"]})
    with pytest.raises(InvalidAttributeValueException, match="company has no attribute 'email'"):
        await found(hubspot, "company", 'email eq "a@example.com"')


async def test_property_definitions_refuse_unknown_names_too(hubspot: Facade) -> None:
    (email,) = await found(hubspot, "contactProperties", '__NAME__ eq "email"')
    assert email.attributes["label"]
    with pytest.raises(InvalidAttributeValueException, match="contactProperties has no attribute"):
        await found(hubspot, "contactProperties", 'lable eq "Email"')
    with pytest.raises(InvalidAttributeValueException, match="'lable'"):
        await hubspot.get("contactProperties", "email", OperationOptions(attributesToGet=["lable"]))
