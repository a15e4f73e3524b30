"""`decode(text) -> Frame` and `encode(frame) -> str`: the only way frames meet text.

Anything that is not a valid frame raises `ProtocolError` naming what was wrong, and nothing
else escapes `decode` (a property test holds it to that). Where the frame's messageId could be
read, the error carries it, so the server can answer the very request that was wrong.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Final

import orjson
from pydantic import Discriminator, Tag, TypeAdapter, ValidationError

from protocol.errors import ConnectorException, ProtocolError
from protocol.frames import (
    ErrorCause,
    ErrorResponse,
    Frame,
    RequestFrame,
    ResponseBody,
    ResponseFrame,
)
from protocol.values import GUARDED_KEY, ConnectorObject, GuardedString

_REQUEST: Final = TypeAdapter(RequestFrame)
_RESPONSE: Final = TypeAdapter(ResponseFrame)
_MAX_ERRORS_SHOWN: Final = 5


class FrameError(ProtocolError):
    """A frame that does not decode; `message_id` is its id when the envelope had a usable one."""

    def __init__(self, message: str, *, field: str | None = None, message_id: int | None) -> None:
        super().__init__(message, field=field)
        self.message_id = message_id


def _location(loc: tuple[int | str, ...]) -> str:
    # pydantic names union branches and discriminator tags in the path; keep the JSON path only.
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif (
            item in {"RequestFrame", "ResponseFrame"} or "[" in item or item.startswith("function-")
        ):
            continue
        else:
            parts.append(("." if parts else "") + item)
    return "".join(parts) or "frame"


def _describe(error: ValidationError) -> tuple[str, str]:
    details = error.errors(include_url=False, include_input=False)
    lines = [f"{_location(d['loc'])}: {d['msg']}" for d in details[:_MAX_ERRORS_SHOWN]]
    if len(details) > _MAX_ERRORS_SHOWN:
        lines.append(f"... and {len(details) - _MAX_ERRORS_SHOWN} more")
    return "; ".join(lines), _location(details[0]["loc"]) if details else "frame"


def _peek_message_id(data: Any) -> int | None:
    if isinstance(data, dict):
        mid = data.get("messageId")
        if isinstance(mid, int) and not isinstance(mid, bool) and 0 <= mid < 2**63:
            return mid
    return None


def _discriminate(data: Any) -> str | None:
    if isinstance(data, dict):
        has_request, has_response = "request" in data, "response" in data
        if has_request != has_response:
            return "request" if has_request else "response"
    return None


_FRAME: Final = TypeAdapter(
    Annotated[
        Annotated[RequestFrame, Tag("request")] | Annotated[ResponseFrame, Tag("response")],
        Discriminator(_discriminate),
    ]
)


def decode(text: str | bytes) -> Frame:
    """Parse one frame; raise `FrameError` (a `ProtocolError`) for anything else.

    The happy path is one pass of pydantic-core's JSON parser; only a frame that fails is parsed
    again, to find its messageId and explain what is wrong.
    """
    try:
        frame: Frame = _FRAME.validate_json(text)
    except ValidationError:
        raise _explain(text) from None
    return frame


def decode_response(text: str | bytes) -> ResponseFrame:
    """A server's answer, read liberally (a client's side of the robustness principle): fields
    this side does not know, which a newer server may add, are left out rather than making the
    whole frame unreadable. Anything else wrong is a `FrameError`, with the messageId when it
    could be read, so a client can fail the very request it answers."""
    try:
        return _RESPONSE.validate_json(text)
    except ValidationError as error:
        details = error.errors(include_url=False, include_input=False)
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise _explain(text) from None
    for _ in range(_LIBERAL_PASSES):
        unknown = [d["loc"] for d in details if d["type"] == "extra_forbidden"]
        if not unknown:
            break
        for loc in unknown:
            _drop(data, loc)
        try:
            return _RESPONSE.validate_json(json.dumps(data))
        except ValidationError as error:
            details = error.errors(include_url=False, include_input=False)
    raise _explain(json.dumps(data)) from None


_LIBERAL_PASSES: Final = 4


def _drop(data: Any, loc: tuple[int | str, ...]) -> None:
    """Remove the member at `loc` (pydantic's path, which also names union branches that
    are not in the data: those steps are passed over)."""
    *path, last = loc
    current = data
    for step in path:
        in_object = isinstance(current, dict) and isinstance(step, str) and step in current
        in_array = isinstance(current, list) and isinstance(step, int) and 0 <= step < len(current)
        if in_object or in_array:
            current = current[step]
    if isinstance(current, dict) and isinstance(last, str):
        current.pop(last, None)


def _explain(text: str | bytes) -> FrameError:
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        return FrameError(f"frame is not JSON: {exc}", message_id=None)
    if not isinstance(data, dict):
        return FrameError("frame must be a JSON object", message_id=None)
    message_id = _peek_message_id(data)
    kind = _discriminate(data)
    if kind is None:
        return FrameError(
            "frame must hold exactly one of request, response", field="frame", message_id=message_id
        )
    try:
        (_REQUEST if kind == "request" else _RESPONSE).validate_json(text)
    except ValidationError as exc:
        message, field = _describe(exc)
        return FrameError(message, field=field, message_id=message_id)
    return FrameError("frame is not valid", message_id=message_id)  # pragma: no cover


def encode(frame: Frame) -> str:
    """Serialise a frame: aliases on the wire, absent fields left out."""
    return frame.model_dump_json(by_alias=True, exclude_none=True)


_OBJECT: Final = ConnectorObject.__pydantic_serializer__


def _guarded(value: object) -> dict[str, str]:
    if isinstance(value, GuardedString):
        return {GUARDED_KEY: value.reveal()}
    raise TypeError  # orjson then raises, and the object goes the way every frame goes


def encode_object(obj: ConnectorObject) -> bytes:
    """One ConnectorObject as `encode` writes it inside a frame, byte for byte, at half the
    cost: a search part holds thousands of them (docs/benchmarks.md, "full read")."""
    uid = obj.uid
    data: dict[str, Any] = {
        "objectClass": obj.objectClass,
        "uid": {"value": uid.value}
        if uid.revision is None
        else {"value": uid.value, "revision": uid.revision},
    }
    if obj.name is not None:
        data["name"] = obj.name
    data["attributes"] = obj.attributes
    try:
        return orjson.dumps(data, default=_guarded)
    except orjson.JSONEncodeError:  # an int past 64 bits, a value of a type of its own
        return _OBJECT.to_json(obj, by_alias=True, exclude_none=True)


def error_response(exc: BaseException) -> ErrorResponse:
    """The wire form of an exception. Non-ICF exceptions travel as a bare ConnectorException."""
    if not isinstance(exc, ConnectorException):
        return ErrorResponse(
            exceptionClass=ConnectorException.icf_class, message="internal error in the server"
        )

    def cause_of(inner: ConnectorException | None, depth: int = 0) -> ErrorCause | None:
        if inner is None or depth > 8:
            return None
        return ErrorCause(
            exceptionClass=inner.wire_class,
            message=inner.message,
            cause=cause_of(inner.cause, depth + 1),
        )

    return ErrorResponse(
        exceptionClass=exc.wire_class, message=exc.message, cause=cause_of(exc.cause)
    )


def error_frame(message_id: int, exc: BaseException) -> ResponseFrame:
    return ResponseFrame(messageId=message_id, response=ResponseBody(error=error_response(exc)))


def exception_from(error: ErrorResponse | ErrorCause) -> ConnectorException:
    """Rebuild the exception a peer sent, keeping its class name even when it is not ours."""
    from protocol.errors import BY_WIRE_CLASS

    cls = BY_WIRE_CLASS.get(error.exceptionClass, ConnectorException)
    exc = cls.__new__(cls)
    ConnectorException.__init__(
        exc, error.message, cause=exception_from(error.cause) if error.cause else None
    )
    if cls.icf_class != error.exceptionClass:
        exc.remote_class = error.exceptionClass
    return exc
