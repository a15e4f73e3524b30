"""The legacy object codec against every recorded blob, and against bad input."""

from __future__ import annotations

import base64
import struct
from decimal import Decimal
from typing import Any

import pytest
from google.protobuf.message import Message

from protocol.errors import ProtocolError
from protocol.openicf import legacy
from protocol.openicf.guarded import GuardedByteArray, encrypt_string
from protocol.openicf.legacy import (
    BigInteger,
    Byte,
    Character,
    ClassRef,
    Float,
    JavaArray,
    JavaMap,
    JavaSet,
    LegacyEncodeError,
    LegacyObject,
    Long,
    Typed,
    UnknownObject,
)
from protocol.openicf.wire import WireFormatError, parse_message
from protocol.values import GuardedString
from tests.protocol.openicf.render import render
from tests.protocol.openicf.vectors import SCENARIOS, binary_frames, facade_keys


def _bytes_fields(message: Message, path: str = "") -> list[tuple[str, bytes]]:
    found: list[tuple[str, bytes]] = []
    for descriptor, value in message.ListFields():
        here = f"{path}.{descriptor.name}" if path else descriptor.name
        if descriptor.type == descriptor.TYPE_MESSAGE:
            for part in value if descriptor.is_repeated else [value]:
                found += _bytes_fields(part, here)
        elif descriptor.type == descriptor.TYPE_BYTES:
            found.append((here, value))
    return found


def _recorded_blobs() -> list[tuple[str, bytes, Any]]:
    """(id, blob, the recording's rendering of it) for every legacy blob in the vectors."""
    out = []
    for frame in binary_frames():
        renderings = frame.decoded["legacy"]
        for path, raw in _bytes_fields(parse_message(frame.payload)):
            if path.endswith("connectorFacadeKey"):
                key = renderings[path]["sha1_of_field"]
                out.append((f"{frame.id}:{path}", base64.b64decode(raw), _facade_key(key)))
            elif raw.startswith(b"\x00\x00\xfa\xfb"):
                out.append((f"{frame.id}:{path}", raw, renderings[path]))
    return out


def _facade_key(sha1: str) -> Any:
    for scenario in SCENARIOS:
        if sha1 in facade_keys(scenario):
            return facade_keys(scenario)[sha1]
    raise KeyError(sha1)


BLOBS = _recorded_blobs()


def test_the_vectors_hold_every_kind_of_blob() -> None:
    assert len(BLOBS) == 271
    kinds = {path.rsplit(":", 1)[1].rsplit(".", 1)[1] for path, _, _ in BLOBS}
    assert {"connectorInfos", "connectorFacadeKey", "filter", "schema", "options"} <= kinds


@pytest.mark.parametrize(("where", "blob", "java"), BLOBS, ids=[b[0] for b in BLOBS])
def test_every_recorded_blob_decodes_as_java_decoded_it(where: str, blob: bytes, java: Any) -> None:
    assert java["legacyVersion"] == 2
    assert legacy.pool_names(blob) == java["pool"]
    assert render(legacy.decode(blob)) == java["object"]


@pytest.mark.parametrize(("where", "blob", "java"), BLOBS, ids=[b[0] for b in BLOBS])
def test_every_recorded_blob_reencodes_to_the_same_bytes(
    where: str, blob: bytes, java: Any
) -> None:
    # Our encoder interns names in Java's order, so even the constant pool comes out the same.
    assert legacy.encode(legacy.decode(blob)) == blob


def test_s3cret_is_the_framework_ciphertext() -> None:
    cipher = encrypt_string(GuardedString("s3cret"))
    assert base64.b64encode(cipher) == b"TKkCfAidhl9UoNBYr7pKpg=="
    decoded = legacy.decode(legacy.encode(GuardedString("s3cret")))
    assert isinstance(decoded, GuardedString) and decoded.reveal() == "s3cret"


