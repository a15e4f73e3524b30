"""OpenICF's legacy binary object serialization, both ways (docs/openicf-rpc.md §7).

A blob is `int 0xFAFB`, `int 2`, a constant pool of type and field names, then one object: a class
marker, its fields (named or anonymous, each length-prefixed), and END. What a field's bytes mean
(a primitive or a nested object) is up to the object's type, so both directions are driven by
one table, `TYPES`, of every serial type the Java framework knows.

Decoded values are plain Python where Java's type is the obvious one and small wrappers where it
is not (docs/openicf-rpc.md §7.4):

    String -> str        Integer -> int          Boolean -> bool      Double -> float
    ByteArray -> bytes   BigDecimal -> Decimal   List -> list         null -> None
    Long, Float, Character, BigInteger, Byte -> the wrappers of the same name (int/float/str)
    Set -> JavaSet       Map -> JavaMap          T[] -> JavaArray     Class -> ClassRef
    GuardedString -> protocol.values.GuardedString, GuardedByteArray -> guarded.GuardedByteArray
    Name, URI, File and the primitive types (`int`, `boolean`, ...) -> Typed
    every other known type -> LegacyObject(type, fields, items)
    a type name we do not know -> UnknownObject (kept, never re-encoded)

The decoder is strict about structure and bounded (input size, nesting depth, node count), and
every failure is a `WireFormatError` that names the type and field where it happened. The
encoder writes only type names the Java side knows, in the order the Java encoder writes them,
so that a tree decoded from Java re-encodes to the same bytes.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from typing import Final, TypeAlias

from protocol.openicf.guarded import (
    GuardedByteArray,
    GuardedCipherError,
    decrypt,
    decrypt_string,
    encrypt,
    encrypt_string,
)
from protocol.openicf.wire import WireFormatError
from protocol.values import GuardedString

MAGIC: Final = 0xFAFB
VERSION: Final = 2
HEADER: Final = struct.pack(">ii", MAGIC, VERSION)
"""Every blob starts with these 8 bytes (`00 00 FA FB 00 00 00 02`)."""

NULL_MARKER: Final = 0x3C
CLASS_MARKER: Final = 0x3D
ARRAY_MARKER: Final = 0x3E
ANONYMOUS_FIELD: Final = 0x46
NAMED_FIELD: Final = 0x47
END: Final = 0x48

MAX_BYTES: Final = 16 * 1024 * 1024
MAX_DEPTH: Final = 200
"""Nesting depth: a filter of a few hundred terms (IDM nests And/Or pairwise) still fits."""
MAX_NODES: Final = 1_000_000
MAX_POOL: Final = 65_536


# --- the value model -------------------------------------------------------------------------


class Long(int):
    """A Java `Long`."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"Long({int(self)})"


class BigInteger(int):
    """A Java `BigInteger`."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"BigInteger({int(self)})"


class Byte(int):
    """A Java `Byte` (-128..127)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"Byte({int(self)})"


class Float(float):
    """A Java `Float` (sent as a double)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"Float({float(self)!r})"


class Character(str):
    """A Java `Character`."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"Character({str(self)!r})"


@dataclass(frozen=True, slots=True)
class ClassRef:
    """A Java class as a value: a serial type name (`String`, `CreateApiOp`), or `Array<T>`."""

    name: str


@dataclass(frozen=True, slots=True)
class Typed:
    """A value of a type whose content is one primitive and that has no Python type of its own:
    `Name`, `URI`, `File`, and Java's primitive types by their own names (`int`, `boolean`)."""

    type: str
    value: str | int | float | bool


@dataclass(slots=True)
class JavaSet:
    """A Java `Set`, in wire order; `case_insensitive` for a case-insensitive set of strings."""

    items: list[Value] = field(default_factory=list)
    case_insensitive: bool = False


@dataclass(slots=True)
class JavaMap:
    """A Java `Map` as its entries in wire order (keys may be objects, such as a Locale)."""

    entries: list[tuple[Value, Value]] = field(default_factory=list)
    case_insensitive: bool = False

    def get(self, key: Value, default: Value = None) -> Value:
        for k, v in self.entries:
            if k == key:
                return v
        return default


@dataclass(slots=True)
class JavaArray:
    """A Java array `T[]`: `component` is the serial name of T (`String`, `Array<String>`)."""

    component: str
    items: list[Value] = field(default_factory=list)


@dataclass(slots=True)
class LegacyObject:
    """An object of a known serial type: named fields in the Java encoder's order, then the
    anonymous items (filter operands, flags, configuration properties)."""

    type: str
    fields: dict[str, Value] = field(default_factory=dict)
    items: list[Value] = field(default_factory=list)


