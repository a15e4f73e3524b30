"""The one token bucket: HubSpot calls per configuration (`permitsPerSecond`,
connector/hubspot/ratelimit.py) and frames per connection (`maxFramesPerSecond`,
server/connection.py) are both limited by it.

A caller either reserves a permit and waits for it (`reserve`, `acquire`: a client keeping to
a rate), or takes one only if it is there (`try_take`: a server refusing what exceeds a rate).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

Clock = Callable[[], float]


class TokenBucket:
    """Permits at `rate` per second, with up to `capacity` stored while idle (Guava's bursty
    `RateLimiter`). A caller reserves its permit before sleeping, so waiters are served in
    order and the rate holds however many tasks call at once."""

    def __init__(
        self, rate: float, *, capacity: float | None = None, clock: Clock = time.monotonic
    ):
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.capacity = max(1.0, rate if capacity is None else capacity)
        self._clock = clock
        self._tokens = self.capacity
        self._updated = clock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate)
        self._updated = now

    def try_take(self) -> bool:
        """Take one permit if one is there now; False (nothing taken) when none is."""
        self._refill()
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True

    def reserve(self) -> float:
        """Take one permit; return how long to wait before using it."""
        self._refill()
        self._tokens -= 1.0
        return 0.0 if self._tokens >= 0 else -self._tokens / self.rate

    async def acquire(self) -> float:
        """Take a permit, waiting for it when needed; return the seconds waited."""
        wait = self.reserve()
        if wait > 0:
            await asyncio.sleep(wait)
        return wait
