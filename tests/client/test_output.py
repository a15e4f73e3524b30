"""Readable output: indented JSON on a terminal, JSON lines on a pipe, the SearchResult marked
apart, and `info` as a short table (`--json` for the whole)."""

from __future__ import annotations

import asyncio
import io
import json
import os
import pty
from collections.abc import AsyncIterator

import pytest

from client.output import SEARCH_RESULT, Writer
from server.app import ConnectorServer
from tests.conftest import (
    KEY,
    MEMORY_KEY,
    command,
    hosted,
    memory_configuration,
    registry,
    settings,
)


@pytest.fixture
async def memory() -> AsyncIterator[ConnectorServer]:
    configurations = {"memory": hosted("memory", memory_configuration(seed=5))}
    async with ConnectorServer(settings(), registry(), configurations) as server:
        yield server


async def run(server: ConnectorServer, *args: str, terminal: bool) -> str:
    """The client's stdout, on a pseudo-terminal or a pipe."""
    argv = [*command("hubspot-rcs-client"), "--url", server.url, *args]
    env = os.environ | {"RCS_KEY": KEY}
    if not terminal:
        process = await asyncio.create_subprocess_exec(
            *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env
        )
        out, err = await process.communicate()
        assert process.returncode == 0, err
        return out.decode()
    leader, follower = pty.openpty()
    try:
        process = await asyncio.create_subprocess_exec(
            *argv, stdout=follower, stderr=asyncio.subprocess.PIPE, env=env
        )
        os.close(follower)
        _, err = await process.communicate()
        assert process.returncode == 0, err
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal is closed once the client and its output are gone
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks).decode().replace("\r\n", "\n")
    finally:
        os.close(leader)


async def test_a_pipe_gets_json_lines_with_the_search_result_marked(
    memory: ConnectorServer,
) -> None:
    out = await run(memory, "search", "memory", "contact", "--page-size", "2", terminal=False)
    *objects, result = [json.loads(line) for line in out.splitlines()]
    assert [o["objectClass"] for o in objects] == ["contact", "contact"]
    assert set(result) == {SEARCH_RESULT} and result[SEARCH_RESULT]["pagedResultsCookie"]


async def test_a_terminal_gets_the_same_documents_indented(memory: ConnectorServer) -> None:
    out = await run(memory, "search", "memory", "contact", "--page-size", "2", terminal=True)
    assert '\n  "objectClass": "contact",\n' in out
    documents = []
    decoder = json.JSONDecoder()
    text = out.strip()
    while text:
        document, end = decoder.raw_decode(text)
        documents.append(document)
        text = text[end:].strip()
    assert len(documents) == 3 and set(documents[-1]) == {SEARCH_RESULT}
    assert out.splitlines()[-1] == "}"


async def test_info_is_a_short_table_and_json_on_request(memory: ConnectorServer) -> None:
    table = (await run(memory, "info", terminal=False)).splitlines()
    assert table[0].split() == ["CONNECTOR", "VERSION", "OBJECT", "CLASSES"]
    assert table[1].split()[0] == "org.example.connectors.memory.MemoryConnector"
    assert table[1].endswith("company, contact") or table[1].endswith("contact, company")
    assert table[3].split() == ["CONFIGURATION", "CONNECTOR", "VERSIONS"]
    assert table[4].split() == [
        "memory",
        "org.example.connectors.memory.MemoryConnector",
        MEMORY_KEY.bundleVersion,
    ]
    # Columns line up: each starts where its header does.
    assert table[1].index("1.0.0.0") == table[0].index("VERSION")
    assert table[4].index("org.") == table[3].index("CONNECTOR")
    assert len(table) == 5
    whole = json.loads(await run(memory, "info", "--json", terminal=False))
    assert set(whole) == {"connectors", "configurations"}
    assert whole["connectors"][0]["configurationProperties"]


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_writer_indents_only_on_a_terminal() -> None:
    terminal, pipe = Terminal(), io.StringIO()
    Writer(terminal).document({"a": [1]})
    Writer(pipe).document({"a": [1]})
    assert terminal.getvalue() == '{\n  "a": [\n    1\n  ]\n}\n'
    assert pipe.getvalue() == '{"a":[1]}\n'