@dataclass(slots=True)
class UnknownObject:
    """An object whose type name we do not know: its fields kept as raw bytes.

    Decoding stays lenient for such names (a newer peer may send them); the encoder refuses
    them, because the Java side would not know them either.
    """

    type: str
    fields: list[tuple[str | None, bytes]] = field(default_factory=list)


Value: TypeAlias = (
    str
    | bool
    | int
    | float
    | bytes
    | Decimal
    | list["Value"]
    | JavaSet
    | JavaMap
    | JavaArray
    | ClassRef
    | Typed
    | GuardedString
    | GuardedByteArray
    | LegacyObject
    | UnknownObject
    | None
)


# --- the type table --------------------------------------------------------------------------


class Kind(Enum):
    """What a field's bytes hold."""

    STRING = "string"
    INT = "int"
    LONG = "long"
    BOOLEAN = "boolean"
    DOUBLE = "double"
    BYTE = "byte"
    BYTES = "bytes"
    CLASS = "class"
    OBJECT = "object"


@dataclass(frozen=True, slots=True)
class TypeSpec:
    """How one serial type is laid out: its named fields in encoder order, and its content.

    `content` is the kind of the single anonymous field of a primitive-like type (`String`,
    `Integer`, `GuardedString`), or OBJECT for a type whose anonymous fields are objects (a
    List, an And filter), or None when it has no anonymous fields.
    """

    name: str
    fields: tuple[tuple[str, Kind], ...] = ()
    content: Kind | None = None

    def field_kind(self, name: str) -> Kind | None:
        for fname, kind in self.fields:
            if fname == name:
                return kind
        return None


def _spec(type_name: str, content: Kind | None = None, /, **fields: Kind) -> TypeSpec:
    return TypeSpec(type_name, tuple(fields.items()), content)


STR, INT, LONG, BOOL, OBJ, CLS = (
    Kind.STRING,
    Kind.INT,
    Kind.LONG,
    Kind.BOOLEAN,
    Kind.OBJECT,
    Kind.CLASS,
)

_EXCEPTIONS = [
    "AlreadyExistsException",
    "ConfigurationException",
    "ConnectionBrokenException",
    "ConnectionFailedException",
    "ConnectorIOException",
    "InvalidPasswordException",
    "UnknownUidException",
    "InvalidCredentialException",
    "PermissionDeniedException",
    "ConnectorSecurityException",
    "OperationTimeoutException",
    "InvalidAttributeValueException",
    "PreconditionFailedException",
    "PreconditionRequiredException",
    "RetryableException",
    "ConnectorException",
    "IllegalArgumentException",
    "RuntimeException",
    "Exception",
    "Throwable",
]
_ATTRIBUTE_FILTERS = [
    "ContainsFilter",
    "EndsWithFilter",
    "EqualsFilter",
    "GreaterThanFilter",
    "GreaterThanOrEqualFilter",
    "LessThanFilter",
    "LessThanOrEqualFilter",
    "StartsWithFilter",
    "ContainsAllValuesFilter",
]

API_OPERATIONS: Final = (
    "AuthenticationApiOp",
    "BatchApiOp",
    "ConnectorEventSubscriptionApiOp",
    "CreateApiOp",
    "DeleteApiOp",
    "GetApiOp",
    "ResolveUsernameApiOp",
    "SchemaApiOp",
    "ScriptOnConnectorApiOp",
    "ScriptOnResourceApiOp",
    "SearchApiOp",
    "SyncApiOp",
    "SyncEventSubscriptionApiOp",
    "TestApiOp",
    "UpdateApiOp",
    "ValidateApiOp",
)
"""The serial names of the framework's API operation classes (docs/openicf-rpc.md §7.5)."""


