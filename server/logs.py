"""structlog, configured once: JSON lines on stdout, context bound per connection and operation.

Practice from structlog's docs (style-and-hardening.md §A4, §A6.11): `merge_contextvars` first,
so `conn_id` and `request_id` survive every `await`; one canonical line per operation; and a
redaction processor as a safety net, because OWASP's rule is that keys, tokens and frame payloads
never reach a log (§B2). Code must not log them in the first place; the net catches mistakes.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any, Final, TextIO

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

from protocol.values import GuardedString

REDACTED: Final = "***"
_SECRET_NAME: Final = re.compile(
    r"(?i)(token|secret|passw|authorization|credential|cookie|apikey|api_key|^key$|_key$|^key_)"
)


def redact(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    """Replace the values of secret-looking keys, and any GuardedString, with `***`."""

    def clean(mapping: MutableMapping[str, Any]) -> None:
        for name, value in mapping.items():
            if _SECRET_NAME.search(name) or isinstance(value, GuardedString):
                mapping[name] = REDACTED
            elif isinstance(value, dict):
                mapping[name] = dict(value)
                clean(mapping[name])

    clean(event_dict)
    return event_dict


def processors(renderer: Processor) -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact,
        structlog.processors.format_exc_info,
        renderer,
    ]


def configure(level: str = "info", log_format: str = "auto", stream: TextIO | None = None) -> None:
    """Send structlog's output to `stream` (stdout): JSON, or console lines on a terminal."""
    out = stream or sys.stdout
    use_console = log_format == "console" or (log_format == "auto" and out.isatty())
    renderer: Processor = (
        structlog.dev.ConsoleRenderer(colors=False)
        if use_console
        else structlog.processors.JSONRenderer()
    )
    structlog.configure(
        processors=processors(renderer),
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]
        ),
        logger_factory=structlog.PrintLoggerFactory(out),
        cache_logger_on_first_use=True,
    )
    # websockets logs through the standard library; keep its handshake noise (failed upgrades
    # we answer ourselves) out, and let real errors through as plain lines on stderr.
    logging.getLogger("websockets").setLevel(logging.CRITICAL)


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)
