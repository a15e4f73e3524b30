"""Encrypted configuration values in IDM's `$crypto` shape, sealed with AES-256-GCM.

    {"$crypto": {"type": "x-simple-encryption",
                 "value": {"cipher": "AES/GCM/NoPadding", "stableId": "<key id>",
                           "iv": "<base64 12 bytes>", "data": "<base64 ciphertext + tag>",
                           "keySize": 32, "purpose": "rcs.config.encryption"}}}

The shape is IDM's (docs/openicf.md §4): `stableId` names the key, `purpose` the kind of secret.
IDM marks its own blob as internal and undocumented, so we do not pretend to be readable by IDM;
we borrow the shape operators recognise and seal it with AES-GCM from `cryptography`
(`hazmat/primitives/aead`, docs/hardening.md §B3):

- a fresh random 96-bit nonce per encryption ("NEVER REUSE A NONCE with a key"); configuration
  secrets see a handful of writes, far below the 2**32 random-nonce bound per key;
- the plaintext is the JSON text of the value, as IDM's SimpleEncryptor does, so a string is
  sealed with its quotes and other JSON types could follow;
- associated data binds the cipher, key id, purpose, file name and JSON path: a ciphertext
  copied to another property or file, or relabelled with another key id, fails to open.

Errors name the file, the JSON path and the key id, never the value or the ciphertext.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from dataclasses import dataclass
from typing import Any, Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from server.secrets.keystore import KEY_BYTES, Keystore

__all__ = ["CIPHER", "CRYPTO_KEY", "PURPOSE", "Place", "SecretError", "decrypt", "encrypt"]

CRYPTO_KEY: Final = "$crypto"
TYPE: Final = "x-simple-encryption"
CIPHER: Final = "AES/GCM/NoPadding"
PURPOSE: Final = "rcs.config.encryption"
"""After IDM's `idm.config.encryption`: a configuration secret."""
_NONCE_BYTES: Final = 12
_AAD_LABEL: Final = b"hubspot-rcs $crypto v1"


class SecretError(ValueError):
    """A `$crypto` value that does not open: wrong or missing key, altered, moved, malformed."""

    def __init__(self, place: Place, reason: str) -> None:
        super().__init__(f"{place}: {reason}")
        self.place = place
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Place:
    """Where a secret lives: the file's name (not its directory) and the JSON path in it.

    The directory is left out so that `conf/` can move; renaming a provisioner file renames
    its configuration, so its secrets must be encrypted again (`hubspot-rcs secrets encrypt`).
    """

    file: str
    path: str

    def __str__(self) -> str:
        return f"{self.file}: {self.path}"


def is_crypto(value: object) -> bool:
    """True for a `{"$crypto": ...}` object (well formed or not: `decrypt` will say)."""
    return isinstance(value, dict) and CRYPTO_KEY in value


def encrypt(keystore: Keystore, plaintext: str, place: Place) -> dict[str, Any]:
    """Seal `plaintext` under the keystore's active key, bound to `place`."""
    key_id = keystore.active_id
    nonce = os.urandom(_NONCE_BYTES)
    sealed = AESGCM(keystore.material(key_id)).encrypt(
        nonce, json.dumps(plaintext).encode("utf-8"), _associated_data(key_id, PURPOSE, place)
    )
    return {
        CRYPTO_KEY: {
            "type": TYPE,
            "value": {
                "cipher": CIPHER,
                "stableId": key_id,
                "iv": _b64(nonce),
                "data": _b64(sealed),
                "keySize": KEY_BYTES,
                "purpose": PURPOSE,
            },
        }
    }


def key_id_of(value: dict[str, Any]) -> str | None:
    """The `stableId` of a `$crypto` object, or None when it has none."""
    inner = value.get(CRYPTO_KEY)
    sealed = inner.get("value") if isinstance(inner, dict) else None
    key_id = sealed.get("stableId") if isinstance(sealed, dict) else None
    return key_id if isinstance(key_id, str) else None


def decrypt(keystore: Keystore, value: dict[str, Any], place: Place) -> str:
    """Open a `$crypto` object found at `place`; SecretError says why it does not open."""
    inner = value.get(CRYPTO_KEY)
    if set(value) != {CRYPTO_KEY} or not isinstance(inner, dict) or inner.get("type") != TYPE:
        raise SecretError(place, f'a $crypto object is {{"$crypto": {{"type": "{TYPE}", ...}}}}')
    sealed = inner.get("value")
    if not isinstance(sealed, dict):
        raise SecretError(place, "$crypto.value must be an object")
    key_id = sealed.get("stableId")
    if not isinstance(key_id, str):
        raise SecretError(place, "$crypto.value.stableId (the key id) is missing")
    if sealed.get("cipher") != CIPHER or sealed.get("keySize") != KEY_BYTES:
        raise SecretError(
            place,
            f"only cipher {CIPHER} with keySize {KEY_BYTES} is supported "
            "(a value encrypted by IDM must be entered again as plain text)",
        )
    purpose = sealed.get("purpose")
    if not isinstance(purpose, str):
        raise SecretError(place, "$crypto.value.purpose is missing")
    try:
        nonce = _unb64(sealed.get("iv"))
        data = _unb64(sealed.get("data"))
    except ValueError:
        raise SecretError(place, "$crypto.value iv and data must be base64") from None
    if len(nonce) != _NONCE_BYTES:
        raise SecretError(place, f"$crypto.value.iv must be {_NONCE_BYTES} bytes")
    try:
        material = keystore.material(key_id)
    except KeyError:
        raise SecretError(
            place,
            f"encrypted with key {key_id!r}, which is not in the keystore "
            f"{keystore.path} (is the right keystore mounted?)",
        ) from None
    try:
        plain = AESGCM(material).decrypt(nonce, data, _associated_data(key_id, purpose, place))
    except InvalidTag:
        raise SecretError(
            place,
            f"does not decrypt with key {key_id!r}: the value was altered, moved "
            "from another property or file, or encrypted with another key of that id",
        ) from None
    text = json.loads(plain)
    if not isinstance(text, str):
        raise SecretError(place, "the encrypted value is not a string")
    return text


def _associated_data(key_id: str, purpose: str, place: Place) -> bytes:
    # NUL-separated: none of the parts can contain NUL (file names and JSON paths cannot), so
    # no two different places produce the same bytes.
    parts = (_AAD_LABEL, CIPHER, key_id, purpose, place.file, place.path)
    return b"\0".join(p if isinstance(p, bytes) else p.encode("utf-8") for p in parts)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: object) -> bytes:
    if not isinstance(text, str):
        raise ValueError("not base64")
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error:
        raise ValueError("not base64") from None