TYPES: Final[dict[str, TypeSpec]] = {
    spec.name: spec
    for spec in [
        # primitives and their boxes (docs/openicf-rpc.md §7.3)
        *(_spec(n, Kind.BOOLEAN) for n in ("Boolean", "boolean")),
        *(_spec(n, Kind.STRING) for n in ("Character", "char", "String", "URI", "File")),
        _spec("BigInteger", Kind.STRING),
        *(_spec(n, Kind.INT) for n in ("Integer", "int")),
        *(_spec(n, Kind.LONG) for n in ("Long", "long")),
        *(_spec(n, Kind.DOUBLE) for n in ("Float", "float", "Double", "double")),
        *(_spec(n, Kind.BYTE) for n in ("Byte", "byte")),
        *(_spec(n, Kind.BYTES) for n in ("ByteArray", "GuardedString", "GuardedByteArray")),
        _spec("Class", Kind.CLASS),
        _spec("BigDecimal", unscaled=STR, scale=INT),
        _spec("MapEntry", OBJ),
        _spec("Map", OBJ, caseInsensitive=BOOL),
        _spec("List", OBJ),
        _spec("Set", OBJ, caseInsensitive=BOOL),
        _spec("Locale", language=STR, country=STR, variant=STR),
        # common objects
        *(_spec(n, message=STR) for n in _EXCEPTIONS),
        _spec("PasswordExpiredException", message=STR, Uid=OBJ),
        _spec("RemoteWrappedException", **{"class": STR}, message=STR, RemoteWrappedException=OBJ),
        _spec("Attribute", name=STR, Values=OBJ),
        *(_spec(n, value=STR) for n in ("AttributeInfoFlag", "CountPolicy", "SyncDeltaType")),
        _spec("AttributeInfo", OBJ, name=STR, type=CLS),
        _spec("ConnectorObject", ObjectClass=OBJ, Attributes=OBJ),
        _spec("Name", Kind.STRING),
        _spec("ObjectClass", type=STR),
        _spec("ObjectClassInfo", type=STR, container=BOOL, AttributeInfos=OBJ),
        _spec(
            "Schema",
            ObjectClassInfos=OBJ,
            OperationOptionInfos=OBJ,
            objectClassesByOperation=OBJ,
            optionsByOperation=OBJ,
        ),
        _spec("Uid", uid=STR, revision=STR),
        _spec("Script", scriptLanguage=STR, scriptText=OBJ),
        _spec("ScriptContext", scriptLanguage=STR, scriptArguments=OBJ, scriptText=OBJ),
        _spec("OperationOptions", options=OBJ),
        _spec(
            "SearchResult",
            pagedResultsCookie=STR,
            totalPagedResults=INT,
            remainingPagedResults=INT,
            CountPolicy=OBJ,
        ),
        _spec("SortKey", field=STR, isAscending=BOOL),
        _spec("OperationOptionInfo", name=STR, type=CLS),
        _spec("SyncToken", value=OBJ),
        _spec(
            "SyncDelta",
            SyncDeltaType=OBJ,
            SyncToken=OBJ,
            PreviousUid=OBJ,
            ObjectClass=OBJ,
            Uid=OBJ,
            ConnectorObject=OBJ,
        ),
        _spec("QualifiedUid", ObjectClass=OBJ, Uid=OBJ),
        _spec("CreateBatchTask", ObjectClass=OBJ, Attributes=OBJ, Options=OBJ),
        _spec("DeleteBatchTask", ObjectClass=OBJ, Uid=OBJ, Options=OBJ),
        _spec("UpdateBatchTask", ObjectClass=OBJ, Uid=OBJ, Attributes=OBJ, Options=OBJ, Type=STR),
        _spec("BatchEmptyResult", Message=STR),
        _spec(
            "BatchToken",
            token=OBJ,
            queryRequired=BOOL,
            asynchronousResults=BOOL,
            returnsResults=BOOL,
        ),
        _spec(
            "BatchResult",
            ResultClass=CLS,
            Result=OBJ,
            Token=OBJ,
            ResultId=STR,
            Complete=BOOL,
            Error=BOOL,
        ),
        # API configuration
        _spec(
            "ObjectPoolConfiguration",
            maxObjects=INT,
            maxIdle=INT,
            maxWait=LONG,
            minEvictableIdleTimeMillis=LONG,
            minIdle=INT,
        ),
        _spec(
            "ResultsHandlerConfiguration",
            enableNormalizingResultsHandler=BOOL,
            enableFilteredResultsHandler=BOOL,
            enableCaseInsensitiveFilter=BOOL,
            enableAttributesToGetSearchResultsHandler=BOOL,
        ),
        _spec(
            "ConfigurationProperty",
            order=INT,
            confidential=BOOL,
            required=BOOL,
            name=STR,
            helpMessageKey=STR,
            displayMessageKey=STR,
            groupMessageKey=STR,
            type=CLS,
            value=OBJ,
            operations=OBJ,
        ),
        _spec("ConfigurationProperties", OBJ),
        _spec(
            "APIConfiguration",
            producerBufferSize=INT,
            connectorPoolingSupported=BOOL,
            connectorPoolConfiguration=OBJ,
            resultsHandlerConfiguration=OBJ,
            ConfigurationProperties=OBJ,
            timeoutMap=OBJ,
            SupportedOperations=OBJ,
        ),
        _spec("ConnectorMessages", catalogs=OBJ),
        _spec("ConnectorKey", bundleName=STR, bundleVersion=STR, connectorName=STR),
        _spec(
            "ConnectorInfo",
            connectorDisplayNameKey=STR,
            connectorCategoryKey=STR,
            ConnectorKey=OBJ,
            ConnectorMessages=OBJ,
            APIConfiguration=OBJ,
        ),
        # filters
        _spec("AndFilter", OBJ),
        _spec("OrFilter", OBJ),
        _spec("NotFilter", OBJ),
        *(_spec(n, attribute=OBJ) for n in _ATTRIBUTE_FILTERS),
        _spec("ExtendedMatchFilter", operator=STR, attribute=OBJ),
        _spec("PresenceFilter", name=STR),
    ]
}
"""Every serial type the Java framework can (de)serialize, with its layout."""

