"""OpenICF `RemoteMessage`s <-> the project's operation models (`protocol.frames`), both ways.

Both sides use it. The server turns a peer's `OperationRequest` into the same
`protocol.frames.OperationRequest` the JSON wire produces, and each typed answer back into the
messages the Java server sends (docs/openicf-rpc.md §10, §11): search objects one message each
with their `sequence`, then a final message whose `sequence` is the number of objects sent;
`GetOpResponse` with a legacy *full* ConnectorObject (empty when there is none); errors as
`ExceptionMessage{exceptionClass, message, stackTrace}` with the Java class names of
`protocol.errors`. The client does the reverse: `encode_operation` for its requests,
`decode_operation` and `decode_stream_part` for the answers, `exception_of` for an error.

Legacy payloads (attributes, options, filters, schema, tokens, script values) are converted by
`protocol.openicf.objects`; this module only places them in the protobuf envelope.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from google.protobuf import text_format

from protocol.configuration import Configuration, ConnectorKey
from protocol.errors import (
    BY_WIRE_CLASS,
    ConnectorException,
    IllegalArgumentException,
    ProtocolError,
    UnsupportedOperationException,
)
from protocol.frames import (
    CreateOpRequest,
    CreateOpResponse,
    DeleteOpRequest,
    Empty,
    GetOpRequest,
    GetOpResponse,
    LatestSyncTokenOpRequest,
    LatestSyncTokenOpResponse,
    OperationRequest,
    OperationResponse,
    SchemaOpRequest,
    SchemaOpResponse,
    ScriptOnConnectorOpRequest,
    ScriptOnConnectorOpResponse,
    SearchOpRequest,
    SearchOpResponse,
    SyncOpRequest,
    SyncOpResponse,
    TestOpRequest,
    UpdateOpRequest,
    UpdateOpResponse,
    ValidateOpRequest,
)
from protocol.openicf import objects
from protocol.openicf.proto import common_pb2 as pb_common
from protocol.openicf.proto import operations_pb2 as pb_ops
from protocol.openicf.proto.rpc_pb2 import ControlResponse, ExceptionMessage, RemoteMessage
from protocol.openicf.wire import WireFormatError
from protocol.values import (
    NAME,
    Attributes,
    ConnectorObject,
    CountPolicy,
    JsonValue,
    OperationName,
    OperationOptions,
    SearchResult,
    SyncDelta,
    SyncToken,
    Uid,
    UpdateType,
    _Model,
)

# -- which operation a request holds ------------------------------------------------------------

OPERATION_FIELDS: Final = (
    "authenticateOpRequest",
    "createOpRequest",
    "connectorEventSubscriptionOpRequest",
    "deleteOpRequest",
    "getOpRequest",
    "resolveUsernameOpRequest",
    "schemaOpRequest",
    "scriptOnConnectorOpRequest",
    "scriptOnResourceOpRequest",
    "searchOpRequest",
    "syncOpRequest",
    "syncEventSubscriptionOpRequest",
    "testOpRequest",
    "updateOpRequest",
    "ValidateOpRequest",
    "configurationChangeEvent",
    "batchOpRequest",
)

UNSUPPORTED_API: Final = {
    "authenticateOpRequest": "AuthenticationApiOp",
    "resolveUsernameOpRequest": "ResolveUsernameApiOp",
    "scriptOnResourceOpRequest": "ScriptOnResourceApiOp",
    "batchOpRequest": "BatchApiOp",
    "connectorEventSubscriptionOpRequest": "ConnectorEventSubscriptionApiOp",
    "syncEventSubscriptionOpRequest": "SyncEventSubscriptionApiOp",
}
"""Operations none of our connectors has, by request field -> the Java API interface IDM names."""

_API_PACKAGE: Final = "org.identityconnectors.framework.api.operations."


def operation_field(request: pb_ops.OperationRequest) -> str | None:
    """The name of the one operation field set in `request`, or None."""
    for name in OPERATION_FIELDS:
        if request.HasField(name):
            return name
    return None


def unsupported(api: str) -> UnsupportedOperationException:
    """What the Java framework answers for an operation the connector does not implement
    (`AbstractConnectorFacade`: "Operation '<the interface>' not supported.")."""
    return UnsupportedOperationException(
        f"Operation 'interface {_API_PACKAGE}{api}' not supported."
    )


def connector_key(key: pb_common.ConnectorKey) -> ConnectorKey:
    """Our model of a protobuf ConnectorKey; an empty part is refused by name."""
    missing = [n for n in ("bundleName", "bundleVersion", "connectorName") if not getattr(key, n)]
    if missing:
        raise not_found(key)
    return ConnectorKey(
        bundleName=key.bundleName, bundleVersion=key.bundleVersion, connectorName=key.connectorName
    )


def not_found(key: pb_common.ConnectorKey) -> ConnectorException:
    """The Java server's words for an unknown connector key: the key in protobuf text format."""
    return ConnectorException(f"Connector not found: {text_format.MessageToString(key)} ")


