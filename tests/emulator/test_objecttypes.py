"""Object-type names and their aliases (§0.5)."""

from __future__ import annotations

import pytest

from emulator.objecttypes import COMPANIES, CONTACTS, resolve_object_type


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("contacts", CONTACTS),
        ("contact", CONTACTS),
        ("0-1", CONTACTS),
        ("Contacts", CONTACTS),
        ("companies", COMPANIES),
        ("company", COMPANIES),
        ("0-2", COMPANIES),
        ("deals", None),
        ("0-3", None),
        ("", None),
    ],
)
def test_aliases(name: str, expected: object) -> None:
    assert resolve_object_type(name) is expected


def test_server_kept_properties() -> None:
    assert CONTACTS.server_properties == ("createdate", "hs_object_id", "lastmodifieddate")
    assert COMPANIES.server_properties == ("createdate", "hs_object_id", "hs_lastmodifieddate")