CLASS_NAMES: Final = frozenset(TYPES) | frozenset(API_OPERATIONS) | {"Object"}
"""Names a class marker may carry: the types above, the API operations, and `Object`."""


_PRIMITIVE_TYPED: Final = frozenset(
    {"Name", "URI", "File", "char", "boolean", "int", "long", "float", "double", "byte"}
)


def array_of(component: str) -> str:
    """The class name of an array of `component`, as ClassRef and JavaArray write it."""
    return f"Array<{component}>"


# --- decoding --------------------------------------------------------------------------------

_INT = struct.Struct(">i")
_LONG = struct.Struct(">q")
_DOUBLE = struct.Struct(">d")
_HEADER_POOL = struct.Struct(">iii")


class _Decoder:
    __slots__ = ("data", "depth_left", "nodes_left", "pool")

    def __init__(self, data: bytes, pool: dict[int, str], max_depth: int, max_nodes: int):
        self.data = data
        self.pool = pool
        self.depth_left = max_depth
        self.nodes_left = max_nodes

    def fail(self, message: str, where: str) -> WireFormatError:
        return WireFormatError(f"legacy object: {message} (at {where})", field=where)

    def int_at(self, pos: int, end: int, where: str) -> int:
        if pos + 4 > end:
            raise self.fail("truncated: an int runs past its field", where)
        return int(_INT.unpack_from(self.data, pos)[0])

    def class_at(self, pos: int, end: int, where: str) -> tuple[str | None, int]:
        """A class marker: (its name, or None for the null marker; the position after it)."""
        if pos >= end:
            raise self.fail("truncated: a class marker is missing", where)
        marker = self.data[pos]
        if marker == NULL_MARKER:
            return None, pos + 1
        if marker == CLASS_MARKER:
            code = self.int_at(pos + 1, end, where)
            name = self.pool.get(code)
            if name is None:
                raise self.fail(f"type code {code} is not in the constant pool", where)
            return name, pos + 5
        if marker == ARRAY_MARKER:
            depth = 1
            pos += 1
            while pos < end and self.data[pos] == ARRAY_MARKER:
                depth += 1
                pos += 1
            if depth > 8:
                raise self.fail("an array class nested more than 8 deep", where)
            inner, pos = self.class_at(pos, end, where)
            if inner is None:
                raise self.fail("an array of the null class", where)
            for _ in range(depth):
                inner = array_of(inner)
            return inner, pos
        raise self.fail(f"bad class marker 0x{marker:02X}", where)

    def object_at(self, pos: int, end: int, where: str) -> tuple[Value, int]:
        """One object (class marker, fields, END) from `pos`; the position after it."""
        self.nodes_left -= 1
        if self.nodes_left < 0:
            raise self.fail("too many objects in one blob", where)
        self.depth_left -= 1
        if self.depth_left < 0:
            raise self.fail("objects nested too deep", where)
        name, pos = self.class_at(pos, end, where)
        named: dict[str, tuple[int, int]] = {}
        anonymous: list[tuple[int, int]] = []
        data = self.data
        while True:
            if pos >= end:
                raise self.fail(f"truncated: {name} has no END", where)
            tag = data[pos]
            if tag == END:
                pos += 1
                break
            if tag == ANONYMOUS_FIELD:
                size = self.int_at(pos + 1, end, where)
                start = pos + 5
            elif tag == NAMED_FIELD:
                code = self.int_at(pos + 1, end, where)
                fname = self.pool.get(code)
                if fname is None:
                    raise self.fail(f"field code {code} is not in the constant pool", where)
                if fname in named:
                    raise self.fail(f"{name} has the field {fname!r} twice", where)
                size = self.int_at(pos + 5, end, where)
                start = pos + 9
            else:
                raise self.fail(f"bad field tag 0x{tag:02X} in {name}", where)
            if size < 0 or start + size > end:
                raise self.fail(f"a field of {name} has a bad length {size}", where)
            if tag == NAMED_FIELD:
                named[fname] = (start, start + size)  # type: ignore[index]  # set above
            else:
                anonymous.append((start, start + size))
            pos = start + size
        if name is None:
            if named or anonymous:
                raise self.fail("the null marker has fields", where)
            value: Value = None
        else:
            value = self.interpret(name, named, anonymous, f"{where}/{name}")
        self.depth_left += 1
        return value, pos

    def nested(self, span: tuple[int, int], where: str) -> Value:
        start, end = span
        value, pos = self.object_at(start, end, where)
        if pos != end:
            raise self.fail(f"{end - pos} stray bytes after an object", where)
        return value

    def primitive(self, kind: Kind, span: tuple[int, int], where: str) -> Value:
        start, end = span
        size = end - start
        data = self.data
        if kind is Kind.OBJECT:
            return self.nested(span, where)
        if kind is Kind.STRING or kind is Kind.BYTES:
            if size < 4:
                raise self.fail("truncated: a string or byte array has no length", where)
            n = self.int_at(start, end, where)
            if n < 0 or start + 4 + n != end:
                raise self.fail(f"a string or byte array of bad length {n}", where)
            raw = data[start + 4 : end]
            if kind is Kind.BYTES:
                return raw
            try:
                return raw.decode("utf-8")
            except UnicodeDecodeError:
                raise self.fail("a string is not UTF-8", where) from None
        if kind is Kind.CLASS:
            name, pos = self.class_at(start, end, where)
            if pos != end:
                raise self.fail("stray bytes after a class marker", where)
            return None if name is None else ClassRef(name)
        want = {Kind.INT: 4, Kind.LONG: 8, Kind.DOUBLE: 8, Kind.BOOLEAN: 1, Kind.BYTE: 1}[kind]
        if size != want:
            raise self.fail(f"a {kind.value} field of {size} bytes, not {want}", where)
        if kind is Kind.INT:
            return int(_INT.unpack_from(data, start)[0])
        if kind is Kind.LONG:
            return int(_LONG.unpack_from(data, start)[0])
        if kind is Kind.DOUBLE:
            return float(_DOUBLE.unpack_from(data, start)[0])
        if kind is Kind.BOOLEAN:
            return data[start] != 0
        return int.from_bytes(data[start : start + 1], "big", signed=True)

    def interpret(
        self,
        name: str,
        named: dict[str, tuple[int, int]],
        anonymous: list[tuple[int, int]],
        where: str,
    ) -> Value:
        if name.startswith("Array<"):
            if named:
                raise self.fail("an array has named fields", where)
            items = [self.nested(span, where) for span in anonymous]
            return JavaArray(name[len("Array<") : -1], items)
        spec = TYPES.get(name)
        if spec is None:
            return UnknownObject(
                name,
                [(k, self.data[s:e]) for k, (s, e) in named.items()]
                + [(None, self.data[s:e]) for s, e in anonymous],
            )
        content = spec.content
        if content is not None and content is not Kind.OBJECT:
            if named or len(anonymous) != 1:
                raise self.fail(f"{name} holds one anonymous value", where)
            raw = self.primitive(content, anonymous[0], where)
            return _box(name, raw, self, where)
        fields: dict[str, Value] = {}
        for fname, span in named.items():
            kind = spec.field_kind(fname)
            if kind is None:
                raise self.fail(f"{name} has no field {fname!r}", where)
            fields[fname] = self.primitive(kind, span, f"{where}.{fname}")
        if anonymous and content is None:
            raise self.fail(f"{name} has anonymous fields", where)
        items = [self.nested(span, where) for span in anonymous]
        return _assemble(name, fields, items, self, where)