# -- peer request -> our model (server side) ---------------------------------------------------


def _attributes_from(blob: bytes, where: str) -> Attributes:
    """A legacy `Set<Attribute>` as attributes to write: `Name` becomes `__NAME__`."""
    decoded = objects.decode_attributes(blob, where)
    attributes: Attributes = dict(decoded.attributes)
    if decoded.name is not None:
        attributes[NAME] = [decoded.name]
    return attributes


def _script_arguments(blob: bytes) -> dict[str, JsonValue]:
    if not blob:
        return {}
    arguments = objects.decode_script_value(blob, "scriptArguments")
    if not isinstance(arguments, dict):
        raise WireFormatError("script arguments are a Map", field="scriptArguments")
    return arguments


def _uid(uid: pb_common.Uid, where: str) -> Uid:
    if not uid.value:
        raise ProtocolError(f"{where} carries no Uid value", field=f"{where}.uid")
    return Uid(value=uid.value, revision=uid.revision or None)


def operation_request(
    request: pb_ops.OperationRequest, configuration: Configuration
) -> OperationRequest:
    """The operation a peer's request asks for, in our model; raises a ConnectorException
    (UnsupportedOperationException for operations we do not serve, WireFormatError for
    payloads that do not decode) that names the problem."""
    name = operation_field(request)
    if name is None:
        raise ConnectorException("Unknown OperationRequest")
    if name in UNSUPPORTED_API:
        raise unsupported(UNSUPPORTED_API[name])
    alias, body = _operation(name, request)
    fields: dict[str, object] = {
        "connectorKey": connector_key(request.connectorKey),
        "configuration": configuration,
        alias: body,
    }
    if len(request.locale.language) >= 2:
        fields["locale"] = request.locale.language
    return OperationRequest.model_validate(fields)


def _operation(name: str, request: pb_ops.OperationRequest) -> tuple[str, _Model]:
    """The operation field of our model and its body, for the request field `name`."""

    def options(blob: bytes) -> OperationOptions:
        return objects.decode_options(blob)[0]

    match name:
        case "testOpRequest":
            return "test", TestOpRequest()
        case "ValidateOpRequest":
            return "validate", ValidateOpRequest()
        case "schemaOpRequest":
            return "schema", SchemaOpRequest()
        case "createOpRequest":
            create = request.createOpRequest
            return "create", CreateOpRequest(
                objectClass=create.objectClass,
                attributes=_attributes_from(bytes(create.createAttributes), "createAttributes"),
                options=options(bytes(create.options)),
            )
        case "getOpRequest":
            get = request.getOpRequest
            return "get", GetOpRequest(
                objectClass=get.objectClass,
                uid=_uid(get.uid, "getOpRequest"),
                options=options(bytes(get.options)),
            )
        case "searchOpRequest":
            search = request.searchOpRequest
            return "search", SearchOpRequest(
                objectClass=search.objectClass,
                filter=objects.decode_filter(bytes(search.filter)) if search.filter else None,
                options=options(bytes(search.options)),
            )
        case "updateOpRequest":
            update = request.updateOpRequest
            return "update", UpdateOpRequest(
                objectClass=update.objectClass,
                uid=_uid(update.uid, "updateOpRequest"),
                updateType=_UPDATE_TYPES[update.updateType],
                attributes=_attributes_from(bytes(update.replaceAttributes), "replaceAttributes"),
                options=options(bytes(update.options)),
            )
        case "deleteOpRequest":
            delete = request.deleteOpRequest
            return "delete", DeleteOpRequest(
                objectClass=delete.objectClass,
                uid=_uid(delete.uid, "deleteOpRequest"),
                options=options(bytes(delete.options)),
            )
        case "scriptOnConnectorOpRequest":
            script_request = request.scriptOnConnectorOpRequest
            script = script_request.scriptContext.script
            if not script.scriptLanguage:
                raise IllegalArgumentException("Language not supported: ")
            return "scriptOnConnector", ScriptOnConnectorOpRequest(
                scriptLanguage=script.scriptLanguage,
                scriptText=script.scriptText,
                scriptArguments=_script_arguments(
                    bytes(script_request.scriptContext.scriptArguments)
                ),
                options=options(bytes(script_request.options)),
            )
        case "syncOpRequest":
            sync_request = request.syncOpRequest
            if sync_request.HasField("latestSyncToken"):
                latest = sync_request.latestSyncToken
                return "latestSyncToken", LatestSyncTokenOpRequest(objectClass=latest.objectClass)
            sync = sync_request.sync
            token = objects.decode_sync_token(bytes(sync.token.value)) if sync.token.value else None
            return "sync", SyncOpRequest(
                objectClass=sync.objectClass, token=token, options=options(bytes(sync.options))
            )
    raise ConnectorException("Unknown OperationRequest")


