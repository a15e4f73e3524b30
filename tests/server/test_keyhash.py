"""The shared key's stored hash: our scrypt form, the Java RCS form, malformed values."""

from __future__ import annotations

import base64
import hashlib

import pytest

from server import keyhash
from server.keyhash import KeyHashError, hash_key, is_weak, verify_key

# The default shipped in the Java RCS's conf/ConnectorServer.properties (docs/openicf.md §1.1).
JAVA_CHANGEIT = "lmA6bMfENJGlIDbfrVtklXFK32s="


def test_scrypt_round_trip() -> None:
    stored = hash_key("s3cret-key")
    assert stored.startswith("scrypt$15$8$1$")
    assert verify_key(stored, "s3cret-key")
    assert not verify_key(stored, "s3cret-kez")
    assert not verify_key(stored, "")
    assert not is_weak(stored)


def test_salted_so_two_hashes_of_one_key_differ() -> None:
    first, second = hash_key("same"), hash_key("same")
    assert first != second
    assert verify_key(first, "same")
    assert verify_key(second, "same")


def test_empty_key_is_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        hash_key("")


def test_java_rcs_hash_is_accepted_and_weak() -> None:
    assert verify_key(JAVA_CHANGEIT, "changeit")
    assert not verify_key(JAVA_CHANGEIT, "changeiT")
    assert is_weak(JAVA_CHANGEIT)


def test_java_hash_is_over_utf16_not_utf8() -> None:
    # The UTF-8 SHA-1 of "changeit" is the value people wrongly compute (docs/openicf.md §1.1).
    utf8 = base64.b64encode(hashlib.sha1(b"changeit", usedforsecurity=False).digest()).decode()
    assert utf8 == "BzE/DjIPIsv6Nc/CIFCOs/9FfH4="
    assert not verify_key(utf8, "changeit")


@pytest.mark.parametrize("key", ["clé", "ключ", "鍵🔑", "a b\tc"])
def test_non_ascii_keys(key: str) -> None:
    assert verify_key(hash_key(key), key)
    java = base64.b64encode(
        hashlib.sha1(key.encode("utf-16-be"), usedforsecurity=False).digest()
    ).decode()
    assert verify_key(java, key)


def test_stored_value_whitespace_is_ignored() -> None:
    assert verify_key(f"  {JAVA_CHANGEIT}\n", "changeit")


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "changeit",
        "c2hvcnQ=",  # valid base64, but not 20 bytes
        "scrypt$15$8$1$onlyfive",
        "scrypt$x$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "scrypt$15$8$1$not*base64$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "scrypt$30$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "scrypt$20$64$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "scrypt$15$8$1$AAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
    ],
)
def test_malformed_stored_value_is_a_clear_error(stored: str) -> None:
    with pytest.raises(KeyHashError) as info:
        verify_key(stored, "changeit")
    assert "changeit" not in str(info.value)
    with pytest.raises(KeyHashError):
        is_weak(stored)


def test_successful_check_is_remembered_and_failures_are_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stored = hash_key("cached-key")
    derivations: list[int] = []
    real = keyhash._scrypt

    def counting(*args: object, **kwargs: object) -> bytes:
        derivations.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(keyhash, "_scrypt", counting)
    assert verify_key(stored, "cached-key")
    assert verify_key(stored, "cached-key")
    assert verify_key(stored, "cached-key")
    assert len(derivations) == 1
    # A wrong key is derived every time: the cache must not make guessing cheap.
    assert not verify_key(stored, "wrong")
    assert not verify_key(stored, "wrong")
    assert len(derivations) == 3
    # The remembered key still works after failures.
    assert verify_key(stored, "cached-key")
    assert len(derivations) == 3


def test_weak_scrypt_parameters_are_reported() -> None:
    salt = base64.b64encode(b"0123456789abcdef").decode()
    digest = hashlib.scrypt(b"k", salt=b"0123456789abcdef", n=2**10, r=8, p=1, dklen=32)
    stored = f"scrypt$10$8$1${salt}${base64.b64encode(digest).decode()}"
    assert verify_key(stored, "k")
    assert is_weak(stored)
