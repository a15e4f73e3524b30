"""Progress of a long read on a terminal: what `hubspot-rcs-client search` shows on stderr.

While objects arrive, one line rewritten in place, at most every `EVERY_S`:
`12,345 objects (4,567/s)`, and `, 80,000 scanned` where the connector reads more than it returns
(a filter it applies itself, docs/protocol.md `scanned`). At the end, one summary line:
`12,345 objects in 2.7 s (4,567/s), 80,000 scanned`. Nothing at all when stderr is not a
terminal, so pipes and logs get only the results.
"""

from __future__ import annotations

import time
from typing import TextIO

EVERY_S = 0.5


class Progress:
    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.enabled = stream.isatty()
        self.started = self.last = time.monotonic()

    def _text(self, count: int, scanned: int | None, now: float) -> str:
        rate = count / max(now - self.started, 1e-6)
        text = f"{count:,} objects ({rate:,.0f}/s)"
        if scanned is not None and scanned > count:
            text += f", {scanned:,} scanned"
        return text

    def update(self, count: int, scanned: int | None = None) -> None:
        now = time.monotonic()
        if self.enabled and now - self.last >= EVERY_S:
            self.last = now
            self.stream.write(f"\r{self._text(count, scanned, now)}\033[K")
            self.stream.flush()

    def done(self, count: int, scanned: int | None = None, *, complete: bool = True) -> None:
        """The closing summary (on a terminal), in place of the progress line."""
        if not self.enabled:
            return
        now = time.monotonic()
        rate = count / max(now - self.started, 1e-6)
        text = f"{count:,} objects in {now - self.started:.1f} s ({rate:,.0f}/s)"
        if scanned is not None and scanned > count:
            text += f", {scanned:,} scanned"
        if not complete:
            text = "stopped after " + text
        self.stream.write(f"\r\033[K{text}\n")
        self.stream.flush()
