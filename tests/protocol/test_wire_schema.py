"""docs/protocol.schema.json is generated from the models and must not go stale."""

from __future__ import annotations

import json
from pathlib import Path

from protocol.wire_schema import frame_json_schema, render

COMMITTED = Path(__file__).resolve().parents[2] / "docs" / "protocol.schema.json"


def test_committed_schema_matches_the_models() -> None:
    assert COMMITTED.read_text() == render(), (
        "docs/protocol.schema.json is stale: run "
        "`python -m protocol.wire_schema > docs/protocol.schema.json`"
    )


def test_schema_names_both_envelopes_and_every_operation() -> None:
    schema = frame_json_schema()
    text = json.dumps(schema)
    for name in ("RequestFrame", "ResponseFrame", "OperationRequest", "SearchOpResponse"):
        assert name in schema["$defs"]
    for op in ("test", "validate", "schema", "create", "get", "search", "update", "delete"):
        assert f'"{op}"' in text
    assert '"$guarded"' in text
