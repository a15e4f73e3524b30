"""structlog, configured once: JSON lines on stdout, context bound per connection and operation.

Practice from structlog's docs (docs/hardening.md §A4, §A6.11): `merge_contextvars` first,
so `conn_id` and `request_id` survive every `await`; one canonical line per operation; and a
redaction processor as a safety net, because OWASP's rule is that keys, tokens and frame payloads
never reach a log (§B2). Code must not log them in the first place; the net catches mistakes.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import sys
from collections.abc import MutableMapping
from typing import Any, Final, TextIO, cast

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


_SHARED: Final[list[Processor]] = [
    structlog.contextvars.merge_contextvars,
    structlog.processors.add_log_level,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    redact,
]


def processors(renderer: Processor) -> list[Processor]:
    return [*_SHARED, structlog.processors.format_exc_info, renderer]


class LogStream(io.TextIOBase):
    """The stream log lines go to, which outlives its reader.

    When nothing reads the server's stdout any more (a log collector that died, `serve | head`),
    a write fails with EPIPE. Raised where a line is logged, that failure would stop whatever
    logged it: the SIGTERM handler (the server then ignored every signal), a drain, an
    operation. Instead the first failure is said once on stderr, stdout is pointed at
    /dev/null (so the interpreter's own flush at exit does not fail again), and the server goes
    on without its log.
    """

    def __init__(self, stream: TextIO) -> None:
        super().__init__()
        self._stream = stream
        self.lost: OSError | None = None

    def write(self, text: str) -> int:
        if self.lost is None:
            try:
                return self._stream.write(text)
            except OSError as exc:
                self._lose(exc)
        return len(text)

    def flush(self) -> None:
        if self.lost is None:
            try:
                self._stream.flush()
            except OSError as exc:
                self._lose(exc)

    def isatty(self) -> bool:
        return self._stream.isatty()

    def _lose(self, exc: OSError) -> None:
        self.lost = exc
        with contextlib.suppress(OSError, ValueError):
            sys.stderr.write(
                f"hubspot-rcs: the log cannot be written ({exc.strerror or exc}); the server "
                "goes on without it\n"
            )
            sys.stderr.flush()
        with contextlib.suppress(OSError, ValueError, io.UnsupportedOperation):
            os.dup2(os.open(os.devnull, os.O_WRONLY), self._stream.fileno())


class _StdlibHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Ours on the root logger: `configure` replaces it, and leaves other handlers alone."""


def configure(level: str = "info", log_format: str = "auto", stream: TextIO | None = None) -> None:
    """Send every log line to `stream` (stdout): JSON, or readable lines on a terminal.

    structlog's own loggers, and the standard library's (asyncio's "Task exception was never
    retrieved", aiohttp's warnings) through structlog's `ProcessorFormatter`, so that a log
    collector reading stdout sees one format (structlog: "logging-best-practices",
    "standard-library"). The level filters both.
    """
    out = cast(TextIO, LogStream(stream or sys.stdout))
    use_console = log_format == "console" or (log_format == "auto" and out.isatty())
    renderer: Processor = (
        structlog.dev.ConsoleRenderer(colors=False)
        if use_console
        else structlog.processors.JSONRenderer()
    )
    number = logging.getLevelNamesMapping()[level.upper()]
    structlog.configure(
        processors=processors(renderer),
        wrapper_class=structlog.make_filtering_bound_logger(number),
        logger_factory=structlog.PrintLoggerFactory(out),
        cache_logger_on_first_use=True,
    )
    handler = _StdlibHandler(out)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *_SHARED],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    for previous in [h for h in root.handlers if isinstance(h, _StdlibHandler)]:
        root.removeHandler(previous)
    root.addHandler(handler)
    root.setLevel(number)
    # websockets logs every failed upgrade, which we answer and log ourselves: only its
    # critical lines get through.
    logging.getLogger("websockets").setLevel(logging.CRITICAL)


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)
