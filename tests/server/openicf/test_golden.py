"""Golden replay: the Java client's side of each recorded conversation, fed to our server.

Each recorded conversation (tests/protocol/openicf/vectors) ran between the unmodified OpenICF
Java client and the Java connector server hosting the OpenICF test connector. Here the client's
messages go, in order and on the socket they were recorded on, to our server hosting the
in-memory connector: the connector key is replaced by ours, the facade key re-encoded for our
connector (from our own CONNECTOR_INFO), and the uids and paging cookies the client sends back
are the ones our server gave (the Java client sends back what it was given). Every answer is
then held to what the Java server answered: the message types, the number of objects and the
final `sequence` of each stream, the presence of cookies and objects, and the exception class.

The in-memory connector is not the test connector: where the two differ in what the connector
itself does (not the server), `CONNECTOR_DIFFERENCES` names the request and what ours answers.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from connector.memory import ATTRIBUTES as MEMORY_ATTRIBUTES
from protocol.configuration import ConfigurationValue
from protocol.openicf import legacy, objects
from protocol.openicf.proto import common_pb2
from protocol.openicf.proto.rpc_pb2 import RemoteMessage
from protocol.openicf.wire import WireFormatError
from protocol.values import AttributeValue, GuardedString, Uid
from server.app import ConnectorServer
from tests.conftest import KEY, MEMORY_KEY, registry, settings
from tests.protocol.openicf.vectors import SCENARIOS, Frame, frames
from tests.server.openicf.peer import SUBPROTOCOLS, basic, complete

TEST_CONNECTOR = "org.identityconnectors.testconnector.TstConnector"
ACCOUNTS: list[AttributeValue] = ["__ACCOUNT__", "__GROUP__"]

# (scenario, request messageId) -> the shape our connector answers with, where it differs from
# the test connector for reasons of the connector alone.
RENAMED = {"mail": "phone", "age": "size", "groups": "tags"}
"""The test connector's attributes -> the in-memory connector's of the same kind (a string, an
integer, a multi-valued string). Its other attributes (04-create-get's `employeeNumber`, `photo`,
`pin`, `address`, `__PASSWORD__` ...) the in-memory connector's schema does not have, and it
refuses unknown names: the replay leaves them out. (Values of types our attribute model has no
place for, byte[], GuardedByteArray and Map, are refused by the server itself, naming the
attribute: test_bad_input.test_a_value_our_model_cannot_hold_is_refused_by_name.)"""

SCRIPTS: dict[int, tuple[str, str, dict[str, Any]]] = {
    11: ("echo", "Hello", {"name": "world"}),
    12: ("count", "__ACCOUNT__", {}),
    13: ("persist", "apiKey", {"value": "rotated"}),
}
"""09-sync-script's Groovy scripts, as the in-memory connector's script languages: 13 stores a
configuration property, as the recorded `connector.update()` did, so the server pushes a
configurationChangeEvent before its answer."""

_IAVE = "org.identityconnectors.framework.common.exceptions.InvalidAttributeValueException"
_UNSUPPORTED = "java.lang.UnsupportedOperationException"
CONNECTOR_DIFFERENCES: dict[tuple[str, int], tuple[Any, ...]] = {
    # failValidation=true is the test connector's own switch; ours fails validation on an
    # unknown failOn name (ConfigurationException) and `test` on failOn TEST.
    ("02-validate-test", 4): (
        "error",
        "org.identityconnectors.framework.common.exceptions.ConfigurationException",
    ),
    ("02-validate-test", 5): (
        "error",
        "org.identityconnectors.framework.common.exceptions.ConnectorIOException",
    ),
    # The test connector refuses a create without __NAME__; ours gives the object no name.
    ("08-errors", 9): ("createOpResponse",),
    # An ExtendedMatchFilter has no place in our filter model: refused by name, where the test
    # connector found no match.
    ("06-search", 22): ("error", "java.lang.IllegalArgumentException"),
    # Updating an object class the connector does not hold: the test connector says
    # UnsupportedOperationException, ours InvalidAttributeValueException.
    ("08-errors", 10): ("error", _IAVE),
    # Ours records every change (3 creates, 1 update, 1 delete); the test connector keeps the
    # last per object (3 deltas).
    ("09-sync-script", 9): ("syncOpResponse", 5, 5, True),
    # Tokens are the connector's: the test connector's 4 is its last change, ours is the
    # update before the delete, which follows.
    ("09-sync-script", 10): ("syncOpResponse", 1, 1, True),
    ("09-sync-script", 14): ("error", _UNSUPPORTED),  # scriptOnResource: no connector of ours
    # An unknown script language: ours says UnsupportedOperationException, Groovy's executor
    # IllegalArgumentException.
    ("09-sync-script", 15): ("error", _UNSUPPORTED),
    # Neither our connectors nor the server serve authenticate and resolveUsername: the
    # framework's own answer for an operation the connector lacks.
    ("12-authenticate-resolve", 3): ("error", _UNSUPPORTED),
    ("12-authenticate-resolve", 4): ("error", _UNSUPPORTED),
    ("12-authenticate-resolve", 5): ("error", _UNSUPPORTED),
    ("12-authenticate-resolve", 6): ("error", _UNSUPPORTED),
    ("12-authenticate-resolve", 7): ("error", _UNSUPPORTED),
}


def shape(parts: list[RemoteMessage]) -> tuple[Any, ...]:
    """What an answer is, without the connector's data: kinds, counts, sequences, classes."""
    last = parts[-1].response
    if last.HasField("error"):
        return ("error", last.error.exceptionClass)
    if last.HasField("controlResponse"):
        return ("control", bool(last.controlResponse.connectorInfos))
    kinds = {p.response.operationResponse.WhichOneof("_kind") if False else _kind(p) for p in parts}
    kind = _kind(parts[-1]) if len(kinds) == 1 else "+".join(sorted(kinds))
    response = last.operationResponse
    if kind == "searchOpResponse":
        searches = [p.response.operationResponse.searchOpResponse for p in parts]
        hits = [s for s in searches if s.HasField("connectorObject")]
        [final] = [s for s in searches if s.HasField("result")]
        assert sorted(s.sequence for s in hits) == list(range(1, len(hits) + 1))
        cookie = bool(final.result.pagedResultsCookie)
        return (kind, len(hits), final.sequence, cookie)
    if kind == "syncOpResponse":
        if response.syncOpResponse.HasField("latestSyncToken"):
            return (
                kind,
                "latestSyncToken",
                response.syncOpResponse.latestSyncToken.HasField("syncToken"),
            )
        syncs = [p.response.operationResponse.syncOpResponse.sync for p in parts]
        deltas = [d for d in syncs if d.HasField("syncDelta")]
        [end] = [d for d in syncs if not d.HasField("syncDelta")]
        return (kind, len(deltas), end.sequence, end.HasField("syncToken"))
    if kind == "GetOpResponse":
        return (kind, bool(response.GetOpResponse.connectorObject))
    if kind in ("createOpResponse", "updateOpResponse"):
        return (kind,)
    if kind == "scriptOnConnectorOpResponse":
        return (kind,)
    return (kind,)


