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

    def search_result(self, result: Any) -> None:
        self.document({SEARCH_RESULT: result})

    def text(self, value: Any) -> str:
        if self.pretty:
            return json.dumps(value, indent=2, ensure_ascii=False)
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)

    def line(self, text: str) -> None:
        self.out.write(text + "\n")


def _is_terminal(out: TextIO) -> bool:
    try:
        return out.isatty()
    except ValueError:  # closed
        return False


def info_table(info: ControlResponse) -> list[str]:
    """The connectors and configurations a server holds, as a few lines of text."""
    lines = ["CONNECTOR                                          VERSION      OBJECT CLASSES"]
    for connector in info.connectorInfos or []:
        key = connector.connectorKey
        lines.append(
            f"{key.connectorName:<50} {key.bundleVersion:<12} {', '.join(connector.objectClasses)}"
        )
    lines.append("")
    lines.append("CONFIGURATION        CONNECTOR")
    configurations = info.configurations or []
    for configuration in configurations:
        ref = configuration.connectorRef
        lines.append(f"{configuration.name:<20} {ref.connectorName} {ref.bundleVersion}")
    if not configurations:
        lines.append("(none: send a provisioner file inline with @FILE)")
    return lines
