"""Running one operation on a connector instance, and handing its answer to a sink.

Each operation kind maps to the SPI operation that implements it (docs/openicf.md §1.4); a
connector that lacks it answers `java.lang.UnsupportedOperationException`, as the Java framework
does. Two rules of our own: `get` on a connector without `GetOp` is a search for
`__UID__`, and ADD/REMOVE updates need `UpdateAttributeValuesOp`.

The answer goes to an `AnswerSink` as typed values (the objects of each connector page, sync
deltas, the final response); each wire encodes them its own way, so this module knows no wire.
Searches stream: each connector page is handed over as soon as it arrives, and every hand-over
is awaited, so a slow reader slows the connector instead of filling memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

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
    SchemaOpResponse,
    ScriptOnConnectorOpResponse,
    UpdateOpResponse,
)
from protocol.values import UID, ConnectorObject, SearchResult, SyncDelta, SyncToken, UpdateType


class AnswerSink(Protocol):
    """Where one operation's answer goes; each wire implements it.

    A search calls `search_page` once per connector page (possibly empty) and then
    `search_done`; a sync calls `sync_page`, then `sync_done`; every other operation calls
    `answer` once. `fail` is the answer of an operation that raised. The last call of each
    marks the operation answered: after it, a cancel finds nothing to stop.
    """

    objects: int
    """Objects (or sync deltas) handed over so far: the canonical log line reports it."""
    scanned: int | None
    """What the connector read for the search so far, where it reads more than it returns
    (`SearchPage.scanned`); a wire that can say so sends it with the next part."""

    async def answer(self, response: OperationResponse) -> None: ...

    async def search_page(self, objects: Sequence[ConnectorObject]) -> None: ...

    async def search_done(self, result: SearchResult | None) -> None: ...

    async def sync_page(self, deltas: Sequence[SyncDelta]) -> None: ...

    async def sync_done(self, token: SyncToken | None) -> None: ...

    async def fail(self, error: BaseException) -> None: ...


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
    outbox: AnswerSink,
) -> None:
    """Run `request` on `connector` and hand its whole answer to `outbox`."""
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
            await _search(connector, request, results, outbox)
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
            await _sync(connector, request, outbox)
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


async def _search(
    connector: Connector,
    request: OperationRequest,
    results: ResultsHandlerConfiguration,
    outbox: AnswerSink,
) -> None:
    op = request.search
    assert op is not None
    searcher: SearchOp = _require(connector, SearchOp, "SEARCH")
    handler = ResultsHandler(results, op.filter, op.options)
    result: SearchResult | None = None
    pages = searcher.search(op.objectClass, op.filter, op.options)
    try:
        async for page in pages:
            if page.scanned is not None:
                outbox.scanned = page.scanned
            objects = handler.apply(page)
            if objects:
                await outbox.search_page(objects)  # a page goes out as soon as it has arrived
            if page.result is not None:
                result = page.result
    finally:
        await _close(pages)
    await outbox.search_done(result)


async def _sync(connector: Connector, request: OperationRequest, outbox: AnswerSink) -> None:
    op = request.sync
    assert op is not None
    syncer: SyncOp = _require(connector, SyncOp, "SYNC")
    token = op.token
    pages = syncer.sync(op.objectClass, op.token, op.options)
    try:
        async for page in pages:
            if page.deltas:
                await outbox.sync_page(page.deltas)
            if page.token is not None:
                token = page.token
    finally:
        await _close(pages)
    await outbox.sync_done(token)


async def _close(iterator: Any) -> None:
    """Stop a connector's async generator now, so its `finally` runs inside the operation."""
    aclose = getattr(iterator, "aclose", None)
    if aclose is not None:
        await aclose()
