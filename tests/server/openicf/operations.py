"""Building OpenICF operation requests as the Java client does, from the server's own info."""

from __future__ import annotations

from typing import Any

from protocol.configuration import ConnectorKey
from protocol.filters import Filter
from protocol.openicf import objects
from protocol.openicf.proto import common_pb2
from protocol.openicf.proto.rpc_pb2 import ControlRequest, RemoteMessage
from protocol.values import AttributeValue, OperationOptions, Uid
from tests.server.openicf.peer import Peer


async def connector_infos(peer: Peer) -> list[objects.RemoteConnectorInfo]:
    request = RemoteMessage(messageId=peer.next_id())
    request.request.controlRequest.infoLevel.append(ControlRequest.CONNECTOR_INFO)
    await peer.send(request)
    [answer] = await peer.answers(request.messageId)
    return objects.decode_connector_infos(answer.response.controlResponse.connectorInfos)


def facade_key(info: objects.RemoteConnectorInfo, **values: Any) -> bytes:
    """The connector's default APIConfiguration with `values` set, as a facade key."""
    return objects.facade_key(objects.set_property_values(info.api_configuration, values))


class Operations:
    """Requests for one connector and configuration, spread over the peer's sockets."""

    def __init__(self, peer: Peer, key: ConnectorKey, facade: bytes) -> None:
        self.peer = peer
        self.key = key
        self.facade = facade

    def request(self) -> RemoteMessage:
        message = RemoteMessage(messageId=self.peer.next_id())
        operation = message.request.operationRequest
        operation.connectorKey.CopyFrom(common_pb2.ConnectorKey(**self.key.model_dump()))
        operation.connectorFacadeKey = self.facade
        operation.locale.language = "en"
        return message

    async def call(self, message: RemoteMessage) -> list[RemoteMessage]:
        await self.peer.send(message)
        return await self.peer.answers(message.messageId)

    async def test(self) -> list[RemoteMessage]:
        message = self.request()
        message.request.operationRequest.testOpRequest.SetInParent()
        return await self.call(message)

    async def create(
        self, object_class: str, name: str, **attributes: list[AttributeValue]
    ) -> list[RemoteMessage]:
        message = self.request()
        create = message.request.operationRequest.createOpRequest
        create.objectClass = object_class
        create.createAttributes = objects.encode_attributes(attributes, name=name)
        create.options = objects.encode_options(OperationOptions())
        return await self.call(message)

    async def get(
        self, object_class: str, uid: Uid, options: OperationOptions | None = None
    ) -> list[RemoteMessage]:
        message = self.request()
        get = message.request.operationRequest.getOpRequest
        get.objectClass = object_class
        get.uid.CopyFrom(objects.uid_to_proto(uid))
        get.options = objects.encode_options(options or OperationOptions())
        return await self.call(message)

    async def search(
        self,
        object_class: str,
        filter: Filter | None = None,
        options: OperationOptions | None = None,
    ) -> list[RemoteMessage]:
        message = self.search_request(object_class, filter, options)
        return await self.call(message)

    def search_request(
        self,
        object_class: str,
        filter: Filter | None = None,
        options: OperationOptions | None = None,
    ) -> RemoteMessage:
        message = self.request()
        search = message.request.operationRequest.searchOpRequest
        search.objectClass = object_class
        if filter is not None:
            search.filter = objects.encode_filter(filter)
        search.options = objects.encode_options(options or OperationOptions())
        return message
