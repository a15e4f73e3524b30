"""The SPI: operations a connector supports follow from the classes it inherits."""

from __future__ import annotations

from collections.abc import AsyncIterator

from connector.base import Connector, CreateOp, SearchOp, SearchPage, TestOp
from connector.configuration import Configuration, Property
from protocol.configuration import ConnectorKey
from protocol.filters import Filter
from protocol.values import Attributes, OperationOptions, Uid


class PingConfiguration(Configuration):
    host: str = Property(required=True, order=1, help="Where to ping")


class PingConnector(Connector, TestOp, SearchOp, CreateOp):
    connector_key = ConnectorKey(
        bundleName="org.example.ping", bundleVersion="1.0.0.0", connectorName="org.example.Ping"
    )
    display_name = "Ping"
    configuration_class = PingConfiguration
    object_classes = ("host",)

    async def test(self) -> None:
        return None

    async def search(
        self, object_class: str, filter: Filter | None, options: OperationOptions
    ) -> AsyncIterator[SearchPage]:
        yield SearchPage([])

    async def create(
        self, object_class: str, attributes: Attributes, options: OperationOptions
    ) -> Uid:
        return Uid(value="1")


def test_supported_operations_follow_the_capabilities() -> None:
    assert PingConnector.supported_operations() == ["CREATE", "GET", "SEARCH", "TEST", "VALIDATE"]


def test_info_describes_the_connector() -> None:
    info = PingConnector.info()
    assert info.connectorKey.connectorName == "org.example.Ping"
    assert info.objectClasses == ["host"]
    assert [p.name for p in info.configurationProperties] == ["host"]
    assert info.configurationProperties[0].helpMessage == "Where to ping"
