"""Configuration: ICF property metadata, lax string inputs, and every error at once."""

from __future__ import annotations

import pytest
from pydantic import model_validator

from connector.configuration import Configuration, Property
from protocol.errors import ConfigurationException
from protocol.values import GuardedString


class SampleConfiguration(Configuration):
    clientId: str = Property(required=True, order=1, help="The app's client id")
    clientSecret: GuardedString = Property(required=True, confidential=True, order=2)
    maximumConnections: int = Property(10, order=3, ge=1)
    readSchema: bool = Property(False, order=4)
    apiKey: GuardedString = Property(GuardedString("default-secret"), confidential=True, order=5)
    httpProxyHost: str | None = Property(None, order=6)
    httpProxyPort: int | None = Property(None, order=7, ge=1, le=65535)

    @model_validator(mode="after")
    def _port_needs_host(self) -> SampleConfiguration:
        if self.httpProxyPort is not None and not self.httpProxyHost:
            raise ValueError("httpProxyPort is set without httpProxyHost")
        return self


def test_strings_as_idm_writes_them_are_accepted() -> None:
    config = SampleConfiguration.from_properties(
        {"clientId": "id", "clientSecret": "s", "maximumConnections": "25", "readSchema": "true"}
    )
    assert config.maximumConnections == 25
    assert config.readSchema is True
    assert isinstance(config.clientSecret, GuardedString)
    assert config.clientSecret.reveal() == "s"


def test_guarded_values_from_the_wire_are_accepted() -> None:
    config = SampleConfiguration.from_properties(
        {"clientId": "id", "clientSecret": {"$guarded": "s"}}
    )
    assert config.clientSecret.reveal() == "s"


def test_every_wrong_property_is_named_at_once_without_its_value() -> None:
    with pytest.raises(ConfigurationException) as caught:
        SampleConfiguration.from_properties(
            {
                "clientSecret": "top-secret",
                "maximumConnections": "0",
                "readSchema": "maybe",
                "colour": "blue",
            }
        )
    message = str(caught.value)
    for name in ("clientId", "maximumConnections", "readSchema", "colour"):
        assert name in message
    assert "top-secret" not in message and "maybe" not in message


def test_rules_across_properties() -> None:
    with pytest.raises(ConfigurationException, match="httpProxyPort is set without httpProxyHost"):
        SampleConfiguration.from_properties(
            {"clientId": "id", "clientSecret": "s", "httpProxyPort": "3128"}
        )


def test_property_infos_carry_the_metadata_and_hide_secret_defaults() -> None:
    infos = {info.name: info for info in SampleConfiguration.property_infos()}
    assert [i.name for i in SampleConfiguration.property_infos()][:3] == [
        "clientId",
        "clientSecret",
        "maximumConnections",
    ]
    assert infos["clientId"].required and infos["clientId"].helpMessage == "The app's client id"
    assert infos["clientSecret"].confidential and infos["clientSecret"].type == "guardedString"
    assert infos["maximumConnections"].defaultValue == 10
    assert infos["maximumConnections"].type == "integer"
    assert infos["apiKey"].defaultValue is None
    assert infos["httpProxyPort"].type == "integer"
    assert SampleConfiguration.confidential_properties() == {"clientSecret", "apiKey"}
