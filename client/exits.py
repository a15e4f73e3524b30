"""The exit statuses of `hubspot-rcs-client`, one table for every command (docs/operations.md).

| status | meaning |
|---|---|
| 0 | done |
| 1 | the server or its connector refused the operation (the ICF exception is printed) |
| 2 | the command line is wrong (nothing was sent) |
| 3 | no connector server could be reached at `--url`, or the connection broke |
| 130 | interrupted (Ctrl-C) |
| 141 | the reader of the output went away (`| head`), as other Unix tools |
"""

from __future__ import annotations

from typing import Final
from urllib.parse import urlsplit

from protocol.errors import (
    ConnectionBrokenException,
    ConnectionFailedException,
    ConnectorException,
)

OK: Final = 0
REFUSED: Final = 1
USAGE: Final = 2
CONNECTION: Final = 3
INTERRUPTED: Final = 130
BROKEN_PIPE: Final = 141

TABLE: Final = {
    OK: "done",
    REFUSED: "the server refused the operation",
    USAGE: "the command line is wrong; nothing was sent",
    CONNECTION: "no connector server could be reached, or the connection broke",
    INTERRUPTED: "interrupted",
}
"""What each status means, as `--help` prints it."""


class UsageError(Exception):
    """A command line that cannot work: exit status 2, the message alone on stderr."""


def status_of(exc: ConnectorException) -> int:
    """Connection trouble is 3; anything the server answered is a refusal, 1."""
    if isinstance(exc, ConnectionFailedException | ConnectionBrokenException):
        return CONNECTION
    return REFUSED


def check_url(url: str) -> str:
    """`url` if it is a WebSocket URL with a host; otherwise a UsageError saying what to give."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UsageError(f"--url {url}: {exc}") from None
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        hint = ""
        if parts.scheme in ("http", "https") and parts.hostname:
            secure = "s" if parts.scheme == "https" else ""
            hint = f" (did you mean ws{secure}://{parts.netloc}{parts.path or '/openicf'}?)"
        raise UsageError(
            f"--url {url}: not a WebSocket URL; give ws://HOST:PORT/openicf, or wss:// for a "
            f"server with TLS{hint}"
        )
    del port
    return url
