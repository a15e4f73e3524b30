"""Time and value formats exactly as HubSpot writes them (docs/hubspot.md §0.2, §1.8)."""

from __future__ import annotations

import datetime as dt
import re
import time

__all__ = [
    "Clock",
    "format_date",
    "format_datetime_ms",
    "parse_date_ms",
    "parse_datetime_ms",
]

_UTC = dt.UTC
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=_UTC)
_DAY_MS = 86_400_000
_DIGITS = re.compile(r"-?\d+")


class Clock:
    """Wall time for values, and a shiftable monotonic time for expiry and rate windows.

    Records are stamped with the host's wall clock and never ahead of it, because Airbyte
    silently drops records "modified in the future" (docs/hubspot.md §11.3). Token expiry, rate
    windows and the indexing delay run on `monotonic()`, which tests may move forward with
    `advance()` instead of sleeping.
    """

    def __init__(self) -> None:
        self._offset_s = 0.0
        self._last_ms = 0

    def now_ms(self) -> int:
        """Return the wall time in epoch milliseconds, strictly increasing between calls.

        Strictly increasing so that `lastmodifieddate` orders writes even within one millisecond.
        """
        now = time.time_ns() // 1_000_000
        if now <= self._last_ms:
            now = self._last_ms + 1
        self._last_ms = now
        return now

    def monotonic(self) -> float:
        """Return monotonic seconds, including any `advance()`."""
        return time.monotonic() + self._offset_s

    def advance(self, seconds: float) -> None:
        """Move monotonic time forward (token expiry, rate windows, indexing delay)."""
        self._offset_s += seconds


def format_datetime_ms(epoch_ms: int, *, omit_zero_ms: bool = False) -> str:
    """Format epoch milliseconds as HubSpot does: `2024-01-17T19:55:04.281Z`.

    Whether HubSpot drops a `.000` fraction is unverified (docs/hubspot.md §1.8, §10), hence the
    `omit_zero_ms` switch.
    """
    seconds, millis = divmod(epoch_ms, 1000)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    if omit_zero_ms and millis == 0:
        return stamp + "Z"
    return f"{stamp}.{millis:03d}Z"


def format_date(epoch_ms: int) -> str:
    """Format a `date` property value (`YYYY-MM-DD`, UTC midnight)."""
    return time.strftime("%Y-%m-%d", time.gmtime(epoch_ms // 1000))


def parse_datetime_ms(value: object) -> int | None:
    """Read a datetime input as epoch ms: epoch-ms string or number, or ISO-8601 text.

    HubSpot accepts both on writes and in search filters (docs/hubspot.md §0.2, §1.7, §1.8).
    Returns None when the value is neither.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    if not isinstance(value, str):
        return None
    text = value.strip()
    if _DIGITS.fullmatch(text):
        return int(text)
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=_UTC)
    delta = parsed - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def parse_date_ms(value: object) -> int | None:
    """Read a `date` input: `YYYY-MM-DD` or epoch ms at UTC midnight (docs/hubspot.md §1.8).

    Returns None for anything else, including an epoch that is not at midnight.
    """
    epoch_ms = parse_datetime_ms(value)
    if epoch_ms is None or epoch_ms % _DAY_MS != 0:
        return None
    return epoch_ms
