"""The connectors this server hosts, found through Python entry points, and how a key resolves.

Another package adds a connector by declaring an entry point in the `hubspot_rcs.connectors`
group that names its `Connector` subclass. A request's `connectorKey` resolves as IDM resolves a
`connectorRef`: same bundle and connector names, and a `bundleVersion` that is either exact or an
OSGi-style range (`[1.5.0.0,1.6.0.0)`, `[1.5,2)`, `(a,b]`); the highest version inside wins.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from importlib.metadata import entry_points

from connector.base import Connector
from protocol.configuration import ConnectorKey
from protocol.errors import ConfigurationException, ConnectorException

ENTRY_POINT_GROUP = "hubspot_rcs.connectors"

Version = tuple[int, ...]
_RANGE = re.compile(r"^\s*([\[(])\s*([^,\s]*)\s*,\s*([^,\s]*)\s*([\])])\s*$")


def parse_version(text: str) -> Version:
    """`1.5.20.34` -> (1, 5, 20, 34); trailing zeros dropped so 1.5 == 1.5.0.0."""
    parts = text.strip().split(".")
    try:
        numbers = [int(p) for p in parts]
    except ValueError:
        raise ConfigurationException(f"not a version: {text!r}") from None
    while len(numbers) > 1 and numbers[-1] == 0:
        numbers.pop()
    return tuple(numbers)


@dataclass(frozen=True)
class VersionRange:
    """An exact version, or an interval with inclusive `[` `]` or exclusive `(` `)` ends."""

    low: Version | None
    high: Version | None
    low_inclusive: bool = True
    high_inclusive: bool = True

    @classmethod
    def parse(cls, text: str) -> VersionRange:
        match = _RANGE.match(text)
        if match is None:
            exact = parse_version(text)
            return cls(exact, exact)
        opening, low, high, closing = match.groups()
        return cls(
            parse_version(low) if low else None,
            parse_version(high) if high else None,
            opening == "[",
            closing == "]",
        )

    def __contains__(self, version: Version) -> bool:
        if self.low is not None and (
            version < self.low or (version == self.low and not self.low_inclusive)
        ):
            return False
        return self.high is None or not (
            version > self.high or (version == self.high and not self.high_inclusive)
        )


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
