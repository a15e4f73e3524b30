"""The async client: one WebSocket to a connector server, many requests over it at once.

    async with await RcsClient.connect("ws://127.0.0.1:8759/openicf", key) as client:
        hubspot = await client.facade("hubspot")      # a configuration the server holds
        await hubspot.test()
        async with hubspot.search("contact", page_size=100) as results:
            async for obj in results:
                ...
        print(results.result)                         # the SearchResult

A reader task routes every frame to the request it answers (by messageId, docs/protocol.md
"Envelope"). Search parts queue up to a bound; past it the reader waits, TCP pushes back, and
the server's sends wait too, so a slow consumer slows the connector rather than filling memory.
Leaving a search early (break, an exception, `aclose`) sends a cancel, as IDM's client does when
its handler returns false (docs/openicf.md §1.6-§1.7); a stream merely dropped (collected
unclosed) sends its cancel with the client's next frame, never from the collector. Errors are
raised as the ICF exceptions of `protocol.errors`, keeping the class name the server sent.

Answers are decoded liberally (`decode_response`: fields this client does not know are left
out); one that cannot be read at all fails the request it names, rather than leaving it to wait.
Every call has a finite deadline: its `timeout_s`, else the client's `call_timeout_s` (300 s).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ssl as ssl_module
import uuid
from collections import deque
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Final, Literal, Self, TypeAlias

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.typing import Subprotocol

from client.rawparts import RawPart, raw_part
from protocol.codec import FrameError, decode_response, encode, exception_from
from protocol.configuration import Configuration, ConfigurationRef, ConnectorKey
from protocol.errors import (
    ConfigurationException,
    ConnectionBrokenException,
    ConnectionFailedException,
    ConnectorException,
    InvalidCredentialException,
    OperationTimeoutException,
    ProtocolError,
)
from protocol.filters import Filter
from protocol.frames import (
    HANDSHAKE_MESSAGE_ID,
    CancelRequest,
    ControlRequest,
    ControlResponse,
    CreateOpRequest,
    DeleteOpRequest,
    GetOpRequest,
    Handshake,
    InfoLevel,
    LatestSyncTokenOpRequest,
    OperationRequest,
    OperationResponse,
    RequestBody,
    RequestFrame,
    ResponseBody,
    ResponseFrame,
    SchemaOpRequest,
    ScriptOnConnectorOpRequest,
    SearchOpRequest,
    SyncOpRequest,
    TestOpRequest,
    UpdateOpRequest,
    ValidateOpRequest,
)
from protocol.info import ConfigurationInfo, ConnectorInfo
from protocol.schema import Schema
from protocol.session import Session, Side
from protocol.values import (
    Attributes,
    ConnectorObject,
    JsonValue,
    OperationOptions,
    SearchResult,
    SyncDelta,
    SyncToken,
    Uid,
    UpdateType,
)

DEFAULT_URL: Final = "ws://127.0.0.1:8759/openicf"
CLIENT_CERTIFICATE_REQUIRED: Final = "client certificate required"
"""The body of the server's 403 to a peer without a certificate under mutual TLS."""
STREAM_QUEUE_FRAMES: Final = 8
"""Search parts a client holds before its reader stops reading (and TCP pushes back)."""
CALL_TIMEOUT_S: Final = 300.0
"""A call's deadline when neither the call nor the client names one: for a single answer, the
whole wait; for a stream, the wait for each part."""
Wire: TypeAlias = Literal["json", "openicf"]
"""The protocols a client speaks: ours (docs/protocol.md) and OpenICF 1.5 (docs/openicf-rpc.md)."""


