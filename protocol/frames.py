"""Every frame of the protocol, as pydantic models.

A frame is one JSON text message on the WebSocket: `{"messageId": N, "request": {...}}` or
`{"messageId": N, "response": {...}}`, after OpenICF's `RemoteMessage{messageId, request |
response}` (docs/openicf.md §1.2). A request body holds exactly one of `handshake`, `control`,
`operation`, `cancel`; a response body exactly one of those or `error`. An operation holds its
connector key, its configuration, an optional locale and exactly one operation, named by its key
(`test`, `search`, `update`, ...). `docs/protocol.md` shows each with an example.
"""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal, Self, TypeAlias

from pydantic import Field, field_validator, model_validator

from protocol.configuration import Configuration, ConnectorKey
from protocol.filters import Filter, size_problem
from protocol.info import ConfigurationInfo, ConnectorInfo
from protocol.schema import Schema
from protocol.values import (
    Attributes,
    ConnectorObject,
    JsonValue,
    Locale,
    OperationName,
    OperationOptions,
    SearchResult,
    SyncDelta,
    SyncToken,
    Uid,
    UpdateType,
    _Model,
)

PROTOCOL_VERSION: Final = "1.0"
HANDSHAKE_MESSAGE_ID: Final = 0
"""The handshake travels under messageId 0; every other request uses an id from 1 up."""

MessageId: TypeAlias = Annotated[int, Field(ge=0, le=2**63 - 1)]
ObjectClassName: TypeAlias = Annotated[str, Field(min_length=1, max_length=200)]


class _OneOf(_Model):
    """A body that holds exactly one of its optional fields, like a protobuf `oneof`."""

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        present = [name for name in type(self).model_fields if getattr(self, name) is not None]
        if len(present) != 1:
            names = ", ".join(type(self).model_fields)
            found = ", ".join(present) or "none"
            raise ValueError(f"exactly one of {names} is needed (found: {found})")
        return self

    @property
    def kind(self) -> str:
        """The name of the field that is set."""
        return next(n for n in type(self).model_fields if getattr(self, n) is not None)

    @property
    def value(self) -> Any:
        return getattr(self, self.kind)


# -- handshake and control ------------------------------------------------------------------


class Handshake(_Model):
    """The first frame on a socket, both ways (`HandshakeMessage`, docs/openicf.md §1.3)."""

    sessionId: str = Field(min_length=1, max_length=200)
    protocolVersion: str = PROTOCOL_VERSION
    peerName: str = Field(default="", max_length=200)


InfoLevel: TypeAlias = Literal["CONNECTOR_INFO", "REQUESTS"]


class ControlRequest(_Model):
    """Ask for the hosted connectors, or for the ids of the requests the server holds open."""

    infoLevel: list[InfoLevel] = Field(min_length=1)


class ControlResponse(_Model):
    connectorInfos: list[ConnectorInfo] | None = None
    configurations: list[ConfigurationInfo] | None = None
    """With CONNECTOR_INFO: the named configurations the server holds, with their connectorRef."""
    requestIds: list[int] | None = None
    """The ids of the requests still open on this connection (liveness reconciliation, §1.9)."""


class CancelRequest(_Model):
    """Stop request `requestId`. The cancel has its own messageId and gets its own answer."""

    requestId: Annotated[int, Field(ge=1)]


class CancelResponse(_Model):
    requestId: int
    cancelled: bool
    """False when the request had already finished: its answer went out before the cancel."""


# -- operations -----------------------------------------------------------------------------


class TestOpRequest(_Model):
    """Check that the configuration works against the resource."""

    __test__ = False  # not a pytest class


class ValidateOpRequest(_Model):
    """Check the configuration itself, without calling the resource."""


class SchemaOpRequest(_Model):
    pass


class CreateOpRequest(_Model):
    objectClass: ObjectClassName
    attributes: Attributes
    options: OperationOptions = Field(default_factory=OperationOptions)


class GetOpRequest(_Model):
    objectClass: ObjectClassName
    uid: Uid
    options: OperationOptions = Field(default_factory=OperationOptions)


class SearchOpRequest(_Model):
    objectClass: ObjectClassName
    filter: Filter | None = None
    options: OperationOptions = Field(default_factory=OperationOptions)

    @field_validator("filter")
    @classmethod
    def _bounded(cls, value: Filter | None) -> Filter | None:
        """A filter past the documented size is refused here (docs/protocol.md "Filters")."""
        problem = None if value is None else size_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value


class UpdateOpRequest(_Model):
    """REPLACE the listed attributes (an empty list clears one), or ADD / REMOVE values."""

    objectClass: ObjectClassName
    uid: Uid
    updateType: UpdateType = UpdateType.REPLACE
    attributes: Attributes
    options: OperationOptions = Field(default_factory=OperationOptions)


class DeleteOpRequest(_Model):
    objectClass: ObjectClassName
    uid: Uid
    options: OperationOptions = Field(default_factory=OperationOptions)


class ScriptOnConnectorOpRequest(_Model):
    scriptLanguage: str = Field(min_length=1)
    scriptText: str
    scriptArguments: dict[str, JsonValue] = Field(default_factory=dict)
    options: OperationOptions = Field(default_factory=OperationOptions)


class SyncOpRequest(_Model):
    objectClass: ObjectClassName
    token: SyncToken | None = None
    options: OperationOptions = Field(default_factory=OperationOptions)


class LatestSyncTokenOpRequest(_Model):
    objectClass: ObjectClassName


