"""The configurations the server holds, and the pool each operation runs on.

An operation names its connector by key and its configuration by name (a configuration the
server holds, docs/protocol.md) or inline. Both resolve here, to one pool per configuration
(server.pool), whichever wire the operation came in on.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

from prometheus_client import CollectorRegistry

from connector.base import Connector, ConnectorContext, PersistProperty
from connector.registry import ConnectorRegistry, VersionRange, parse_version
from protocol.configuration import ConfigurationRef, ConnectorKey, InlineConfiguration
from protocol.errors import ConfigurationException
from protocol.frames import OperationRequest
from protocol.info import ConfigurationInfo, ConnectorInfo
from protocol.values import GuardedString, JsonValue
from server.pool import ConnectorPool, PoolKey, PoolManager, configuration_digest

__all__ = ["Configurations", "HostedConfiguration", "Persist"]

Persist = Callable[[str, str, GuardedString], None]
"""(configuration name, property name, value) -> store it; blocking, run in a worker thread."""


@dataclass(frozen=True)
class HostedConfiguration:
    """A named configuration the server holds: its name, its connectorRef, its contents."""

    name: str
    connector_ref: ConnectorKey
    configuration: InlineConfiguration
    enabled: bool = True
    """False: held, listed, and refused to every operation (IDM's `enabled: false`)."""
    display_name: str | None = None
    object_types: dict[str, JsonValue] | None = None
    """IDM's `objectTypes` from the provisioner file, handed to clients as they are."""

    @property
    def digest(self) -> str:
        return configuration_digest(self.configuration)


class FacadeKeyConfiguration(InlineConfiguration):
    """An inline configuration that came as an OpenICF facade key (server.facades).

    Its pool is keyed by `facadeDigest`, the digest of the key's decoded content, and bounded in
    number; a property the connector stores (a rotated refresh token) goes back to the peer that
    sent the key, through `Configurations.facade_persist`.
    """

    facadeDigest: str


MAX_FACADE_POOLS: Final = 16
"""Pools of facade configurations kept at once; the least recently used one beyond is retired."""


@dataclass(frozen=True)
class _Named:
    hosted: HostedConfiguration
    digest: str


class Configurations:
    """Named configurations, the connector registry, and the pool of each configuration."""

    def __init__(
        self,
        registry: ConnectorRegistry,
        pools: PoolManager,
        *,
        scripting_enabled: bool,
        metrics: CollectorRegistry | None,
        persist: Persist | None = None,
    ) -> None:
        self.registry = registry
        self.pools = pools
        self._scripting_enabled = scripting_enabled
        self._metrics = metrics
        self._persist = persist
        self._named: dict[str, _Named] = {}
        self._facade_pools: OrderedDict[PoolKey, None] = OrderedDict()
        self.facade_persist: PersistProperty | None = None
        """Where a connector's stored property goes when its configuration came as a facade
        key (the OpenICF wire pushes it to the peer as a configurationChangeEvent)."""

    def set(self, configurations: Mapping[str, HostedConfiguration]) -> None:
        """Install the named configurations (at start, or on reload).

        A configuration that changed gets a new pool on its next use; its old pool finishes
        the operations it lent instances to, then closes. A removed one's pool closes too.
        """
        named = {name: _Named(c, c.digest) for name, c in configurations.items()}
        for name in set(self._named) | set(named):
            keep = named.get(name)
            previous = self._named.get(name)
            if previous is not None and (keep is None or keep.digest != previous.digest):
                self.pools.retire_named(name)
        self._named = named

    def configuration_infos(self) -> list[ConfigurationInfo]:
        return [
            ConfigurationInfo(
                name=name,
                connectorRef=n.hosted.connector_ref,
                enabled=n.hosted.enabled,
                displayName=n.hosted.display_name,
                objectTypes=n.hosted.object_types,
            )
            for name, n in sorted(self._named.items())
        ]

    def connector_infos(self) -> list[ConnectorInfo]:
        return [c.info() for c in self.registry.all()]

    def pool_for(self, request: OperationRequest) -> tuple[ConnectorPool, InlineConfiguration]:
        """Resolve the connector and the configuration an operation names, to their pool."""
        connector_class = self.registry.resolve(request.connectorKey)
        chosen = request.configuration
        if isinstance(chosen, ConfigurationRef):
            named = self._named.get(chosen.name)
            if named is None:
                known = ", ".join(sorted(self._named)) or "none"
                raise ConfigurationException(
                    f"unknown configuration {chosen.name!r} (this server holds: {known})"
                )
            if not named.hosted.enabled:
                raise ConfigurationException(
                    f"configuration {chosen.name!r} is disabled (enabled: false in its "
                    "provisioner file): it is not served"
                )
            _check_ref(named.hosted, connector_class)
            return self._pool(
                connector_class, named.hosted.configuration, chosen.name, named.digest, False
            )
        if isinstance(chosen, FacadeKeyConfiguration):
            return self._facade_pool(connector_class, chosen, chosen.facadeDigest[:32])
        digest = configuration_digest(chosen)
        return self._pool(connector_class, chosen, f"inline:{digest[:12]}", digest, True)

    def _facade_pool(
        self, connector_class: type[Connector], configuration: FacadeKeyConfiguration, digest: str
    ) -> tuple[ConnectorPool, InlineConfiguration]:
        pool, _ = self._pool(
            connector_class,
            configuration,
            f"facade:{digest[:12]}",
            digest,
            True,
            self.facade_persist,
        )
        self._facade_pools[pool.key] = None
        self._facade_pools.move_to_end(pool.key)
        while len(self._facade_pools) > MAX_FACADE_POOLS:
            oldest, _ = self._facade_pools.popitem(last=False)
            self.pools.retire(oldest)
        return pool, configuration

    def _pool(
        self,
        connector_class: type[Connector],
        configuration: InlineConfiguration,
        name: str,
        digest: str,
        inline: bool,
        persist: PersistProperty | None = None,
    ) -> tuple[ConnectorPool, InlineConfiguration]:
        key = connector_class.connector_key
        connector_id = f"{key.bundleName}:{key.bundleVersion}:{key.connectorName}"
        pool_key = PoolKey(connector_id, name, digest)
        pool = self.pools.lookup(pool_key)
        if pool is None or pool.closed:
            context = self._context(connector_class, configuration, name, inline, persist)
            pool = self.pools.get(
                pool_key, connector_class, context, configuration.poolConfigOption, inline=inline
            )
        return pool, configuration

    def _context(
        self,
        connector_class: type[Connector],
        configuration: InlineConfiguration,
        name: str,
        inline: bool,
        persist: PersistProperty | None,
    ) -> ConnectorContext:
        typed = connector_class.configuration_class.from_properties(
            configuration.configurationProperties
        )
        if persist is None and not inline and self._persist is not None:
            store = self._persist

            async def persist_property(property_name: str, value: GuardedString) -> None:
                await asyncio.to_thread(store, name, property_name, value)

            persist = persist_property
        return ConnectorContext(
            configuration=typed,
            configuration_name=name,
            scripting_enabled=self._scripting_enabled,
            persist_property=persist,
            metrics=self._metrics,
        )


def _check_ref(hosted: HostedConfiguration, connector_class: type[Connector]) -> None:
    ref, key = hosted.connector_ref, connector_class.connector_key
    matches = (
        ref.bundleName == key.bundleName
        and ref.connectorName == key.connectorName
        and parse_version(key.bundleVersion) in VersionRange.parse(ref.bundleVersion)
    )
    if not matches:
        raise ConfigurationException(f"configuration {hosted.name!r} is for {ref}, not for {key}")
