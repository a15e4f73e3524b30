"""The JSON Schema of every frame, generated from the models.

`docs/protocol.schema.json` is this output; `tests/protocol/test_wire_schema.py` fails when the
committed file is stale. Regenerate it with
`python -m protocol.wire_schema > docs/protocol.schema.json`.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import TypeAdapter

from protocol.frames import PROTOCOL_VERSION, Frame


def frame_json_schema() -> dict[str, Any]:
    schema = TypeAdapter(Frame).json_schema(by_alias=True, mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"urn:hubspot-rcs:protocol:{PROTOCOL_VERSION}",
        "title": "hubspot-rcs frame",
        "description": "One JSON text message of the hubspot-rcs protocol; see docs/protocol.md.",
        **schema,
    }


def render() -> str:
    return json.dumps(frame_json_schema(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    print(render(), end="")