def _kind(message: RemoteMessage) -> str:
    response = message.response.operationResponse
    for descriptor, _ in response.ListFields():
        return descriptor.name
    return "empty"


@dataclass
class Replay:
    """Our side of the mapping between the recording and our server."""

    server: ConnectorServer
    sockets: dict[int, ClientConnection] = field(default_factory=dict)
    queues: dict[int, asyncio.Queue[RemoteMessage]] = field(default_factory=dict)
    facades: dict[bytes, bytes] = field(default_factory=dict)
    uids: dict[str, Uid] = field(default_factory=dict)
    cookies: dict[str, str] = field(default_factory=dict)
    readers: list[asyncio.Task[None]] = field(default_factory=list)
    infos: list[objects.RemoteConnectorInfo] = field(default_factory=list)
    arrivals: list[tuple[int, RemoteMessage]] = field(default_factory=list)
    """Every message from the server, with its socket, in arrival order."""

    async def open(self, socket: int) -> None:
        ws = await connect(
            self.server.url,
            subprotocols=SUBPROTOCOLS,
            additional_headers={"Authorization": basic(KEY)},
            max_size=None,
        )
        self.sockets[socket] = ws
        queue: asyncio.Queue[RemoteMessage] = asyncio.Queue()
        self.queues[socket] = queue

        async def read() -> None:
            with contextlib.suppress(ConnectionClosed):
                async for data in ws:
                    assert isinstance(data, bytes)
                    message = RemoteMessage.FromString(data)
                    self.arrivals.append((socket, message))
                    await queue.put(message)

        self.readers.append(asyncio.get_running_loop().create_task(read()))

    async def received(self, wanted: Any) -> RemoteMessage:
        """The next message from the server on any socket that `wanted` accepts."""
        while True:
            for queue in self.queues.values():
                for _ in range(queue.qsize()):
                    item = queue.get_nowait()
                    if wanted(item):
                        return item
                    queue.put_nowait(item)
            await asyncio.sleep(0.001)

    async def answers(
        self, message_id: int, *, first_only: bool = False, parts: list[RemoteMessage] | None = None
    ) -> list[RemoteMessage]:
        parts = list(parts or [])
        while True:
            parts.append(
                await asyncio.wait_for(
                    self.received(lambda m: m.HasField("response") and m.messageId == message_id),
                    30,
                )
            )
            if first_only or complete(parts):
                return parts

    def facade(self, recorded: bytes) -> bytes:
        """Our connector's facade key for a recorded one, by what the recorded one configures."""
        if recorded not in self.facades:
            decoded = objects.decode_facade_key(recorded)
            values: dict[str, Any] = {"objectClasses": ACCOUNTS}
            fail = decoded.properties.get("failValidation")
            if fail is not None and fail.value is True:
                values["failOn"] = ["TEST", "NO_SUCH_OPERATION"]
            [ours] = [i for i in self.infos if i.connector_key == MEMORY_KEY]
            self.facades[recorded] = objects.facade_key(
                objects.set_property_values(ours.api_configuration, values)
            )
        return self.facades[recorded]

    def rewrite(self, message: RemoteMessage) -> RemoteMessage:
        """The recorded request, for our connector, with our uids and cookies."""
        out = RemoteMessage()
        out.CopyFrom(message)
        if not out.request.HasField("operationRequest"):
            return out
        operation = out.request.operationRequest
        key = operation.connectorKey
        if key.connectorName.startswith("org.identityconnectors.testconnector.Tst"):
            slow = key.connectorName == TEST_CONNECTOR
            operation.connectorKey.CopyFrom(common_pb2.ConnectorKey(**MEMORY_KEY.model_dump()))
            operation.connectorFacadeKey = (
                self.slow_facade() if slow else self.facade(bytes(operation.connectorFacadeKey))
            )
        else:  # an unknown connector stays unknown; its facade key is ours, decodable
            operation.connectorFacadeKey = self.facade(bytes(operation.connectorFacadeKey))
        if operation.HasField("createOpRequest"):
            create = operation.createOpRequest
            create.createAttributes = _our_attributes(create.createAttributes)
        if operation.HasField("updateOpRequest"):
            update = operation.updateOpRequest
            update.replaceAttributes = _our_attributes(update.replaceAttributes)
        holders: list[Any] = [
            operation.getOpRequest,
            operation.updateOpRequest,
            operation.deleteOpRequest,
            operation.searchOpRequest,
            operation.syncOpRequest.sync,
        ]
        for holder in holders:
            if holder.options:
                holder.options = self.our_options(holder.options)
        for name in ("getOpRequest", "updateOpRequest", "deleteOpRequest"):
            if operation.HasField(name):
                uid = getattr(operation, name).uid
                ours = self.uids.get(uid.value)
                if ours is not None:
                    uid.value = ours.value
                    uid.revision = ours.revision or "" if uid.revision else ""
        if operation.HasField("scriptOnConnectorOpRequest") and out.messageId in SCRIPTS:
            script = operation.scriptOnConnectorOpRequest.scriptContext
            language, text, arguments = SCRIPTS[out.messageId]
            script.script.scriptLanguage, script.script.scriptText = language, text
            script.scriptArguments = objects.encode_script_value(arguments)
        if operation.HasField("searchOpRequest"):
            search = operation.searchOpRequest
            with contextlib.suppress(WireFormatError):  # a filter ours cannot hold stays as is
                mapped = self.map_filter(objects.decode_filter(search.filter))
                search.filter = objects.encode_filter(mapped)
        return out

    def our_options(self, blob: bytes) -> bytes:
        """Options with our attribute names, and our cookie for a recorded one."""
        options, other = objects.decode_options(blob)
        changes: dict[str, Any] = {}
        if options.pagedResultsCookie in self.cookies:
            changes["pagedResultsCookie"] = self.cookies[options.pagedResultsCookie]
        if options.attributesToGet is not None:
            changes["attributesToGet"] = [
                RENAMED.get(a, a) for a in options.attributesToGet if a in KNOWN or a in RENAMED
            ]
        if options.sortKeys is not None:
            changes["sortKeys"] = [
                k.model_copy(update={"field": RENAMED.get(k.field, k.field)})
                for k in options.sortKeys
            ]
        return objects.encode_options(options.model_copy(update=changes), other)

    def map_filter(self, node: Any) -> Any:
        """A filter with our attribute names, and our uids for the recorded ones."""
        if node is None:
            return None
        data = node.model_dump()
        self._map_uids(data)
        return type(node).model_validate(data)

    def _map_uids(self, data: Any) -> None:
        if isinstance(data, dict):
            if data.get("attribute") in RENAMED:
                data["attribute"] = RENAMED[data["attribute"]]
            if data.get("attribute") == "__UID__" and isinstance(data.get("value"), str):
                ours = self.uids.get(data["value"])
                if ours is not None:
                    data["value"] = ours.value
            for value in data.values():
                self._map_uids(value)
        elif isinstance(data, list):
            for value in data:
                self._map_uids(value)

    _slow: bytes | None = None

    def slow_facade(self) -> bytes:
        if self._slow is None:
            [ours] = [i for i in self.infos if i.connector_key == MEMORY_KEY]
            values: dict[str, ConfigurationValue] = {
                "objectClasses": ACCOUNTS,
                "seed": 10,
                "pageSize": 1,
                "pageDelayMs": 50.0,
            }
            self._slow = objects.facade_key(
                objects.set_property_values(ours.api_configuration, values)
            )
        return self._slow

    def learn(self, recorded: list[RemoteMessage], ours: list[RemoteMessage]) -> None:
        """Remember which of our uids and cookies stand for the recorded ones."""
        t, m = recorded[-1].response.operationResponse, ours[-1].response.operationResponse
        for name in ("createOpResponse", "updateOpResponse"):
            if t.HasField(name) and m.HasField(name):
                self.uids[getattr(t, name).uid.value] = objects.uid_from_proto(getattr(m, name).uid)
        tc, mc = _cookie(recorded), _cookie(ours)
        if tc and mc:
            self.cookies[tc] = mc


