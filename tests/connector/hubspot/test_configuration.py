"""The Java connector's ten properties, as IDM writes them, and every mistake named at once."""

from __future__ import annotations

import pytest

from connector.hubspot.configuration import HubspotConfiguration
from protocol.errors import ConfigurationException

SAMPLE = {
    # The sample of the Java connector's documentation (docs/openicf.md §6).
    "clientId": "daa533ae-1111",
    "clientSecret": "c598a365-2222",
    "refreshToken": "f37e1132-3333",
    "acceptSelfSignedCertificates": True,
    "readSchema": "true",
    "disableHostNameVerifier": False,
    "maximumConnections": "10",
    "permitsPerSecond": "10",
    "httpProxyHost": None,
    "httpProxyPort": None,
}


def test_the_java_connectors_sample_is_accepted() -> None:
    config = HubspotConfiguration.from_properties(SAMPLE)
    assert config.readSchema is True and config.acceptSelfSignedCertificates is True
    assert config.maximumConnections == 10 and config.permitsPerSecond == 10
    assert config.refreshToken.reveal() == "f37e1132-3333"
    assert config.base_url == "https://api.hubapi.com"
    assert config.proxy_url is None


def test_defaults() -> None:
    config = HubspotConfiguration.from_properties(
        {"clientId": "id", "clientSecret": "s", "refreshToken": "r"}
    )
    assert (config.readSchema, config.acceptSelfSignedCertificates) == (False, False)
    assert config.disableHostNameVerifier is False
    assert (config.maximumConnections, config.permitsPerSecond) == (10, 10)
    assert config.requestTimeoutSeconds == 60 and config.maxRetries == 5


def test_every_wrong_property_is_named_at_once_and_no_secret_shows() -> None:
    with pytest.raises(ConfigurationException) as caught:
        HubspotConfiguration.from_properties(
            {
                "clientSecret": "top-secret",
                "refreshToken": "also-secret",
                "maximumConnections": "0",
                "permitsPerSecond": "-1",
                "httpProxyPort": "3128",
                "apiBaseUrl": "ftp://example.com",
            }
        )
    message = str(caught.value)
    for name in (
        "clientId",
        "maximumConnections",
        "permitsPerSecond",
        "httpProxyPort: set without httpProxyHost",
        "apiBaseUrl",
    ):
        assert name in message
    assert "top-secret" not in message and "also-secret" not in message


def test_a_proxy_port_without_host_alone_is_refused() -> None:
    with pytest.raises(ConfigurationException, match="httpProxyPort"):
        HubspotConfiguration.from_properties(
            {"clientId": "id", "clientSecret": "s", "refreshToken": "r", "httpProxyPort": 8080}
        )


def test_proxy_url() -> None:
    config = HubspotConfiguration.from_properties(
        SAMPLE | {"httpProxyHost": "proxy.local", "httpProxyPort": "3128"}
    )
    assert config.proxy_url == "http://proxy.local:3128"


def test_secrets_are_confidential_in_connector_info() -> None:
    infos = {p.name: p for p in HubspotConfiguration.property_infos()}
    assert list(infos)[:10] == [
        "clientId",
        "clientSecret",
        "refreshToken",
        "acceptSelfSignedCertificates",
        "readSchema",
        "disableHostNameVerifier",
        "maximumConnections",
        "permitsPerSecond",
        "httpProxyHost",
        "httpProxyPort",
    ]
    assert infos["clientSecret"].confidential and infos["refreshToken"].confidential
    assert infos["clientId"].required and not infos["clientId"].confidential
    assert infos["maximumConnections"].defaultValue == 10