def _box(name: str, raw: Value, decoder: _Decoder, where: str) -> Value:
    """A primitive-content type's value in the Python type the module docstring lists."""
    if name in ("String", "Integer", "Boolean", "Double", "ByteArray"):
        return raw
    if isinstance(raw, ClassRef):
        return raw  # Class
    if raw is None:
        raise decoder.fail("a Class value of the null class", where)
    if isinstance(raw, bytes):
        try:
            if name == "GuardedString":
                return decrypt_string(raw)
            return GuardedByteArray(decrypt(raw))
        except GuardedCipherError as exc:
            raise decoder.fail(f"{name}: {exc}", where) from None
    if isinstance(raw, str):
        if name == "Character":
            return Character(raw)
        if name == "BigInteger":
            try:
                return BigInteger(int(raw))
            except ValueError:
                raise decoder.fail(f"BigInteger {raw!r} is not an integer", where) from None
    elif isinstance(raw, bool):
        pass
    elif isinstance(raw, int):
        if name == "Long":
            return Long(raw)
        if name == "Byte":
            return Byte(raw)
    elif isinstance(raw, float) and name == "Float":
        return Float(raw)
    if isinstance(raw, str | int | float):
        return Typed(name, raw)
    raise decoder.fail(f"{name} cannot hold {type(raw).__name__}", where)