KNOWN = frozenset({"__NAME__", "__UID__", *(a.name for a in MEMORY_ATTRIBUTES)})


def _our_attributes(blob: bytes) -> bytes:
    """A recorded attribute set with our names; attributes ours does not have are left out."""
    tree = legacy.decode(blob)
    assert isinstance(tree, legacy.JavaSet)
    kept: list[legacy.Value] = []
    for item in tree.items:
        if isinstance(item, legacy.LegacyObject) and item.type == "Attribute":
            name = item.fields.get("name")
            if name in RENAMED:
                item.fields["name"] = RENAMED[str(name)]
            elif name not in KNOWN:
                continue
        kept.append(item)
    tree.items = kept
    return legacy.encode(tree)


def _cookie(parts: list[RemoteMessage]) -> str:
    for part in parts:
        search = part.response.operationResponse.searchOpResponse
        if search.HasField("result"):
            return search.result.pagedResultsCookie
    return ""


def recorded_answers(scenario: str, message_id: int) -> list[RemoteMessage]:
    out = []
    for frame in frames(scenario):
        if frame.opcode != 2 or frame.direction != "server->client":
            continue
        message = RemoteMessage.FromString(frame.payload)
        if message.HasField("response") and message.messageId == message_id:
            out.append(message)
    return out


