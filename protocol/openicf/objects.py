"""Legacy OpenICF objects <-> the project's models (docs/openicf-rpc.md §9).

Everything an operation carries in legacy bytes comes through here, so the dispatcher runs the
same `protocol.values` / `protocol.filters` / `protocol.schema` models whichever wire a request
came on:

- attribute sets (`Set<Attribute>` with `Name` and `Uid`): `decode_attributes`,
  `encode_attributes`, `encode_object_attributes` (search and sync, the hot path);
- connector objects: `decode_connector_object` / `encode_connector_object` (legacy, for get),
  `connector_object_to_proto` / `connector_object_from_proto` (search);
- filters: `decode_filter` / `encode_filter` (the 14 legacy filter types);
- operation options: `decode_options` / `encode_options`;
- schema: `encode_schema` / `decode_schema`;
- sync: `encode_sync_token` / `decode_sync_token`, `sync_delta_to_proto` /
  `sync_delta_from_proto`; `uid_to_proto` / `uid_from_proto`;
- scripts: `encode_script_value` / `decode_script_value` (arguments and results);
- the facade key: `decode_facade_key` -> `FacadeConfiguration` (with a `digest` that is stable
  across client processes), `facade_key`, `set_property_values`;
- CONNECTOR_INFO: `encode_connector_infos` / `decode_connector_infos`;
- `configurationChangeEvent`: `encode_configuration_change` / `decode_configuration_change`.

Decoders raise `WireFormatError` (a `ProtocolError`) naming what was wrong, including a legacy
value our models cannot hold (an `ExtendedMatchFilter`, a Map-valued attribute).
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import json
import struct
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final, TypeAlias, TypeVar

from pydantic import ValidationError

from protocol import filters as f
from protocol.configuration import (
    ConfigurationValue,
    ConnectorKey,
    InlineConfiguration,
    ObjectPoolConfiguration,
    ResultsHandlerConfiguration,
)
from protocol.info import ConfigurationPropertyInfo, ConnectorInfo
from protocol.openicf import legacy
from protocol.openicf.guarded import (
    GuardedByteArray,
    GuardedCipherError,
    decrypt_string,
    encrypt_string,
)
from protocol.openicf.legacy import (
    BigInteger,
    Character,
    ClassRef,
    JavaArray,
    JavaMap,
    JavaSet,
    LegacyObject,
    Long,
    Typed,
    Value,
)
from protocol.openicf.proto import common_pb2
from protocol.openicf.wire import WireFormatError
from protocol.schema import AttributeFlag, AttributeInfo, AttributeType, ObjectClassInfo, Schema
from protocol.values import (
    NAME,
    UID,
    AttributeValue,
    ConnectorObject,
    CountPolicy,
    GuardedString,
    JsonValue,
    OperationName,
    OperationOptions,
    SortKey,
    SyncDelta,
    SyncDeltaType,
    SyncToken,
    Uid,
)

_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1
NULL_MARKER_BYTE: Final = legacy.NULL_MARKER
CLASS_MARKER_BYTE: Final = legacy.CLASS_MARKER
ANONYMOUS_BYTE: Final = legacy.ANONYMOUS_FIELD
NAMED_BYTE: Final = legacy.NAMED_FIELD
END_BYTE: Final = legacy.END
_LONG_MIN, _LONG_MAX = -(2**63), 2**63 - 1


_F = TypeVar("_F", bound=Callable[..., Any])


def _model_errors(func: _F) -> _F:
    """Turns a model's ValidationError (an empty name, a bad Uid) into a WireFormatError, so a
    decoder raises nothing but our ProtocolError."""

    @functools.wraps(func)
    def checked(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ValidationError as exc:
            error = exc.errors()[0]
            where = ".".join(str(part) for part in error["loc"]) or exc.title
            message = f"{func.__name__}: {exc.title}.{where}: {error['msg']}"
            raise WireFormatError(message, field=exc.title) from None

    return checked  # type: ignore[return-value]


def _fail(message: str, where: str) -> WireFormatError:
    return WireFormatError(f"{message} (at {where})", field=where)


def _decode(blob: bytes, where: str) -> Value:
    try:
        return legacy.decode(blob)
    except WireFormatError as exc:
        raise WireFormatError(f"{where}: {exc}", field=where) from None


# --- API operations (docs/openicf-rpc.md §7.5) -----------------------------------------------

API_OPERATION_OF: Final[dict[OperationName, str]] = {
    "CREATE": "CreateApiOp",
    "UPDATE": "UpdateApiOp",
    "DELETE": "DeleteApiOp",
    "GET": "GetApiOp",
    "SEARCH": "SearchApiOp",
    "SYNC": "SyncApiOp",
    "SCHEMA": "SchemaApiOp",
    "TEST": "TestApiOp",
    "VALIDATE": "ValidateApiOp",
    "AUTHENTICATE": "AuthenticationApiOp",
    "SCRIPT_ON_CONNECTOR": "ScriptOnConnectorApiOp",
    "SCRIPT_ON_RESOURCE": "ScriptOnResourceApiOp",
    "RESOLVEUSERNAME": "ResolveUsernameApiOp",
}
"""Our operation names -> the serial names of the framework's API operation classes."""
OPERATION_OF_API: Final[dict[str, OperationName]] = {v: k for k, v in API_OPERATION_OF.items()}


# --- attribute values ------------------------------------------------------------------------