_UPDATE_TYPES: Final = {
    pb_ops.UpdateOpRequest.REPLACE: UpdateType.REPLACE,
    pb_ops.UpdateOpRequest.ADD: UpdateType.ADD,
    pb_ops.UpdateOpRequest.REMOVE: UpdateType.REMOVE,
}
_COUNT_POLICIES: Final = {
    CountPolicy.NONE: pb_common.SearchResult.NONE,
    CountPolicy.ESTIMATE: pb_common.SearchResult.ESTIMATE,
    CountPolicy.EXACT: pb_common.SearchResult.EXACT,
}


# -- our answers -> messages (server side) -----------------------------------------------------


def _response(message_id: int) -> RemoteMessage:
    return RemoteMessage(messageId=message_id)


def answer(
    message_id: int,
    response: OperationResponse,
    supported_operations: Sequence[OperationName] = (),
) -> RemoteMessage:
    """A single answer: test, validate, schema, create, get, update, delete, script, token.

    `supported_operations` (the connector's) completes a schema's objectClassesByOperation."""
    message = _response(message_id)
    out = message.response.operationResponse
    match response.kind:
        case "test":
            out.testOpResponse.SetInParent()
        case "validate":
            out.validateOpResponse.SetInParent()
        case "delete":
            out.deleteOpResponse.SetInParent()
        case "schema":
            assert response.schema_ is not None
            out.schemaOpResponse.schema = objects.encode_schema(
                response.schema_.schema_, supported_operations
            )
        case "create":
            assert response.create is not None
            out.createOpResponse.uid.CopyFrom(objects.uid_to_proto(response.create.uid))
        case "update":
            assert response.update is not None
            out.updateOpResponse.uid.CopyFrom(objects.uid_to_proto(response.update.uid))
        case "get":
            assert response.get is not None
            out.GetOpResponse.SetInParent()
            if response.get.connectorObject is not None:
                out.GetOpResponse.connectorObject = objects.encode_connector_object(
                    response.get.connectorObject
                )
        case "scriptOnConnector":
            assert response.scriptOnConnector is not None
            out.scriptOnConnectorOpResponse.SetInParent()
            if response.scriptOnConnector.result is not None:
                out.scriptOnConnectorOpResponse.object = objects.encode_script_value(
                    response.scriptOnConnector.result
                )
        case "latestSyncToken":
            assert response.latestSyncToken is not None
            latest = out.syncOpResponse.latestSyncToken
            latest.SetInParent()
            if response.latestSyncToken.token is not None:
                latest.syncToken.value = objects.encode_sync_token(response.latestSyncToken.token)
        case other:
            raise ValueError(f"{other} answers are streamed, not single")
    return message