@contextlib.asynccontextmanager
async def serving() -> AsyncIterator[ConnectorServer]:
    async with ConnectorServer(settings(), registry(), {}) as server:
        yield server


def client_frames(scenario: str) -> list[Frame]:
    return [f for f in frames(scenario) if f.direction == "client->server" and f.opcode == 2]


@pytest.mark.parametrize("scenario", SCENARIOS)
async def test_the_server_answers_as_the_java_server_did(scenario: str) -> None:
    async with serving() as server:
        replay = Replay(server)
        sent = client_frames(scenario)
        for n in sorted({f.decoded["socket"] for f in sent}):
            await replay.open(n)
        try:
            await run(replay, scenario, sent)
        finally:
            for task in replay.readers:
                task.cancel()
            for ws in replay.sockets.values():
                await ws.close()


async def run(replay: Replay, scenario: str, sent: list[Frame]) -> None:
    index = 0
    while index < len(sent):
        frame = sent[index]
        message = RemoteMessage.FromString(frame.payload)
        socket = replay.sockets[frame.decoded["socket"]]
        index += 1
        if message.HasField("response"):
            await socket.send(message.SerializeToString())  # the client's answers to ours
            continue
        request = message.request
        if request.HasField("handshakeMessage"):
            await socket.send(message.SerializeToString())
            answer = await replay.received(lambda m: m.response.HasField("handshakeMessage"))
            assert answer.response.handshakeMessage.sessionId
            continue
        if request.HasField("cancelOpRequest"):
            continue  # sent below, with the request it cancels
        recorded = recorded_answers(scenario, message.messageId)
        cancel = _cancel_after(sent, index, message.messageId)
        await socket.send(replay.rewrite(message).SerializeToString())
        if cancel is not None:
            first = await replay.answers(message.messageId, first_only=True)
            cancel_socket = replay.sockets[cancel.decoded["socket"]]
            await cancel_socket.send(cancel.payload)
            ours = await replay.answers(message.messageId, parts=first)
            hits = [
                m
                for m in ours
                if m.response.operationResponse.searchOpResponse.HasField("connectorObject")
            ]
            [final] = [
                m for m in ours if m.response.operationResponse.searchOpResponse.HasField("result")
            ]
            # Java: 2 of 10 sent, then the final message counting them; ours the same way.
            assert final.response.operationResponse.searchOpResponse.sequence == len(hits) < 10
            assert shape(recorded)[0] == "searchOpResponse"
            continue
        ours = await replay.answers(message.messageId)
        if request.HasField("controlRequest") and request.controlRequest.infoLevel:
            replay.infos = objects.decode_connector_infos(
                ours[-1].response.controlResponse.connectorInfos
            )
            assert any(i.connector_key == MEMORY_KEY for i in replay.infos)
        expected = CONNECTOR_DIFFERENCES.get((scenario, message.messageId), shape(recorded))
        assert shape(ours) == expected, (scenario, message.messageId, ours[-1])
        replay.learn(recorded, ours)
        if _pushed_change(recorded_before(scenario, message.messageId)):
            check_pushed_change(replay, message, ours[-1])


