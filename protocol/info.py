"""What a server tells its peer about the connectors it hosts (`CONNECTOR_INFO`).

Modelled on OpenICF's `ConnectorInfo` and its default `APIConfiguration` (docs/openicf.md §1.5):
the key, a display name, the configuration properties with their metadata, and what the
connector supports. Default values of confidential properties are never sent.
"""

from __future__ import annotations

from pydantic import Field

from protocol.configuration import ConnectorKey
from protocol.values import JsonValue, OperationName, _Model


class ConfigurationPropertyInfo(_Model):
    name: str
    type: str
    """`string`, `integer`, `number`, `boolean`, `guardedString`, or `array` of one of them."""
    required: bool = False
    confidential: bool = False
    defaultValue: JsonValue = None
    displayName: str | None = None
    helpMessage: str | None = None
    group: str | None = None
    order: int = 0


class ConnectorInfo(_Model):
    connectorKey: ConnectorKey
    displayName: str
    category: str | None = None
    configurationProperties: list[ConfigurationPropertyInfo] = Field(default_factory=list)
    supportedOperations: list[OperationName] = Field(default_factory=list)
    objectClasses: list[str] = Field(default_factory=list)


class ConfigurationInfo(_Model):
    """A named configuration the server holds, and the connector it is for (its `connectorRef`).

    Listed with CONNECTOR_INFO so that a client can name a configuration alone: the connector
    key each operation needs comes from here. `objectTypes` is the provisioner file's section of
    that name, as IDM keeps it: IDM's names for object classes and attributes, which a client
    maps to native names through `nativeType` and `nativeName` as IDM's system endpoint does.
    A configuration with `enabled: false` is listed, and refuses every operation.
    """

    name: str
    connectorRef: ConnectorKey
    enabled: bool = True
    displayName: str | None = None
    """The provisioner file's `connectorRef.displayName`, where it has one."""
    objectTypes: dict[str, JsonValue] | None = None
