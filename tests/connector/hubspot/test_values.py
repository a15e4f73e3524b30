"""HubSpot's string values read as typed attributes and written back."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from connector.hubspot.schema import builtin_catalog
from connector.hubspot.values import ObjectReader, to_properties
from protocol.errors import InvalidAttributeValueException
from protocol.values import ConnectorObject, Uid

CONTACTS = builtin_catalog("contact")
COMPANIES = builtin_catalog("company")


def test_a_contact_reads_as_typed_attributes() -> None:
    obj = ObjectReader(CONTACTS).read(
        {
            "id": "51",
            "properties": {
                "hs_object_id": "51",
                "email": "ann@x.com",
                "firstname": "Ann",
                "phone": None,
                "associatedcompanyid": "17",
                "hs_email_optout": "false",
                "hs_buying_role": "CHAMPION;END_USER",
                "lastmodifieddate": "2024-09-11T13:27:39.356Z",
                "createdate": "2024-01-17T19:55:04.281Z",
                "custom_unknown": "kept as text",
            },
            "updatedAt": "2024-09-11T13:27:39.356Z",
        }
    )
    assert obj.uid.value == "51" and obj.uid.revision == "2024-09-11T13:27:39.356Z"
    assert obj.name == "ann@x.com"
    assert obj.attributes == {
        "firstname": ["Ann"],
        "phone": [],
        "associatedcompanyid": [17],
        "hs_email_optout": [False],
        "hs_buying_role": ["CHAMPION", "END_USER"],
        "lastmodifieddate": ["2024-09-11T13:27:39.356Z"],
        "createdate": ["2024-01-17T19:55:04.281Z"],
        "custom_unknown": ["kept as text"],
    }
    assert "hs_object_id" not in obj.attributes and "email" not in obj.attributes


def test_a_read_object_is_the_object_validation_would_build() -> None:
    """Objects are built without validation (the hot path of a full read): what every user of
    a ConnectorObject relies on holds as for a validated one."""
    obj = ObjectReader(CONTACTS).read(
        {
            "id": "51",
            "properties": {"email": "ann@x.com", "firstname": "Ann", "associatedcompanyid": "17"},
            "updatedAt": "2024-09-11T13:27:39.356Z",
        }
    )
    for model in (ConnectorObject, Uid):  # nothing that model_construct would also set up
        assert not model.__private_attributes__ and not model.__pydantic_post_init__
    validated = ConnectorObject.model_validate_json(obj.model_dump_json())
    assert obj == validated
    assert obj.model_fields_set == validated.model_fields_set
    assert obj.uid.model_fields_set == validated.uid.model_fields_set
    assert obj.model_dump_json(exclude_none=True) == validated.model_dump_json(exclude_none=True)
    assert obj.model_copy(update={"name": "b@x.com"}).name == "b@x.com"
    with pytest.raises(ValidationError):
        obj.name = "c@x.com"  # type: ignore[misc]  # frozen, as every frame part is


def test_numbers_keep_fractions() -> None:
    obj = ObjectReader(COMPANIES).read(
        {"id": "1", "properties": {"name": "Acme", "annualrevenue": "1250.5", "is_public": "true"}}
    )
    assert obj.name == "Acme"
    assert obj.attributes["annualrevenue"] == [1250.5]
    assert obj.attributes["is_public"] == [True]


def test_attributes_write_as_hubspot_strings() -> None:
    assert to_properties(
        {
            "__NAME__": ["ann@x.com"],
            "firstname": ["Ann"],
            "hs_buying_role": ["CHAMPION", "END_USER"],
            "lastname": [],
        },
        CONTACTS,
        creating=False,
    ) == {
        "email": "ann@x.com",
        "firstname": "Ann",
        "hs_buying_role": "CHAMPION;END_USER",
        "lastname": "",
    }
    assert to_properties(
        {"numberofemployees": [12.0], "is_public": [False], "description": []},
        COMPANIES,
        creating=True,
    ) == {"numberofemployees": "12", "is_public": "false"}


@pytest.mark.parametrize(
    ("attributes", "message"),
    [
        ({"__UID__": ["5"]}, "__UID__"),
        ({"createdate": ["2024-01-01"]}, "read-only"),
        ({"firstname": ["A", "B"]}, "takes one value"),
    ],
)
def test_writes_that_cannot_be_made_are_refused_by_name(
    attributes: dict[str, list[object]], message: str
) -> None:
    with pytest.raises(InvalidAttributeValueException, match=message):
        to_properties(attributes, CONTACTS, creating=False)  # type: ignore[arg-type]