EVERY_KIND: list[legacy.Value] = [
    None,
    "text ✓",
    "",
    True,
    False,
    -(2**31),
    2**31 - 1,
    Long(2**63 - 1),
    Long(5),
    BigInteger(-(10**40)),
    Byte(-128),
    1.5,
    Float(0.25),
    Character("A"),
    b"\x00\xff",
    Decimal("1234.56"),
    Decimal("-1E+3"),
    GuardedString("pässword"),
    GuardedByteArray(b"\x09\x08"),
    [1, "two", None, [Long(3)]],
    JavaSet(["a", "b"], case_insensitive=True),
    JavaSet([1]),
    JavaMap([("k", 1), (LegacyObject("Locale", {"language": "en"}), "v")]),
    JavaMap([("A", JavaArray("String", ["x"]))], case_insensitive=True),
    JavaArray("Array<String>", [JavaArray("String", ["a", None])]),
    JavaArray("SortKey", [LegacyObject("SortKey", {"field": "age", "isAscending": False})]),
    ClassRef("CreateApiOp"),
    ClassRef("Array<String>"),
    Typed("Name", "alice"),
    Typed("int", 7),
    Typed("boolean", True),
    LegacyObject("Uid", {"uid": "1", "revision": "2"}),
    LegacyObject(
        "AttributeInfo",
        {"name": "mail", "type": ClassRef("String")},
        [LegacyObject("AttributeInfoFlag", {"value": "REQUIRED"})],
    ),
    LegacyObject(
        "AndFilter",
        items=[
            LegacyObject("PresenceFilter", {"name": "mail"}),
            LegacyObject(
                "NotFilter",
                items=[
                    LegacyObject(
                        "EqualsFilter",
                        {"attribute": LegacyObject("Attribute", {"name": "a", "Values": [1]})},
                    )
                ],
            ),
        ],
    ),
]


@pytest.mark.parametrize("value", EVERY_KIND, ids=repr)
def test_every_kind_of_value_survives_a_round_trip(value: legacy.Value) -> None:
    again = legacy.decode(legacy.encode(value))
    assert again == value
    assert render(again) == render(value)  # the Java types too, not only the Python values


def test_a_null_string_field_is_left_out() -> None:
    blob = legacy.encode(LegacyObject("Uid", {"uid": "1", "revision": None}))
    assert "revision" not in legacy.pool_names(blob)
    assert legacy.decode(blob) == LegacyObject("Uid", {"uid": "1"})


def test_a_float_travels_as_a_double() -> None:
    blob = legacy.encode(Float(0.1))
    assert struct.pack(">d", 0.1) in blob


def test_an_unknown_type_name_decodes_to_a_generic_node() -> None:
    # A newer peer's type: kept with its raw fields, never a crash; never sent back either.
    inner = legacy.encode(LegacyObject("Uid", {"uid": "7"}))
    blob = inner.replace(b"\x00\x00\x00\x03Uid", b"\x00\x00\x00\x03Xyz")
    value = legacy.decode(blob)
    assert isinstance(value, UnknownObject) and value.type == "Xyz"
    assert value.fields == [("uid", b"\x00\x00\x00\x017")]
    with pytest.raises(LegacyEncodeError, match="knows no type 'Xyz'"):
        legacy.encode(value)


def test_an_unknown_type_inside_a_list_is_kept_in_place() -> None:
    blob = legacy.encode(["a", LegacyObject("Uid", {"uid": "7"})])
    value = legacy.decode(blob.replace(b"\x00\x00\x00\x03Uid", b"\x00\x00\x00\x03Xyz"))
    assert isinstance(value, list) and value[0] == "a" and isinstance(value[1], UnknownObject)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (2**31, "out of Java Integer's range"),
        (LegacyObject("NoSuchType"), "knows no type 'NoSuchType'"),
        (ClassRef("NoSuchClass"), "knows no type 'NoSuchClass'"),
        (LegacyObject("Uid", {"nope": "x"}), "Uid has no field 'nope'"),
        (LegacyObject("Uid", {"uid": 5}), "int is not a string"),
        (LegacyObject("String"), "is a primitive"),
        (Character("ab"), "Character of 2 characters"),
        (Decimal("NaN"), "not finite"),
        (object(), "object has no legacy encoding"),
    ],
)
def test_the_encoder_refuses_what_java_could_not_read(value: Any, message: str) -> None:
    with pytest.raises(LegacyEncodeError, match=message):
        legacy.encode(value)


def _blob(pool: list[str], body: bytes) -> bytes:
    out = legacy.HEADER + struct.pack(">i", len(pool))
    for code, name in enumerate(pool):
        out += struct.pack(">i", len(name)) + name.encode() + struct.pack(">i", code)
    return out + body


