"""Renders a decoded legacy tree the way the recorded vectors render Java's (decoded.jsonl).

Comparing the two checks our decoder against the Java decoder's view of every blob.
"""

from __future__ import annotations

import base64
from decimal import Decimal
from typing import Any

from protocol.openicf import legacy
from protocol.openicf.guarded import GuardedByteArray, encrypt, encrypt_string
from protocol.values import GuardedString


def _typed(name: str, value: Any) -> dict[str, Any]:
    return {"@type": name, "value": value}


def _node(name: str, fields: dict[str, Any], items: list[Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"@type": name, **fields}
    if items:
        out["@items"] = items
    return out


def render(value: legacy.Value) -> Any:
    match value:
        case None:
            return None
        case bool():
            return _typed("Boolean", value)
        case legacy.Long():
            return _typed("Long", int(value))
        case legacy.BigInteger():
            return _typed("BigInteger", str(int(value)))
        case legacy.Byte():
            return _typed("Byte", int(value))
        case int():
            return _typed("Integer", value)
        case legacy.Float():
            return _typed("Float", float(value))
        case float():
            return _typed("Double", value)
        case legacy.Character():
            return _typed("Character", str(value))
        case str():
            return _typed("String", value)
        case bytes():
            return {"@type": "ByteArray", "b64": base64.b64encode(value).decode()}
        case Decimal():
            sign, digits, exponent = value.as_tuple()
            unscaled = int("".join(map(str, digits))) * (-1 if sign else 1)
            return {"@type": "BigDecimal", "unscaled": str(unscaled), "scale": -int(exponent)}
        case GuardedString():
            return {
                "@type": "GuardedString",
                "encrypted_b64": base64.b64encode(encrypt_string(value)).decode(),
                "decrypted": value.reveal(),
            }
        case GuardedByteArray():
            return {
                "@type": "GuardedByteArray",
                "encrypted_b64": base64.b64encode(encrypt(value.reveal())).decode(),
                "decrypted": base64.b64encode(value.reveal()).decode(),
            }
        case list():
            return _node("List", {}, [render(v) for v in value])
        case legacy.JavaSet():
            flag = {"caseInsensitive": True} if value.case_insensitive else {}
            return _node("Set", flag, [render(v) for v in value.items])
        case legacy.JavaMap():
            flag = {"caseInsensitive": True} if value.case_insensitive else {}
            entries = [_node("MapEntry", {}, [render(k), render(v)]) for k, v in value.entries]
            return _node("Map", flag, entries)
        case legacy.JavaArray():
            return _node(legacy.array_of(value.component), {}, [render(v) for v in value.items])
        case legacy.ClassRef():
            return _typed("Class", value.name)
        case legacy.Typed():
            return _typed(value.type, value.value)
        case legacy.LegacyObject():
            fields = {}
            spec = legacy.TYPES[value.type]
            for name, field in value.fields.items():
                kind = spec.field_kind(name)
                if kind is legacy.Kind.OBJECT:
                    fields[name] = render(field)
                elif isinstance(field, legacy.ClassRef):
                    fields[name] = {"@class": field.name}
                else:
                    fields[name] = field  # a primitive payload
            return _node(value.type, fields, [render(v) for v in value.items])
    raise AssertionError(f"cannot render {value!r}")
