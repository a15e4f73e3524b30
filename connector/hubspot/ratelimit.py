"""Client-side rate limiting, shared by every pooled instance of one configuration.

Three limits apply to each call, in this order (docs/hubspot.md §4, §1.7):
- `permitsPerSecond`, a token bucket like the Guava `RateLimiter` the Java connector is named
  after: permits refill at that rate and up to one second of them can be stored;
- CRM search's own limit (5 calls per second per account, no rate-limit headers), a sliding
  window of `searchRequestsPerSecond` calls per second;
- HubSpot's rolling ten-second window for the app, learned from the `X-HubSpot-RateLimit-Max`,
  `-Interval-Milliseconds` and `-Remaining` headers: the limiter counts its own calls in the
  window, adds the calls others made (what `Remaining` says beyond ours), and waits for a slot
  before HubSpot would refuse. A 429 on a full window pauses that window for everyone until a
  slot frees; on a window with room, only the refused caller backs off, briefly.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Mapping

from connector.ratelimit import Clock, TokenBucket

__all__ = ["RateLimiter", "SlidingWindow", "TokenBucket"]

OnWait = Callable[[str, float], None]
"""(the limit that held a call: permits, search or window; seconds it waited)."""

_WINDOW_MARGIN = 1.02
"""A slot is taken as free slightly after HubSpot frees it: our send times precede its clock."""


class SlidingWindow:
    """At most `limit` calls in any `interval_s`, as HubSpot counts them; `limit` may be
    learned later (`None` means not known yet: no limit)."""

    def __init__(
        self,
        limit: int | None,
        interval_s: float,
        *,
        reserve: int = 0,
        clock: Clock = time.monotonic,
    ) -> None:
        self.limit = limit
        self.interval_s = interval_s
        self.reserve = reserve
        self._clock = clock
        self._sent: deque[float] = deque()
        self._foreign = 0
        self._foreign_until = 0.0
        self._paused_until = 0.0

    def _trim(self, now: float) -> None:
        horizon = now - self.interval_s * _WINDOW_MARGIN
        sent = self._sent
        while sent and sent[0] <= horizon:
            sent.popleft()
        if now >= self._foreign_until:
            self._foreign = 0

    def delay(self) -> float:
        """How long until a call may go out; 0 means now (and the call is counted)."""
        now = self._clock()
        if self._paused_until > now:
            return self._paused_until - now
        self._trim(now)
        if self.limit is not None:
            allowed = self.limit - self.reserve - self._foreign
            if len(self._sent) >= max(1, allowed):
                if self._sent:
                    oldest = self._sent[-max(1, allowed)]
                    return max(0.001, oldest + self.interval_s * _WINDOW_MARGIN - now)
                return max(0.001, self._foreign_until - now)
        self._sent.append(now)
        return 0.0

    async def acquire(self) -> float:
        """Wait for a slot and take it; return the seconds waited."""
        waited = 0.0
        while (wait := self.delay()) > 0:  # a timed wait: nothing to signal
            await asyncio.sleep(wait)
            waited += wait
        return waited

    def pause(self, seconds: float) -> None:
        """Hold every call for `seconds` (a 429 said so)."""
        self._paused_until = max(self._paused_until, self._clock() + seconds)

    def full(self) -> bool:
        """Whether a call now would exceed the limit (never, while the limit is not known)."""
        self._trim(self._clock())
        if self.limit is None:
            return False
        return len(self._sent) >= max(1, self.limit - self.reserve - self._foreign)

    def time_to_free_slot(self) -> float:
        """How long until the oldest call leaves the window (a guess at a 429's wait)."""
        now = self._clock()
        self._trim(now)
        if not self._sent:
            return self.interval_s / max(1, self.limit or 1)
        return max(0.0, self._sent[0] + self.interval_s * _WINDOW_MARGIN - now)

    def observe(self, limit: int, interval_s: float, remaining: int) -> None:
        """Learn the window from a response's headers; count calls that were not ours."""
        now = self._clock()
        self.limit, self.interval_s = limit, interval_s
        self._trim(now)
        foreign = (limit - remaining) - len(self._sent)
        if foreign > 0:
            self._foreign = max(self._foreign, foreign)
            self._foreign_until = now + interval_s


class RateLimiter:
    """The limits of one configuration: `await limiter.acquire(search=...)` before each call."""

    def __init__(
        self,
        permits_per_second: float,
        search_per_second: float,
        *,
        clock: Clock = time.monotonic,
    ) -> None:
        self.bucket = TokenBucket(permits_per_second, clock=clock)
        # HubSpot counts search per second; a whole number of calls fits in a window.
        self.search = SlidingWindow(max(1, int(search_per_second)), 1.0, clock=clock)
        # One slot of the app's window is kept free: our clock and HubSpot's differ a little.
        self.window = SlidingWindow(None, 10.0, reserve=1, clock=clock)

    async def acquire(self, *, search: bool, waited: OnWait | None = None) -> None:
        """Wait until a call may go out; `waited(limit, seconds)` hears of each wait (metrics)."""
        held = {"permits": await self.bucket.acquire()}
        if search:
            # Search is exempt from the ten-secondly window (docs/hubspot.md §1.7).
            held["search"] = await self.search.acquire()
        else:
            held["window"] = await self.window.acquire()
        if waited is not None:
            for limit, seconds in held.items():
                if seconds > 0:
                    waited(limit, seconds)

    def observe(self, headers: Mapping[str, str]) -> None:
        """Read `X-HubSpot-RateLimit-*` from a response (absent on search responses)."""
        try:
            limit = int(headers["X-HubSpot-RateLimit-Max"])
            remaining = int(headers["X-HubSpot-RateLimit-Remaining"])
            interval_ms = int(headers.get("X-HubSpot-RateLimit-Interval-Milliseconds", "10000"))
        except (KeyError, ValueError):
            return
        if limit > 0 and interval_ms > 0:
            self.window.observe(limit, interval_ms / 1000, remaining)

    def refused(self, policy: str | None, retry_after_s: float | None, *, search: bool) -> float:
        """A 429: how long this caller should wait, as HubSpot's headers and window say, and
        pause that window for every task as long; 0 when they say nothing (the caller backs
        off briefly, from 0.2 s, and nobody else waits).

        A full window (by our count, and by `Remaining` as the 429's own headers gave it to
        `observe`) is waited out until its oldest call leaves: for search a second at most
        (docs/hubspot.md §1.7), for the app's window its interval. A 429 while the window has
        room says nothing about it (a refusal HubSpot gives now and then): waiting for the
        whole window there stalled a configuration for seconds (docs/reliability.md).
        """
        window = self.search if policy == "SECONDLY" or (policy is None and search) else self.window
        if retry_after_s is not None:
            wait = retry_after_s
        elif window.full():
            wait = window.time_to_free_slot()
        else:
            return 0.0
        window.pause(wait)
        return wait
