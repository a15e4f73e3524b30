"""Provisioner files as IDM saves them: every key IDM writes, values in IDM's forms, served.

An operator moving a system from the Java connector server copies the file IDM wrote; it must
load with nothing removed, and the server must serve it (docs/openicf.md §3.2).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from client.connection import RcsClient
from connector.hubspot import HubspotConnector
from connector.memory import MemoryConnector
from connector.registry import ConnectorRegistry
from emulator import Emulator, EmulatorSettings
from protocol.codec import decode
from protocol.configuration import ConnectorKey, InlineConfiguration
from protocol.errors import ConfigurationException
from protocol.filters import Equals
from protocol.frames import RequestFrame
from server.app import ConnectorServer
from server.cli import hosted_configurations
from server.conf import RegistryLookup, load_conf
from server.keyhash import hash_key
from tests.server.conf_samples import provisioner

KEY = "idm-provisioner-key"
REGISTRY = ConnectorRegistry([HubspotConnector, MemoryConnector])

# What IDM's admin UI writes in operationTimeout: every APIOperation, -1 for none.
TIMEOUTS = [
    *("CREATE", "UPDATE", "DELETE", "TEST", "SCRIPT_ON_CONNECTOR", "SCRIPT_ON_RESOURCE", "GET"),
    *("RESOLVEUSERNAME", "AUTHENTICATE", "SEARCH", "VALIDATE", "SYNC", "SCHEMA"),
]


def idm_provisioner(
    name: str, key: ConnectorKey, properties: dict[str, Any], object_types: dict[str, Any]
) -> dict[str, Any]:
    """A provisioner file with every key IDM writes, numbers as the strings its UI saves."""
    return {
        "_id": f"provisioner.openicf/{name}",
        "name": name,
        "enabled": True,
        "connectorRef": {
            "bundleName": key.bundleName,
            "bundleVersion": "[1.0.0.0,2.0.0.0)",
            "connectorName": key.connectorName,
            "connectorHostRef": "rcs",
            "displayName": f"{name} system",
            "systemType": "provisioner.openicf",
        },
        "producerBufferSize": "100",
        "connectorPoolingSupported": True,
        "poolConfigOption": {
            "maxObjects": "10",
            "maxIdle": "10",
            "maxWait": "150000",
            "minEvictableIdleTimeMillis": "120000",
            "minIdle": "1",
        },
        "operationTimeout": {op: -1 if i % 2 else "-1" for i, op in enumerate(TIMEOUTS)},
        "resultsHandlerConfig": {
            "enableNormalizingResultsHandler": "true",
            "enableFilteredResultsHandler": False,
            "enableCaseInsensitiveFilter": None,
            "enableAttributesToGetSearchResultsHandler": True,
        },
        "configurationProperties": properties,
        "objectTypes": object_types,
        "operationOptions": {
            "DELETE": {"denied": False, "onDeny": "DO_NOTHING", "objectFeatures": {}},
            "SYNC": None,
        },
        "syncFailureHandler": {"maxRetries": 5, "postRetryAction": "logged-ignore"},
    }


CONTACT_TYPE = {
    "$schema": "http://json-schema.org/draft-03/schema",
    "id": "contact",
    "type": "object",
    "nativeType": "contact",
    "properties": {
        "email": {"type": "string", "nativeName": "__NAME__", "nativeType": "string"},
        "firstname": {"type": "string", "nativeName": "firstname", "nativeType": "string"},
    },
}


@pytest.fixture
def emulator_settings() -> EmulatorSettings:
    """For `emu` (tests/conftest.py)."""
    return EmulatorSettings(contacts=20, companies=3, seed=5, rate_limits_enabled=False)


def write(conf: Path, name: str, document: dict[str, Any]) -> None:
    provisioner(conf, name).write_text(json.dumps(document, indent=4), encoding="utf-8")


@pytest.fixture
def conf(tmp_path: Path, emu: Emulator) -> Path:
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "ConnectorServer.properties").write_text(f"connectorserver.key={hash_key(KEY)}\n")
    hubspot = {
        "clientId": emu.client_id,
        "clientSecret": emu.client_secret,
        "refreshToken": emu.refresh_token,
        "apiBaseUrl": emu.base_url,
        "readSchema": "false",
        "acceptSelfSignedCertificates": False,
        "disableHostNameVerifier": False,
        "maximumConnections": "10",
        "permitsPerSecond": "1000",
        "httpProxyHost": None,
        "httpProxyPort": None,
    }
    key = HubspotConnector.connector_key
    write(conf, "hubspot", idm_provisioner("hubspot", key, hubspot, {"contact": CONTACT_TYPE}))
    memory = {"seed": "5", "apiKey": None}
    write(conf, "memory", idm_provisioner("memory", MemoryConnector.connector_key, memory, {}))
    return conf


def test_the_test_covers_every_connector_installed() -> None:
    installed = {c.connector_key for c in ConnectorRegistry.discover().all()}
    assert installed == {c.connector_key for c in REGISTRY.all()}


async def test_every_key_idm_writes_loads_and_serves(conf: Path) -> None:
    loaded = load_conf(conf, {}, confidential=RegistryLookup(REGISTRY))
    assert not [w for w in loaded.warnings if "provisioner" in w]
    hubspot = loaded.configurations["hubspot"]
    assert hubspot.enabled
    assert hubspot.connectorRef.displayName == "hubspot system"
    assert hubspot.connectorRef.systemType == "provisioner.openicf"
    assert hubspot.poolConfigOption.maxWait == 150000
    assert hubspot.timeout_ms("RESOLVEUSERNAME") == -1
    assert hubspot.timeout_ms("SEARCH") == -1
    assert hubspot.resultsHandlerConfig.enableNormalizingResultsHandler is True
    assert hubspot.resultsHandlerConfig.enableCaseInsensitiveFilter is False
    assert hubspot.producerBufferSize == 100
    assert hubspot.syncFailureHandler == {"maxRetries": 5, "postRetryAction": "logged-ignore"}
    assert hubspot.objectTypes == {"contact": CONTACT_TYPE}

    settings = loaded.settings.model_copy(update={"host": "127.0.0.1", "port": 0})
    async with (
        ConnectorServer(settings, REGISTRY, hosted_configurations(loaded)) as server,
        await RcsClient.connect(server.url, KEY) as client,
    ):
        listed = {c.name: c for c in await client.configurations()}
        assert listed["hubspot"].displayName == "hubspot system"
        assert listed["hubspot"].objectTypes == {"contact": CONTACT_TYPE}
        assert listed["memory"].enabled
        for name in ("hubspot", "memory"):
            facade = await client.facade(name)
            await facade.test()
            async with facade.search("contact", None, pageSize=2) as results:
                assert len([o async for o in results]) == 2
        hubspot_facade = await client.facade("hubspot")
        async with hubspot_facade.search("contact", None, pageSize=1) as results:
            (first,) = [o async for o in results]
        assert first.name is not None
        by_name = Equals(attribute="__NAME__", value=first.name)
        async with hubspot_facade.search("contact", by_name) as results:
            assert [o.uid async for o in results] == [first.uid]


async def test_unknown_keys_are_warnings_that_name_them(conf: Path) -> None:
    path = provisioner(conf, "memory")
    document = json.loads(path.read_text())
    document["connectorRef"]["bundleVersoin"] = "1"
    document["operationTimeout"]["LIVESYNC"] = 5
    document["poolConfigOption"]["maxIdleTimeMillis"] = "0"
    document["resultsHandlerConfig"]["enableSortingHandler"] = True
    document["auditing"] = {}
    path.write_text(json.dumps(document))
    loaded = load_conf(conf, {}, confidential=RegistryLookup(REGISTRY))
    found = [w for w in loaded.warnings if w.startswith(str(path))]
    paths = [w.split(": ")[1] for w in found]
    assert sorted(paths) == sorted(
        [
            "$.auditing",
            "$.connectorRef.bundleVersoin",
            "$.poolConfigOption.maxIdleTimeMillis",
            "$.operationTimeout.LIVESYNC",
            "$.resultsHandlerConfig.enableSortingHandler",
        ]
    )
    assert all("not a key IDM writes" in w for w in found)
    assert "memory" in loaded.configurations


async def test_a_disabled_configuration_is_not_served_and_says_so(conf: Path) -> None:
    path = provisioner(conf, "memory")
    document = json.loads(path.read_text())
    document["enabled"] = "false"
    path.write_text(json.dumps(document))
    other = idm_provisioner(
        "ldap",
        ConnectorKey(bundleName="org.example.ldap", bundleVersion="1.5", connectorName="Ldap"),
        {"host": "ldap.example.com"},
        {},
    )
    other["enabled"] = False
    write(conf, "ldap", other)  # a connector this server does not host, switched off in IDM
    loaded = load_conf(conf, {}, confidential=RegistryLookup(REGISTRY))
    assert any("provisioner.openicf-ldap.json: $.connectorRef" in w for w in loaded.warnings)
    settings = loaded.settings.model_copy(update={"host": "127.0.0.1", "port": 0})
    async with (
        ConnectorServer(settings, REGISTRY, hosted_configurations(loaded)) as server,
        await RcsClient.connect(server.url, KEY) as client,
    ):
        listed = {c.name: c.enabled for c in await client.configurations()}
        assert listed == {"hubspot": True, "ldap": False, "memory": False}
        facade = await client.facade("memory")
        with pytest.raises(ConfigurationException, match="'memory' is disabled"):
            await facade.test()
        with pytest.raises(ConfigurationException, match="'memory' is disabled"):
            async with facade.search("contact", None) as results:
                [o async for o in results]


def test_an_inline_configuration_ignores_what_it_does_not_use() -> None:
    """A whole IDM provisioner file sent inline: the operation reads what it needs."""
    key = MemoryConnector.connector_key
    document = idm_provisioner("inline", key, {"seed": "3"}, {"contact": CONTACT_TYPE})
    document["poolConfigOption"]["maxIdleTimeMillis"] = 0  # ConnId's, not IDM's
    frame = {
        "messageId": 3,
        "request": {
            "operation": {
                "connectorKey": key.model_dump(),
                "configuration": document,
                "test": {},
            }
        },
    }
    decoded = decode(json.dumps(frame))
    assert isinstance(decoded, RequestFrame) and decoded.request.operation is not None
    inline = decoded.request.operation.configuration
    assert isinstance(inline, InlineConfiguration)
    assert inline.timeout_ms("RESOLVEUSERNAME") == -1
    assert inline.poolConfigOption.maxObjects == 10
    assert inline.configurationProperties == {"seed": "3"}
