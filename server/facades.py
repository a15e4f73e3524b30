"""OpenICF facade keys: the configuration IDM sends with every request, and our connector list.

Every OpenICF operation request carries its connector's whole `APIConfiguration` as its facade
key (docs/openicf-rpc.md §5, §9.6). Here it becomes a `FacadeKeyConfiguration`: the
GuardedStrings decrypted and held as `GuardedString`s (as our own secrets are held, never written
anywhere), checked with the rules a provisioner file is checked with, and given to
`Configurations`, which keeps one pool per decoded content (the key's bytes differ between IDM
processes for the same configuration).
Decoded keys are cached by their bytes, and both caches are bounded.

CONNECTOR_INFO is answered from here too: every hosted connector as a legacy `ConnectorInfo`
with its default `APIConfiguration`.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Final

from connector.base import Connector
from connector.registry import ConnectorRegistry
from protocol.configuration import Configuration, ConnectorKey
from protocol.errors import ConfigurationException
from protocol.openicf import messages, objects
from protocol.openicf.proto.operations_pb2 import OperationRequest
from server.configurations import FacadeKeyConfiguration

MAX_DECODED_KEYS: Final = 64
"""Facade keys kept decoded (a key is about 5 KB; IDM sends the same few again and again)."""


class Facades:
    """Facade key -> configuration, and the legacy connector list."""

    def __init__(self, registry: ConnectorRegistry) -> None:
        self.registry = registry
        self._decoded: OrderedDict[tuple[ConnectorKey, bytes], FacadeKeyConfiguration] = (
            OrderedDict()
        )
        self._infos: bytes | None = None

    def connector_infos(self) -> bytes:
        """The legacy List<ConnectorInfo> of every hosted connector (built once)."""
        if self._infos is None:
            infos = [connector.info() for connector in self.registry.all()]
            self._infos = objects.encode_connector_infos(infos)
        return self._infos

    def connector(self, request: OperationRequest) -> type[Connector]:
        """The hosted connector a request names, by its exact key ("Connector not found")."""
        key = request.connectorKey
        for candidate in self.registry.all():
            ours = candidate.connector_key
            if (ours.bundleName, ours.bundleVersion, ours.connectorName) == (
                key.bundleName,
                key.bundleVersion,
                key.connectorName,
            ):
                return candidate
        raise messages.not_found(key)

    def configuration(self, request: OperationRequest) -> Configuration:
        """The configuration a request's facade key holds, validated for its connector."""
        connector = self.connector(request)
        raw = bytes(request.connectorFacadeKey)
        cache_key = (connector.connector_key, raw)
        found = self._decoded.get(cache_key)
        if found is not None:
            self._decoded.move_to_end(cache_key)
            return found
        decoded = objects.decode_facade_key(raw)
        inline = decoded.inline()
        configuration = FacadeKeyConfiguration(
            configurationProperties=dict(sorted(inline.configurationProperties.items())),
            poolConfigOption=inline.poolConfigOption,
            operationTimeout=inline.operationTimeout,
            resultsHandlerConfig=inline.resultsHandlerConfig,
            facadeDigest=decoded.digest,
        )
        validate(connector, configuration)
        self._decoded[cache_key] = configuration
        while len(self._decoded) > MAX_DECODED_KEYS:
            self._decoded.popitem(last=False)
        return configuration


def validate(connector: type[Connector], configuration: FacadeKeyConfiguration) -> None:
    """The checks a provisioner file gets: the connector's own property rules, and ICF's
    `ObjectPoolConfiguration.validate()` (minIdle <= maxIdle <= maxObjects)."""
    connector.configuration_class.from_properties(configuration.configurationProperties)
    pool = configuration.poolConfigOption
    if pool.minIdle > pool.maxIdle:
        raise ConfigurationException("poolConfigOption.minIdle must be <= maxIdle")
    if pool.maxIdle > pool.maxObjects:
        raise ConfigurationException("poolConfigOption.maxIdle must be <= maxObjects")