class _Pending:
    """The frames of one request, as they arrive, with a bound that pushes back."""

    def __init__(self, limit: int) -> None:
        self._items: deque[ResponseFrame | RawPart] = deque()
        self._limit = limit
        self._readable = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()
        self._error: BaseException | None = None
        self.abandoned = False

    async def put(self, frame: ResponseFrame | RawPart) -> None:
        if self.abandoned:
            return
        self._items.append(frame)
        self._readable.set()
        if len(self._items) >= self._limit:
            self._room.clear()
            await self._room.wait()

    def fail(self, error: BaseException) -> None:
        self._error = error
        self._readable.set()
        self._room.set()

    def abandon(self) -> None:
        """The caller no longer wants this request's frames: drop them, free the reader."""
        self.abandoned = True
        self._items.clear()
        self._room.set()

    async def get(self) -> ResponseFrame:
        frame = await self.take()
        assert isinstance(frame, ResponseFrame), "a raw part for a request that is not raw"
        return frame

    async def take(self) -> ResponseFrame | RawPart:
        """The next frame, a raw search part included (client/fastpath.py)."""
        while not self._items:
            if self._error is not None:
                raise self._error
            self._readable.clear()
            await self._readable.wait()
        frame = self._items.popleft()
        if len(self._items) < self._limit:
            self._room.set()
        return frame


def tls_context(
    *,
    cafile: str | Path | None = None,
    certfile: str | Path | None = None,
    keyfile: str | Path | None = None,
    verify: bool = True,
) -> ssl_module.SSLContext:
    """A client context for `wss://`: TLS 1.2 at least, the server verified against `cafile`
    (or the system's CAs), and a client certificate for mutual TLS when `certfile` is given
    (`keyfile` when the key is not in the same file). `verify=False` checks nothing: tests
    and first contact only."""
    context = ssl_module.create_default_context(cafile=cafile)
    context.minimum_version = ssl_module.TLSVersion.TLSv1_2
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl_module.CERT_NONE
    if certfile is not None:
        context.load_cert_chain(certfile, keyfile)
    return context


def _authorization(key: str, scheme: Literal["basic", "bearer"]) -> str:
    if scheme == "bearer":
        return f"Bearer {key}"
    # What IDM sends: Basic with the username `anonymous` (docs/openicf.md §1.1).
    return "Basic " + base64.b64encode(f"anonymous:{key}".encode()).decode()


