"""Property: any bytes into the OpenICF decoders decode or raise our ProtocolError, and stay
bounded (docs/openicf-rpc.md §7.6). Inputs start from the recorded blobs, mutated, so they get
past the magic number and reach deep into the trees."""

from __future__ import annotations

import base64
import os
import struct
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocol.errors import ProtocolError
from protocol.openicf import legacy
from protocol.openicf import objects as o
from protocol.openicf.proto.common_pb2 import ConnectorObject, SyncDelta
from protocol.openicf.wire import WireFormatError, parse_message
from protocol.values import GuardedString
from tests.protocol.openicf.vectors import binary_frames

FRAMES = [f.payload for f in binary_frames()]
BLOBS = sorted(
    {
        blob
        for frame in FRAMES
        for blob in (
            frame[i:] for i in range(len(frame) - 4) if frame[i : i + 4] == b"\x00\x00\xfa\xfb"
        )
    },
    key=len,
)[:200]
# Every legacy decoder the server runs on what a peer sends.
DECODERS: list[Callable[[bytes], Any]] = [
    legacy.decode,
    o.decode_attributes,
    o.decode_connector_object,
    o.decode_filter,
    o.decode_options,
    o.decode_schema,
    o.decode_sync_token,
    o.decode_script_value,
    o.decode_connector_infos,
    o.decode_configuration_change,
    lambda b: o.decode_facade_key(base64.b64encode(b)),
    lambda b: o.connector_object_from_proto(ConnectorObject(objectClass="x", attributes=b)),
    lambda b: o.sync_delta_from_proto(SyncDelta(connectorObject=b)),
]

FUZZ = settings(
    max_examples=int(os.environ.get("OPENICF_FUZZ_EXAMPLES", "400")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    database=None,
)


@st.composite
def mutated(draw: st.DrawFn, seeds: list[bytes]) -> bytes:
    """A seed with a few bytes changed, dropped, inserted, or an int field replaced."""
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 4))):
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        match draw(st.sampled_from(["flip", "drop", "insert", "int", "truncate"])):
            case "flip":
                data[at] ^= draw(st.integers(1, 255))
            case "drop":
                del data[at : at + draw(st.integers(1, 8))]
            case "insert":
                data[at:at] = draw(st.binary(min_size=1, max_size=8))
            case "int":
                value = draw(st.sampled_from([-1, 0, 1, 2**31 - 1, -(2**31), 0x46, 0x48, 255]))
                data[at : at + 4] = struct.pack(">i", value)
            case "truncate":
                del data[at:]
    return bytes(data)


# Trees of every known legacy type, with fields of the right kinds but arbitrary content: they
# decode cleanly, so they exercise the model conversions rather than the byte-level checks.
_leaves = (
    st.none()
    | st.text(max_size=6)
    | st.booleans()
    | st.integers(-(2**31), 2**31 - 1)
    | st.floats(allow_nan=False)
    | st.builds(legacy.Long, st.integers(-(2**63), 2**63 - 1))
    | st.binary(max_size=4)
    | st.builds(GuardedString, st.text(max_size=4))
    | st.builds(legacy.ClassRef, st.sampled_from(sorted(legacy.CLASS_NAMES)))
    | st.builds(legacy.Typed, st.just("Name"), st.text(max_size=6))
)
_KIND_VALUES: dict[legacy.Kind, st.SearchStrategy[Any]] = {
    legacy.Kind.STRING: st.none() | st.text(max_size=6) | st.sampled_from(["__NAME__", "__UID__"]),
    legacy.Kind.INT: st.integers(-(2**31), 2**31 - 1),
    legacy.Kind.LONG: st.integers(-(2**63), 2**63 - 1),
    legacy.Kind.BOOLEAN: st.booleans(),
    legacy.Kind.DOUBLE: st.floats(),
    legacy.Kind.CLASS: st.builds(legacy.ClassRef, st.sampled_from(sorted(legacy.CLASS_NAMES))),
}
_STRUCTS = sorted(
    name
    for name, spec in legacy.TYPES.items()
    if (spec.content in (None, legacy.Kind.OBJECT))
    and name not in ("List", "Set", "Map", "MapEntry", "BigDecimal")
)


