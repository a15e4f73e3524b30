"""Logging: one canonical line per operation, no secret in any line, JSON or readable lines."""

from __future__ import annotations

import io
import json
import logging

import pytest
import structlog
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


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("log_format", "stream_class", "renderer"),
    [
        ("json", io.StringIO, "json"),
        ("auto", io.StringIO, "json"),  # a pipe or a file: a log collector reads it
        ("auto", Terminal, "console"),  # a person reads it
        ("console", io.StringIO, "console"),
        ("json", Terminal, "json"),
    ],
)
def test_json_for_machines_readable_lines_for_people(
    log_format: str, stream_class: type[io.StringIO], renderer: str
) -> None:
    out = stream_class()
    logs.configure("info", log_format, out)
    # A logger made after `configure` (the server's module loggers cache their first setup).
    structlog.contextvars.bind_contextvars(conn_id="c1")
    logs.get_logger("server.connection").info("operation", operation="GET", outcome="ok")
    [line] = out.getvalue().splitlines()
    if renderer == "json":
        event = json.loads(line)
        assert event["event"] == "operation" and event["operation"] == "GET"
        assert event["conn_id"] == "c1" and event["level"] == "info"
        assert event["timestamp"].endswith("Z")
    else:
        assert not line.startswith("{")
        assert "[info     ] operation" in line
        assert "conn_id=c1" in line and "operation=GET" in line and "outcome=ok" in line


def test_the_level_comes_from_configuration() -> None:
    out = io.StringIO()
    logs.configure("warning", "json", out)
    log = logs.get_logger("test")
    log.info("quiet")
    log.warning("loud", detail="x")
    assert [json.loads(line)["event"] for line in out.getvalue().splitlines()] == ["loud"]


def test_standard_library_logs_come_out_the_same_way() -> None:
    out = io.StringIO()
    logs.configure("info", "json", out)
    logs.configure("info", "json", out)  # configuring again does not double the lines
    logging.getLogger("asyncio").error("Task exception was never retrieved")
    logging.getLogger("aiohttp.client").debug("below the level")
    [line] = [json.loads(line) for line in out.getvalue().splitlines()]
    assert line["event"] == "Task exception was never retrieved"
    assert line["logger"] == "asyncio" and line["level"] == "error" and "timestamp" in line
