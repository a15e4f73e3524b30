"""What `hubspot-rcs-client` writes: JSON for programs, the same JSON indented for a person.

On a pipe or a file every document is one line (JSON lines: `jq`, `tail -n 1` and `grep` work on
it); on a terminal the same documents are indented. A search's SearchResult is written as
`{"searchResult": {...}}`, so that it stands apart from the objects before it. `info` is a
short table unless `--json` asks for the whole document.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, TextIO

from client.rawparts import ObjectLine, object_dicts
from protocol.frames import ControlResponse

SEARCH_RESULT = "searchResult"
"""The key the SearchResult of a search is written under."""


class Writer:
    """JSON documents to `out`: one line each on a pipe, indented on a terminal."""

    def __init__(self, out: TextIO, *, pretty: bool | None = None) -> None:
        self.out = out
        self.pretty = _is_terminal(out) if pretty is None else pretty

    def document(self, value: Any) -> None:
        self.out.write(self.text(value) + "\n")

    def documents(self, values: Sequence[Any]) -> None:
        self.out.write("".join(self.text(v) + "\n" for v in values))

    def object_lines(self, lines: list[ObjectLine]) -> None:
        """A search's page: on a pipe, each object's text as the server wrote it (one line
        each, client/fastpath.py); on a terminal, indented."""
        if self.pretty:
            self.documents(object_dicts(lines))
        elif lines:
            self.out.write(b"\n".join(lines).decode() + "\n")

    def search_result(self, result: Any) -> None:
        self.document({SEARCH_RESULT: result})

    def text(self, value: Any) -> str:
        if self.pretty:
            return json.dumps(value, indent=2, ensure_ascii=False)
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)

    def line(self, text: str) -> None:
        self.out.write(text + "\n")

    def flush(self) -> None:
        self.out.flush()


def _is_terminal(out: TextIO) -> bool:
    try:
        return out.isatty()
    except ValueError:  # closed
        return False


def info_table(info: ControlResponse) -> list[str]:
    """The connectors and configurations a server holds, as a few aligned lines of text."""
    connectors = [
        (c.connectorKey.connectorName, c.connectorKey.bundleVersion, ", ".join(c.objectClasses))
        for c in info.connectorInfos or []
    ]
    configurations = [
        (c.name, c.connectorRef.connectorName, c.connectorRef.bundleVersion)
        for c in info.configurations or []
    ]
    lines = _aligned(("CONNECTOR", "VERSION", "OBJECT CLASSES"), connectors)
    lines.append("")
    lines += _aligned(("CONFIGURATION", "CONNECTOR", "VERSIONS"), configurations)
    if not configurations:
        lines.append("(none: send a provisioner file inline with @FILE)")
    return lines


def _aligned(header: tuple[str, str, str], rows: list[tuple[str, str, str]]) -> list[str]:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(2)]
    return [
        f"{row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]}".rstrip()
        for row in [header, *rows]
    ]
