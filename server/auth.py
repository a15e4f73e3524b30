"""Peer authentication on the WebSocket upgrade, before any frame is read.

What IDM sends is HTTP Basic with the shared key as password and the username ignored
(`anonymous`, docs/openicf.md §1.1); other clients may send `Authorization: Bearer <key>`. No
credentials: 401 with the Java RCS's `WWW-Authenticate` realm. A wrong key: 403. The key is
checked against the stored hash only (`server.keyhash`, constant time), and failures from one
address are answered ever more slowly (docs/hardening.md §B2: rate-limit failed auth per
source IP).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import time
from collections import OrderedDict
from dataclasses import dataclass
from enum import Enum
from typing import Final

from server import keyhash

REALM: Final = 'Basic realm="openicf.forgerock.org"'
_TRACKED_ADDRESSES: Final = 4096


class Verdict(Enum):
    OK = 200
    MISSING = 401
    WRONG = 403


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


class Authenticator:
    """Checks presented keys against the stored hash and slows down repeated failures."""

    def __init__(self, key_hash: str, *, delay_s: float, delay_max_s: float) -> None:
        keyhash.is_weak(key_hash)  # raises KeyHashError for a malformed hash, at start
        self._key_hash = key_hash
        self._delay_s = delay_s
        self._delay_max_s = delay_max_s
        self._failures: OrderedDict[str, _Failures] = OrderedDict()
        self._checking: dict[bytes, asyncio.Future[bool]] = {}
        """Checks in progress by the presented key's SHA-256: IDM opens its sockets at once,
        and the second waits for the first's derivation instead of paying its own."""

    @property
    def weak(self) -> bool:
        """True when the stored hash is the Java RCS's unsalted SHA-1."""
        return keyhash.is_weak(self._key_hash)

    async def check(self, address: str, authorization: str | None) -> Verdict:
        key = presented_key(authorization)
        if key is None:
            verdict = Verdict.MISSING
        else:
            verdict = Verdict.OK if await self._verify(key) else Verdict.WRONG
        if verdict is Verdict.OK:
            self._failures.pop(address, None)
            return verdict
        await asyncio.sleep(self._penalty(address))
        return verdict

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
        now = time.monotonic()
        entry = self._failures.pop(address, None)
        if entry is None or now - entry.last > 2 * self._delay_max_s:
            entry = _Failures(0, now)
        entry.count += 1
        entry.last = now
        self._failures[address] = entry
        while len(self._failures) > _TRACKED_ADDRESSES:
            self._failures.popitem(last=False)
        return float(min(self._delay_s * 2 ** min(entry.count - 1, 30), self._delay_max_s))