class OperationRequest(_OneOf):
    """`operation{connectorKey, configuration, locale, <one op>}`; the op is the one field set."""

    connectorKey: ConnectorKey
    configuration: Configuration
    locale: Locale | None = None

    test: TestOpRequest | None = None
    validate_: Annotated[ValidateOpRequest | None, Field(alias="validate")] = None
    schema_: Annotated[SchemaOpRequest | None, Field(alias="schema")] = None
    create: CreateOpRequest | None = None
    get: GetOpRequest | None = None
    search: SearchOpRequest | None = None
    update: UpdateOpRequest | None = None
    delete: DeleteOpRequest | None = None
    scriptOnConnector: ScriptOnConnectorOpRequest | None = None
    sync: SyncOpRequest | None = None
    latestSyncToken: LatestSyncTokenOpRequest | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        present = [n for n in _OPERATION_FIELDS if getattr(self, n) is not None]
        if len(present) != 1:
            found = ", ".join(_WIRE_NAME[n] for n in present) or "none"
            raise ValueError(
                f"exactly one operation is needed, one of {', '.join(_WIRE_NAME.values())} "
                f"(found: {found})"
            )
        return self

    @property
    def kind(self) -> str:
        """The operation's wire name: `test`, `search`, `scriptOnConnector`, ..."""
        return _WIRE_NAME[next(n for n in _OPERATION_FIELDS if getattr(self, n) is not None)]

    @property
    def value(self) -> Any:
        return getattr(self, next(n for n in _OPERATION_FIELDS if getattr(self, n) is not None))

    @property
    def operation_name(self) -> OperationName:
        """The ICF `APIOperation` name, as `operationTimeout` keys it."""
        return OPERATION_NAMES[self.kind]

    @property
    def object_class(self) -> str | None:
        return getattr(self.value, "objectClass", None)


_OPERATION_FIELDS: Final = (
    "test",
    "validate_",
    "schema_",
    "create",
    "get",
    "search",
    "update",
    "delete",
    "scriptOnConnector",
    "sync",
    "latestSyncToken",
)
_WIRE_NAME: Final = {n: n.rstrip("_") for n in _OPERATION_FIELDS}

OPERATION_NAMES: Final[dict[str, OperationName]] = {
    "test": "TEST",
    "validate": "VALIDATE",
    "schema": "SCHEMA",
    "create": "CREATE",
    "get": "GET",
    "search": "SEARCH",
    "update": "UPDATE",
    "delete": "DELETE",
    "scriptOnConnector": "SCRIPT_ON_CONNECTOR",
    "sync": "SYNC",
    "latestSyncToken": "SYNC",
}
"""Operation wire name -> ICF `APIOperation` name (the `operationTimeout` key)."""


# -- operation responses --------------------------------------------------------------------


class Empty(_Model):
    pass


class SchemaOpResponse(_Model):
    schema_: Annotated[Schema, Field(alias="schema")]


class CreateOpResponse(_Model):
    uid: Uid


class UpdateOpResponse(_Model):
    """The object's Uid after the update; a rename may change it (ICF `UpdateOp`)."""

    uid: Uid


class GetOpResponse(_Model):
    connectorObject: ConnectorObject | None = None
    """None when no object has the Uid (ICF's get returns null; it does not raise)."""


class SearchOpResponse(_Model):
    """One part of a search's answer.

    Parts are numbered by `sequence` from 1. Every part but the last carries objects; the last
    carries `result` (and may carry the last objects too). A client has the whole answer when
    it has the part with `result` and every sequence number below it.
    """

    sequence: Annotated[int, Field(ge=1)]
    connectorObjects: list[ConnectorObject] = Field(default_factory=list)
    result: SearchResult | None = None


class SyncOpResponse(_Model):
    """One part of a sync's answer; the last carries `token`, the position to resume from."""

    sequence: Annotated[int, Field(ge=1)]
    syncDeltas: list[SyncDelta] = Field(default_factory=list)
    token: SyncToken | None = None
    last: bool = False


class LatestSyncTokenOpResponse(_Model):
    token: SyncToken | None = None


class ScriptOnConnectorOpResponse(_Model):
    result: JsonValue = None


class OperationResponse(_OneOf):
    test: Empty | None = None
    validate_: Annotated[Empty | None, Field(alias="validate")] = None
    schema_: Annotated[SchemaOpResponse | None, Field(alias="schema")] = None
    create: CreateOpResponse | None = None
    get: GetOpResponse | None = None
    search: SearchOpResponse | None = None
    update: UpdateOpResponse | None = None
    delete: Empty | None = None
    scriptOnConnector: ScriptOnConnectorOpResponse | None = None
    sync: SyncOpResponse | None = None
    latestSyncToken: LatestSyncTokenOpResponse | None = None

    @property
    def kind(self) -> str:
        return super().kind.rstrip("_")


# -- errors and envelopes -------------------------------------------------------------------


class ErrorCause(_Model):
    exceptionClass: str
    message: str = ""
    cause: ErrorCause | None = None


class ErrorResponse(_Model):
    """`ExceptionMessage{exceptionClass, message, cause}`; see `protocol.errors`."""

    exceptionClass: str = Field(min_length=1)
    message: str = ""
    cause: ErrorCause | None = None


class RequestBody(_OneOf):
    handshake: Handshake | None = None
    control: ControlRequest | None = None
    operation: OperationRequest | None = None
    cancel: CancelRequest | None = None


class ResponseBody(_OneOf):
    handshake: Handshake | None = None
    control: ControlResponse | None = None
    operation: OperationResponse | None = None
    cancel: CancelResponse | None = None
    error: ErrorResponse | None = None


class RequestFrame(_Model):
    messageId: MessageId
    request: RequestBody


class ResponseFrame(_Model):
    messageId: MessageId
    response: ResponseBody


Frame: TypeAlias = RequestFrame | ResponseFrame