_NOT_TLS: Final = frozenset(
    {"WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "UNKNOWN_PROTOCOL", "HTTP_REQUEST"}
)
"""OpenSSL's reasons when the other end answered something that is not TLS."""
_JAVA_RCS_REFUSAL: Final = "Failed to connect"
"""The body of a connector server's 403 to a wrong key (the Java RCS's words)."""
_OPENICF_REALM: Final = "openicf.forgerock.org"


def _refusal(url: str, exc: InvalidStatus) -> ConnectorException:
    """What a non-101 answer to the upgrade means: a refused key only if a connector server
    said so; otherwise the URL points at something that is not a connector server."""
    response = exc.response
    status = response.status_code
    said = (response.body or b"").decode(errors="replace").strip()
    challenge = response.headers.get("WWW-Authenticate") or ""
    if status == 403 and said == CLIENT_CERTIFICATE_REQUIRED:
        return InvalidCredentialException(
            "the server requires a client certificate (mutual TLS) and got none; "
            "give --cert FILE (and --cert-key FILE)"
        )
    # Ours says it in the body; the Java server (and ours on the OpenICF wire) in the reason.
    refusal = (said or response.reason_phrase).lower()
    if (status == 401 and _OPENICF_REALM in challenge) or (
        status == 403 and refusal == _JAVA_RCS_REFUSAL.lower()
    ):
        what = "no key" if status == 401 else "the key"
        return InvalidCredentialException(
            f"the server refused {what} (HTTP {status}): the key must be the one whose hash is "
            "connectorserver.key (RCS_KEY, --key-file)"
        )
    if status == 429:
        # The auth throttle (docs/operations.md): after a wrong key, every key from this
        # address is refused unchecked until the delay passes.
        wait = response.headers.get("Retry-After")
        after = f"; retry after {wait} s" if wait else ""
        return InvalidCredentialException(
            f"the server refused the key unchecked (HTTP 429): a wrong key came from this "
            f"address{after}, with the key whose hash is connectorserver.key (RCS_KEY, --key-file)"
        )
    if status == 503:
        reason = f": {said}" if said and len(said) < 80 else ""
        return ConnectionFailedException(f"the server refused the connection (HTTP 503{reason})")
    return ConnectionFailedException(
        f"{url} answered HTTP {status}, not a WebSocket upgrade: it is not a connector "
        "server, or not at this path (the default path is /openicf); check --url"
    )


async def open_socket(
    url: str,
    key: str,
    *,
    ssl: ssl_module.SSLContext | None,
    auth: Literal["basic", "bearer"],
    open_timeout_s: float,
    max_frame_bytes: int,
    subprotocol: str | None = None,
) -> ClientConnection:
    """One authenticated WebSocket to the server, its refusals raised as ICF exceptions whose
    messages name what to change (the same for both wires)."""
    try:
        return await connect(
            url,
            additional_headers={"Authorization": _authorization(key, auth)},
            subprotocols=[Subprotocol(subprotocol)] if subprotocol else None,
            ssl=ssl if url.startswith("wss:") else None,
            compression=None,
            open_timeout=open_timeout_s,
            max_size=max_frame_bytes,
            max_queue=4,
        )
    except InvalidStatus as exc:
        raise _refusal(url, exc) from None
    except InvalidHandshake as exc:
        if url.startswith("ws:"):
            raise ConnectionFailedException(
                f"the server at {url} did not answer with HTTP; if it serves TLS "
                "(connectorserver.usessl=true), use wss://"
            ) from None
        # Under TLS 1.3 a server that refuses the client's certificate says so only after
        # the client has sent its request: the answer is an alert, then a closed socket.
        raise ConnectionFailedException(
            f"the server at {url} closed the connection during the upgrade "
            f"(did it refuse our TLS client certificate?): {exc}"
        ) from None
    except ssl_module.SSLCertVerificationError as exc:
        raise ConnectionFailedException(
            f"cannot verify the certificate of {url}: {exc.verify_message}; give the CA "
            "that signed it (--cacert FILE), or --insecure for a first look"
        ) from None
    except ssl_module.SSLError as exc:
        if exc.reason in _NOT_TLS:
            raise ConnectionFailedException(
                f"the server at {url} does not speak TLS; use ws://"
            ) from None
        raise ConnectionFailedException(f"TLS with {url} failed: {exc}") from None
    except TimeoutError:
        raise ConnectionFailedException(
            f"the server at {url} did not complete the upgrade within {open_timeout_s:g} s"
        ) from None
    except OSError as exc:
        if url.startswith("wss:") and isinstance(
            exc, ConnectionResetError | ssl_module.SSLEOFError
        ):
            raise ConnectionFailedException(
                f"the server at {url} ended the connection in the TLS handshake; if it does "
                "not serve TLS, use ws://"
            ) from None
        reason = exc.strerror or str(exc) or type(exc).__name__
        hint = " (is the server running? `hubspot-rcs serve`, or `make run`)"
        refused = isinstance(exc, ConnectionRefusedError)
        raise ConnectionFailedException(
            f"cannot connect to {url}: {reason}{hint if refused else ''}"
        ) from None


class RcsClient:
    """A connection to a connector server. Build it with `await RcsClient.connect(...)`."""

    protocol: Wire = "json"

    def __init__(
        self,
        ws: ClientConnection,
        *,
        stream_queue_frames: int,
        call_timeout_s: float = CALL_TIMEOUT_S,
    ) -> None:
        self.ws = ws
        self.session = Session(Side.CLIENT)
        """The wire's state table: every frame this client sends or reads goes through it."""
        self.call_timeout_s = call_timeout_s
        self._dropped: list[int] = []
        """Requests of streams collected unclosed: cancelled with the next frame sent."""
        self._pending: dict[int, _Pending] = {}
        self._stream_queue_frames = stream_queue_frames
        self._raw_ids: set[int] = set()
        """Requests whose search parts go to their reader unvalidated (client/fastpath.py)."""
        self._closed_error: ConnectorException | None = None
        self._reader: asyncio.Task[None] | None = None
        self._info: ControlResponse | None = None
        self.server_session: Handshake | None = None

    @classmethod
    async def connect(
        cls,
        url: str,
        key: str,
        *,
        protocol: Wire = "json",
        ssl: ssl_module.SSLContext | None = None,
        auth: Literal["basic", "bearer"] = "basic",
        peer_name: str = "hubspot-rcs-client",
        open_timeout_s: float = 10.0,
        max_frame_bytes: int = 16 * 1024 * 1024,
        stream_queue_frames: int = STREAM_QUEUE_FRAMES,
        call_timeout_s: float = CALL_TIMEOUT_S,
    ) -> RcsClient:
        """Open the socket, authenticate on the upgrade, and do the handshake.

        `protocol` picks the wire: `json` (ours, docs/protocol.md) or `openicf` (OpenICF 1.5,
        as IDM speaks it, docs/openicf-rpc.md); the API above it is the same.
        Raises `InvalidCredentialException` when the server refuses the key (401/403) and
        `ConnectionFailedException` when it cannot be reached.
        """
        if protocol == "openicf":
            from client.openicf import OpenIcfClient

            return await OpenIcfClient.open(
                url,
                key,
                ssl=ssl,
                auth=auth,
                open_timeout_s=open_timeout_s,
                max_frame_bytes=max_frame_bytes,
                stream_queue_frames=stream_queue_frames,
            )
        if protocol != "json":
            raise ValueError(f"unknown protocol {protocol!r}: json or openicf")
        ws = await open_socket(
            url,
            key,
            ssl=ssl,
            auth=auth,
            open_timeout_s=open_timeout_s,
            max_frame_bytes=max_frame_bytes,
        )
        client = cls(ws, stream_queue_frames=stream_queue_frames, call_timeout_s=call_timeout_s)
        client._reader = asyncio.get_running_loop().create_task(client._read())
        try:
            async with asyncio.timeout(open_timeout_s):
                await client._handshake(peer_name)
        except TimeoutError:
            await client.aclose()
            raise ConnectionFailedException(
                f"the server at {url} did not answer the handshake within {open_timeout_s} s"
            ) from None
        except BaseException:
            await client.aclose()
            raise
        return client

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self.ws.close()
        for pending in self._pending.values():
            pending.abandon()  # a reader waiting for room in a stream's queue must go on
        if self._reader is not None:
            await asyncio.wait([self._reader])

    # -- the wire ---------------------------------------------------------------------------

    async def _read(self) -> None:
        error: ConnectorException = ConnectionBrokenException("the connection closed")
        try:
            async for message in self.ws:
                if self._raw_ids and (part := raw_part(message, self._raw_ids)) is not None:
                    raw = self._pending.get(part.message_id)
                    if raw is not None:
                        await raw.put(part)
                    continue
                try:
                    frame = decode_response(message)
                    self.session.receive(frame)
                except FrameError as exc:
                    # An answer that cannot be read fails the request it names; one naming
                    # none is not an answer to anything of ours.
                    unreadable = (
                        self._pending.get(exc.message_id, None)
                        if (exc.message_id is not None)
                        else None
                    )
                    if unreadable is not None:
                        unreadable.fail(
                            ConnectorException(
                                f"the server's answer to request {exc.message_id} could not "
                                f"be read: {exc.message}"
                            )
                        )
                    continue
                except ProtocolError:
                    continue  # out of the session's order: not an answer to anything of ours
                pending = self._pending.get(frame.messageId)
                if pending is not None:
                    await pending.put(frame)
        except ConnectionClosed as exc:
            error = ConnectionBrokenException(f"the connection closed ({exc})")
        finally:
            self._closed_error = error
            for pending in self._pending.values():
                pending.fail(error)

    def _open(self, limit: int = 1, *, message_id: int | None = None) -> tuple[int, _Pending]:
        if self._closed_error is not None:
            raise self._closed_error
        if message_id is None:
            message_id = self._next_id()
        pending = _Pending(limit)
        self._pending[message_id] = pending
        return message_id, pending

    def _forget(self, message_id: int) -> None:
        """Stop routing frames to a request; a reader waiting for its queue goes on."""
        self._raw_ids.discard(message_id)
        pending = self._pending.pop(message_id, None)
        if pending is not None:
            pending.abandon()
        if message_id != HANDSHAKE_MESSAGE_ID:
            self._finished(message_id)

    def _next_id(self) -> int:
        """A fresh id for a request of ours, from the wire's session."""
        return self.session.next_request_id()

    def _finished(self, message_id: int) -> None:
        """Request `message_id` has its whole answer, or we gave up on it."""
        self.session.finish(message_id)

    def _timeout(self, timeout_s: float | None) -> float:
        """A call's deadline: its own, else the client's (never none: a lost answer must not
        leave a caller waiting for ever)."""
        return self.call_timeout_s if timeout_s is None else timeout_s

    async def _send(self, frame: RequestFrame) -> None:
        self.session.sent(frame)
        try:
            while self._dropped:  # cancels owed for streams collected unclosed
                target = self._dropped.pop()
                message_id, _ = self._open()
                self._forget(message_id)  # its answer is of no interest
                cancel = RequestBody(cancel=CancelRequest(requestId=target))
                await self.ws.send(encode(RequestFrame(messageId=message_id, request=cancel)))
            await self.ws.send(encode(frame))
        except ConnectionClosed:
            raise self._closed_error or ConnectionBrokenException("the connection closed") from None

    async def _round_trip(self, body: RequestBody, timeout_s: float | None) -> ResponseBody:
        timeout_s = self._timeout(timeout_s)
        message_id, pending = self._open()
        try:
            await self._send(RequestFrame(messageId=message_id, request=body))
            try:
                async with asyncio.timeout(timeout_s):
                    frame = await pending.get()
            except TimeoutError:
                if body.operation is not None:
                    await self._cancel_quietly(message_id)
                raise OperationTimeoutException(
                    f"no answer within {timeout_s} s; the request was cancelled"
                ) from None
            except asyncio.CancelledError:
                if body.operation is not None:
                    await asyncio.shield(self._cancel_quietly(message_id))
                raise
        finally:
            self._forget(message_id)
        if frame.response.error is not None:
            raise exception_from(frame.response.error)
        return frame.response

    async def _handshake(self, peer_name: str) -> None:
        hello = Handshake(sessionId=uuid.uuid4().hex, peerName=peer_name)
        _, pending = self._open(message_id=HANDSHAKE_MESSAGE_ID)
        try:
            body = RequestBody(handshake=hello)
            await self._send(RequestFrame(messageId=HANDSHAKE_MESSAGE_ID, request=body))
            frame = await pending.get()
        finally:
            self._forget(HANDSHAKE_MESSAGE_ID)
        if frame.response.error is not None:
            raise exception_from(frame.response.error)
        self.server_session = frame.response.handshake

    async def _cancel_quietly(self, request_id: int) -> None:
        with contextlib.suppress(ConnectorException):
            await self.cancel(request_id)

    # -- control ----------------------------------------------------------------------------

    async def control(self, *levels: InfoLevel, timeout_s: float | None = 30.0) -> ControlResponse:
        body = RequestBody(control=ControlRequest(infoLevel=list(levels)))
        answer = (await self._round_trip(body, timeout_s)).control
        assert answer is not None
        return answer

    async def connector_info(self) -> ControlResponse:
        """The connectors the server hosts and the named configurations it holds."""
        self._info = await self.control("CONNECTOR_INFO")
        return self._info

    async def connectors(self) -> list[ConnectorInfo]:
        return (await self.connector_info()).connectorInfos or []

    async def configurations(self) -> list[ConfigurationInfo]:
        return (await self.connector_info()).configurations or []

    async def open_requests(self) -> list[int]:
        """The ids of this connection's requests the server still holds open (§1.9)."""
        return (await self.control("REQUESTS")).requestIds or []

    async def cancel(self, request_id: int, *, timeout_s: float | None = 30.0) -> bool:
        """Stop request `request_id`; False when its answer had already gone out."""
        pending = self._pending.get(request_id)
        if pending is not None:
            pending.abandon()
        body = RequestBody(cancel=CancelRequest(requestId=request_id))
        answer = (await self._round_trip(body, timeout_s)).cancel
        assert answer is not None
        return answer.cancelled

    # -- facades ----------------------------------------------------------------------------

    def facade_for(self, connector_key: ConnectorKey, configuration: Configuration) -> Facade:
        """Operations on `connector_key` with a configuration given by name or inline."""
        return Facade(self, connector_key, configuration)

    async def configuration(self, configuration_name: str) -> ConfigurationInfo:
        """What the server says of a configuration it holds (its connectorRef, objectTypes)."""
        info = self._info or await self.connector_info()
        for named in info.configurations or []:
            if named.name == configuration_name:
                return named
        known = ", ".join(c.name for c in info.configurations or []) or "none"
        raise ConfigurationException(
            f"unknown configuration {configuration_name!r} (the server holds: {known})"
        )

    async def facade(self, configuration_name: str) -> Facade:
        """Operations on a configuration the server holds, with its connectorRef as key."""
        named = await self.configuration(configuration_name)
        return Facade(self, named.connectorRef, ConfigurationRef(name=configuration_name))


class Facade:
    """ICF's `ConnectorFacade`: one method per operation, on one connector and configuration.

    `timeout_s` is the client's own deadline: for a single answer, the whole wait; for a
    stream, the wait for each part (as ICF measures a search's timeout, docs/openicf.md §1.6).
    When it passes, the request is cancelled and `OperationTimeoutException` raised. None (the
    default) means the client's `call_timeout_s`.
    """

    def __init__(
        self, client: RcsClient, connector_key: ConnectorKey, configuration: Configuration
    ) -> None:
        self.client = client
        self.connector_key = connector_key
        self.configuration = configuration

    def request(self, **operation: Any) -> RequestBody:
        return RequestBody(
            operation=OperationRequest(
                connectorKey=self.connector_key, configuration=self.configuration, **operation
            )
        )

    async def _call(self, timeout_s: float | None, **operation: Any) -> OperationResponse:
        answer = (await self.client._round_trip(self.request(**operation), timeout_s)).operation
        assert answer is not None
        return answer

    async def test(self, *, timeout_s: float | None = None) -> None:
        await self._call(timeout_s, test=TestOpRequest())

    async def validate(self, *, timeout_s: float | None = None) -> None:
        await self._call(timeout_s, validate_=ValidateOpRequest())

    async def schema(self, *, timeout_s: float | None = None) -> Schema:
        answer = (await self._call(timeout_s, schema_=SchemaOpRequest())).schema_
        assert answer is not None
        return answer.schema_

    async def create(
        self,
        object_class: str,
        attributes: Attributes,
        options: OperationOptions | None = None,
        *,
        timeout_s: float | None = None,
    ) -> Uid:
        op = CreateOpRequest(
            objectClass=object_class,
            attributes=attributes,
            options=options or OperationOptions(),
        )
        answer = (await self._call(timeout_s, create=op)).create
        assert answer is not None
        return answer.uid

    async def get(
        self,
        object_class: str,
        uid: Uid | str,
        options: OperationOptions | None = None,
        *,
        timeout_s: float | None = None,
    ) -> ConnectorObject | None:
        """The object, or None when no object has that uid."""
        op = GetOpRequest(
            objectClass=object_class, uid=_uid(uid), options=options or OperationOptions()
        )
        answer = (await self._call(timeout_s, get=op)).get
        assert answer is not None
        return answer.connectorObject

    async def update(
        self,
        object_class: str,
        uid: Uid | str,
        attributes: Attributes,
        update_type: UpdateType = UpdateType.REPLACE,
        options: OperationOptions | None = None,
        *,
        timeout_s: float | None = None,
    ) -> Uid:
        op = UpdateOpRequest(
            objectClass=object_class,
            uid=_uid(uid),
            updateType=update_type,
            attributes=attributes,
            options=options or OperationOptions(),
        )
        answer = (await self._call(timeout_s, update=op)).update
        assert answer is not None
        return answer.uid

    async def delete(
        self,
        object_class: str,
        uid: Uid | str,
        options: OperationOptions | None = None,
        *,
        timeout_s: float | None = None,
    ) -> None:
        op = DeleteOpRequest(
            objectClass=object_class, uid=_uid(uid), options=options or OperationOptions()
        )
        await self._call(timeout_s, delete=op)

    async def script_on_connector(
        self,
        language: str,
        text: str,
        arguments: Mapping[str, JsonValue] | None = None,
        *,
        timeout_s: float | None = None,
    ) -> JsonValue:
        op = ScriptOnConnectorOpRequest(
            scriptLanguage=language, scriptText=text, scriptArguments=dict(arguments or {})
        )
        answer = (await self._call(timeout_s, scriptOnConnector=op)).scriptOnConnector
        assert answer is not None
        return answer.result

    async def latest_sync_token(
        self, object_class: str, *, timeout_s: float | None = None
    ) -> SyncToken | None:
        op = LatestSyncTokenOpRequest(objectClass=object_class)
        answer = (await self._call(timeout_s, latestSyncToken=op)).latestSyncToken
        assert answer is not None
        return answer.token

    def search(
        self,
        object_class: str,
        filter: Filter | None = None,
        options: OperationOptions | None = None,
        *,
        timeout_s: float | None = None,
        **option_fields: Any,
    ) -> SearchResults:
        """Stream the matching objects; use it as `async with ... as results: async for`.

        Options may be given as an `OperationOptions` or as its fields (`pageSize=100`).
        """
        if options is None:
            options = OperationOptions(**option_fields)
        elif option_fields:
            raise TypeError("give the options as an OperationOptions or as fields, not both")
        op = SearchOpRequest(objectClass=object_class, filter=filter, options=options)
        return SearchResults(self.client, self.request(search=op), timeout_s)

    def sync(
        self,
        object_class: str,
        token: SyncToken | None = None,
        options: OperationOptions | None = None,
        *,
        timeout_s: float | None = None,
    ) -> SyncResults:
        op = SyncOpRequest(
            objectClass=object_class, token=token, options=options or OperationOptions()
        )
        return SyncResults(self.client, self.request(sync=op), timeout_s)


def _uid(uid: Uid | str) -> Uid:
    return uid if isinstance(uid, Uid) else Uid(value=uid)


class _Stream:
    """A streamed answer: parts in sequence, cancelled when left before its end."""

    def __init__(self, client: RcsClient, body: RequestBody, timeout_s: float | None) -> None:
        self._client = client
        self._body = body
        self._timeout_s = client._timeout(timeout_s)
        self._pending: _Pending | None = None
        self.request_id: int | None = None
        self.done = False
        self.parts = 0

    raw = False
    """Search parts reach it as `RawPart`s, unvalidated (client/fastpath.py)."""

    async def start(self) -> None:
        if self._pending is None:
            self.request_id, self._pending = self._client._open(self._client._stream_queue_frames)
            if self.raw:
                self._client._raw_ids.add(self.request_id)
            await self._client._send(RequestFrame(messageId=self.request_id, request=self._body))

    async def _next_frame(self) -> ResponseFrame | RawPart:
        await self.start()
        assert self._pending is not None
        try:
            async with asyncio.timeout(self._timeout_s):
                return await self._pending.take()
        except TimeoutError:
            await self.aclose()
            raise OperationTimeoutException(
                f"no answer part within {self._timeout_s} s; the request was cancelled"
            ) from None

    async def _next_part(self) -> OperationResponse:
        frame = await self._next_frame()
        assert isinstance(frame, ResponseFrame), "a raw part for a request that is not raw"
        if frame.response.error is not None:
            self._finish()
            raise exception_from(frame.response.error)
        operation = frame.response.operation
        assert operation is not None
        self.parts += 1
        return operation

    def _finish(self) -> None:
        self.done = True
        if self.request_id is not None:
            self._client._forget(self.request_id)

    async def aclose(self) -> None:
        """Stop the request if it is still running (sends a cancel)."""
        if self.request_id is not None and not self.done:
            self.done = True
            try:
                await self._client._cancel_quietly(self.request_id)
            finally:
                self._client._forget(self.request_id)

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.shield(self.aclose())

    def __del__(self) -> None:
        # A stream dropped unfinished without `async with` or `aclose()` (a `break` out of a
        # bare `async for`): free the reader now. The cancel goes with the client's next frame:
        # a finalizer runs wherever the collector happens to, and sends nothing itself.
        if self.done or self.request_id is None or self._pending is None:
            return
        self.done = True
        self._pending.abandon()
        self._client._pending.pop(self.request_id, None)
        self._client._dropped.append(self.request_id)


class SearchResults(_Stream):
    """The objects of a search, in order; `result` holds the SearchResult at the end."""

    def __init__(self, client: RcsClient, body: RequestBody, timeout_s: float | None) -> None:
        super().__init__(client, body, timeout_s)
        self.result: SearchResult | None = None
        self.count = 0
        self.scanned: int | None = None
        """What the connector read for this search, when it reads more than it returns."""
        self._buffer: deque[ConnectorObject] = deque()

    def __aiter__(self) -> AsyncIterator[ConnectorObject]:
        return self

    async def __anext__(self) -> ConnectorObject:
        while not self._buffer:
            if self.done:
                raise StopAsyncIteration
            part = (await self._next_part()).search
            assert part is not None
            self.scanned = part.scanned if part.scanned is not None else self.scanned
            self._buffer.extend(part.connectorObjects)
            if part.result is not None:
                self.result = part.result
                self._finish()
        self.count += 1
        return self._buffer.popleft()

    async def pages(self) -> AsyncIterator[Sequence[ConnectorObject]]:
        """The objects part by part, as the server sent them (cheaper than one by one)."""
        while not self.done:
            part = (await self._next_part()).search
            assert part is not None
            self.scanned = part.scanned if part.scanned is not None else self.scanned
            if part.result is not None:
                self.result = part.result
                self._finish()
            self.count += len(part.connectorObjects)
            if part.connectorObjects:
                yield part.connectorObjects


class SyncResults(_Stream):
    """The deltas of a sync, in order; `token` holds where the next sync resumes."""

    def __init__(self, client: RcsClient, body: RequestBody, timeout_s: float | None) -> None:
        super().__init__(client, body, timeout_s)
        self.token: SyncToken | None = None
        self._buffer: deque[SyncDelta] = deque()

    def __aiter__(self) -> AsyncIterator[SyncDelta]:
        return self

    async def __anext__(self) -> SyncDelta:
        while not self._buffer:
            if self.done:
                raise StopAsyncIteration
            part = (await self._next_part()).sync
            assert part is not None
            self._buffer.extend(part.syncDeltas)
            if part.last:
                self.token = part.token
                self._finish()
        return self._buffer.popleft()


__all__ = [
    "DEFAULT_URL",
    "Facade",
    "RcsClient",
    "SearchResults",
    "SyncResults",
]
