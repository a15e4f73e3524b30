"""The recorded OpenICF conversations under vectors/: frames, decoded renderings, facade keys.

Recorded between the unmodified OpenICF Java client and Java connector server (docs/openicf-rpc.md
§12); tests read them as data.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

VECTORS = Path(__file__).resolve().parent / "vectors"
SCENARIOS = sorted(p.name for p in VECTORS.iterdir() if p.is_dir())


@dataclass(frozen=True)
class Frame:
    scenario: str
    i: int
    direction: str
    opcode: int
    payload: bytes
    decoded: dict[str, Any]

    @property
    def id(self) -> str:
        return f"{self.scenario}#{self.i}"


@cache
def frames(scenario: str) -> tuple[Frame, ...]:
    folder = VECTORS / scenario
    decoded = {
        d["i"]: d for d in map(json.loads, (folder / "decoded.jsonl").read_text().splitlines())
    }
    out = []
    for line in (folder / "frames.jsonl").read_text().splitlines():
        raw = json.loads(line)
        out.append(
            Frame(
                scenario,
                raw["i"],
                raw["dir"],
                raw["opcode"],
                base64.b64decode(raw["b64"]),
                decoded[raw["i"]],
            )
        )
    return tuple(out)


def binary_frames() -> list[Frame]:
    return [f for s in SCENARIOS for f in frames(s) if f.opcode == 2]


@cache
def facade_keys(scenario: str) -> dict[str, Any]:
    path = VECTORS / scenario / "facade-keys.json"
    return json.loads(path.read_text()) if path.exists() else {}