def _assemble(
    name: str, fields: dict[str, Value], items: list[Value], decoder: _Decoder, where: str
) -> Value:
    """Collections and BigDecimal as their Python values; other types as a LegacyObject."""
    match name:
        case "List":
            return items
        case "Set":
            return JavaSet(items, fields.get("caseInsensitive") is True)
        case "Map":
            entries: list[tuple[Value, Value]] = []
            for item in items:
                if not (isinstance(item, LegacyObject) and item.type == "MapEntry"):
                    raise decoder.fail("a Map item is not a MapEntry", where)
                if len(item.items) != 2:
                    raise decoder.fail("a MapEntry holds a key and a value", where)
                entries.append((item.items[0], item.items[1]))
            return JavaMap(entries, fields.get("caseInsensitive") is True)
        case "BigDecimal":
            unscaled, scale = fields.get("unscaled"), fields.get("scale", 0)
            if not isinstance(unscaled, str) or not isinstance(scale, int):
                raise decoder.fail("BigDecimal needs its unscaled value", where)
            try:
                digits = int(unscaled)
            except ValueError:
                raise decoder.fail(f"BigDecimal {unscaled!r} is not an integer", where) from None
            return Decimal(digits).scaleb(-scale)
    return LegacyObject(name, fields, items)


def read_pool(data: bytes) -> tuple[dict[int, str], int]:
    """The header and constant pool of a blob: (code -> name, the position of the object)."""
    if len(data) > MAX_BYTES:
        raise WireFormatError(
            f"legacy object of {len(data)} bytes is over the {MAX_BYTES}-byte limit",
            field="legacy",
        )
    if len(data) < 12:
        raise WireFormatError("legacy object: truncated header", field="legacy")
    magic, version, count = _HEADER_POOL.unpack_from(data, 0)
    if magic != MAGIC:
        raise WireFormatError(
            f"legacy object: bad magic 0x{magic & 0xFFFFFFFF:08X}", field="legacy"
        )
    if version != VERSION:
        raise WireFormatError(f"legacy object: unexpected version {version}", field="legacy")
    if not 0 <= count <= MAX_POOL:
        raise WireFormatError(f"legacy object: constant pool of {count} names", field="legacy")
    pool: dict[int, str] = {}
    pos = 12
    for _ in range(count):
        if pos + 4 > len(data):
            raise WireFormatError("legacy object: truncated constant pool", field="legacy")
        (n,) = _INT.unpack_from(data, pos)
        if n < 0 or pos + 4 + n + 4 > len(data):
            raise WireFormatError(f"legacy object: pool name of bad length {n}", field="legacy")
        try:
            name = data[pos + 4 : pos + 4 + n].decode("utf-8")
        except UnicodeDecodeError:
            raise WireFormatError(
                "legacy object: a pool name is not UTF-8", field="legacy"
            ) from None
        (code,) = _INT.unpack_from(data, pos + 4 + n)
        pool[code] = name
        pos += 8 + n
    return pool, pos


def decode(data: bytes, *, max_depth: int = MAX_DEPTH, max_nodes: int = MAX_NODES) -> Value:
    """The value a legacy blob holds; raises `WireFormatError` naming what was wrong."""
    pool, pos = read_pool(data)
    decoder = _Decoder(bytes(data), pool, max_depth, max_nodes)
    value, end = decoder.object_at(pos, len(data), "legacy")
    if end != len(data):
        raise WireFormatError(
            f"legacy object: {len(data) - end} stray bytes after the object", field="legacy"
        )
    return value


def pool_names(data: bytes) -> list[str]:
    """The constant pool of a blob in code order (to compare our encoder with Java's)."""
    pool, _ = read_pool(data)
    return [pool[code] for code in sorted(pool)]


# --- encoding --------------------------------------------------------------------------------


class LegacyEncodeError(ValueError):
    """A value the legacy format (or the Java side) cannot take; the message names it."""


_pack_int = _INT.pack
_pack_long = _LONG.pack
_pack_double = _DOUBLE.pack
_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1
_LONG_MIN, _LONG_MAX = -(2**63), 2**63 - 1
_NULL_OBJECT: Final = bytes([NULL_MARKER, END])


