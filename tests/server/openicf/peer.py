"""A bare OpenICF peer for tests: real WebSockets with the subprotocol, protobuf both ways.

It does what the Java client does on the wire and no more: Basic `anonymous:<key>`, a handshake
on every socket, an empty `List` answer to the server's control requests, and requests spread
over the sockets of its group. Tests read every message the server sends.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Final

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from protocol.openicf.proto.rpc_pb2 import HandshakeMessage, RemoteMessage

SUBPROTOCOLS: Final = [Subprotocol("v1.openicf.forgerock.org")]
EMPTY_LIST: Final = (
    bytes.fromhex("0000fafb000000020000000100000004")
    + b"List"
    + bytes.fromhex("000000003d0000000048")
)
"""The Java client's own CONNECTOR_INFO answer: a legacy empty `List`."""
PEER_SESSION: Final = "0123456789ABCDEF0123456789ABCDEF01234567"


def basic(key: str) -> str:
    return "Basic " + base64.b64encode(f"anonymous:{key}".encode()).decode()


class Peer:
    """One connection group of sockets to the server."""

    def __init__(self, sockets: list[ClientConnection]) -> None:
        self.sockets = sockets
        self.received: asyncio.Queue[tuple[int, RemoteMessage]] = asyncio.Queue()
        self.server_requests: list[RemoteMessage] = []
        self.handshakes: list[HandshakeMessage] = []
        self.arrivals: list[RemoteMessage] = []
        """Every message the server sent, in arrival order (one socket's order is its own)."""
        self._readers = [
            asyncio.get_running_loop().create_task(self._read(n, ws))
            for n, ws in enumerate(sockets)
        ]
        self._next_id = 1

    @classmethod
    @contextlib.asynccontextmanager
    async def connect(
        cls, url: str, key: str, *, sockets: int = 2, session_id: str = PEER_SESSION
    ) -> AsyncIterator[Peer]:
        opened = [
            await connect(
                url,
                subprotocols=SUBPROTOCOLS,
                additional_headers={"Authorization": basic(key)},
                max_size=None,
            )
            for _ in range(sockets)
        ]
        peer = cls(opened)
        try:
            for ws in opened:
                hello = RemoteMessage()
                hello.request.handshakeMessage.sessionId = session_id
                hello.request.handshakeMessage.serverType = HandshakeMessage.JAVA
                hello.request.handshakeMessage.publicKey = b"not used"
                await ws.send(hello.SerializeToString())
            for _ in opened:
                _, answer = await peer.next(lambda m: m.response.HasField("handshakeMessage"))
                peer.handshakes.append(answer.response.handshakeMessage)
            yield peer
        finally:
            for task in peer._readers:
                task.cancel()
            for ws in opened:
                await ws.close()

    async def _read(self, n: int, ws: ClientConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for data in ws:
                assert isinstance(data, bytes), "the server sends binary frames only"
                message = RemoteMessage.FromString(data)
                self.arrivals.append(message)
                if message.HasField("request") and message.request.HasField("controlRequest"):
                    self.server_requests.append(message)
                    answer = RemoteMessage(messageId=message.messageId)
                    if message.request.controlRequest.infoLevel:
                        answer.response.controlResponse.connectorInfos = EMPTY_LIST
                    else:
                        answer.response.controlResponse.SetInParent()
                    await ws.send(answer.SerializeToString())
                    continue
                await self.received.put((n, message))

    def skip_ids_below(self, floor: int) -> None:
        self._next_id = max(self._next_id, floor)

    def next_id(self) -> int:
        message_id, self._next_id = self._next_id, self._next_id + 1
        return message_id

    async def send(self, message: RemoteMessage, socket: int | None = None) -> None:
        """Send on `socket`, or spread by id over the group as the Java client does."""
        index = socket if socket is not None else message.messageId % len(self.sockets)
        await self.sockets[index].send(message.SerializeToString())

    async def send_raw(self, data: bytes, socket: int = 0) -> None:
        await self.sockets[socket].send(data)

    async def next(
        self, wanted: Callable[[RemoteMessage], bool] = lambda m: True
    ) -> tuple[int, RemoteMessage]:
        """The next message the server sent that `wanted` accepts (others are kept aside)."""
        aside: list[tuple[int, RemoteMessage]] = []
        try:
            while True:
                item = await asyncio.wait_for(self.received.get(), 30)
                if wanted(item[1]):
                    return item
                aside.append(item)
        finally:
            for item in aside:
                self.received.put_nowait(item)

    async def answers(self, message_id: int) -> list[RemoteMessage]:
        """Every message answering request `message_id`, up to its last: a single answer or
        error, or a search/sync stream whose final message has arrived along with every object
        it counts (parts may come on either socket, the final one before the last object)."""
        parts: list[RemoteMessage] = []
        while True:
            _, message = await self.next(
                lambda m: m.HasField("response") and m.messageId == message_id
            )
            parts.append(message)
            if complete(parts):
                return sorted(parts, key=_order)


def _order(message: RemoteMessage) -> tuple[int, int]:
    response = message.response.operationResponse
    if response.HasField("searchOpResponse"):
        search = response.searchOpResponse
        return (1 if search.HasField("result") else 0, search.sequence)
    if response.HasField("syncOpResponse") and response.syncOpResponse.HasField("sync"):
        sync = response.syncOpResponse.sync
        return (0 if sync.HasField("syncDelta") else 1, sync.sequence)
    return (0, 0)


def complete(parts: list[RemoteMessage]) -> bool:
    """Whether `parts` hold a whole answer (a stream: the final message and every object)."""
    last = parts[-1].response
    if not last.HasField("operationResponse"):
        return True
    search = [p.response.operationResponse.searchOpResponse for p in parts]
    if last.operationResponse.HasField("searchOpResponse"):
        final = [s for s in search if s.HasField("result")]
        objects = [s for s in search if s.HasField("connectorObject")]
        return bool(final) and len(objects) == final[0].sequence
    sync_response = last.operationResponse.syncOpResponse
    if last.operationResponse.HasField("syncOpResponse") and sync_response.HasField("sync"):
        syncs = [p.response.operationResponse.syncOpResponse.sync for p in parts]
        final_sync = [s for s in syncs if not s.HasField("syncDelta")]
        deltas = [s for s in syncs if s.HasField("syncDelta")]
        return bool(final_sync) and len(deltas) == final_sync[0].sequence
    return True
