"""The keystore: the AES-256 keys that encrypt configuration secrets, each with an id.

One JSON file (default `conf/keys/keystore.json`, or `$RCS_KEYSTORE`, so that a container can
mount it as a secret file apart from the configuration it protects):

    {"version": 1, "active": "20261128-3f9a1c",
     "keys": {"20261128-3f9a1c": {"created": "2026-11-28T18:55:00Z", "material": "<base64>"}}}

The active key encrypts; every listed key decrypts: Kubernetes' provider-list rule, and Vault
transit's versioned keys with `rewrap` (docs/hardening.md §B3). A value names the key that
encrypted it (`stableId`), so rotation is: add a key, activate it, re-encrypt, retire the old one.

The file is created on first use (directory 0700, file 0600) and refused when group or others
may access it, or another user owns it, as ssh refuses a readable private key (OWASP
Cryptographic Storage Cheat Sheet: "Protect the configuration files containing the keys with
restrictive permissions").
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import secrets
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeAlias

from server.atomicfile import locked, write_atomic

__all__ = ["KEY_BYTES", "Keystore", "KeystoreError", "check_private"]

KEY_BYTES = 32
"""AES-256 (OWASP: "ideally 256 bits")."""
_VERSION = 1
_KEY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


class KeystoreError(Exception):
    """The keystore is missing a key, malformed, or too widely readable. Names the file."""


@dataclass(frozen=True, slots=True)
class _Key:
    created: str
    material: bytes = field(repr=False)


@dataclass(frozen=True)
class Keystore:
    """The keys read from one keystore file; immutable, so a reload swaps it whole."""

    path: Path
    active_id: str
    _keys: Mapping[str, _Key] = field(repr=False)

    @property
    def key_ids(self) -> tuple[str, ...]:
        """Every key id, the active one included, in the file's order."""
        return tuple(self._keys)

    def material(self, key_id: str) -> bytes:
        """The key bytes of `key_id`; KeyError if the keystore has no such key."""
        return self._keys[key_id].material

    @classmethod
    def open(cls, path: Path, *, create: bool = True) -> tuple[Keystore, bool]:
        """Read the keystore at `path`, creating it with one fresh key if it is absent.

        Returns the keystore and whether it was created just now (a missing keystore while
        encrypted values exist usually means a secret file was not mounted: callers say so).
        """
        if not path.exists() and create:
            try:
                with locked(_ensure_private_directory(path)):
                    if not path.exists():
                        key_id, key = _new_key()
                        _write(path, key_id, {key_id: key})
                        return cls(path, key_id, MappingProxyType({key_id: key})), True
            except OSError as error:
                raise KeystoreError(
                    f"{path}: cannot create the keystore: {error.strerror or error}"
                ) from None
        return cls.load(path), False

    @classmethod
    def load(cls, path: Path) -> Keystore:
        """Read and check an existing keystore."""
        try:
            check_private(path)
            document = json.loads(path.read_bytes())
        except FileNotFoundError:
            raise KeystoreError(f"{path}: keystore not found") from None
        except OSError as error:
            raise KeystoreError(f"{path}: cannot read: {error.strerror or error}") from None
        except (ValueError, UnicodeDecodeError) as error:
            raise KeystoreError(
                f"{path}: not a JSON keystore ({error.__class__.__name__})"
            ) from None
        return cls(path, *_parse(path, document))

    def with_new_key(self, *, activate: bool) -> tuple[Keystore, str]:
        """Add a fresh key, write the file crash-safely, and return the new keystore and key id."""
        with locked(self.path):
            current = Keystore.load(self.path)  # another process may have added a key meanwhile
            key_id, key = _new_key()
            while key_id in current._keys:
                key_id, key = _new_key()
            keys = {**current._keys, key_id: key}
            active = key_id if activate else current.active_id
            _write(self.path, active, keys)
        return Keystore(self.path, active, MappingProxyType(keys)), key_id

    def with_active(self, key_id: str) -> Keystore:
        """Make an existing key the active one."""
        return self._update(key_id, lambda keys, active: (keys, key_id))

    def without_key(self, key_id: str) -> Keystore:
        """Retire a key (not the active one): values under it no longer decrypt."""
        if key_id == self.active_id:
            raise KeystoreError(f"{self.path}: key {key_id!r} is active; activate another first")
        return self._update(
            key_id, lambda keys, active: ({k: v for k, v in keys.items() if k != key_id}, active)
        )

    def _update(self, key_id: str, change: _Change) -> Keystore:
        with locked(self.path):
            current = Keystore.load(self.path)
            if key_id not in current._keys:
                raise KeystoreError(f"{self.path}: no key {key_id!r}")
            keys, active = change(dict(current._keys), current.active_id)
            _write(self.path, active, keys)
        return Keystore(self.path, active, MappingProxyType(keys))


_Change: TypeAlias = Callable[[dict[str, _Key], str], tuple[dict[str, _Key], str]]


def check_private(path: Path) -> None:
    """Refuse a key file that group or others may access, or that another user owns."""
    info = os.stat(path)
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        raise KeystoreError(
            f"{path}: mode {mode:04o} lets other users at the keys; run `chmod 600 {path}`"
        )
    if info.st_uid not in (os.geteuid(), 0):
        raise KeystoreError(f"{path}: owned by uid {info.st_uid}, not by this user or root")


def _parse(path: Path, document: Any) -> tuple[str, Mapping[str, _Key]]:
    if not isinstance(document, dict) or document.get("version") != _VERSION:
        raise KeystoreError(f"{path}: not a version {_VERSION} keystore")
    entries = document.get("keys")
    active = document.get("active")
    if not isinstance(entries, dict) or not entries:
        raise KeystoreError(f"{path}: $.keys: must be a non-empty object")
    keys: dict[str, _Key] = {}
    for key_id, entry in entries.items():
        where = f"{path}: $.keys.{key_id}"
        if not _KEY_ID.fullmatch(key_id):
            raise KeystoreError(f"{where}: a key id is 1-64 letters, digits, '.', '_' or '-'")
        material = entry.get("material") if isinstance(entry, dict) else None
        try:
            raw = base64.b64decode(material, validate=True) if isinstance(material, str) else b""
        except (binascii.Error, ValueError):
            raw = b""
        if len(raw) != KEY_BYTES:
            raise KeystoreError(f"{where}.material: must be {KEY_BYTES} bytes in base64")
        keys[key_id] = _Key(str(entry.get("created", "")), raw)
    if not isinstance(active, str) or active not in keys:
        raise KeystoreError(f"{path}: $.active: must name one of the keys")
    return active, MappingProxyType(keys)


def _new_key() -> tuple[str, _Key]:
    now = datetime.now(UTC)
    key_id = f"{now:%Y%m%d}-{secrets.token_hex(3)}"
    return key_id, _Key(now.strftime("%Y-%m-%dT%H:%M:%SZ"), secrets.token_bytes(KEY_BYTES))


def _write(path: Path, active: str, keys: Mapping[str, _Key]) -> None:
    document = {
        "version": _VERSION,
        "active": active,
        "keys": {
            key_id: {
                "created": key.created,
                "material": base64.b64encode(key.material).decode("ascii"),
            }
            for key_id, key in keys.items()
        },
    }
    write_atomic(path, (json.dumps(document, indent=2) + "\n").encode("ascii"), mode=0o600)


def _ensure_private_directory(path: Path) -> Path:
    directory = path.parent
    if not directory.exists():
        directory.mkdir(mode=0o700, parents=True)
        directory.chmod(0o700)  # mkdir's mode is subject to the umask
    return path