def value_to_legacy(value: AttributeValue) -> Value:
    """One attribute value under its Java type: an int is an Integer, a Long or a BigInteger
    by its size, a float a Double."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        if _INT_MIN <= value <= _INT_MAX:
            return value
        return Long(value) if _LONG_MIN <= value <= _LONG_MAX else BigInteger(value)
    return value


def value_from_legacy(value: Value, where: str) -> AttributeValue:
    """One legacy attribute value as ours; a value our model cannot hold is an error."""
    if value is None or isinstance(value, bool | GuardedString):
        return value
    if isinstance(value, str):
        return str(value)  # a Character too
    if isinstance(value, int):
        return int(value)  # Long, BigInteger, Byte
    if isinstance(value, float):
        return float(value)  # Float
    if isinstance(value, Decimal):
        return str(value)  # exact: a BigDecimal keeps its digits as text
    if isinstance(value, Typed) and value.type in ("URI", "File", "char"):
        return str(value.value)
    raise _fail(f"a {_java_type(value)} value, which our attribute model cannot hold", where)


def _java_type(value: Value) -> str:
    match value:
        case bytes():
            return "ByteArray"
        case GuardedByteArray():
            return "GuardedByteArray"
        case list():
            return "List"
        case JavaSet():
            return "Set"
        case JavaMap():
            return "Map"
        case JavaArray():
            return legacy.array_of(value.component)
        case LegacyObject() | Typed() | legacy.UnknownObject():
            return value.type
    return type(value).__name__


# --- attribute sets --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AttributeSet:
    """A decoded `Set<Attribute>`: the `Uid` and `Name` when present, and the other attributes.

    An attribute sent with a null `Values` (ICF: remove it) has the empty list.
    """

    uid: Uid | None
    name: str | None
    attributes: dict[str, list[AttributeValue]]


def _uid_of(value: LegacyObject, where: str) -> Uid:
    uid, revision = value.fields.get("uid"), value.fields.get("revision")
    if not isinstance(uid, str) or not uid:
        raise _fail("a Uid without its value", where)
    return Uid(value=uid, revision=revision if isinstance(revision, str) else None)


def _values(raw: Value, where: str) -> list[AttributeValue]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise _fail(f"attribute values are a List, not a {_java_type(raw)}", where)
    return [value_from_legacy(v, where) for v in raw]


@_model_errors
def attributes_from_legacy(value: Value, where: str = "attributes") -> AttributeSet:
    """A legacy `Set<Attribute>` (or List) as an `AttributeSet`."""
    items = value.items if isinstance(value, JavaSet) else value
    if not isinstance(items, list):
        raise _fail(f"an attribute set is a Set, not a {_java_type(value)}", where)
    uid: Uid | None = None
    name: str | None = None
    attributes: dict[str, list[AttributeValue]] = {}
    for item in items:
        if isinstance(item, Typed) and item.type == "Name":
            name = str(item.value)
        elif isinstance(item, LegacyObject) and item.type == "Uid":
            uid = _uid_of(item, where)
        elif isinstance(item, LegacyObject) and item.type == "Attribute":
            attr = item.fields.get("name")
            if not isinstance(attr, str) or not attr:
                raise _fail("an Attribute without a name", where)
            values = _values(item.fields.get("Values"), f"{where}.{attr}")
            if attr == NAME:
                name = None if not values else str(values[0])
            elif attr == UID:
                uid = Uid(value=str(values[0])) if values else None
            elif attr in attributes:
                raise _fail(f"the attribute {attr!r} twice", where)
            else:
                attributes[attr] = values
        else:
            raise _fail(f"an attribute set holds a {_java_type(item)}", where)
    return AttributeSet(uid, name, attributes)


@_model_errors
def decode_attributes(blob: bytes, where: str = "attributes") -> AttributeSet:
    """`CreateOpRequest.createAttributes`, `UpdateOpRequest.replaceAttributes`, a search hit's
    and a sync delta's attributes.

    A client reads one set per search hit, so the common shape (attributes of boxed scalars,
    `Name`, `Uid`) is read straight from the bytes; anything else, or anything wrong, goes
    through the full decoder, which gives the same result or the precise error.
    """
    try:
        return _read_attribute_set(blob)
    except (_Unusual, IndexError, struct.error, UnicodeDecodeError, GuardedCipherError):
        return attributes_from_legacy(_decode(blob, where), where)


class _Unusual(Exception):
    """A set the direct reader leaves to the full decoder."""


_unpack_int = struct.Struct(">i").unpack_from
_unpack_long = struct.Struct(">q").unpack_from
_unpack_double = struct.Struct(">d").unpack_from
_BOXED_SCALARS: Final = frozenset(
    {"String", "Integer", "Long", "Boolean", "Double", "Float", "Character", "BigInteger"}
)


def _read_string_at(data: bytes, start: int, stop: int) -> str:
    """A string payload filling data[start:stop] exactly."""
    (n,) = _unpack_int(data, start)
    if n < 0 or start + 4 + n != stop:
        raise _Unusual
    return data[start + 4 : stop].decode("utf-8")


def _read_scalar(data: bytes, pool: dict[int, str], pos: int, stop: int) -> AttributeValue:
    """One boxed value object filling data[pos:stop]: marker, one anonymous field, END."""
    if data[pos] == NULL_MARKER_BYTE and pos + 2 == stop and data[pos + 1] == END_BYTE:
        return None
    type_name = pool.get(_unpack_int(data, pos + 1)[0]) if data[pos] == CLASS_MARKER_BYTE else None
    if data[pos + 5] != ANONYMOUS_BYTE or data[stop - 1] != END_BYTE:
        raise _Unusual
    (size,) = _unpack_int(data, pos + 6)
    start, end = pos + 10, pos + 10 + size
    if size < 0 or end != stop - 1:
        raise _Unusual
    if type_name == "String":
        return _read_string_at(data, start, end)
    if type_name == "Integer" and size == 4:
        return int(_unpack_int(data, start)[0])
    if type_name == "Boolean" and size == 1:
        return data[start] != 0
    if type_name == "Long" and size == 8:
        return int(_unpack_long(data, start)[0])
    if type_name in ("Double", "Float") and size == 8:
        return float(_unpack_double(data, start)[0])
    if type_name == "GuardedString":
        (n,) = _unpack_int(data, start)
        if n < 0 or start + 4 + n != end:
            raise _Unusual
        return decrypt_string(data[start + 4 : end])
    raise _Unusual  # Character, BigInteger and the rest: the full decoder knows them


def _read_fields(
    data: bytes, pool: dict[int, str], pos: int, stop: int
) -> dict[str, tuple[int, int]]:
    """The named fields of an object whose marker ends at `pos`, up to its END at stop - 1."""
    fields: dict[str, tuple[int, int]] = {}
    while pos < stop - 1:
        if data[pos] != NAMED_BYTE:
            raise _Unusual
        field_name = pool.get(_unpack_int(data, pos + 1)[0])
        (size,) = _unpack_int(data, pos + 5)
        start = pos + 9
        if field_name is None or field_name in fields or size < 0 or start + size > stop - 1:
            raise _Unusual
        fields[field_name] = (start, start + size)
        pos = start + size
    if pos != stop - 1 or data[pos] != END_BYTE:
        raise _Unusual
    return fields


def _read_attribute_set(data: bytes) -> AttributeSet:
    pool, pos = legacy.read_pool(data)
    end = len(data)
    if data[pos] != CLASS_MARKER_BYTE or pool.get(_unpack_int(data, pos + 1)[0]) != "Set":
        raise _Unusual
    pos += 5
    uid: Uid | None = None
    name: str | None = None
    attributes: dict[str, list[AttributeValue]] = {}
    while data[pos] == ANONYMOUS_BYTE:
        (size,) = _unpack_int(data, pos + 1)
        start, stop = pos + 5, pos + 5 + size
        if size < 6 or stop > end or data[start] != CLASS_MARKER_BYTE:
            raise _Unusual
        kind = pool.get(_unpack_int(data, start + 1)[0])
        if kind == "Attribute":
            fields = _read_fields(data, pool, start + 5, stop)
            if set(fields) != {"name", "Values"}:
                raise _Unusual
            attr = _read_string_at(data, *fields["name"])
            if not attr or attr in attributes or attr in (NAME, UID):
                raise _Unusual
            v_start, v_stop = fields["Values"]
            values: list[AttributeValue] = []
            if (
                data[v_start] == NULL_MARKER_BYTE
                and data[v_start + 1] == END_BYTE == data[v_stop - 1]
            ):
                pass  # a null Values: the attribute is cleared
            elif pool.get(_unpack_int(data, v_start + 1)[0]) == "List" and data[v_start] == 0x3D:
                at = v_start + 5
                while data[at] == ANONYMOUS_BYTE:
                    (item,) = _unpack_int(data, at + 1)
                    if item < 2 or at + 5 + item > v_stop - 1:
                        raise _Unusual
                    values.append(_read_scalar(data, pool, at + 5, at + 5 + item))
                    at += 5 + item
                if at != v_stop - 1 or data[at] != END_BYTE:
                    raise _Unusual
            else:
                raise _Unusual
            attributes[attr] = values
        elif kind == "Name":
            name_value = _read_scalar_of(data, start, stop)
            name = name_value
        elif kind == "Uid":
            fields = _read_fields(data, pool, start + 5, stop)
            if "uid" not in fields or not set(fields) <= {"uid", "revision"}:
                raise _Unusual
            value = _read_string_at(data, *fields["uid"])
            revision = _read_string_at(data, *fields["revision"]) if "revision" in fields else None
            if not value:
                raise _Unusual
            uid = Uid(value=value, revision=revision)
        else:
            raise _Unusual
        pos = stop
    if data[pos] != END_BYTE or pos + 1 != end:
        raise _Unusual
    return AttributeSet(uid, name, attributes)


def _read_scalar_of(data: bytes, start: int, stop: int) -> str:
    """The string inside a `Name` object filling data[start:stop]."""
    if data[start + 5] != ANONYMOUS_BYTE or data[stop - 1] != END_BYTE:
        raise _Unusual
    (size,) = _unpack_int(data, start + 6)
    if size < 0 or start + 10 + size != stop - 1:
        raise _Unusual
    return _read_string_at(data, start + 10, stop - 1)


_pack_int = struct.Struct(">i").pack
_pack_long = struct.Struct(">q").pack
_pack_double = struct.Struct(">d").pack
_pack_into = struct.Struct(">i").pack_into


def attributes_to_legacy(
    attributes: Mapping[str, Sequence[AttributeValue]],
    *,
    uid: Uid | None = None,
    name: str | None = None,
) -> JavaSet:
    """A legacy `Set<Attribute>` tree: the attributes, then `Name` and `Uid` when given."""
    items: list[Value] = [
        LegacyObject("Attribute", {"name": attr, "Values": [value_to_legacy(v) for v in values]})
        for attr, values in attributes.items()
    ]
    if name is not None:
        items.append(Typed("Name", name))
    if uid is not None:
        items.append(LegacyObject("Uid", {"uid": uid.value, "revision": uid.revision}))
    return JavaSet(items)


# The fast writer below lays every attribute-set blob out over one constant pool: the names
# every set uses at fixed codes, then the value types this set uses (docs/openicf-rpc.md §7.1:
# the Java decoder maps codes explicitly, so the pool's order and spare names are free).
_FIXED_NAMES: Final = (
    "Set",
    "Attribute",
    "name",
    "Values",
    "List",
    "Name",
    "Uid",
    "uid",
    "revision",
)
_VALUE_TYPES: Final = (
    "String",
    "Integer",
    "Boolean",
    "Double",
    "Long",
    "BigInteger",
    "GuardedString",
)
_STRING, _INTEGER, _BOOLEAN, _DOUBLE, _LONG, _BIG_INTEGER, _GUARDED = (1 << i for i in range(7))
_SET_HEAD: Final = b"=" + _pack_int(0)
_ATTRIBUTE_HEAD: Final = b"=" + _pack_int(1) + b"G" + _pack_int(2)
_VALUES_FIELD: Final = b"G" + _pack_int(3)
_LIST_HEAD: Final = b"=" + _pack_int(4)
_NAME_HEAD: Final = b"=" + _pack_int(5) + b"F"
_UID_HEAD: Final = b"=" + _pack_int(6) + b"G" + _pack_int(7)
_REVISION_FIELD: Final = b"G" + _pack_int(8)
_NULL_OBJECT: Final = b"<H"
_NULL_ITEM: Final = b"F" + _pack_int(2) + _NULL_OBJECT
_TRUE: Final = _pack_int(1) + b"\x01"
_FALSE: Final = _pack_int(1) + b"\x00"
_FOUR: Final = _pack_int(4)
_EIGHT: Final = _pack_int(8)
_layouts: dict[int, tuple[bytes, dict[int, bytes], int]] = {}
_attribute_heads: dict[str, bytes] = {}


def _layout(mask: int) -> tuple[bytes, dict[int, bytes], int]:
    """For a set using the value types in `mask`: its header and pool, each type's marker, and
    the code of `String` (-1 when absent)."""
    found = _layouts.get(mask)
    if found is None:
        names = [*_FIXED_NAMES, *(t for i, t in enumerate(_VALUE_TYPES) if mask & (1 << i))]
        pool = [legacy.HEADER, _pack_int(len(names))]
        for code, type_name in enumerate(names):
            raw = type_name.encode()
            pool += (_pack_int(len(raw)), raw, _pack_int(code))
        markers = {
            1 << i: b"=" + _pack_int(names.index(t)) + b"F"
            for i, t in enumerate(_VALUE_TYPES)
            if mask & (1 << i)
        }
        string_code = names.index("String") if "String" in names else -1
        found = _layouts[mask] = (b"".join(pool), markers, string_code)
    return found


def _attribute_head(name: str) -> bytes:
    """4 bytes for the Attribute's length, its marker, its `name` field, the `Values` field tag,
    4 bytes for its length and the List marker (cached per name)."""
    head = _attribute_heads.get(name)
    if head is None:
        raw = name.encode("utf-8")
        head = b"".join(
            (b"\0\0\0\0", _ATTRIBUTE_HEAD, _pack_int(len(raw) + 4), _pack_int(len(raw)), raw)
        )
        head += _VALUES_FIELD + b"\0\0\0\0" + _LIST_HEAD
        if len(_attribute_heads) < 10_000:  # attribute names repeat; arbitrary ones do not grow it
            _attribute_heads[name] = head
    return head


def _value_payload(value: AttributeValue) -> tuple[int, bytes]:
    """(its type's bit, the bytes of its one anonymous field) for one attribute value."""
    kind = type(value)
    if kind is str:
        raw = value.encode("utf-8")  # type: ignore[union-attr]
        return _STRING, _pack_int(len(raw) + 4) + _pack_int(len(raw)) + raw
    if kind is bool:
        return _BOOLEAN, _TRUE if value else _FALSE
    if kind is int:
        number: int = value  # type: ignore[assignment]
        if _INT_MIN <= number <= _INT_MAX:
            return _INTEGER, _FOUR + _pack_int(number)
        if _LONG_MIN <= number <= _LONG_MAX:
            return _LONG, _EIGHT + _pack_long(number)
        raw = str(number).encode()
        return _BIG_INTEGER, _pack_int(len(raw) + 4) + _pack_int(len(raw)) + raw
    if kind is float:
        return _DOUBLE, _EIGHT + _pack_double(value)
    if isinstance(value, GuardedString):
        cipher = encrypt_string(value)
        return _GUARDED, _pack_int(len(cipher) + 4) + _pack_int(len(cipher)) + cipher
    if isinstance(value, bool | int | float | str):  # subclasses: as their base type
        base: AttributeValue = (
            bool(value)
            if isinstance(value, bool)
            else int(value)
            if isinstance(value, int)
            else float(value)
            if isinstance(value, float)
            else str(value)
        )
        return _value_payload(base)
    raise WireFormatError(f"attributes: a {type(value).__name__} value", field="attributes")


def encode_attributes(
    attributes: Mapping[str, Sequence[AttributeValue]],
    *,
    uid: Uid | None = None,
    name: str | None = None,
) -> bytes:
    """A legacy `Set<Attribute>`: the attributes, then `Name` and `Uid` when given.

    The hot path of search and sync (one blob per object, docs/openicf-rpc.md §10): one pass
    that computes every length arithmetically and joins once, over the pool layout of the value
    types the previous set used; a set with a type outside it is written again with it added.
    """
    global _layout_guess
    mask = _layout_guess
    while True:
        written = _write_attributes(attributes, uid, name, mask)
        if isinstance(written, bytes):
            _layout_guess = mask
            return written
        mask |= written


_layout_guess = _STRING
_STRING_ITEM = struct.Struct(">BiBiBii").pack
"""An anonymous field holding a String object: tag, length, marker, code, tag, length, length."""


def _write_attributes(
    attributes: Mapping[str, Sequence[AttributeValue]],
    uid: Uid | None,
    name: str | None,
    mask: int,
) -> bytes | int:
    """The blob, or the bit of a value type that `mask`'s layout lacks.

    Written into one buffer: each length is reserved, then filled in once its content is there.
    """
    header, markers, string_code = _layout(mask)
    buf = bytearray(header)
    buf += _SET_HEAD
    for attr, values in attributes.items():
        buf += b"F"
        attribute_at = len(buf)
        buf += _attribute_head(attr)  # with 4 bytes reserved for the Values length
        list_at = len(buf) - 9  # the reserved Values length, before the List marker
        for value in values:
            if type(value) is str:
                if string_code < 0:
                    return _STRING
                raw = value.encode("utf-8")
                n = len(raw)
                buf += _STRING_ITEM(0x46, n + 15, 0x3D, string_code, 0x46, n + 4, n)
                buf += raw
                buf += b"H"
            elif value is None:
                buf += _NULL_ITEM
            else:
                bit, payload = _value_payload(value)
                marker = markers.get(bit)
                if marker is None:
                    return bit
                buf += b"F"
                buf += _pack_int(len(payload) + 7)
                buf += marker
                buf += payload
                buf += b"H"
        buf += b"HH"  # END of the List, END of the Attribute
        end = len(buf)
        _pack_into(buf, list_at, end - list_at - 5)
        _pack_into(buf, attribute_at, end - attribute_at - 4)
    if name is not None:
        raw = name.encode("utf-8")
        n = len(raw)
        buf += b"F"
        buf += _pack_int(n + 15)
        buf += _NAME_HEAD
        buf += _pack_int(n + 4)
        buf += _pack_int(n)
        buf += raw
        buf += b"H"
    if uid is not None:
        buf += b"F"
        uid_at = len(buf)
        buf += b"\0\0\0\0"
        buf += _UID_HEAD
        raw = uid.value.encode("utf-8")
        buf += _pack_int(len(raw) + 4)
        buf += _pack_int(len(raw))
        buf += raw
        if uid.revision is not None:
            rev = uid.revision.encode("utf-8")
            buf += _REVISION_FIELD
            buf += _pack_int(len(rev) + 4)
            buf += _pack_int(len(rev))
            buf += rev
        buf += b"H"
        _pack_into(buf, uid_at, len(buf) - uid_at - 4)
    buf += b"H"
    return bytes(buf)


def encode_object_attributes(obj: ConnectorObject) -> bytes:
    """A connector object's attributes with its `Name` and `Uid`: what search and sync send."""
    return encode_attributes(obj.attributes, uid=obj.uid, name=obj.name)


def connector_object_from_attributes(object_class: str, value: AttributeSet) -> ConnectorObject:
    if value.uid is None:
        raise _fail(f"a {object_class} object without its Uid", "connectorObject")
    try:
        return ConnectorObject(
            objectClass=object_class, uid=value.uid, name=value.name, attributes=value.attributes
        )
    except ValidationError as exc:
        raise _fail(
            f"not a connector object: {exc.errors()[0]['msg']}", "connectorObject"
        ) from None


def connector_object_to_proto(obj: ConnectorObject) -> common_pb2.ConnectorObject:
    """A search hit: `ConnectorObject{objectClass, attributes: legacy Set<Attribute>}`."""
    return common_pb2.ConnectorObject(
        objectClass=obj.objectClass, attributes=encode_object_attributes(obj)
    )


@_model_errors
def connector_object_from_proto(message: common_pb2.ConnectorObject) -> ConnectorObject:
    attrs = decode_attributes(message.attributes, "connectorObject.attributes")
    return connector_object_from_attributes(message.objectClass, attrs)


def encode_connector_object(obj: ConnectorObject) -> bytes:
    """The legacy `ConnectorObject{ObjectClass, Attributes}` a get answers with (§9.2)."""
    attributes = attributes_to_legacy(obj.attributes, uid=obj.uid, name=obj.name)
    tree = LegacyObject(
        "ConnectorObject",
        {
            "ObjectClass": LegacyObject("ObjectClass", {"type": obj.objectClass}),
            "Attributes": attributes,
        },
    )
    try:
        return legacy.encode(tree)
    except legacy.LegacyEncodeError as exc:
        raise WireFormatError(f"connectorObject: {exc}", field="connectorObject") from None


@_model_errors
def decode_connector_object(blob: bytes, where: str = "connectorObject") -> ConnectorObject | None:
    """A get's answer: the object, or None for an empty answer (no such object)."""
    if not blob:
        return None
    value = _decode(blob, where)
    if value is None:
        return None
    if not (isinstance(value, LegacyObject) and value.type == "ConnectorObject"):
        raise _fail(f"a ConnectorObject, not a {_java_type(value)}", where)
    object_class = value.fields.get("ObjectClass")
    if not (
        isinstance(object_class, LegacyObject) and isinstance(object_class.fields.get("type"), str)
    ):
        raise _fail("a ConnectorObject without its ObjectClass", where)
    attrs = attributes_from_legacy(value.fields.get("Attributes"), f"{where}.Attributes")
    return connector_object_from_attributes(str(object_class.fields["type"]), attrs)


# --- Uid, sync tokens, sync deltas -----------------------------------------------------------


def uid_to_proto(uid: Uid) -> common_pb2.Uid:
    """The protobuf `Uid`; the revision is sent only when there is one (§11 quirk 1)."""
    return common_pb2.Uid(value=uid.value, revision=uid.revision or "")


@_model_errors
def uid_from_proto(message: common_pb2.Uid, where: str = "uid") -> Uid:
    if not message.value:
        raise _fail("a Uid without its value", where)
    return Uid(value=message.value, revision=message.revision or None)


def encode_sync_token(token: SyncToken) -> bytes:
    """`SyncToken.value`: the token's value as a legacy Integer, Long or String."""
    value = token.value
    return legacy.encode(value_to_legacy(value))


@_model_errors
def decode_sync_token(blob: bytes, where: str = "syncToken") -> SyncToken:
    value = _decode(blob, where)
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise _fail(f"a sync token of type {_java_type(value)}, not a String or a number", where)
    return SyncToken(value=str(value) if isinstance(value, str) else int(value))


_DELTA_TYPES: Final = {
    SyncDeltaType.CREATE_OR_UPDATE: common_pb2.SyncDelta.CREATE_OR_UPDATE,
    SyncDeltaType.DELETE: common_pb2.SyncDelta.DELETE,
    SyncDeltaType.CREATE: common_pb2.SyncDelta.CREATE,
    SyncDeltaType.UPDATE: common_pb2.SyncDelta.UPDATE,
}
_DELTA_TYPES_BACK: Final = {v: k for k, v in _DELTA_TYPES.items()}


def sync_delta_to_proto(delta: SyncDelta) -> common_pb2.SyncDelta:
    """A protobuf `SyncDelta`; its object is a legacy `Set<Attribute>` with Name and Uid."""
    message = common_pb2.SyncDelta(
        token=common_pb2.SyncToken(value=encode_sync_token(delta.token)),
        deltaType=_DELTA_TYPES[delta.deltaType],
        objectClass=delta.objectClass,
        uid=uid_to_proto(delta.uid),
    )
    if delta.previousUid is not None:
        message.previousUid.CopyFrom(uid_to_proto(delta.previousUid))
    if delta.connectorObject is not None:
        message.connectorObject = encode_object_attributes(delta.connectorObject)
    return message


@_model_errors
def sync_delta_from_proto(message: common_pb2.SyncDelta) -> SyncDelta:
    obj = None
    if message.connectorObject:
        attrs = decode_attributes(message.connectorObject, "syncDelta.connectorObject")
        obj = connector_object_from_attributes(message.objectClass, attrs)
    return SyncDelta(
        token=decode_sync_token(message.token.value, "syncDelta.token"),
        deltaType=_DELTA_TYPES_BACK.get(message.deltaType, SyncDeltaType.CREATE_OR_UPDATE),
        objectClass=message.objectClass,
        uid=uid_from_proto(message.uid, "syncDelta.uid"),
        previousUid=(
            uid_from_proto(message.previousUid, "syncDelta.previousUid")
            if message.HasField("previousUid")
            else None
        ),
        connectorObject=obj,
    )


# --- filters (docs/openicf-rpc.md §9.3) ------------------------------------------------------

_COMPARISONS: Final[dict[str, type[f.ComparisonFilter]]] = {
    "GreaterThanFilter": f.GreaterThan,
    "GreaterThanOrEqualFilter": f.GreaterThanOrEqual,
    "LessThanFilter": f.LessThan,
    "LessThanOrEqualFilter": f.LessThanOrEqual,
}
_STRING_FILTERS: Final[dict[str, type[f.Contains | f.StartsWith | f.EndsWith]]] = {
    "ContainsFilter": f.Contains,
    "StartsWithFilter": f.StartsWith,
    "EndsWithFilter": f.EndsWith,
}
_LEGACY_NAME: Final[dict[str, str]] = {
    "equals": "EqualsFilter",
    "contains": "ContainsFilter",
    "startsWith": "StartsWithFilter",
    "endsWith": "EndsWithFilter",
    "greaterThan": "GreaterThanFilter",
    "greaterThanOrEqual": "GreaterThanOrEqualFilter",
    "lessThan": "LessThanFilter",
    "lessThanOrEqual": "LessThanOrEqualFilter",
    "containsAllValues": "ContainsAllValuesFilter",
}


def _filter_attribute(value: Value, where: str) -> tuple[str, list[AttributeValue]]:
    """The attribute a filter tests: an `Attribute`, or `Uid`/`Name` for the special names."""
    if isinstance(value, Typed) and value.type == "Name":
        return NAME, [str(value.value)]
    if isinstance(value, LegacyObject) and value.type == "Uid":
        return UID, [_uid_of(value, where).value]
    if isinstance(value, LegacyObject) and value.type == "Attribute":
        name = value.fields.get("name")
        if not isinstance(name, str) or not name:
            raise _fail("a filter's Attribute has no name", where)
        return name, _values(value.fields.get("Values"), f"{where}.{name}")
    raise _fail(f"a filter tests a {_java_type(value)}, not an Attribute", where)


def _scalar(value: AttributeValue, what: str, where: str) -> f.Scalar:
    if value is None or isinstance(value, GuardedString):
        raise _fail(f"{what} compares with a {'null' if value is None else 'secret'}", where)
    return value


@_model_errors
def filter_from_legacy(value: Value, where: str = "filter") -> f.Filter | None:
    """A legacy filter tree as ours; None for no filter."""
    if value is None:
        return None
    if not isinstance(value, LegacyObject):
        raise _fail(f"a filter, not a {_java_type(value)}", where)
    kind = value.type
    here = f"{where}/{kind}"
    try:
        if kind in ("AndFilter", "OrFilter"):
            if len(value.items) != 2:
                raise _fail(f"{kind} joins two filters, not {len(value.items)}", here)
            parts: list[f.Filter] = []
            for item in value.items:
                inner = filter_from_legacy(item, here)
                if inner is None:
                    raise _fail(f"{kind} joins a null filter", here)
                # And(And(a, b), c) is And(a, b, c): ICF nests pairwise, ours is n-ary
                same = f.And if kind == "AndFilter" else f.Or
                parts.extend(inner.filters if isinstance(inner, same) else [inner])
            return f.And(filters=parts) if kind == "AndFilter" else f.Or(filters=parts)
        if kind == "NotFilter":
            inner = filter_from_legacy(value.items[0] if len(value.items) == 1 else None, here)
            if inner is None:
                raise _fail("NotFilter negates one filter", here)
            return f.Not(filter=inner)
        if kind == "PresenceFilter":
            name = value.fields.get("name")
            if not isinstance(name, str):
                raise _fail("PresenceFilter has no attribute name", here)
            return f.Presence(attribute=name)
        if kind == "ExtendedMatchFilter":
            operator = value.fields.get("operator")
            raise _fail(f"ExtendedMatchFilter (operator {operator!r}) is not supported", here)
        if kind not in legacy.TYPES or "attribute" not in dict(legacy.TYPES[kind].fields):
            raise _fail(f"{kind} is not a filter", here)
        name, values = _filter_attribute(value.fields.get("attribute"), here)
        if kind == "EqualsFilter":
            if len(values) > 1:
                raise _fail(f"EqualsFilter on {name} with {len(values)} values", here)
            first = values[0] if values else None
            if isinstance(first, GuardedString):
                raise _fail(f"EqualsFilter on {name} compares with a secret", here)
            return f.Equals(attribute=name, value=first)
        if kind == "ContainsAllValuesFilter":
            if not values:
                raise _fail(f"ContainsAllValuesFilter on {name} with no values", here)
            return f.ContainsAllValues(
                attribute=name, values=[_scalar(v, kind, here) for v in values]
            )
        if len(values) != 1:
            raise _fail(f"{kind} on {name} with {len(values)} values, not one", here)
        if kind in _STRING_FILTERS:
            if not isinstance(values[0], str):
                raise _fail(f"{kind} on {name} with a non-string value", here)
            return _STRING_FILTERS[kind](attribute=name, value=values[0])
        return _COMPARISONS[kind](attribute=name, value=_scalar(values[0], kind, here))
    except ValidationError as exc:
        raise _fail(f"{kind}: {exc.errors()[0]['msg']}", here) from None


@_model_errors
def decode_filter(blob: bytes, where: str = "filter") -> f.Filter | None:
    """`SearchOpRequest.filter`; empty bytes or a null filter mean no filter."""
    if not blob:
        return None
    return filter_from_legacy(_decode(blob, where), where)


def _attribute_value(name: str, values: list[AttributeValue]) -> Value:
    if name == UID and len(values) == 1:
        return LegacyObject("Uid", {"uid": str(values[0])})
    if name == NAME and len(values) == 1:
        return Typed("Name", str(values[0]))
    return LegacyObject("Attribute", {"name": name, "Values": [value_to_legacy(v) for v in values]})


def filter_to_legacy(node: f.Filter | None) -> Value:
    """Our filter as a legacy tree; n-ary And/Or nest pairwise to the left, as ICF builds them."""
    match node:
        case None:
            return None
        case f.And() | f.Or():
            kind = "AndFilter" if isinstance(node, f.And) else "OrFilter"
            tree = filter_to_legacy(node.filters[0])
            for inner in node.filters[1:]:
                tree = LegacyObject(kind, items=[tree, filter_to_legacy(inner)])
            return tree
        case f.Not():
            return LegacyObject("NotFilter", items=[filter_to_legacy(node.filter)])
        case f.Presence():
            return LegacyObject("PresenceFilter", {"name": node.attribute})
        case f.ContainsAllValues():
            values: list[AttributeValue] = list(node.values)
            attribute = LegacyObject(
                "Attribute",
                {"name": node.attribute, "Values": [value_to_legacy(v) for v in values]},
            )
            return LegacyObject("ContainsAllValuesFilter", {"attribute": attribute})
        case f.Equals() if node.value is None:
            empty = LegacyObject("Attribute", {"name": node.attribute, "Values": []})
            return LegacyObject("EqualsFilter", {"attribute": empty})
        case _:
            attribute_value = _attribute_value(node.attribute, [node.value])
            return LegacyObject(_LEGACY_NAME[node.type], {"attribute": attribute_value})


def encode_filter(node: f.Filter | None) -> bytes:
    return legacy.encode(filter_to_legacy(node))


# --- operation options (docs/openicf-rpc.md §9.4) --------------------------------------------

ATTRS_TO_GET: Final = "ATTRS_TO_GET"
PAGE_SIZE: Final = "PAGE_SIZE"
PAGED_RESULTS_COOKIE: Final = "PAGED_RESULTS_COOKIE"
PAGED_RESULTS_OFFSET: Final = "PAGED_RESULTS_OFFSET"
SORT_KEYS: Final = "SORT_KEYS"
TOTAL_PAGED_RESULTS_POLICY: Final = "TOTAL_PAGED_RESULTS_POLICY"
ALLOW_PARTIAL_RESULTS: Final = "ALLOW_PARTIAL_RESULTS"

OtherOptions: TypeAlias = dict[str, Value]
"""Options our model has no field for (RUN_AS_USER, SCOPE, a connector's own), as sent."""


def _string_list(value: Value, where: str) -> list[str]:
    items = value.items if isinstance(value, JavaArray | JavaSet) else value
    if not isinstance(items, list) or not all(isinstance(v, str) for v in items):
        raise _fail(f"a list of strings, not a {_java_type(value)}", where)
    return [str(v) for v in items]


def _int_option(value: Value, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(f"an Integer, not a {_java_type(value)}", where)
    return int(value)


def _sort_keys(value: Value, where: str) -> list[SortKey]:
    items = value.items if isinstance(value, JavaArray) else value
    if not isinstance(items, list):
        raise _fail(f"SortKey[], not a {_java_type(value)}", where)
    keys = []
    for item in items:
        if not (isinstance(item, LegacyObject) and item.type == "SortKey"):
            raise _fail(f"a SortKey, not a {_java_type(item)}", where)
        name, ascending = item.fields.get("field"), item.fields.get("isAscending", True)
        if not isinstance(name, str) or not isinstance(ascending, bool):
            raise _fail("a SortKey without its field", where)
        keys.append(SortKey(field=name, ascending=ascending))
    return keys


@_model_errors
def options_from_legacy(
    value: Value, where: str = "options"
) -> tuple[OperationOptions, OtherOptions]:
    """Legacy `OperationOptions` as ours, and the options our model has no field for."""
    if value is None:
        return OperationOptions(), {}
    if not (isinstance(value, LegacyObject) and value.type == "OperationOptions"):
        raise _fail(f"OperationOptions, not a {_java_type(value)}", where)
    options = value.fields.get("options")
    if options is None:
        return OperationOptions(), {}
    if not isinstance(options, JavaMap):
        raise _fail(f"the options are a Map, not a {_java_type(options)}", where)
    known: dict[str, Any] = {}
    other: OtherOptions = {}
    for key, item in options.entries:
        if not isinstance(key, str):
            raise _fail(f"an option named by a {_java_type(key)}", where)
        here = f"{where}.{key}"
        if item is None:
            continue
        match key:
            case "ATTRS_TO_GET":
                known["attributesToGet"] = _string_list(item, here)
            case "PAGE_SIZE":
                known["pageSize"] = _int_option(item, here)
            case "PAGED_RESULTS_COOKIE":
                if not isinstance(item, str):
                    raise _fail(f"a String, not a {_java_type(item)}", here)
                known["pagedResultsCookie"] = item
            case "PAGED_RESULTS_OFFSET":
                known["pagedResultsOffset"] = _int_option(item, here)
            case "SORT_KEYS":
                known["sortKeys"] = _sort_keys(item, here)
            case "ALLOW_PARTIAL_RESULTS":
                if not isinstance(item, bool):
                    raise _fail(f"a Boolean, not a {_java_type(item)}", here)
                known["allowPartialResults"] = item
            case "TOTAL_PAGED_RESULTS_POLICY":
                policy = item.fields.get("value") if isinstance(item, LegacyObject) else item
                if policy not in CountPolicy.__members__:
                    raise _fail(f"an unknown count policy {policy!r}", here)
                known["totalPagedResultsPolicy"] = CountPolicy(str(policy))
            case _:
                other[key] = item
    try:
        return OperationOptions(**known), other
    except ValidationError as exc:
        error = exc.errors()[0]
        raise _fail(f"{error['loc'][0]}: {error['msg']}", where) from None


@_model_errors
def decode_options(blob: bytes, where: str = "options") -> tuple[OperationOptions, OtherOptions]:
    """Any request's `options`; empty bytes mean no options."""
    if not blob:
        return OperationOptions(), {}
    return options_from_legacy(_decode(blob, where), where)


def options_to_legacy(
    options: OperationOptions | None, other: Mapping[str, Value] | None = None
) -> LegacyObject:
    entries: list[tuple[Value, Value]] = []
    if options is not None:
        if options.attributesToGet is not None:
            entries.append((ATTRS_TO_GET, JavaArray("String", list(options.attributesToGet))))
        if options.pageSize is not None:
            entries.append((PAGE_SIZE, options.pageSize))
        if options.pagedResultsCookie is not None:
            entries.append((PAGED_RESULTS_COOKIE, options.pagedResultsCookie))
        if options.pagedResultsOffset is not None:
            entries.append((PAGED_RESULTS_OFFSET, options.pagedResultsOffset))
        if options.sortKeys is not None:
            keys: list[Value] = [
                LegacyObject("SortKey", {"field": k.field, "isAscending": k.ascending})
                for k in options.sortKeys
            ]
            entries.append((SORT_KEYS, JavaArray("SortKey", keys)))
        if options.totalPagedResultsPolicy is not None:
            policy = LegacyObject("CountPolicy", {"value": options.totalPagedResultsPolicy.value})
            entries.append((TOTAL_PAGED_RESULTS_POLICY, policy))
        if options.allowPartialResults is not None:
            entries.append((ALLOW_PARTIAL_RESULTS, options.allowPartialResults))
    entries.extend((other or {}).items())
    return LegacyObject("OperationOptions", {"options": JavaMap(entries)})


def encode_options(
    options: OperationOptions | None = None, other: Mapping[str, Value] | None = None
) -> bytes:
    """Legacy `OperationOptions{options: Map}`: ATTRS_TO_GET as String[], SORT_KEYS as SortKey[]."""
    return legacy.encode(options_to_legacy(options, other))


# --- schema (docs/openicf-rpc.md §9.5) -------------------------------------------------------

_JAVA_ATTRIBUTE_TYPE: Final = {
    AttributeType.STRING: "String",
    AttributeType.INTEGER: "Integer",
    AttributeType.NUMBER: "Double",
    AttributeType.BOOLEAN: "Boolean",
    AttributeType.GUARDED_STRING: "GuardedString",
    AttributeType.OBJECT: "Map",
}
_ATTRIBUTE_TYPE_OF_JAVA: Final = {
    "String": AttributeType.STRING,
    "Character": AttributeType.STRING,
    "char": AttributeType.STRING,
    "BigDecimal": AttributeType.STRING,
    "Integer": AttributeType.INTEGER,
    "int": AttributeType.INTEGER,
    "Long": AttributeType.INTEGER,
    "long": AttributeType.INTEGER,
    "BigInteger": AttributeType.INTEGER,
    "Double": AttributeType.NUMBER,
    "double": AttributeType.NUMBER,
    "Float": AttributeType.NUMBER,
    "float": AttributeType.NUMBER,
    "Boolean": AttributeType.BOOLEAN,
    "boolean": AttributeType.BOOLEAN,
    "GuardedString": AttributeType.GUARDED_STRING,
    "Map": AttributeType.OBJECT,
}


def schema_to_legacy(
    schema: Schema, supported_operations: Iterable[OperationName] = ()
) -> LegacyObject:
    """Legacy `Schema` with its four fields, all present (the Java side needs every one).

    `objectClassesByOperation` comes from the schema's own map; an operation in
    `supported_operations` that the map does not name supports every object class.
    """
    classes: list[Value] = []
    for oc in schema.objectClasses:
        infos: list[Value] = [
            LegacyObject(
                "AttributeInfo",
                {"name": a.name, "type": ClassRef(_JAVA_ATTRIBUTE_TYPE[a.type])},
                [LegacyObject("AttributeInfoFlag", {"value": flag.value}) for flag in a.flags],
            )
            for a in oc.attributes
        ]
        classes.append(
            LegacyObject(
                "ObjectClassInfo",
                {"type": oc.type, "container": oc.isContainer, "AttributeInfos": JavaSet(infos)},
            )
        )
    by_operation: dict[str, list[str]] = {}
    for operation, names in schema.supportedObjectClassesByOperation.items():
        api = API_OPERATION_OF.get(operation)  # type: ignore[call-overload]
        if api is not None:
            by_operation[api] = list(names)
    every = [oc.type for oc in schema.objectClasses]
    for operation in supported_operations:
        by_operation.setdefault(API_OPERATION_OF[operation], every)
    return LegacyObject(
        "Schema",
        {
            "ObjectClassInfos": JavaSet(classes),
            "OperationOptionInfos": JavaSet(),
            "objectClassesByOperation": JavaMap(
                [(ClassRef(api), JavaSet(list(names))) for api, names in by_operation.items()]
            ),
            "optionsByOperation": JavaMap(),
        },
    )


def encode_schema(schema: Schema, supported_operations: Iterable[OperationName] = ()) -> bytes:
    """`SchemaOpResponse.schema`."""
    return legacy.encode(schema_to_legacy(schema, supported_operations))


def _legacy_items(value: Value, where: str) -> list[Value]:
    if isinstance(value, JavaSet | JavaArray):
        return value.items
    if isinstance(value, list):
        return value
    raise _fail(f"a Set, not a {_java_type(value)}", where)


@_model_errors
def decode_schema(blob: bytes, where: str = "schema") -> Schema:
    """A legacy `Schema` as ours (types it has no name for become `string`)."""
    value = _decode(blob, where)
    if not (isinstance(value, LegacyObject) and value.type == "Schema"):
        raise _fail(f"a Schema, not a {_java_type(value)}", where)
    classes = []
    for oc in _legacy_items(value.fields.get("ObjectClassInfos"), where):
        if not (isinstance(oc, LegacyObject) and oc.type == "ObjectClassInfo"):
            raise _fail(f"an ObjectClassInfo, not a {_java_type(oc)}", where)
        attributes = []
        oc_type = oc.fields.get("type")
        label = f"{where}.{oc_type if isinstance(oc_type, str) else '?'}"
        for info in _legacy_items(oc.fields.get("AttributeInfos"), label):
            if not (isinstance(info, LegacyObject) and info.type == "AttributeInfo"):
                raise _fail(f"an AttributeInfo, not a {_java_type(info)}", where)
            java_type = info.fields.get("type")
            flags = [
                AttributeFlag(str(flag.fields["value"]))
                for flag in info.items
                if isinstance(flag, LegacyObject)
                and flag.fields.get("value") in AttributeFlag.__members__
            ]
            info_name = info.fields.get("name")
            if not isinstance(info_name, str):
                raise _fail("an AttributeInfo without a name", label)
            attributes.append(
                AttributeInfo(
                    name=info_name,
                    type=_ATTRIBUTE_TYPE_OF_JAVA.get(
                        java_type.name if isinstance(java_type, ClassRef) else "",
                        AttributeType.STRING,
                    ),
                    flags=flags,
                )
            )
        if not isinstance(oc_type, str):
            raise _fail("an ObjectClassInfo without a type", where)
        classes.append(
            ObjectClassInfo(
                type=oc_type,
                isContainer=oc.fields.get("container") is True,
                attributes=attributes,
            )
        )
    by_operation: dict[str, list[str]] = {}
    mapping = value.fields.get("objectClassesByOperation")
    if isinstance(mapping, JavaMap):
        for api, names in mapping.entries:
            if isinstance(api, ClassRef) and api.name in OPERATION_OF_API:
                by_operation[OPERATION_OF_API[api.name]] = _string_list(names, where)
    try:
        return Schema(objectClasses=classes, supportedObjectClassesByOperation=by_operation)
    except ValidationError as exc:
        raise _fail(f"not a schema: {exc.errors()[0]['msg']}", where) from None


# --- scripts ---------------------------------------------------------------------------------


def script_value_to_legacy(value: JsonValue, where: str = "script") -> Value:
    """A JSON value (script argument or result) as a legacy one: objects become Maps."""
    if value is None or isinstance(value, str | bool | float | GuardedString):
        return value
    if isinstance(value, int):
        return value_to_legacy(value)
    if isinstance(value, list | tuple):
        return [script_value_to_legacy(v, where) for v in value]
    if isinstance(value, dict):
        entries: list[tuple[Value, Value]] = []
        for key, item in value.items():
            if not isinstance(key, str):
                raise _fail(f"a map key of type {type(key).__name__}", where)
            entries.append((key, script_value_to_legacy(item, f"{where}.{key}")))
        return JavaMap(entries)
    raise _fail(f"a {type(value).__name__} has no legacy form", where)


def script_value_from_legacy(value: Value, where: str = "script") -> JsonValue:
    """A legacy value as JSON: Maps become objects (string keys), Sets and arrays lists."""
    if value is None or isinstance(value, bool | GuardedString):
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, list):
        return [script_value_from_legacy(v, where) for v in value]
    if isinstance(value, JavaSet | JavaArray):
        return [script_value_from_legacy(v, where) for v in value.items]
    if isinstance(value, JavaMap):
        out: dict[str, JsonValue] = {}
        for key, item in value.entries:
            if not isinstance(key, str):
                raise _fail(f"a map key of type {_java_type(key)}", where)
            out[str(key)] = script_value_from_legacy(item, f"{where}.{key}")
        return out
    if isinstance(value, Typed):
        return value.value
    raise _fail(f"a {_java_type(value)} has no JSON form", where)


def encode_script_value(value: JsonValue) -> bytes:
    """`ScriptContext.scriptArguments` (a Map) or a `ScriptOn*Response.object`."""
    return legacy.encode(script_value_to_legacy(value))


@_model_errors
def decode_script_value(blob: bytes, where: str = "script") -> JsonValue:
    if not blob:
        return None
    return script_value_from_legacy(_decode(blob, where), where)


# --- configuration properties and the facade key (docs/openicf-rpc.md §5, §9.6) --------------

_JAVA_PROPERTY_TYPE: Final = {
    "string": "String",
    "integer": "int",
    "number": "double",
    "boolean": "boolean",
    "guardedString": "GuardedString",
}


_BOXED: Final = {"int": "Integer", "double": "Double", "boolean": "Boolean"}


def java_property_type(type_name: str) -> str:
    """A configuration property's type as `protocol.info` names it -> its Java class name.

    `array<string>` is `Array<String>` (`String[]`); an unknown name is `String`.
    """
    if type_name.startswith("array<") and type_name.endswith(">"):
        inner = _JAVA_PROPERTY_TYPE.get(type_name[6:-1], "String")
        return legacy.array_of(inner)
    return _JAVA_PROPERTY_TYPE.get(type_name, "String")


def property_value_to_legacy(java_type: str, value: ConfigurationValue, where: str) -> Value:
    """A configuration value under its property's Java type (`int` -> Integer, ...)."""
    if value is None:
        return None
    if java_type.startswith("Array<"):
        component = java_type[6:-1]
        items = value if isinstance(value, list) else [value]
        return JavaArray(component, [property_value_to_legacy(component, v, where) for v in items])
    try:
        match java_type:
            case "String":
                return value if isinstance(value, str) else _bad(value)
            case "GuardedString":
                if isinstance(value, GuardedString):
                    return value
                return GuardedString(value) if isinstance(value, str) else _bad(value)
            case "int" | "Integer":
                return _in_range(int(value), _INT_MIN, _INT_MAX)  # type: ignore[arg-type]
            case "long" | "Long":
                return Long(_in_range(int(value), _LONG_MIN, _LONG_MAX))  # type: ignore[arg-type]
            case "boolean" | "Boolean":
                return value if isinstance(value, bool) else _bad(value)
            case "double" | "Double":
                return float(value)  # type: ignore[arg-type]
            case "float" | "Float":
                return legacy.Float(float(value))  # type: ignore[arg-type]
            case "char" | "Character":
                return (
                    Character(value) if isinstance(value, str) and len(value) == 1 else _bad(value)
                )
    except (TypeError, ValueError):
        pass
    else:
        raise _fail(f"a property of Java type {java_type} is not supported", where)
    raise _fail(f"a {type(value).__name__} value is not a {java_type}", where)


def _bad(value: object) -> Value:
    raise ValueError(value)


def _in_range(value: int, low: int, high: int) -> int:
    if not low <= value <= high:
        raise ValueError(value)
    return value


def property_value_from_legacy(value: Value, where: str) -> ConfigurationValue:
    """A configuration property's legacy value as ours (arrays become lists)."""
    if isinstance(value, JavaArray | JavaSet):
        return [value_from_legacy(v, where) for v in value.items]
    if isinstance(value, list):
        return [value_from_legacy(v, where) for v in value]
    if isinstance(value, JavaMap):
        out = script_value_from_legacy(value, where)
        return out if isinstance(out, dict) else {}
    return value_from_legacy(value, where)


@dataclass(frozen=True)
class ConfigurationProperty:
    """One property of a facade key's APIConfiguration: its value and its metadata."""

    name: str
    java_type: str
    value: ConfigurationValue
    confidential: bool = False
    required: bool = False
    order: int = 0


@dataclass(frozen=True)
class FacadeConfiguration:
    """What a facade key carries (the APIConfiguration IDM sends with every request).

    `properties` holds every configuration property, GuardedStrings decrypted into our
    `GuardedString`; `digest` is a SHA-256 of the canonical content, the same for the same
    configuration from any client process (hash-set order does not count, §9.6).
    """

    properties: dict[str, ConfigurationProperty]
    pool: ObjectPoolConfiguration
    results_handler: ResultsHandlerConfiguration
    timeouts: dict[str, int]
    """Java API operation name (`SearchApiOp`) -> timeout in milliseconds."""
    producer_buffer_size: int
    connector_pooling_supported: bool
    supported_operations: frozenset[str]
    digest: str
    api_configuration: LegacyObject = field(repr=False, compare=False)
    """The decoded tree, for a client that changes values and sends it back (`facade_key`)."""

    def inline(self) -> InlineConfiguration:
        """As our inline configuration: unset (null) properties are left to their defaults."""
        return InlineConfiguration(
            configurationProperties={
                name: prop.value for name, prop in self.properties.items() if prop.value is not None
            },
            poolConfigOption=self.pool,
            resultsHandlerConfig=self.results_handler,
            operationTimeout={
                OPERATION_OF_API[api]: ms
                for api, ms in self.timeouts.items()
                if api in OPERATION_OF_API
            },
        )


def _canonical(value: Value) -> Any:
    """A JSON-able form of a tree in which Set and Map order does not count."""
    match value:
        case None | bool() | str() if type(value) in (type(None), bool, str):
            return value
        case GuardedString():
            return {"GuardedString": hashlib.sha256(value.reveal().encode()).hexdigest()}
        case GuardedByteArray():
            return {"GuardedByteArray": hashlib.sha256(value.reveal()).hexdigest()}
        case bytes():
            return {"ByteArray": base64.b64encode(value).decode()}
        case Decimal():
            return {"BigDecimal": str(value)}
        case list():
            return [_canonical(v) for v in value]
        case JavaSet():
            items = sorted(json.dumps(_canonical(v), sort_keys=True) for v in value.items)
            return {"Set": items, "ci": value.case_insensitive}
        case JavaMap():
            entries = sorted(
                json.dumps([_canonical(k), _canonical(v)], sort_keys=True) for k, v in value.entries
            )
            return {"Map": entries, "ci": value.case_insensitive}
        case JavaArray():
            return {legacy.array_of(value.component): [_canonical(v) for v in value.items]}
        case ClassRef():
            return {"Class": value.name}
        case Typed():
            return {value.type: value.value}
        case LegacyObject():
            fields = {k: _canonical(v) for k, v in value.fields.items()}
            items = [_canonical(v) for v in value.items]
            if value.type == "ConfigurationProperties":
                items = sorted(items, key=lambda v: json.dumps(v, sort_keys=True))
            return {"@": value.type, "f": fields, "i": items}
        case legacy.UnknownObject():
            return {"?": value.type}
    # Long, Float, Character, BigInteger, Byte, int, float: the Java type counts
    return {type(value).__name__: str(value)}


def content_digest(value: Value) -> str:
    """SHA-256 of a tree's canonical form: equal for equal content, whatever the set order."""
    text = json.dumps(_canonical(value), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _lobject(value: Value, type_name: str, where: str) -> LegacyObject:
    if not (isinstance(value, LegacyObject) and value.type == type_name):
        raise _fail(f"{type_name}, not a {_java_type(value)}", where)
    return value


def _api_operations(value: Value, where: str) -> frozenset[str]:
    if value is None:
        return frozenset()
    return frozenset(v.name for v in _legacy_items(value, where) if isinstance(v, ClassRef))


@_model_errors
def decode_facade_key(key: bytes | str) -> FacadeConfiguration:
    """`OperationRequest.connectorFacadeKey` (Base64 text of a legacy APIConfiguration)."""
    where = "connectorFacadeKey"
    try:
        blob = base64.b64decode(key, validate=True)
    except (binascii.Error, ValueError):
        raise _fail("the facade key is not Base64", where) from None
    api = _lobject(_decode(blob, where), "APIConfiguration", where)
    properties: dict[str, ConfigurationProperty] = {}
    holder = api.fields.get("ConfigurationProperties")
    for item in holder.items if isinstance(holder, LegacyObject) else []:
        prop = _lobject(item, "ConfigurationProperty", f"{where}.ConfigurationProperties")
        name = prop.fields.get("name")
        if not isinstance(name, str):
            raise _fail("a ConfigurationProperty without a name", where)
        java_type = prop.fields.get("type")
        properties[name] = ConfigurationProperty(
            name=name,
            java_type=java_type.name if isinstance(java_type, ClassRef) else "Object",
            value=property_value_from_legacy(prop.fields.get("value"), f"{where}.{name}"),
            confidential=prop.fields.get("confidential") is True,
            required=prop.fields.get("required") is True,
            order=int(prop.fields.get("order") or 0),  # type: ignore[arg-type]
        )
    pool_value = api.fields.get("connectorPoolConfiguration")
    handler_value = api.fields.get("resultsHandlerConfiguration")
    try:
        pool = ObjectPoolConfiguration(
            **(pool_value.fields if isinstance(pool_value, LegacyObject) else {})  # type: ignore[arg-type]
        )
        handler = ResultsHandlerConfiguration(
            **(handler_value.fields if isinstance(handler_value, LegacyObject) else {})  # type: ignore[arg-type]
        )
    except ValidationError as exc:
        raise _fail(f"pool or results handler: {exc.errors()[0]['msg']}", where) from None
    timeouts: dict[str, int] = {}
    timeout_map = api.fields.get("timeoutMap")
    if isinstance(timeout_map, JavaMap):
        for op, ms in timeout_map.entries:
            if isinstance(op, ClassRef) and isinstance(ms, int) and not isinstance(ms, bool):
                timeouts[op.name] = int(ms)
    buffer_size = api.fields.get("producerBufferSize", 0)
    return FacadeConfiguration(
        properties=properties,
        pool=pool,
        results_handler=handler,
        timeouts=timeouts,
        producer_buffer_size=buffer_size if isinstance(buffer_size, int) else 0,
        connector_pooling_supported=api.fields.get("connectorPoolingSupported") is True,
        supported_operations=_api_operations(api.fields.get("SupportedOperations"), where),
        digest=content_digest(api),
        api_configuration=api,
    )


def set_property_values(
    api_configuration: LegacyObject, values: Mapping[str, ConfigurationValue]
) -> LegacyObject:
    """A copy of an APIConfiguration tree with property values replaced, each under its
    property's Java type; naming a property the configuration lacks is an error."""
    holder = api_configuration.fields.get("ConfigurationProperties")
    if not isinstance(holder, LegacyObject):
        raise _fail("an APIConfiguration without properties", "APIConfiguration")
    seen: set[str] = set()
    items: list[Value] = []
    for item in holder.items:
        prop = _lobject(item, "ConfigurationProperty", "ConfigurationProperties")
        name = prop.fields.get("name")
        if isinstance(name, str) and name in values:
            seen.add(name)
            java_type = prop.fields.get("type")
            type_name = java_type.name if isinstance(java_type, ClassRef) else "String"
            fields = dict(prop.fields)
            fields["value"] = property_value_to_legacy(type_name, values[name], name)
            prop = LegacyObject(prop.type, fields, list(prop.items))
        items.append(prop)
    missing = set(values) - seen
    if missing:
        raise _fail(f"no configuration property {sorted(missing)[0]!r}", "APIConfiguration")
    fields = dict(api_configuration.fields)
    fields["ConfigurationProperties"] = LegacyObject("ConfigurationProperties", items=items)
    return LegacyObject(api_configuration.type, fields, list(api_configuration.items))


def facade_key(api_configuration: LegacyObject) -> bytes:
    """The `connectorFacadeKey` bytes for an APIConfiguration tree: Base64 text, no breaks."""
    return base64.b64encode(legacy.encode(api_configuration))


# --- CONNECTOR_INFO (docs/openicf-rpc.md §3, §9.7) -------------------------------------------


def _message_keys(connector: ConnectorKey) -> tuple[str, str]:
    base = connector.connectorName
    return f"{base}.display", f"{base}.category"


def _property_to_legacy(
    info: ConfigurationPropertyInfo, value: ConfigurationValue, where: str
) -> LegacyObject:
    java_type = java_property_type(info.type)
    if info.confidential and info.type == "string":
        java_type = "GuardedString"
    if info.defaultValue is None and java_type in _BOXED:
        java_type = _BOXED[java_type]  # a Java primitive cannot be unset: `Integer`, not `int`
    return LegacyObject(
        "ConfigurationProperty",
        {
            "order": info.order,
            "confidential": info.confidential,
            "required": info.required,
            "name": info.name,
            "helpMessageKey": f"{info.name}.help",
            "displayMessageKey": f"{info.name}.display",
            "groupMessageKey": f"{info.name}.group",
            "type": ClassRef(java_type),
            "value": property_value_to_legacy(java_type, value, where),
            "operations": JavaSet(),
        },
    )


def api_configuration_to_legacy(
    info: ConnectorInfo,
    *,
    pool: ObjectPoolConfiguration | None = None,
    results_handler: ResultsHandlerConfiguration | None = None,
    timeouts: Mapping[OperationName, int] | None = None,
    producer_buffer_size: int = 100,
    connector_pooling_supported: bool = True,
) -> LegacyObject:
    """A connector's default APIConfiguration: every property under its Java type, with its
    default (never a confidential one's), the pool, the timeout map and the operations."""
    pool = pool or ObjectPoolConfiguration()
    handler = results_handler or ResultsHandlerConfiguration()
    properties: list[Value] = [
        _property_to_legacy(
            p, None if p.confidential else p.defaultValue, f"{info.connectorKey}.{p.name}"
        )
        for p in info.configurationProperties
    ]
    operations: list[Value] = [
        ClassRef(API_OPERATION_OF[op]) for op in info.supportedOperations if op in API_OPERATION_OF
    ]
    return LegacyObject(
        "APIConfiguration",
        {
            "producerBufferSize": producer_buffer_size,
            "connectorPoolingSupported": connector_pooling_supported,
            "connectorPoolConfiguration": LegacyObject(
                "ObjectPoolConfiguration", dict(pool.model_dump())
            ),
            "resultsHandlerConfiguration": LegacyObject(
                "ResultsHandlerConfiguration", dict(handler.model_dump())
            ),
            "ConfigurationProperties": LegacyObject("ConfigurationProperties", items=properties),
            "timeoutMap": JavaMap(
                [(ClassRef(API_OPERATION_OF[op]), ms) for op, ms in (timeouts or {}).items()]
            ),
            "SupportedOperations": JavaSet(operations),
        },
    )


def message_format_escape(text: str) -> str:
    """`text` as a Java MessageFormat pattern that formats back to it (§9.7): the Java side
    formats every catalog message, where `'` quotes and `{` opens an argument."""
    return text.replace("'", "''").replace("{", "'{'").replace("}", "'}'")


def message_format_unescape(pattern: str) -> str:
    """The text a MessageFormat pattern without arguments formats to."""
    out: list[str] = []
    quoted = False
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "'":
            if i + 1 < len(pattern) and pattern[i + 1] == "'":
                out.append("'")
                i += 2
                continue
            quoted = not quoted
        else:
            out.append(char)
        i += 1
    return "".join(out)


def connector_messages(info: ConnectorInfo) -> dict[str, str]:
    """The message catalog IDM's admin UI reads: display names, help texts, groups, as
    MessageFormat patterns."""
    display_key, category_key = _message_keys(info.connectorKey)
    messages = {display_key: info.displayName}
    if info.category:
        messages[category_key] = info.category
    for p in info.configurationProperties:
        # every key resolves: the Java side shows an unresolved key as it is ("x.help")
        messages[f"{p.name}.display"] = p.displayName or p.name
        messages[f"{p.name}.help"] = p.helpMessage or ""
        messages[f"{p.name}.group"] = p.group or ""
    return {key: message_format_escape(text) for key, text in messages.items()}


def connector_info_to_legacy(info: ConnectorInfo, **defaults: Any) -> LegacyObject:
    """A legacy `ConnectorInfo` (the Java RemoteConnectorInfoImpl), default locale messages.

    `defaults` go to `api_configuration_to_legacy` (pool, timeouts, ...).
    """
    display_key, category_key = _message_keys(info.connectorKey)
    key = info.connectorKey
    catalog = JavaMap([(k, v) for k, v in connector_messages(info).items()])
    default_locale = LegacyObject("Locale", {"language": "", "country": "", "variant": ""})
    return LegacyObject(
        "ConnectorInfo",
        {
            "connectorDisplayNameKey": display_key,
            "connectorCategoryKey": category_key if info.category else None,
            "ConnectorKey": LegacyObject(
                "ConnectorKey",
                {
                    "bundleName": key.bundleName,
                    "bundleVersion": key.bundleVersion,
                    "connectorName": key.connectorName,
                },
            ),
            "ConnectorMessages": LegacyObject(
                "ConnectorMessages", {"catalogs": JavaMap([(default_locale, catalog)])}
            ),
            "APIConfiguration": api_configuration_to_legacy(info, **defaults),
        },
    )


def encode_connector_infos(infos: Sequence[ConnectorInfo], **defaults: Any) -> bytes:
    """`ControlResponse.connectorInfos`: a legacy `List<ConnectorInfo>`."""
    try:
        return legacy.encode([connector_info_to_legacy(i, **defaults) for i in infos])
    except legacy.LegacyEncodeError as exc:
        raise WireFormatError(f"connectorInfos: {exc}", field="connectorInfos") from None


@dataclass(frozen=True)
class RemoteConnectorInfo:
    """A connector a peer hosts, from its CONNECTOR_INFO answer."""

    connector_key: ConnectorKey
    display_name: str
    category: str | None
    messages: dict[str, str]
    """The default locale's catalog (message key -> text, as the Java side formats it)."""
    api_configuration: LegacyObject = field(repr=False)
    """The default APIConfiguration: set values with `set_property_values`, send `facade_key`."""

    def configuration(self) -> FacadeConfiguration:
        return decode_facade_key(facade_key(self.api_configuration))


def _default_catalog(messages: Value) -> dict[str, str]:
    if not isinstance(messages, LegacyObject):
        return {}
    catalogs = messages.fields.get("catalogs")
    if not isinstance(catalogs, JavaMap):
        return {}
    chosen: dict[str, str] = {}
    for locale, catalog in catalogs.entries:
        if not isinstance(catalog, JavaMap) or not isinstance(locale, LegacyObject):
            continue
        language = locale.fields.get("language") or ""
        if language in ("", "en") and (language == "" or not chosen):
            chosen = {
                k: message_format_unescape(v)
                for k, v in catalog.entries
                if isinstance(k, str) and isinstance(v, str)
            }
    return chosen


@_model_errors
def decode_connector_infos(blob: bytes, where: str = "connectorInfos") -> list[RemoteConnectorInfo]:
    """A CONNECTOR_INFO answer's `List<ConnectorInfo>` (an empty answer is an empty list)."""
    if not blob:
        return []
    value = _decode(blob, where)
    if not isinstance(value, list):
        raise _fail(f"a List of ConnectorInfo, not a {_java_type(value)}", where)
    out = []
    for item in value:
        info = _lobject(item, "ConnectorInfo", where)
        key = _lobject(info.fields.get("ConnectorKey"), "ConnectorKey", where)
        try:
            connector_key = ConnectorKey(**key.fields)  # type: ignore[arg-type]
        except ValidationError:
            raise _fail("a ConnectorKey without all three parts", where) from None
        messages = _default_catalog(info.fields.get("ConnectorMessages"))
        display_key = info.fields.get("connectorDisplayNameKey")
        category_key = info.fields.get("connectorCategoryKey")
        out.append(
            RemoteConnectorInfo(
                connector_key=connector_key,
                display_name=messages.get(str(display_key), str(display_key)),
                category=messages.get(str(category_key), str(category_key))
                if isinstance(category_key, str)
                else None,
                messages=messages,
                api_configuration=_lobject(
                    info.fields.get("APIConfiguration"), "APIConfiguration", where
                ),
            )
        )
    return out


# --- configurationChangeEvent (docs/openicf-rpc.md §9.8) -------------------------------------


def encode_configuration_change(
    changes: Mapping[str, ConfigurationValue], properties: Sequence[ConfigurationPropertyInfo]
) -> bytes:
    """`ConfigurationChangeEvent.configurationPropertyChange`: a legacy
    `List<ConfigurationProperty>` of the changed properties, each with its metadata."""
    by_name = {p.name: p for p in properties}
    unknown = set(changes) - set(by_name)
    if unknown:
        raise _fail(f"no configuration property {sorted(unknown)[0]!r}", "configurationChange")
    return legacy.encode(
        [_property_to_legacy(by_name[name], value, name) for name, value in changes.items()]
    )


@_model_errors
def decode_configuration_change(
    blob: bytes, where: str = "configurationChange"
) -> dict[str, ConfigurationValue]:
    """The changed properties a peer pushed: name -> new value."""
    value = _decode(blob, where)
    if not isinstance(value, list):
        raise _fail(f"a List of ConfigurationProperty, not a {_java_type(value)}", where)
    out: dict[str, ConfigurationValue] = {}
    for item in value:
        prop = _lobject(item, "ConfigurationProperty", where)
        name = prop.fields.get("name")
        if not isinstance(name, str):
            raise _fail("a ConfigurationProperty without a name", where)
        out[name] = property_value_from_legacy(prop.fields.get("value"), f"{where}.{name}")
    return out