def _code(n: int) -> bytes:
    return struct.pack(">i", n)


GOOD = legacy.encode(LegacyObject("Uid", {"uid": "1"}))


@pytest.mark.parametrize(
    ("blob", "message"),
    [
        (b"", "truncated header"),
        (b"\x00\x00\xfa\xfc" + GOOD[4:], "bad magic 0x0000FAFC"),
        (GOOD[:4] + _code(3) + GOOD[8:], "unexpected version 3"),
        (GOOD[:-1], "has no END"),
        (GOOD + b"\x00", "1 stray bytes after the object"),
        (GOOD[:8] + _code(-1), "constant pool of -1 names"),
        (GOOD[:8] + _code(1) + _code(1000), "pool name of bad length 1000"),
        (_blob(["List"], b"=" + _code(5) + b"H"), "type code 5 is not in the constant pool"),
        (_blob(["List"], b"\x99"), "bad class marker 0x99"),
        (_blob(["List"], b"=" + _code(0) + b"\x50"), "bad field tag 0x50 in List"),
        (_blob(["List"], b"=" + _code(0) + b"F" + _code(99) + b"H"), "bad length 99"),
        (_blob(["List"], b"=" + _code(0) + b"F" + _code(-4)), "bad length -4"),
        (_blob(["Integer"], b"=" + _code(0) + b"F" + _code(2) + b"\x00\x01H"), "int field of 2"),
        (_blob(["String"], b"=" + _code(0) + b"F" + _code(5) + _code(1) + b"\xffH"), "UTF-8"),
        (_blob(["Uid", "x"], b"=" + _code(0) + b"G" + _code(1) + _code(0) + b"H"), "no field 'x'"),
        (_blob(["Uid"], b"=" + _code(0) + b"G" + _code(7) + _code(0) + b"H"), "field code 7"),
        (_blob(["String"], b"=" + _code(0) + b"H"), "String holds one anonymous value"),
        (_blob(["List"], b"\x3e\x3c"), "an array of the null class"),
        (_blob([], b"\x3cF" + _code(0) + b"H"), "the null marker has fields"),
        (
            _blob(["Map", "List"], b"=" + _code(0) + b"F" + _code(6) + b"=" + _code(1) + b"HH"),
            "a Map item is not a MapEntry",
        ),
        (
            _blob(["GuardedString"], b"=" + _code(0) + b"F" + _code(7) + _code(3) + b"abcH"),
            "not whole AES blocks",
        ),
    ],
)
def test_bad_input_is_one_error_that_names_the_problem(blob: bytes, message: str) -> None:
    with pytest.raises(WireFormatError, match=message) as caught:
        legacy.decode(blob)
    assert isinstance(caught.value, ProtocolError)


def test_nesting_deeper_than_the_limit_is_refused_without_recursing_on() -> None:
    value: legacy.Value = "leaf"
    for _ in range(legacy.MAX_DEPTH + 5):
        value = [value]
    blob = legacy.encode(value)
    with pytest.raises(WireFormatError, match="nested too deep"):
        legacy.decode(blob)
    assert legacy.decode(blob, max_depth=legacy.MAX_DEPTH + 10) == value


def test_too_many_objects_are_refused() -> None:
    blob = legacy.encode(list(range(100)))
    with pytest.raises(WireFormatError, match="too many objects"):
        legacy.decode(blob, max_nodes=50)


def test_the_error_says_where_in_the_tree_it_happened() -> None:
    double = b"=" + _code(3) + b"F" + _code(7) + bytes(7) + b"H"  # a double one byte short
    items = b"=" + _code(2) + b"F" + _code(len(double)) + double + b"H"
    body = b"=" + _code(0) + b"G" + _code(1) + _code(len(items)) + items + b"H"
    blob = _blob(["ConnectorObject", "Attributes", "Set", "Double"], body)
    with pytest.raises(WireFormatError, match=r"double field of 7 bytes, not 8 \(at legacy/"):
        legacy.decode(blob)
    with pytest.raises(WireFormatError, match=r"ConnectorObject\.Attributes/Set/Double\)"):
        legacy.decode(blob)
