"""Logging: one canonical line per operation, and no secret in any line."""

from __future__ import annotations

import io
import json

import pytest
from structlog.contextvars import merge_contextvars
from structlog.testing import capture_logs

from client.connection import RcsClient
from protocol.errors import InvalidCredentialException
from protocol.values import GuardedString
from server import logs
from server.app import ConnectorServer
from tests.conftest import KEY, MEMORY_KEY, memory_configuration


async def test_one_canonical_line_per_operation(rcs: ConnectorServer) -> None:
    with capture_logs(processors=[merge_contextvars]) as captured:
        async with await RcsClient.connect(rcs.url, KEY) as client:
            memory = await client.facade("memory")
            async with memory.search("contact") as results:
                assert len([o async for o in results]) == 25
            await memory.get("contact", "nope")
    lines = [e for e in captured if e["event"] == "operation"]
    assert [(e["operation"], e["outcome"], e["objects"]) for e in lines] == [
        ("SEARCH", "ok", 25),
        ("GET", "ok", 0),  # no such object
    ]
    search = lines[0]
    assert search["object_class"] == "contact" and search["request_id"] >= 1
    assert {"conn_id", "duration_ms"} <= set(search)
    events = [e["event"] for e in captured]
    assert events[0] == "connection.open" and "connection.close" in events


async def test_secrets_never_reach_the_log(rcs: ConnectorServer) -> None:
    secret = "sup3r-secret-api-key"
    configuration = memory_configuration(apiKey=GuardedString(secret), expectedApiKey="other")
    out = io.StringIO()
    logs.configure("debug", "json", out)
    async with await RcsClient.connect(rcs.url, KEY) as client:
        facade = client.facade_for(MEMORY_KEY, configuration)
        with pytest.raises(InvalidCredentialException) as failed:
            await facade.test()
    assert secret not in str(failed.value)
    text = out.getvalue()
    assert secret not in text and KEY not in text
    lines = [json.loads(line) for line in text.splitlines()]
    line = next(line for line in lines if line["event"] == "operation")
    assert line["outcome"] == "error" and line["error"].endswith("InvalidCredentialException")


def test_the_redaction_processor_is_a_safety_net() -> None:
    event = {
        "event": "x",
        "refresh_token": "t",
        "Authorization": "Bearer k",
        "key": "k",
        "headers": {"api_key": "k", "accept": "json"},
        "value": GuardedString("g"),
        "conn_id": "c1",
    }
    cleaned = logs.redact(None, "info", event)
    assert cleaned == {
        "event": "x",
        "refresh_token": "***",
        "Authorization": "***",
        "key": "***",
        "headers": {"api_key": "***", "accept": "json"},
        "value": "***",
        "conn_id": "c1",
    }