def search_object(message_id: int, sequence: int, obj: ConnectorObject) -> RemoteMessage:
    """One search result: protobuf ConnectorObject{objectClass, legacy Set<Attribute>}."""
    message = _response(message_id)
    part = message.response.operationResponse.searchOpResponse
    part.sequence = sequence
    part.connectorObject.objectClass = obj.objectClass
    part.connectorObject.attributes = objects.encode_object_attributes(obj)
    return message


def search_done(message_id: int, sent: int, result: SearchResult | None) -> RemoteMessage:
    """The last message of a search: `sequence` is the number of objects sent."""
    result = result or SearchResult()
    message = _response(message_id)
    part = message.response.operationResponse.searchOpResponse
    part.sequence = sent
    pb_result = part.result
    pb_result.pagedResultsCookie = result.pagedResultsCookie or ""
    pb_result.totalPagedResultsPolicy = _COUNT_POLICIES[result.totalPagedResultsPolicy]
    pb_result.totalPagedResults = result.totalPagedResults
    pb_result.remainingPagedResults = result.remainingPagedResults
    return message


def sync_delta(message_id: int, sequence: int, delta: SyncDelta) -> RemoteMessage:
    message = _response(message_id)
    sync = message.response.operationResponse.syncOpResponse.sync
    sync.sequence = sequence
    sync.syncDelta.CopyFrom(objects.sync_delta_to_proto(delta))
    return message


def sync_done(message_id: int, sent: int, token: SyncToken | None) -> RemoteMessage:
    message = _response(message_id)
    sync = message.response.operationResponse.syncOpResponse.sync
    sync.SetInParent()
    sync.sequence = sent
    if token is not None:
        sync.syncToken.value = objects.encode_sync_token(token)
    return message


def control_answer(message_id: int, connector_infos: bytes | None) -> RemoteMessage:
    """A ControlResponse: the legacy List<ConnectorInfo> for CONNECTOR_INFO, else empty."""
    message = _response(message_id)
    control: ControlResponse = message.response.controlResponse
    control.SetInParent()
    if connector_infos is not None:
        control.connectorInfos = connector_infos
    return message


def configuration_change(facade_key: bytes, event: bytes) -> RemoteMessage:
    """A pushed configurationChangeEvent: messageId 0, facade key and event only."""
    message = RemoteMessage()
    operation = message.request.operationRequest
    operation.connectorFacadeKey = facade_key
    operation.configurationChangeEvent.configurationPropertyChange = event
    return message


def error(message_id: int, exc: BaseException) -> RemoteMessage:
    """An ExceptionMessage with the Java class name; a failure of ours is a ConnectorException."""
    message = _response(message_id)
    out: ExceptionMessage = message.response.error
    if isinstance(exc, ConnectorException):
        java_class, text = exc.wire_class, exc.message
        cause = exc.cause
    else:
        java_class, text, cause = ConnectorException.icf_class, "internal error", None
    out.exceptionClass = java_class
    if text:
        out.message = text
    out.stackTrace = f"{java_class}: {text}" if text else java_class
    if cause is not None:
        _inner_cause(out.innerCause, cause, depth=4)
    return message


def _inner_cause(
    target: ExceptionMessage.InnerCause, cause: ConnectorException, depth: int
) -> None:
    target.exceptionClass = cause.wire_class
    if cause.message:
        target.message = cause.message
    if cause.cause is not None and depth > 1:
        _inner_cause(target.cause, cause.cause, depth - 1)


def exception_of(error_message: ExceptionMessage) -> ConnectorException:
    """The peer's ExceptionMessage as our exception, its Java class name kept (client side)."""
    cls = BY_WIRE_CLASS.get(error_message.exceptionClass, ConnectorException)
    exc = cls(error_message.message)
    if cls.icf_class != error_message.exceptionClass:
        exc.remote_class = error_message.exceptionClass
    return exc


def leading_message_id(data: bytes) -> int:
    """The messageId of a message that does not parse, when its first field is intact (field 1,
    a varint): the error then reaches the request it answers; 0 otherwise."""
    if not data or data[0] != 0x08:
        return 0
    value, shift = 0, 0
    for byte in data[1:11]:
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value if value < 2**63 else 0
        shift += 7
    return 0