def recorded_before(scenario: str, message_id: int) -> list[RemoteMessage]:
    """What the Java server sent from this request on, up to its answer."""
    out: list[RemoteMessage] = []
    started = False
    for frame in frames(scenario):
        if frame.opcode != 2:
            continue
        message = RemoteMessage.FromString(frame.payload)
        if frame.direction == "client->server":
            started = started or (message.HasField("request") and message.messageId == message_id)
            continue
        if started:
            out.append(message)
            if message.HasField("response") and message.messageId == message_id:
                return out
    return out


def _pushed_change(messages: list[RemoteMessage]) -> bool:
    return any(
        m.HasField("request") and m.request.operationRequest.HasField("configurationChangeEvent")
        for m in messages
    )


def check_pushed_change(replay: Replay, request: RemoteMessage, answer: RemoteMessage) -> None:
    """As the Java server did: messageId 0, the facade key and the event only, before the
    answer of the request that caused it, on its socket."""
    sent = replay.rewrite(request).request.operationRequest.connectorFacadeKey
    order = [m for _, m in replay.arrivals]
    [push] = [m for m in order if m.request.operationRequest.HasField("configurationChangeEvent")]
    assert order.index(push) < next(i for i, m in enumerate(order) if m is answer)
    assert push.messageId == 0
    operation = push.request.operationRequest
    assert operation.connectorFacadeKey == sent
    assert not operation.HasField("connectorKey") and not operation.HasField("locale")
    change = objects.decode_configuration_change(
        operation.configurationChangeEvent.configurationPropertyChange
    )
    assert change == {"apiKey": GuardedString("rotated")}


def _cancel_after(sent: list[Frame], index: int, message_id: int) -> Frame | None:
    for frame in sent[index:]:
        message = RemoteMessage.FromString(frame.payload)
        if message.HasField("request") and message.request.HasField("cancelOpRequest"):
            return frame if message.messageId == message_id else None
        if message.HasField("request") and message.request.HasField("operationRequest"):
            return None
    return None
