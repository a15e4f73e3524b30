"""HubSpot's rate limits: a rolling window per app, a per-second search limit, a daily budget.

Numbers, headers and 429 bodies from docs/hubspot.md §4 and §1.7:
- every call but search counts against the app's rolling 10-second window (search is exempt,
  `x-hubspot-rate-limit-exemptions: ["ten-secondly"]`) and carries `X-HubSpot-RateLimit-Max`,
  `-Remaining` and `-Interval-Milliseconds`; calls made with a private-app token also carry
  `-Daily` and `-Daily-Remaining`;
- search is limited per account per second and its responses carry no rate-limit headers;
- 429 bodies carry `errorType: RATE_LIMIT` and a `policyName` the official SDKs key on.
"""

from __future__ import annotations

import math
import time
import uuid
from collections import deque

from emulator.auth import Principal
from emulator.errors import HubSpotError
from emulator.settings import EmulatorSettings
from emulator.values import Clock

__all__ = ["RateLimiter", "rate_limit_error"]

_MESSAGES = {
    "TEN_SECONDLY_ROLLING": "You have reached your ten_secondly_rolling limit.",
    "SECONDLY": "You have reached your secondly limit.",
    "DAILY": "You have reached your daily limit.",
}


def rate_limit_error(
    policy: str, retry_after_s: float | None, headers: dict[str, str] | None = None
) -> HubSpotError:
    """A 429 in HubSpot's RATE_LIMIT shape, with `Retry-After` when asked for."""
    all_headers = dict(headers or {})
    if retry_after_s is not None:
        all_headers["Retry-After"] = str(max(1, math.ceil(retry_after_s)))
    return HubSpotError(
        429,
        _MESSAGES[policy],
        body={
            "status": "error",
            "message": _MESSAGES[policy],
            "errorType": "RATE_LIMIT",
            "policyName": policy,
            "requestId": str(uuid.uuid4()),
        },
        headers=all_headers,
    )


class RateLimiter:
    """Counts calls and refuses the ones over a limit."""

    def __init__(self, settings: EmulatorSettings, clock: Clock) -> None:
        self.settings = settings
        self.clock = clock
        self._windows: dict[str, deque[float]] = {}
        self._search: deque[float] = deque()
        self._day = ""
        self._daily_used = 0

    def check(self, principal: Principal, *, search: bool) -> dict[str, str]:
        """Count one call; return its rate-limit headers, or raise the 429."""
        settings = self.settings
        if not settings.rate_limits_enabled:
            return {}
        now = self.clock.monotonic()
        today = time.strftime("%Y-%m-%d", time.gmtime())
        if today != self._day:
            self._day, self._daily_used = today, 0
        retry = settings.retry_after_on_429
        if self._daily_used >= settings.daily_limit:
            seconds_to_midnight = 86_400 - time.time() % 86_400
            raise rate_limit_error("DAILY", seconds_to_midnight if retry else None)
        if search:
            _trim(self._search, now - 1.0)
            if len(self._search) >= settings.search_per_second_limit:
                raise rate_limit_error("SECONDLY", self._search[0] + 1.0 - now if retry else None)
            self._search.append(now)
            self._daily_used += 1
            return {}
        window_s = settings.ten_second_window_s
        window = self._windows.setdefault(principal.app, deque())
        _trim(window, now - window_s)
        limit = settings.ten_second_limit
        headers = {
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(round(window_s * 1000)),
            "X-HubSpot-RateLimit-Max": str(limit),
        }
        if not principal.oauth:
            headers["X-HubSpot-RateLimit-Daily"] = str(settings.daily_limit)
        if len(window) >= limit:
            headers["X-HubSpot-RateLimit-Remaining"] = "0"
            if not principal.oauth:
                headers["X-HubSpot-RateLimit-Daily-Remaining"] = str(
                    max(0, settings.daily_limit - self._daily_used)
                )
            wait = window[0] + window_s - now
            raise rate_limit_error("TEN_SECONDLY_ROLLING", wait if retry else None, headers)
        window.append(now)
        self._daily_used += 1
        headers["X-HubSpot-RateLimit-Remaining"] = str(limit - len(window))
        if not principal.oauth:
            headers["X-HubSpot-RateLimit-Daily-Remaining"] = str(
                max(0, settings.daily_limit - self._daily_used)
            )
        return headers

    @property
    def daily_used(self) -> int:
        return self._daily_used

    def reset(self) -> None:
        """Forget every counted call."""
        self._windows.clear()
        self._search.clear()
        self._daily_used = 0


def _trim(window: deque[float], cutoff: float) -> None:
    while window and window[0] <= cutoff:
        window.popleft()