class Interner:
    """The constant pool being built: codes in order of first use, as the Java encoder does."""

    __slots__ = ("codes", "names")

    def __init__(self) -> None:
        self.codes: dict[str, bytes] = {}
        self.names: list[str] = []

    def code(self, name: str) -> bytes:
        """The 4-byte code of `name`, interning it on first use."""
        code = self.codes.get(name)
        if code is None:
            code = _pack_int(len(self.names))
            self.codes[name] = code
            self.names.append(name)
        return code

    def blob(self, body: bytes) -> bytes:
        """Header, pool and `body`: a whole legacy blob."""
        parts = [HEADER, _pack_int(len(self.names))]
        for name in self.names:
            raw = name.encode("utf-8")
            parts += (_pack_int(len(raw)), raw, self.codes[name])
        parts.append(body)
        return b"".join(parts)


def string_bytes(text: str) -> bytes:
    raw = text.encode("utf-8")
    return _pack_int(len(raw)) + raw


class _Encoder:
    __slots__ = ("pool",)

    def __init__(self, pool: Interner) -> None:
        self.pool = pool

    def class_marker(self, name: str) -> bytes:
        if name.startswith("Array<") and name.endswith(">"):
            return bytes([ARRAY_MARKER]) + self.class_marker(name[6:-1])
        if name not in CLASS_NAMES:
            raise LegacyEncodeError(f"the Java side knows no type {name!r}")
        return bytes([CLASS_MARKER]) + self.pool.code(name)

    def named(self, name: str, payload: bytes) -> bytes:
        return b"G" + self.pool.code(name) + _pack_int(len(payload)) + payload

    @staticmethod
    def anonymous(payload: bytes) -> bytes:
        return b"F" + _pack_int(len(payload)) + payload

    def content(self, type_name: str, payload: bytes) -> bytes:
        """An object of a primitive-content type: marker, one anonymous field, END."""
        return b"=" + self.pool.code(type_name) + b"F" + _pack_int(len(payload)) + payload + b"H"

    def primitive(self, kind: Kind, value: Value, where: str) -> bytes:
        if kind is Kind.OBJECT:
            return self.object(value, where)
        if kind is Kind.STRING and isinstance(value, str):
            return string_bytes(value)
        if kind is Kind.BOOLEAN and isinstance(value, bool):
            return b"\x01" if value else b"\x00"
        if isinstance(value, bool):
            raise LegacyEncodeError(f"{where}: a boolean where a {kind.value} belongs")
        if kind is Kind.INT and isinstance(value, int) and _INT_MIN <= value <= _INT_MAX:
            return _pack_int(value)
        if kind is Kind.LONG and isinstance(value, int) and _LONG_MIN <= value <= _LONG_MAX:
            return _pack_long(value)
        if kind is Kind.DOUBLE and isinstance(value, int | float):
            return _pack_double(float(value))
        if kind is Kind.BYTE and isinstance(value, int) and -128 <= value <= 127:
            return value.to_bytes(1, "big", signed=True)
        if kind is Kind.BYTES and isinstance(value, bytes):
            return _pack_int(len(value)) + value
        if kind is Kind.CLASS and isinstance(value, ClassRef):
            return self.class_marker(value.name)
        raise LegacyEncodeError(f"{where}: {type(value).__name__} is not a {kind.value}")

    def items(self, items: Iterable[Value], where: str) -> list[bytes]:
        return [self.anonymous(self.object(item, where)) for item in items]

    def object(self, value: Value, where: str = "legacy") -> bytes:
        if value is None:
            return _NULL_OBJECT
        match value:
            case bool():
                return self.content("Boolean", b"\x01" if value else b"\x00")
            case Long():
                return self.content("Long", self.primitive(Kind.LONG, value, where))
            case BigInteger():
                return self.content("BigInteger", string_bytes(str(int(value))))
            case Byte():
                return self.content("Byte", self.primitive(Kind.BYTE, value, where))
            case int():
                if not _INT_MIN <= value <= _INT_MAX:
                    raise LegacyEncodeError(f"{where}: {value} is out of Java Integer's range")
                return self.content("Integer", _pack_int(value))
            case Float():
                return self.content("Float", _pack_double(value))
            case float():
                return self.content("Double", _pack_double(value))
            case Character():
                if len(value) != 1:
                    raise LegacyEncodeError(f"{where}: a Character of {len(value)} characters")
                return self.content("Character", string_bytes(value))
            case str():
                return self.content("String", string_bytes(value))
            case bytes():
                return self.content("ByteArray", _pack_int(len(value)) + value)
            case GuardedString():
                cipher = encrypt_string(value)
                return self.content("GuardedString", _pack_int(len(cipher)) + cipher)
            case GuardedByteArray():
                cipher = encrypt(value.reveal())
                return self.content("GuardedByteArray", _pack_int(len(cipher)) + cipher)
            case Decimal():
                return self.decimal(value, where)
            case list():
                return b"".join([b"=", self.pool.code("List"), *self.items(value, where), b"H"])
            case JavaSet():
                head = [b"=", self.pool.code("Set")]
                if value.case_insensitive:
                    head.append(self.named("caseInsensitive", b"\x01"))
                return b"".join([*head, *self.items(value.items, where), b"H"])
            case JavaMap():
                return self.map(value, where)
            case JavaArray():
                marker = self.class_marker(array_of(value.component))
                return b"".join([marker, *self.items(value.items, where), b"H"])
            case ClassRef():
                code = self.pool.code("Class")  # interned before the class it holds, as Java does
                marker = self.class_marker(value.name)
                return b"=" + code + b"F" + _pack_int(len(marker)) + marker + b"H"
            case Typed():
                spec = TYPES.get(value.type)
                if spec is None or value.type not in _PRIMITIVE_TYPED or spec.content is None:
                    raise LegacyEncodeError(f"{where}: {value.type!r} is not a typed primitive")
                where = f"{where}/{value.type}"
                return self.content(value.type, self.primitive(spec.content, value.value, where))
            case LegacyObject():
                return self.legacy_object(value, where)
            case UnknownObject():
                raise LegacyEncodeError(f"{where}: the Java side knows no type {value.type!r}")
        raise LegacyEncodeError(f"{where}: {type(value).__name__} has no legacy encoding")

    def decimal(self, value: Decimal, where: str) -> bytes:
        if not value.is_finite():
            raise LegacyEncodeError(f"{where}: BigDecimal {value} is not finite")
        sign, digits, exponent = value.as_tuple()
        unscaled = int("".join(map(str, digits)) or "0") * (-1 if sign else 1)
        scale = -int(exponent)
        if not _INT_MIN <= scale <= _INT_MAX:
            raise LegacyEncodeError(f"{where}: BigDecimal scale {scale} is out of range")
        return b"".join(
            [
                b"=",
                self.pool.code("BigDecimal"),
                self.named("unscaled", string_bytes(str(unscaled))),
                self.named("scale", _pack_int(scale)),
                b"H",
            ]
        )

    def map(self, value: JavaMap, where: str) -> bytes:
        parts = [b"=", self.pool.code("Map")]
        if value.case_insensitive:
            parts.append(self.named("caseInsensitive", b"\x01"))
        for key, item in value.entries:
            entry = b"".join(
                [
                    b"=",
                    self.pool.code("MapEntry"),
                    self.anonymous(self.object(key, where)),
                    self.anonymous(self.object(item, where)),
                    b"H",
                ]
            )
            parts.append(self.anonymous(entry))
        parts.append(b"H")
        return b"".join(parts)

    def legacy_object(self, value: LegacyObject, where: str) -> bytes:
        spec = TYPES.get(value.type)
        if spec is None:
            raise LegacyEncodeError(f"{where}: the Java side knows no type {value.type!r}")
        where = f"{where}/{value.type}"
        if spec.content is not None and spec.content is not Kind.OBJECT:
            raise LegacyEncodeError(f"{where}: {value.type} is a primitive, not a LegacyObject")
        if value.type in ("List", "Set", "Map", "BigDecimal"):
            raise LegacyEncodeError(f"{where}: write {value.type} as its Python value")
        unknown = set(value.fields) - {name for name, _ in spec.fields}
        if unknown:
            raise LegacyEncodeError(f"{where}: {value.type} has no field {sorted(unknown)[0]!r}")
        if value.items and spec.content is None:
            raise LegacyEncodeError(f"{where}: {value.type} takes no anonymous items")
        parts = [b"=", self.pool.code(value.type)]
        for fname, kind in spec.fields:
            if fname not in value.fields:
                continue
            fvalue = value.fields[fname]
            if fvalue is None and kind in (Kind.STRING, Kind.CLASS):
                continue  # Java leaves a null string or class field out
            code = self.pool.code(fname)
            payload = self.primitive(kind, fvalue, f"{where}.{fname}")
            parts.append(b"G" + code + _pack_int(len(payload)) + payload)
        parts.extend(self.items(value.items, where))
        parts.append(b"H")
        return b"".join(parts)


def encode(value: Value) -> bytes:
    """The legacy blob of `value`; raises `LegacyEncodeError` for what Java could not read."""
    pool = Interner()
    body = _Encoder(pool).object(value)
    return pool.blob(body)