# -- the client's direction: our requests -> messages, their answers -> our models ------------


def encode_operation(operation: OperationRequest) -> pb_ops.OperationRequest:
    """The protobuf `OperationRequest` of one operation, without key, facade key or locale."""
    out = pb_ops.OperationRequest()
    match operation.kind:
        case "test":
            out.testOpRequest.SetInParent()
        case "validate":
            out.ValidateOpRequest.SetInParent()
        case "schema":
            out.schemaOpRequest.SetInParent()
        case "create":
            create = operation.create
            assert create is not None
            out.createOpRequest.objectClass = create.objectClass
            out.createOpRequest.createAttributes = _attributes_to(create.attributes)
            out.createOpRequest.options = objects.encode_options(create.options)
        case "get":
            get = operation.get
            assert get is not None
            out.getOpRequest.objectClass = get.objectClass
            out.getOpRequest.uid.CopyFrom(objects.uid_to_proto(get.uid))
            out.getOpRequest.options = objects.encode_options(get.options)
        case "search":
            search = operation.search
            assert search is not None
            out.searchOpRequest.objectClass = search.objectClass
            if search.filter is not None:
                out.searchOpRequest.filter = objects.encode_filter(search.filter)
            out.searchOpRequest.options = objects.encode_options(search.options)
        case "update":
            update = operation.update
            assert update is not None
            out.updateOpRequest.objectClass = update.objectClass
            out.updateOpRequest.uid.CopyFrom(objects.uid_to_proto(update.uid))
            out.updateOpRequest.updateType = _UPDATE_TYPE_OF[update.updateType]
            out.updateOpRequest.replaceAttributes = _attributes_to(update.attributes)
            out.updateOpRequest.options = objects.encode_options(update.options)
        case "delete":
            delete = operation.delete
            assert delete is not None
            out.deleteOpRequest.objectClass = delete.objectClass
            out.deleteOpRequest.uid.CopyFrom(objects.uid_to_proto(delete.uid))
            out.deleteOpRequest.options = objects.encode_options(delete.options)
        case "scriptOnConnector":
            script = operation.scriptOnConnector
            assert script is not None
            context = out.scriptOnConnectorOpRequest.scriptContext
            context.script.scriptLanguage = script.scriptLanguage
            context.script.scriptText = script.scriptText
            context.scriptArguments = objects.encode_script_value(dict(script.scriptArguments))
            out.scriptOnConnectorOpRequest.options = objects.encode_options(script.options)
        case "sync":
            sync = operation.sync
            assert sync is not None
            out.syncOpRequest.sync.objectClass = sync.objectClass
            if sync.token is not None:
                out.syncOpRequest.sync.token.value = objects.encode_sync_token(sync.token)
            out.syncOpRequest.sync.options = objects.encode_options(sync.options)
        case "latestSyncToken":
            latest = operation.latestSyncToken
            assert latest is not None
            out.syncOpRequest.latestSyncToken.objectClass = latest.objectClass
        case other:  # pragma: no cover - OperationRequest allows no other
            raise ProtocolError(f"no OpenICF message for the operation {other}")
    return out


def _attributes_to(attributes: Attributes) -> bytes:
    """Attributes to write, `__NAME__` as the Java client sends it (a `Name`)."""
    names = attributes.get(NAME)
    if names is not None and len(names) == 1 and isinstance(names[0], str):
        rest = {k: v for k, v in attributes.items() if k != NAME}
        return objects.encode_attributes(rest, name=names[0])
    return objects.encode_attributes(attributes)


_UPDATE_TYPE_OF: Final = {ours: theirs for theirs, ours in _UPDATE_TYPES.items()}
_COUNT_POLICY_OF: Final = {theirs: ours for ours, theirs in _COUNT_POLICIES.items()}
_ANSWER_FIELDS: Final = {
    "test": "testOpResponse",
    "validate": "validateOpResponse",
    "delete": "deleteOpResponse",
    "schema": "schemaOpResponse",
    "create": "createOpResponse",
    "update": "updateOpResponse",
    "get": "GetOpResponse",
    "scriptOnConnector": "scriptOnConnectorOpResponse",
    "latestSyncToken": "syncOpResponse",
    "search": "searchOpResponse",
    "sync": "syncOpResponse",
}
"""Our operation's wire name -> the field of `OperationResponse` that answers it."""


