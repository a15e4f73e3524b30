"""GuardedString and GuardedByteArray on the OpenICF wire (docs/openicf-rpc.md §8).

The framework sends a secret as its plaintext encrypted with AES-128-CBC/PKCS5 under one fixed
key and IV that every OpenICF peer carries, so this is obfuscation, not security: the secret is
protected on the wire by TLS alone. A GuardedString's plaintext is its UTF-16BE characters; a
GuardedByteArray's is its bytes. The same plaintext always gives the same ciphertext.
"""

from __future__ import annotations

import hmac
from typing import Any, Final

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from protocol.values import GuardedString

# Interoperability constants of the OpenICF framework's default encryptor (data, not a secret).
FRAMEWORK_KEY: Final = bytes.fromhex("236587225978544364056abd34a23457")
FRAMEWORK_IV: Final = bytes.fromhex("5165222364056abe5165222364056abe")

_CIPHER: Final = Cipher(algorithms.AES(FRAMEWORK_KEY), modes.CBC(FRAMEWORK_IV))


class GuardedCipherError(ValueError):
    """Ciphertext that the framework's key does not decrypt (wrong length or padding)."""


def encrypt(plain: bytes) -> bytes:
    """The framework's ciphertext of `plain`."""
    padder = padding.PKCS7(128).padder()
    encryptor = _CIPHER.encryptor()
    return encryptor.update(padder.update(plain) + padder.finalize()) + encryptor.finalize()


def decrypt(cipher: bytes) -> bytes:
    """The plaintext of framework ciphertext; raises `GuardedCipherError` when it is not one."""
    if not cipher or len(cipher) % 16:
        raise GuardedCipherError(f"ciphertext of {len(cipher)} bytes is not whole AES blocks")
    decryptor = _CIPHER.decryptor()
    padded = decryptor.update(cipher) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    try:
        return unpadder.update(padded) + unpadder.finalize()
    except ValueError:
        raise GuardedCipherError("ciphertext does not decrypt under the framework key") from None


def encrypt_string(secret: GuardedString) -> bytes:
    """A GuardedString's wire ciphertext: its UTF-16BE text, encrypted."""
    return encrypt(secret.reveal().encode("utf-16-be"))


def decrypt_string(cipher: bytes) -> GuardedString:
    """A GuardedString from its wire ciphertext."""
    plain = decrypt(cipher)
    if len(plain) % 2:
        raise GuardedCipherError("a GuardedString's plaintext is UTF-16 and has an even length")
    try:
        return GuardedString(plain.decode("utf-16-be"))
    except UnicodeDecodeError:
        raise GuardedCipherError("a GuardedString's plaintext is not UTF-16BE text") from None


class GuardedByteArray:
    """A secret byte string (OpenICF `GuardedByteArray`) that never shows itself.

    Like `protocol.values.GuardedString`: `repr`, `str` and formatting show `***`; the bytes come
    out only through `reveal()`.
    """

    __slots__ = ("_value",)

    def __init__(self, value: bytes) -> None:
        if not isinstance(value, bytes):
            raise TypeError("GuardedByteArray holds bytes")
        self._value = value

    def reveal(self) -> bytes:
        """The secret bytes; call it where they are used, nowhere else."""
        return self._value

    def __repr__(self) -> str:
        return "GuardedByteArray(***)"

    __str__ = __repr__

    def __format__(self, format_spec: str) -> str:
        return repr(self)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, GuardedByteArray):
            return NotImplemented
        return hmac.compare_digest(self._value, other._value)

    def __hash__(self) -> int:
        return hash((GuardedByteArray, self._value))

    def __reduce__(self) -> Any:
        raise TypeError("GuardedByteArray cannot be pickled")
