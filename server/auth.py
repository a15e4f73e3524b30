"""Peer authentication on the WebSocket upgrade, before any frame is read.

What IDM sends is HTTP Basic with the shared key as password and the username ignored
(`anonymous`, docs/openicf.md §1.1); other clients may send `Authorization: Bearer <key>`. No
credentials: 401 with the Java RCS's `WWW-Authenticate` realm. A wrong key: 403. The key is
checked against the stored hash only (`server.keyhash`, constant time).

Failed keys are throttled per address before the check (docs/hardening.md §B2: rate-limit
failed auth per source IP): after a wrong key, that address's next key is not even checked
until a delay has passed (doubling with each failure, up to a maximum); meanwhile its upgrades
are refused at once with 429, the right key included, so a brute force gets one guess per
delay however many sockets it opens (one check at a time per address). Other addresses are
unaffected, and a refusal holds no thread. A request with no key is not a guess and is not
throttled.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Final

from server import keyhash

REALM: Final = 'Basic realm="openicf.forgerock.org"'
_TRACKED_ADDRESSES: Final = 4096
LOG_EVERY_S: Final = 10.0
"""Refusals from one address are logged as one line at most this often, with their count."""


class Verdict(Enum):
    OK = 200
    MISSING = 401
    WRONG = 403
    THROTTLED = 429


def presented_key(authorization: str | None) -> str | None:
    """The key in an `Authorization` header (Basic password or Bearer token), or None."""
    if not authorization:
        return None
    scheme, _, credentials = authorization.strip().partition(" ")
    credentials = credentials.strip()
    if scheme.lower() == "bearer":
        return credentials or None
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(credentials, validate=True)
    except (binascii.Error, ValueError):
        return None
    # The Java RCS decodes ISO-8859-1; UTF-8 first lets a non-Latin key work from any client.
    try:
        text = decoded.decode("utf-8")
    except UnicodeDecodeError:
        text = decoded.decode("iso-8859-1")
    _, colon, password = text.partition(":")
    return password if colon else None


@dataclass
class _Failures:
    count: int
    last: float
    blocked_until: float = 0.0
    unlogged: int = 0
    logged_at: float = float("-inf")


class Authenticator:
    """Checks presented keys against the stored hash; throttles addresses that failed."""

    def __init__(
        self,
        key_hash: str,
        *,
        delay_s: float,
        delay_max_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        keyhash.is_weak(key_hash)  # raises KeyHashError for a malformed hash, at start
        self._clock = clock
        self._key_hash = key_hash
        self._delay_s = delay_s
        self._delay_max_s = delay_max_s
        self._failures: OrderedDict[str, _Failures] = OrderedDict()
        self._locks: dict[str, asyncio.Lock] = {}
        self._waiting: dict[str, int] = {}
        self._checking: dict[bytes, asyncio.Future[bool]] = {}
        """Checks in progress by the presented key's SHA-256: IDM opens its sockets at once,
        and the second waits for the first's derivation instead of paying its own."""

    @property
    def weak(self) -> bool:
        """True when the stored hash is the Java RCS's unsalted SHA-1."""
        return keyhash.is_weak(self._key_hash)

    def retry_after(self, address: str) -> float:
        """Seconds until `address` may present a key again (0: now)."""
        entry = self._failures.get(address)
        return 0.0 if entry is None else max(0.0, entry.blocked_until - self._clock())

    async def check(self, address: str, authorization: str | None) -> Verdict:
        key = presented_key(authorization)
        if key is None:
            return Verdict.MISSING
        # One check at a time per address, each after the delay its last failure set: a
        # burst of guesses gets one checked, the rest refused once it fails.
        lock = self._locks.setdefault(address, asyncio.Lock())
        self._waiting[address] = self._waiting.get(address, 0) + 1
        try:
            async with lock:
                if self.retry_after(address) > 0:
                    return Verdict.THROTTLED
                ok = await self._verify(key)
        finally:
            self._waiting[address] -= 1
            if not self._waiting[address]:
                del self._waiting[address], self._locks[address]
        if ok:
            self._failures.pop(address, None)
            return Verdict.OK
        self._penalty(address)
        return Verdict.WRONG

    async def _verify(self, key: str) -> bool:
        fingerprint = hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()
        running = self._checking.get(fingerprint)
        if running is not None:
            return await asyncio.shield(running)
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._checking[fingerprint] = future
        try:
            # An uncached scrypt check costs tens of milliseconds: keep it off the event loop.
            ok = await asyncio.to_thread(keyhash.verify_key, self._key_hash, key)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: a lone check's failure is raised below, not logged
            raise
        finally:
            del self._checking[fingerprint]
        future.set_result(ok)
        return ok

    def _penalty(self, address: str) -> float:
        """Record a failure from `address`; the delay doubles with each, up to the maximum."""
        now = self._clock()
        entry = self._failures.pop(address, None)
        if entry is None or now - entry.last > 2 * self._delay_max_s:
            entry = _Failures(0, now, unlogged=entry.unlogged if entry else 0)
        entry.count += 1
        entry.last = now
        delay = float(min(self._delay_s * 2 ** min(entry.count - 1, 30), self._delay_max_s))
        entry.blocked_until = now + delay
        self._failures[address] = entry
        while len(self._failures) > _TRACKED_ADDRESSES:
            self._failures.popitem(last=False)
        return delay

    def refused(self, address: str) -> int | None:
        """Count a refusal from `address`; the number to log now (this one included), or None
        while the address's last line is recent (docs/operations.md "Authentication")."""
        now = self._clock()
        entry = self._failures.get(address)
        if entry is None:  # a request without a key: logged each time, it is not a flood
            return 1
        entry.unlogged += 1
        if now - entry.logged_at < LOG_EVERY_S:
            return None
        count, entry.unlogged, entry.logged_at = entry.unlogged, 0, now
        return count

    def unlogged(self) -> list[tuple[str, int]]:
        """Refusals not logged yet, per address whose last line is `LOG_EVERY_S` old; from
        now on they count as logged (the server's housekeeping logs them: every refusal is
        logged, if late)."""
        now = self._clock()
        due = []
        for address, entry in self._failures.items():
            if entry.unlogged and now - entry.logged_at >= LOG_EVERY_S:
                due.append((address, entry.unlogged))
                entry.unlogged, entry.logged_at = 0, now
        return due
