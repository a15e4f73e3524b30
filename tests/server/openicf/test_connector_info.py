"""CONNECTOR_INFO as IDM's admin UI reads it: every property's display name, help and group
resolve through the connector's message catalog, as the Java framework resolves them."""

from __future__ import annotations

from connector.hubspot import HubspotConnector
from connector.memory import MemoryConnector
from connector.registry import ConnectorRegistry
from protocol.openicf import legacy
from server.app import ConnectorServer
from tests.conftest import KEY, settings
from tests.server.openicf.operations import connector_infos
from tests.server.openicf.peer import Peer


async def test_every_property_has_its_display_help_and_group_in_the_catalog() -> None:
    connectors = [HubspotConnector, MemoryConnector]
    async with (
        ConnectorServer(settings(), ConnectorRegistry(connectors), {}) as server,
        Peer.connect(server.url, KEY) as peer,
    ):
        remote = {info.connector_key: info for info in await connector_infos(peer)}
    for connector in connectors:
        declared = connector.info()
        info = remote[declared.connectorKey]
        assert info.display_name == declared.displayName
        holder = info.api_configuration.fields["ConfigurationProperties"]
        assert isinstance(holder, legacy.LegacyObject)
        by_name = {p.name: p for p in declared.configurationProperties}
        assert len(holder.items) == len(by_name)
        for item in holder.items:
            assert isinstance(item, legacy.LegacyObject)
            prop = by_name[str(item.fields["name"])]
            texts = {
                "displayMessageKey": prop.displayName,
                "helpMessageKey": prop.helpMessage,
                "groupMessageKey": prop.group,
            }
            for key_field, text in texts.items():
                assert text, f"{declared.connectorKey.connectorName}.{prop.name}: no {key_field}"
                # The catalog holds MessageFormat patterns; decoded, the text itself.
                assert info.messages[str(item.fields[key_field])] == text
            assert prop.displayName != prop.name  # a name for people, not the property's own
