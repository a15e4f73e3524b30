"""The connector SPI: a connector, its lifecycle, and the operations it may implement.

After ICF's SPI (`org.identityconnectors.framework.spi`): a `Connector` is built from a
validated `Configuration`, and declares what it can do by the operation classes it inherits
(`SearchOp`, `CreateOp`, ...). The server asks `supported_operations()` and answers
`UnsupportedOperationException` for the rest, as the Java framework does.

Lifecycle, for pooling (ICF's `PoolableConnector`): the server opens one `SharedResources` per
configuration (what every instance of it shares: an HTTP session, a rate limiter), builds
instances with it, calls `init()` once, `check_alive()` before lending a pooled instance again,
and `dispose()` when the pool drops it. Once the pool of a configuration is gone, its shared
resources are closed.

Everything is async. Cancellation is the stop signal: when an operation times out, is cancelled
by the peer, or its socket closes, the task running it is cancelled, and the connector's awaits
raise `CancelledError`. Connectors must let it through (clean up in `finally`), never swallow it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from prometheus_client import CollectorRegistry

from connector.configuration import Configuration
from protocol.configuration import ConnectorKey
from protocol.filters import Filter
from protocol.info import ConnectorInfo
from protocol.schema import Schema
from protocol.values import (
    Attributes,
    ConnectorObject,
    GuardedString,
    JsonValue,
    OperationName,
    OperationOptions,
    SearchResult,
    SyncDelta,
    SyncToken,
    Uid,
)

PersistProperty = Callable[[str, GuardedString], Awaitable[None]]
"""Hand a changed configuration property (a rotated refresh token) to the server to store."""


@dataclass(frozen=True)
class ConnectorContext:
    """What the server tells a connector about the configuration it runs under."""

    configuration: Configuration
    configuration_name: str
    """The configuration's name (`hubspot`), or `inline:<hash>` for an inline configuration."""
    scripting_enabled: bool = False
    persist_property: PersistProperty | None = None
    """None when the configuration came inline: IDM owns it, and the server cannot store it."""
    metrics: CollectorRegistry | None = None
    """The server's Prometheus registry: a connector registers its own instruments there, and
    the server's `/metrics` shows them. None: nobody scrapes (tools, unit tests)."""
    extras: dict[str, Any] = field(default_factory=dict)


class SharedResources:
    """What all instances of one configuration share. The base shares nothing."""

    async def aclose(self) -> None:
        """Release what was shared; called once, after the last instance is disposed."""

    def problems(self) -> list[str]:
        """What an operator must fix while the configuration keeps working (a credential that
        could not be stored); the server's readiness reports them. None by default."""
        return []


@dataclass(frozen=True)
class SearchPage:
    """A batch of results, as the resource returned it.

    The server sends each page to the peer as soon as it arrives. `result` is set on the last
    page when the search has paging state to report. `exact` is False when the connector could
    not apply the whole filter itself: the results handler then re-applies it
    (`enableFilteredResultsHandler`).
    """

    objects: Sequence[ConnectorObject]
    result: SearchResult | None = None
    exact: bool = True


@dataclass(frozen=True)
class SyncPage:
    deltas: Sequence[SyncDelta]
    token: SyncToken | None = None
    """Set on the last page: where the next sync resumes."""