def _expect(response: pb_ops.OperationResponse, kind: str) -> None:
    name = _ANSWER_FIELDS[kind]
    if not response.HasField(name):  # type: ignore[arg-type]
        raise ProtocolError(f"the answer to a {kind} request holds no {name}", field=name)


def decode_operation(kind: str, response: pb_ops.OperationResponse) -> OperationResponse:
    """A single answer (everything but search and sync) as our model."""
    _expect(response, kind)
    match kind:
        case "test":
            return OperationResponse(test=Empty())
        case "validate":
            return OperationResponse(validate_=Empty())
        case "delete":
            return OperationResponse(delete=Empty())
        case "schema":
            schema = objects.decode_schema(bytes(response.schemaOpResponse.schema))
            return OperationResponse(schema_=SchemaOpResponse(schema_=schema))
        case "create":
            uid = objects.uid_from_proto(response.createOpResponse.uid)
            return OperationResponse(create=CreateOpResponse(uid=uid))
        case "update":
            uid = objects.uid_from_proto(response.updateOpResponse.uid)
            return OperationResponse(update=UpdateOpResponse(uid=uid))
        case "get":
            found = objects.decode_connector_object(bytes(response.GetOpResponse.connectorObject))
            return OperationResponse(get=GetOpResponse(connectorObject=found))
        case "scriptOnConnector":
            result = objects.decode_script_value(bytes(response.scriptOnConnectorOpResponse.object))
            return OperationResponse(scriptOnConnector=ScriptOnConnectorOpResponse(result=result))
        case "latestSyncToken":
            blob = bytes(response.syncOpResponse.latestSyncToken.syncToken.value)
            token = objects.decode_sync_token(blob) if blob else None
            return OperationResponse(latestSyncToken=LatestSyncTokenOpResponse(token=token))
    raise ProtocolError(f"no single answer is expected to a {kind} request")


def decode_stream_part(
    kind: str, response: pb_ops.OperationResponse
) -> tuple[int, OperationResponse, bool]:
    """(sequence, part, whether it is the final message) of a search or sync answer."""
    _expect(response, kind)
    if kind == "search":
        part = response.searchOpResponse
        sequence = int(part.sequence)
        if part.HasField("connectorObject"):
            obj = objects.connector_object_from_proto(part.connectorObject)
            # One part per object (the hot path): parts built without a second validation.
            search = SearchOpResponse.model_construct(
                sequence=max(sequence, 1), connectorObjects=[obj]
            )
            return sequence, OperationResponse.model_construct(search=search), False
        result = part.result
        final = SearchOpResponse(
            sequence=max(sequence, 1),
            result=SearchResult(
                pagedResultsCookie=result.pagedResultsCookie or None,
                totalPagedResultsPolicy=_COUNT_POLICY_OF[result.totalPagedResultsPolicy],
                totalPagedResults=result.totalPagedResults,
                remainingPagedResults=result.remainingPagedResults,
            ),
        )
        return sequence, OperationResponse(search=final), True
    sync = response.syncOpResponse.sync
    sequence = int(sync.sequence)
    if sync.HasField("syncDelta"):
        delta = objects.sync_delta_from_proto(sync.syncDelta)
        part_sync = SyncOpResponse(sequence=max(sequence, 1), syncDeltas=[delta])
        return sequence, OperationResponse(sync=part_sync), False
    blob = bytes(sync.syncToken.value)
    token = objects.decode_sync_token(blob) if blob else None
    done = SyncOpResponse(sequence=max(sequence, 1), token=token, last=True)
    return sequence, OperationResponse(sync=done), True


__all__ = [
    "OPERATION_FIELDS",
    "UNSUPPORTED_API",
    "answer",
    "configuration_change",
    "connector_key",
    "control_answer",
    "decode_operation",
    "decode_stream_part",
    "encode_operation",
    "error",
    "exception_of",
    "leading_message_id",
    "not_found",
    "operation_field",
    "operation_request",
    "search_done",
    "search_object",
    "sync_delta",
    "sync_done",
    "unsupported",
]
