"""The connectors this server hosts, found through Python entry points, and how a key resolves.

Another package adds a connector by declaring an entry point in the `hubspot_rcs.connectors`
group that names its `Connector` subclass. A request's `connectorKey` resolves as IDM resolves a
`connectorRef`: same bundle and connector names, and a `bundleVersion` that is either exact or an
OSGi-style range (`[1.5.0.0,1.6.0.0)`, `[1.5,2)`, `(a,b]`); the highest version inside wins.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib.metadata import entry_points

from connector.base import Connector
from protocol.configuration import ConnectorKey
from protocol.errors import ConfigurationException, ConnectorException
from protocol.versions import Version, VersionRange, parse_version

__all__ = ["ENTRY_POINT_GROUP", "ConnectorRegistry", "Version", "VersionRange", "parse_version"]

ENTRY_POINT_GROUP = "hubspot_rcs.connectors"


class ConnectorRegistry:
    """Connector classes by key; `resolve` picks the one a request means."""

    def __init__(self, connectors: Iterable[type[Connector]] = ()) -> None:
        self._connectors: list[type[Connector]] = []
        for connector in connectors:
            self.register(connector)

    @classmethod
    def discover(cls) -> ConnectorRegistry:
        """Every connector installed under the entry point group."""
        registry = cls()
        for entry in entry_points(group=ENTRY_POINT_GROUP):
            loaded = entry.load()
            if not (isinstance(loaded, type) and issubclass(loaded, Connector)):
                raise ConfigurationException(
                    f"entry point {entry.name} = {entry.value} is not a Connector class"
                )
            registry.register(loaded)
        return registry

    def without_reference(self) -> ConnectorRegistry:
        """This registry without its reference connectors (`Connector.reference`)."""
        return ConnectorRegistry(c for c in self._connectors if not c.reference)

    def register(self, connector: type[Connector]) -> None:
        key = connector.connector_key
        for known in self._connectors:
            if known.connector_key == key:
                raise ConfigurationException(f"connector {key} is registered twice")
        parse_version(key.bundleVersion)
        self._connectors.append(connector)

    def all(self) -> list[type[Connector]]:
        return list(self._connectors)

    def resolve(self, key: ConnectorKey) -> type[Connector]:
        """The highest installed version inside the key's version or range."""
        wanted = VersionRange.parse(key.bundleVersion)
        candidates = [
            c
            for c in self._connectors
            if c.connector_key.bundleName == key.bundleName
            and c.connector_key.connectorName == key.connectorName
            and parse_version(c.connector_key.bundleVersion) in wanted
        ]
        if not candidates:
            raise ConnectorException(f"Connector not found: {key}")
        return max(candidates, key=lambda c: parse_version(c.connector_key.bundleVersion))