def _objects(family: list[str]) -> Any:
    def extend(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        @st.composite
        def one(draw: st.DrawFn) -> legacy.LegacyObject:
            spec = legacy.TYPES[draw(st.sampled_from(family))]
            fields = {}
            for name, kind in spec.fields:
                if draw(st.integers(0, 4)):  # mostly present
                    fields[name] = draw(inner if kind is legacy.Kind.OBJECT else _KIND_VALUES[kind])
            items = draw(st.lists(inner, max_size=3)) if spec.content else []
            return legacy.LegacyObject(spec.name, fields, items)

        return (
            one()
            | st.lists(inner, max_size=3)
            | st.builds(legacy.JavaSet, st.lists(inner, max_size=3), st.booleans())
            | st.builds(legacy.JavaMap, st.lists(st.tuples(inner, inner), max_size=3))
            | st.builds(
                legacy.JavaArray,
                st.sampled_from(["String", "SortKey"]),
                st.lists(inner, max_size=3),
            )
        )

    return extend


# Per decoder, the types it expects, so random trees are often nearly right.
_FILTERS = [n for n in _STRUCTS if n.endswith("Filter")] + ["Attribute", "Uid"]
FAMILIES: list[tuple[Callable[[bytes], Any], list[str]]] = [
    (o.decode_attributes, ["Attribute", "Uid"]),
    (o.decode_connector_object, ["ConnectorObject", "ObjectClass", "Attribute", "Uid"]),
    (o.decode_filter, _FILTERS),
    (o.decode_options, ["OperationOptions", "SortKey", "CountPolicy"]),
    (o.decode_schema, ["Schema", "ObjectClassInfo", "AttributeInfo", "AttributeInfoFlag"]),
    (o.decode_sync_token, ["SyncToken"]),
    (o.decode_script_value, ["Locale"]),
    (
        o.decode_connector_infos,
        ["ConnectorInfo", "ConnectorKey", "ConnectorMessages", "Locale", "APIConfiguration"],
    ),
    (o.decode_configuration_change, ["ConfigurationProperty"]),
    (
        lambda b: o.decode_facade_key(base64.b64encode(b)),
        [
            "APIConfiguration",
            "ConfigurationProperties",
            "ConfigurationProperty",
            "ObjectPoolConfiguration",
            "ResultsHandlerConfiguration",
        ],
    ),
]


@FUZZ
@given(data=st.data(), which=st.integers(0, len(FAMILIES) - 1))
def test_well_formed_trees_of_any_content_convert_or_raise_our_error(
    data: st.DataObject, which: int
) -> None:
    decoder, family = FAMILIES[which]
    tree = data.draw(st.recursive(_leaves, _objects(family), max_leaves=12))
    _only_our_error(decoder, legacy.encode(tree))


@FUZZ
@given(tree=st.recursive(_leaves, _objects(_STRUCTS), max_leaves=12))
def test_trees_of_every_known_type_round_trip(tree: Any) -> None:
    # bytes, not trees: a null string field is left out on the wire, and NaN != NaN
    blob = legacy.encode(tree)
    assert legacy.encode(legacy.decode(blob)) == blob


# Recorded trees, paired with the decoder for their field, then mutated value by value: deep,
# realistic structures with wrong content in them (an empty name, a missing Uid, a wrong type).
_DECODER_OF_FIELD: dict[str, Callable[[bytes], Any]] = {
    "createAttributes": o.decode_attributes,
    "replaceAttributes": o.decode_attributes,
    "filter": o.decode_filter,
    "options": o.decode_options,
    "schema": o.decode_schema,
    "connectorObject": o.decode_connector_object,
    "connectorInfos": o.decode_connector_infos,
    "configurationPropertyChange": o.decode_configuration_change,
    "scriptArguments": o.decode_script_value,
    "value": o.decode_sync_token,
}


def _recorded_trees() -> list[tuple[Callable[[bytes], Any], list[Any]]]:
    """Per decoder, the distinct recorded trees it decodes."""
    from tests.protocol.openicf.test_legacy import BLOBS

    by_field: dict[str, dict[bytes, Any]] = {}
    for where, blob, _ in BLOBS:
        last = where.rsplit(".", 1)[-1]
        if last in _DECODER_OF_FIELD or last == "connectorFacadeKey":
            by_field.setdefault(last, {})[blob] = legacy.decode(blob)
    facade = DECODERS[10]
    return [
        (_DECODER_OF_FIELD.get(last, facade), list(trees.values()))
        for last, trees in sorted(by_field.items())
    ]


SEEDS = _recorded_trees()
_ANY_LEAF = st.none() | st.text(max_size=3) | st.integers(-2, 2) | st.booleans() | st.just(1.5)


def _mutate(draw: Callable[[st.SearchStrategy[Any]], Any], tree: Any, rate: int) -> Any:
    if draw(st.integers(0, rate)) == 0:
        return draw(_ANY_LEAF)
    match tree:
        case legacy.LegacyObject():
            fields = {}
            for name, value in tree.fields.items():
                kind = legacy.TYPES[tree.type].field_kind(name)
                if draw(st.integers(0, rate)) == 0:
                    continue  # drop the field
                if kind is legacy.Kind.OBJECT:
                    fields[name] = _mutate(draw, value, rate)
                elif draw(st.integers(0, rate)) == 0 and kind is not None:
                    fields[name] = draw(_KIND_VALUES.get(kind, st.none()))
                else:
                    fields[name] = value
            items = [_mutate(draw, v, rate) for v in tree.items]
            return legacy.LegacyObject(tree.type, fields, items)
        case list():
            return [_mutate(draw, v, rate) for v in tree]
        case legacy.JavaSet():
            return legacy.JavaSet(
                [_mutate(draw, v, rate) for v in tree.items], tree.case_insensitive
            )
        case legacy.JavaArray():
            return legacy.JavaArray(tree.component, [_mutate(draw, v, rate) for v in tree.items])
        case legacy.JavaMap():
            entries = [(_mutate(draw, k, rate), _mutate(draw, v, rate)) for k, v in tree.entries]
            return legacy.JavaMap(entries, tree.case_insensitive)
    return tree


@FUZZ
@given(data=st.data(), which=st.integers(0, len(SEEDS) - 1), rate=st.integers(3, 40))
def test_mutated_recorded_trees_convert_or_raise_our_error(
    data: st.DataObject, which: int, rate: int
) -> None:
    decoder, trees = SEEDS[which]
    tree = data.draw(st.sampled_from(trees))
    mutated_tree = _mutate(data.draw, tree, rate)
    _only_our_error(decoder, legacy.encode(mutated_tree))


def _only_our_error(decode: Callable[[bytes], Any], data: bytes) -> None:
    """Decoding either works or raises WireFormatError (a ProtocolError) with a message;
    any other exception fails the test."""
    message = "decoded"
    try:
        decode(data)
    except WireFormatError as exc:
        message = str(exc) if isinstance(exc, ProtocolError) else ""
    assert message


@FUZZ
@given(data=st.binary(max_size=512))
def test_any_bytes_parse_as_a_message_or_raise_our_error(data: bytes) -> None:
    _only_our_error(parse_message, data)


@FUZZ
@given(data=mutated(FRAMES))
def test_mutated_messages_parse_or_raise_our_error(data: bytes) -> None:
    _only_our_error(parse_message, data)


@FUZZ
@given(data=st.binary(max_size=256), decoder=st.sampled_from(DECODERS))
def test_any_bytes_after_the_legacy_header_decode_or_raise_our_error(
    data: bytes, decoder: Callable[[bytes], Any]
) -> None:
    _only_our_error(decoder, legacy.HEADER + data)


@FUZZ
@given(data=mutated(BLOBS), decoder=st.sampled_from(DECODERS))
def test_mutated_legacy_blobs_decode_or_raise_our_error(
    data: bytes, decoder: Callable[[bytes], Any]
) -> None:
    _only_our_error(decoder, data)


def test_a_deeply_nested_protobuf_message_is_refused() -> None:
    # ExceptionMessage.InnerCause nests itself: 100,000 levels must not exhaust the stack.
    inner = b""
    for _ in range(100_000):
        inner = b"\x1a" + _varint(len(inner)) + inner
    error = b"\x22" + _varint(len(inner)) + inner
    data = b"\x1a" + _varint(len(error)) + error  # RemoteMessage.response.error.innerCause...
    with pytest.raises(WireFormatError):
        parse_message(data)


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def test_a_declared_length_past_the_data_allocates_nothing() -> None:
    # a pool of 65,536 names that are not there, and a field that claims 2 GB
    with pytest.raises(WireFormatError, match="truncated constant pool"):
        legacy.decode(legacy.HEADER + struct.pack(">i", 65_536))
    huge = legacy.HEADER + struct.pack(">i", 1) + struct.pack(">i", 4) + b"List" + bytes(4)
    with pytest.raises(WireFormatError, match="bad length 2147483647"):
        legacy.decode(huge + b"=" + bytes(4) + b"F" + struct.pack(">i", 2**31 - 1))


def test_deep_nesting_is_refused_before_the_stack_runs_out() -> None:
    # 100,000 nested Lists in 1.3 MB: refused at MAX_DEPTH, not by a RecursionError
    depth = 100_000
    body = b"<H"
    opening = b"=" + bytes(4) + b"F"
    lengths = []
    size = len(body)
    for _ in range(depth):
        lengths.append(size)
        size += len(opening) + 4 + 1
    parts = [opening + struct.pack(">i", n) for n in reversed(lengths)]
    blob = legacy.HEADER + struct.pack(">i", 1) + struct.pack(">i", 4) + b"List" + bytes(4)
    blob += b"".join(parts) + body + b"H" * depth
    with pytest.raises(WireFormatError, match="nested too deep"):
        legacy.decode(blob)