class Connector(ABC):
    """Base of every connector. Subclasses set the class variables and inherit operations."""

    connector_key: ClassVar[ConnectorKey]
    display_name: ClassVar[str]
    category: ClassVar[str | None] = None
    configuration_class: ClassVar[type[Configuration]]
    object_classes: ClassVar[tuple[str, ...]] = ()
    reference: ClassVar[bool] = False
    """A reference connector (the in-memory one): hosted only when the server's settings say
    so (`memory_connector_enabled`), never merely because it is installed."""

    def __init__(self, context: ConnectorContext, shared: SharedResources) -> None:
        self.context = context
        self.shared = shared

    @property
    def configuration(self) -> Configuration:
        return self.context.configuration

    @classmethod
    async def open_shared(cls, context: ConnectorContext) -> SharedResources:
        """Open what the instances of one configuration share (one call per configuration)."""
        return SharedResources()

    async def init(self) -> None:
        """Prepare a new instance; a failure here is reported and the instance dropped."""

    async def check_alive(self) -> None:
        """Raise if this pooled instance can no longer be used (ICF `checkAlive`)."""

    async def dispose(self) -> None:
        """Release what this instance holds; it is not used again."""

    async def validate(self) -> None:
        """Check the configuration without calling the resource (ICF `Configuration.validate`).

        The configuration's own model has already checked each property; override to check
        rules that span properties.
        """

    @classmethod
    def supported_operations(cls) -> list[OperationName]:
        names: set[OperationName] = {"VALIDATE"}
        for capability, operations in _CAPABILITIES.items():
            if issubclass(cls, capability):
                names.update(operations)
        return sorted(names)

    @classmethod
    def info(cls) -> ConnectorInfo:
        return ConnectorInfo(
            connectorKey=cls.connector_key,
            displayName=cls.display_name,
            category=cls.category,
            configurationProperties=cls.configuration_class.property_infos(),
            supportedOperations=cls.supported_operations(),
            objectClasses=list(cls.object_classes),
        )


# -- operations (ICF SPI `spi.operations`) ---------------------------------------------------


class TestOp(ABC):
    __test__ = False  # not a pytest class

    @abstractmethod
    async def test(self) -> None:
        """Check the configuration against the resource; raise what failed."""


class SchemaOp(ABC):
    @abstractmethod
    async def schema(self) -> Schema: ...


class CreateOp(ABC):
    @abstractmethod
    async def create(
        self, object_class: str, attributes: Attributes, options: OperationOptions
    ) -> Uid: ...


class GetOp(ABC):
    """Read one object by Uid. Connectors without it get `get` through `SearchOp`."""

    @abstractmethod
    async def get(
        self, object_class: str, uid: Uid, options: OperationOptions
    ) -> ConnectorObject | None: ...


class SearchOp(ABC):
    @abstractmethod
    def search(
        self, object_class: str, filter: Filter | None, options: OperationOptions
    ) -> AsyncIterator[SearchPage]:
        """Yield pages of matching objects; the server stops iterating on cancel."""


class UpdateOp(ABC):
    @abstractmethod
    async def update(
        self, object_class: str, uid: Uid, attributes: Attributes, options: OperationOptions
    ) -> Uid:
        """Replace the values of the given attributes; an empty list clears one."""


class UpdateAttributeValuesOp(ABC):
    """ICF's `UpdateAttributeValuesOp`: add or remove values of multi-valued attributes."""

    @abstractmethod
    async def add_attribute_values(
        self, object_class: str, uid: Uid, attributes: Attributes, options: OperationOptions
    ) -> Uid: ...

    @abstractmethod
    async def remove_attribute_values(
        self, object_class: str, uid: Uid, attributes: Attributes, options: OperationOptions
    ) -> Uid: ...


class DeleteOp(ABC):
    @abstractmethod
    async def delete(self, object_class: str, uid: Uid, options: OperationOptions) -> None: ...


class ScriptOnConnectorOp(ABC):
    @abstractmethod
    async def run_script_on_connector(
        self,
        language: str,
        script: str,
        arguments: dict[str, JsonValue],
        options: OperationOptions,
    ) -> JsonValue: ...


class SyncOp(ABC):
    @abstractmethod
    def sync(
        self, object_class: str, token: SyncToken | None, options: OperationOptions
    ) -> AsyncIterator[SyncPage]: ...

    @abstractmethod
    async def latest_sync_token(self, object_class: str) -> SyncToken | None: ...


_CAPABILITIES: dict[type, tuple[OperationName, ...]] = {
    TestOp: ("TEST",),
    SchemaOp: ("SCHEMA",),
    CreateOp: ("CREATE",),
    GetOp: ("GET",),
    SearchOp: ("SEARCH", "GET"),
    UpdateOp: ("UPDATE",),
    DeleteOp: ("DELETE",),
    ScriptOnConnectorOp: ("SCRIPT_ON_CONNECTOR",),
    SyncOp: ("SYNC",),
}
