"""Running one operation on a connector instance, and streaming its answer.

Each operation kind maps to the SPI operation that implements it (docs/openicf.md §1.4); a
connector that lacks it answers `java.lang.UnsupportedOperationException`, as the Java framework
does. Two rules from the lead's design: `get` on a connector without `GetOp` is a search for
`__UID__`, and ADD/REMOVE updates need `UpdateAttributeValuesOp`.

Searches stream (docs/protocol.md "search"): the objects of each connector page go out as soon
as the page arrives, in parts of at most `search_frame_max_objects` objects and about
`search_frame_max_bytes`, and every send is awaited, so a slow reader slows the connector
instead of filling memory. Each object is serialised once, straight into the part's text; the
text is what `protocol.codec.encode` would produce for the same frame (a test holds it to that).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from connector.base import (
    Connector,
    CreateOp,
    DeleteOp,
    GetOp,
    SchemaOp,
    ScriptOnConnectorOp,
    SearchOp,
    SyncOp,
    TestOp,
    UpdateAttributeValuesOp,
    UpdateOp,
)
from connector.results import ResultsHandler
from protocol.codec import encode
from protocol.configuration import ResultsHandlerConfiguration
from protocol.errors import UnsupportedOperationException
from protocol.filters import Equals
from protocol.frames import (
    CreateOpResponse,
    Empty,
    GetOpResponse,
    LatestSyncTokenOpResponse,
    OperationRequest,
    OperationResponse,
    ResponseBody,
    ResponseFrame,
    SchemaOpResponse,
    ScriptOnConnectorOpResponse,
    SearchOpResponse,
    SyncOpResponse,
    UpdateOpResponse,
)
from protocol.values import UID, ConnectorObject, SearchResult, UpdateType

SendText = Callable[[bytes], Awaitable[None]]
"""Send one frame's UTF-8 text and wait until the socket has room (flow control)."""

_OBJECT_JSON: Final = ConnectorObject.__pydantic_serializer__


@dataclass(frozen=True)
class Limits:
    """How search parts are cut (ServerSettings.search_frame_max_objects / _bytes)."""

    max_objects: int
    max_bytes: int


class Outbox:
    """Where one operation's answer goes: frames under its messageId, the last one marked."""

    def __init__(self, message_id: int, send: SendText, on_final: Callable[[], None]) -> None:
        self.message_id = message_id
        self._send = send
        self._on_final = on_final
        self.objects = 0
        """Objects (or sync deltas) sent so far: the canonical log line reports it."""

    async def part(self, text: bytes) -> None:
        await self._send(text)

    async def final(self, frame: ResponseFrame) -> None:
        """Send the request's last frame; after it, a cancel finds nothing to stop."""
        self._on_final()
        await self._send(encode(frame).encode())

    async def answer(self, response: OperationResponse) -> None:
        await self.final(
            ResponseFrame(messageId=self.message_id, response=ResponseBody(operation=response))
        )


def _require(connector: Connector, capability: type, operation: str) -> Any:
    if not isinstance(connector, capability):
        raise UnsupportedOperationException(
            f"{type(connector).display_name} does not support {operation}"
        )
    return connector


async def run(
    connector: Connector,
    request: OperationRequest,
    results: ResultsHandlerConfiguration,
    limits: Limits,
    outbox: Outbox,
) -> None:
    """Run `request` on `connector` and send its whole answer through `outbox`."""
    match request.kind:
        case "test":
            await _require(connector, TestOp, "TEST").test()
            await outbox.answer(OperationResponse(test=Empty()))
        case "validate":
            await connector.validate()
            await outbox.answer(OperationResponse(validate_=Empty()))
        case "schema":
            schema = await _require(connector, SchemaOp, "SCHEMA").schema()
            await outbox.answer(OperationResponse(schema_=SchemaOpResponse(schema_=schema)))
        case "create":
            op = request.create
            assert op is not None
            uid = await _require(connector, CreateOp, "CREATE").create(
                op.objectClass, op.attributes, op.options
            )
            await outbox.answer(OperationResponse(create=CreateOpResponse(uid=uid)))
        case "get":
            found = await _get(connector, request, results)
            outbox.objects = 0 if found is None else 1
            await outbox.answer(OperationResponse(get=GetOpResponse(connectorObject=found)))
        case "search":
            await _search(connector, request, results, limits, outbox)
        case "update":
            await outbox.answer(OperationResponse(update=await _update(connector, request)))
        case "delete":
            deleting = request.delete
            assert deleting is not None
            await _require(connector, DeleteOp, "DELETE").delete(
                deleting.objectClass, deleting.uid, deleting.options
            )
            await outbox.answer(OperationResponse(delete=Empty()))
        case "scriptOnConnector":
            script = request.scriptOnConnector
            assert script is not None
            value = await _require(
                connector, ScriptOnConnectorOp, "SCRIPT_ON_CONNECTOR"
            ).run_script_on_connector(
                script.scriptLanguage, script.scriptText, script.scriptArguments, script.options
            )
            response = ScriptOnConnectorOpResponse(result=value)
            await outbox.answer(OperationResponse(scriptOnConnector=response))
        case "sync":
            await _sync(connector, request, limits, outbox)
        case "latestSyncToken":
            latest = request.latestSyncToken
            assert latest is not None
            token = await _require(connector, SyncOp, "SYNC").latest_sync_token(latest.objectClass)
            response_ = LatestSyncTokenOpResponse(token=token)
            await outbox.answer(OperationResponse(latestSyncToken=response_))
        case other:  # pragma: no cover - the frame model admits no other kind
            raise UnsupportedOperationException(f"unknown operation {other}")


