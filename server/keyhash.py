"""The stored hash of the server's shared key, and the check of a key a peer presents.

The Java RCS stores `connectorserver.key` as Base64(SHA-1(UTF-16BE(key))), unsalted
(docs/openicf.md §1.1); a leaked properties file then gives the key away to a dictionary attack,
and the Java check (`String.equals`) is not constant time (docs/hardening.md §B2). We store a
salted scrypt hash instead, in one self-describing string:

    scrypt$<log2 N>$<r>$<p>$<b64 salt>$<b64 hash>

and still accept the Java form, so an existing `ConnectorServer.properties` keeps working;
`is_weak` lets the server warn about it. Both comparisons go through `hmac.compare_digest`.

Deriving scrypt costs tens of milliseconds of CPU on purpose. The server checks the key on every
connection, so a successful check is remembered as (stored hash, SHA-256 of the presented key):
the next connection with the same key costs one SHA-256 and a constant-time compare. A failed
check is never cached and always pays the full derivation. An uncached check blocks, so the
daemon should run `verify_key` in a worker thread (`asyncio.to_thread`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass

__all__ = ["KeyHashError", "hash_key", "is_weak", "verify_key"]

SCRYPT_LOG2_N = 15
"""N = 2**15, r = 8, p = 1: the interactive-login parameters of the scrypt paper, about 32 MiB
and well under 100 ms per derivation on a server core."""
SCRYPT_R = 8
SCRYPT_P = 1
SALT_BYTES = 16
HASH_BYTES = 32
_WEAK_BELOW_LOG2_N = 14

# Bounds on what a stored string may ask for, so a hand-edited value cannot make every
# connection allocate gigabytes: scrypt needs 128 * r * N bytes and runs p mixes (RFC 7914 §2).
_MAX_MEMORY_BYTES = 256 * 1024 * 1024
_MAX_LOG2_N = 20
_MAX_P = 16
_SHA1_BYTES = 20
_CACHE_SIZE = 32


class KeyHashError(ValueError):
    """A stored key hash is neither our scrypt form nor the Java RCS's Base64 SHA-1."""


@dataclass(frozen=True, slots=True)
class _Scrypt:
    log2_n: int
    r: int
    p: int
    salt: bytes
    digest: bytes

    def derive(self, key: str) -> bytes:
        return _scrypt(key, self.salt, self.log2_n, self.r, self.p, len(self.digest))

    def encode(self) -> str:
        return "$".join(
            (
                "scrypt",
                str(self.log2_n),
                str(self.r),
                str(self.p),
                _b64(self.salt),
                _b64(self.digest),
            )
        )


@dataclass(frozen=True, slots=True)
class _JavaSha1:
    digest: bytes


def hash_key(key: str) -> str:
    """Return the salted scrypt hash of `key`, the value to store in `connectorserver.key`."""
    if not key:
        raise ValueError("the shared key must not be empty")
    salt = os.urandom(SALT_BYTES)
    digest = _scrypt(key, salt, SCRYPT_LOG2_N, SCRYPT_R, SCRYPT_P, HASH_BYTES)
    return _Scrypt(SCRYPT_LOG2_N, SCRYPT_R, SCRYPT_P, salt, digest).encode()


def verify_key(stored: str, presented: str) -> bool:
    """Tell whether `presented` is the key whose hash is `stored`, in constant time.

    Raises KeyHashError when `stored` is malformed: that is a configuration error, not a
    wrong key, and the caller should say so rather than answer 403 forever.
    """
    parsed = _parse(stored)
    if isinstance(parsed, _JavaSha1):
        return hmac.compare_digest(parsed.digest, _java_sha1(presented))
    fingerprint = hashlib.sha256(_utf8(presented)).digest()
    with _cache_lock:
        remembered = _verified.get(stored)
    if remembered is not None and hmac.compare_digest(remembered, fingerprint):
        return True
    if not hmac.compare_digest(parsed.digest, parsed.derive(presented)):
        return False
    with _cache_lock:
        _verified[stored] = fingerprint
        _verified.move_to_end(stored)
        while len(_verified) > _CACHE_SIZE:
            _verified.popitem(last=False)
    return True


def is_weak(stored: str) -> bool:
    """True for the Java RCS's unsalted SHA-1 (and for scrypt below N = 2**14): worth a warning."""
    parsed = _parse(stored)
    return isinstance(parsed, _JavaSha1) or parsed.log2_n < _WEAK_BELOW_LOG2_N


# One entry per stored hash: the SHA-256 of the last key that verified against it. A stored hash
# has one key (bar a scrypt collision), so one entry each is enough.
_verified: OrderedDict[str, bytes] = OrderedDict()
_cache_lock = threading.Lock()


def _parse(stored: str) -> _Scrypt | _JavaSha1:
    text = stored.strip()
    if text.startswith("scrypt$"):
        return _parse_scrypt(text)
    try:
        digest = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        digest = b""
    if len(digest) == _SHA1_BYTES:
        return _JavaSha1(digest)
    raise KeyHashError(
        "the stored key hash is neither a scrypt$... hash nor a Base64 SHA-1 digest; "
        "set it with `hubspot-rcs key set`"
    )


def _parse_scrypt(text: str) -> _Scrypt:
    parts = text.split("$")
    if len(parts) != 6:
        raise KeyHashError("malformed scrypt key hash: expected scrypt$log2N$r$p$salt$hash")
    try:
        log2_n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt = base64.b64decode(parts[4], validate=True)
        digest = base64.b64decode(parts[5], validate=True)
    except (binascii.Error, ValueError):
        raise KeyHashError("malformed scrypt key hash: bad number or base64") from None
    if not (1 <= log2_n <= _MAX_LOG2_N and r >= 1 and 1 <= p <= _MAX_P) or (
        128 * r * (1 << log2_n) > _MAX_MEMORY_BYTES
    ):
        raise KeyHashError(
            f"scrypt key hash parameters out of bounds (log2 N <= {_MAX_LOG2_N}, p <= {_MAX_P}, "
            f"128 * r * N <= {_MAX_MEMORY_BYTES // 2**20} MiB)"
        )
    if len(salt) < 8 or len(digest) < 16:
        raise KeyHashError("scrypt key hash has a salt under 8 or a hash under 16 bytes")
    return _Scrypt(log2_n, r, p, salt, digest)


def _scrypt(key: str, salt: bytes, log2_n: int, r: int, p: int, dklen: int) -> bytes:
    n = 1 << log2_n
    # hashlib's default maxmem (32 MiB) is exactly 128 * r * N for our own parameters and
    # OpenSSL needs a little more (RFC 7914 §2); allow twice the documented need.
    maxmem = 2 * 128 * r * (n + p + 2)
    return hashlib.scrypt(_utf8(key), salt=salt, n=n, r=r, p=p, maxmem=maxmem, dklen=dklen)


def _java_sha1(key: str) -> bytes:
    # SecurityUtil.computeBase64SHA1Hash: each Java char as two big-endian bytes (UTF-16BE, a
    # character outside the BMP as its surrogate pair), then SHA-1 (docs/openicf.md §1.1).
    return hashlib.sha1(key.encode("utf-16-be", "surrogatepass"), usedforsecurity=False).digest()


def _utf8(key: str) -> bytes:
    return key.encode("utf-8", "surrogatepass")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