async def _get(
    connector: Connector, request: OperationRequest, results: ResultsHandlerConfiguration
) -> ConnectorObject | None:
    op = request.get
    assert op is not None
    handler = ResultsHandler(results, None, op.options)
    if isinstance(connector, GetOp):
        found = await connector.get(op.objectClass, op.uid, op.options)
        return None if found is None else handler.project(found)
    searcher: SearchOp = _require(connector, SearchOp, "GET")
    by_uid = Equals(attribute=UID, value=op.uid.value)
    matching = ResultsHandler(results, by_uid, op.options)
    pages = searcher.search(op.objectClass, by_uid, op.options)
    try:
        async for page in pages:
            for obj in matching.apply(page):
                return obj
    finally:
        await _close(pages)
    return None


async def _update(connector: Connector, request: OperationRequest) -> UpdateOpResponse:
    op = request.update
    assert op is not None
    args = (op.objectClass, op.uid, op.attributes, op.options)
    if op.updateType is UpdateType.REPLACE:
        uid = await _require(connector, UpdateOp, "UPDATE").update(*args)
    else:
        values = _require(connector, UpdateAttributeValuesOp, f"UPDATE {op.updateType.value}")
        if op.updateType is UpdateType.ADD:
            uid = await values.add_attribute_values(*args)
        else:
            uid = await values.remove_attribute_values(*args)
    return UpdateOpResponse(uid=uid)


def search_part(
    message_id: int, sequence: int, objects: Sequence[bytes], scanned: int | None = None
) -> bytes:
    """The text of a search part holding already-serialised objects (no result)."""
    extra = b"" if scanned is None else b'"scanned":%d,' % scanned
    return b"".join(
        (
            b'{"messageId":%d,"response":{"operation":{"search":{"sequence":%d,%s'
            b'"connectorObjects":[' % (message_id, sequence, extra),
            b",".join(objects),
            b"]}}}}",
        )
    )


async def _search(
    connector: Connector,
    request: OperationRequest,
    results: ResultsHandlerConfiguration,
    limits: Limits,
    outbox: Outbox,
) -> None:
    op = request.search
    assert op is not None
    searcher: SearchOp = _require(connector, SearchOp, "SEARCH")
    handler = ResultsHandler(results, op.filter, op.options)
    message_id, sequence = outbox.message_id, 0
    result: SearchResult | None = None
    batch: list[bytes] = []
    size = 0

    async def flush() -> None:
        nonlocal sequence, size
        sequence += 1
        outbox.objects += len(batch)
        text = search_part(message_id, sequence, batch, scanned)
        batch.clear()
        size = 0
        await outbox.part(text)

    scanned: int | None = None
    pages = searcher.search(op.objectClass, op.filter, op.options)
    try:
        async for page in pages:
            scanned = page.scanned if page.scanned is not None else scanned
            for obj in handler.apply(page):
                data = _OBJECT_JSON.to_json(obj, by_alias=True, exclude_none=True)
                if batch and (
                    len(batch) >= limits.max_objects or size + len(data) > limits.max_bytes
                ):
                    await flush()
                batch.append(data)
                size += len(data) + 1
            if batch:
                await flush()  # a page is sent as soon as it has arrived
            if page.result is not None:
                result = page.result
    finally:
        await _close(pages)
    last = SearchOpResponse(sequence=sequence + 1, result=result or SearchResult(), scanned=scanned)
    await outbox.answer(OperationResponse(search=last))


async def _sync(
    connector: Connector, request: OperationRequest, limits: Limits, outbox: Outbox
) -> None:
    op = request.sync
    assert op is not None
    syncer: SyncOp = _require(connector, SyncOp, "SYNC")
    sequence = 0
    token = op.token
    pages = syncer.sync(op.objectClass, op.token, op.options)
    try:
        async for page in pages:
            deltas = list(page.deltas)
            for start in range(0, len(deltas), limits.max_objects):
                sequence += 1
                chunk = deltas[start : start + limits.max_objects]
                outbox.objects += len(chunk)
                part = SyncOpResponse(sequence=sequence, syncDeltas=chunk)
                frame = ResponseFrame(
                    messageId=outbox.message_id,
                    response=ResponseBody(operation=OperationResponse(sync=part)),
                )
                await outbox.part(encode(frame).encode())
            if page.token is not None:
                token = page.token
    finally:
        await _close(pages)
    last = SyncOpResponse(sequence=sequence + 1, token=token, last=True)
    await outbox.answer(OperationResponse(sync=last))


async def _close(iterator: Any) -> None:
    """Stop a connector's async generator now, so its `finally` runs inside the operation."""
    aclose = getattr(iterator, "aclose", None)
    if aclose is not None:
        await aclose()
