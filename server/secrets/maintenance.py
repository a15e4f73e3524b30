"""Whole-directory secret upkeep: verify that every `$crypto` value opens, rotate them all.

Rotation follows Vault transit's `rewrap` (docs/hardening.md §B3): each value is opened with
whichever key sealed it and sealed again under the active key, file by file, each file replaced
crash-safely under its directory lock. A rotation killed half-way leaves some files under the
old key and some under the new; both keys are still in the keystore, so everything still opens,
and running `rotate` again finishes the job. Only once no value names a key may it be retired.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from server.atomicfile import locked, write_atomic
from server.secrets.envelope import Place, SecretError, decrypt, encrypt, is_crypto, key_id_of
from server.secrets.jsonedit import json_path, replace_value
from server.secrets.keystore import Keystore

__all__ = ["SecretReport", "crypto_values", "rotate", "unused_keys", "verify"]


@dataclass(frozen=True, slots=True)
class SecretReport:
    """One `$crypto` value: where it is, which key sealed it, and what went wrong if anything."""

    file: Path
    path: str
    key_id: str | None
    error: str | None = None

    def __str__(self) -> str:
        status = f"FAILED: {self.error}" if self.error else "ok"
        return f"{self.file}: {self.path} (key {self.key_id}): {status}"


def crypto_values(
    document: Any, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], dict[str, Any]]]:
    """Yield (path, value) of every `$crypto` object reachable through objects."""
    if is_crypto(document):
        yield path, document
    elif isinstance(document, dict):
        for key, value in document.items():
            yield from crypto_values(value, (*path, key))


def verify(files: list[Path], keystore: Keystore) -> list[SecretReport]:
    """Try to open every `$crypto` value of `files`; one report per value."""
    reports: list[SecretReport] = []
    for file in files:
        try:
            document = json.loads(file.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as error:
            reports.append(SecretReport(file, "$", None, f"not JSON ({error.__class__.__name__})"))
            continue
        for path, value in crypto_values(document):
            where = json_path(path)
            try:
                decrypt(keystore, value, Place(file.name, where))
                reports.append(SecretReport(file, where, key_id_of(value)))
            except SecretError as error:
                reports.append(SecretReport(file, where, key_id_of(value), error.reason))
    return reports


def rotate(files: list[Path], keystore: Keystore) -> list[SecretReport]:
    """Re-seal under the active key every value sealed under another; report each value moved.

    A file with a value that does not open is left untouched, and its failures reported.
    """
    reports: list[SecretReport] = []
    for file in files:
        with locked(file):
            reports.extend(_rotate_file(file, keystore))
    return reports


def unused_keys(files: list[Path], keystore: Keystore) -> list[str]:
    """Key ids of the keystore that no `$crypto` value of `files` names (never the active one)."""
    used = {
        key_id_of(value)
        for file in files
        for _, value in crypto_values(json.loads(file.read_text(encoding="utf-8")))
    }
    return [k for k in keystore.key_ids if k not in used and k != keystore.active_id]


def _rotate_file(file: Path, keystore: Keystore) -> list[SecretReport]:
    text = file.read_text(encoding="utf-8")
    stale = [
        (path, value)
        for path, value in crypto_values(json.loads(text))
        if key_id_of(value) != keystore.active_id
    ]
    moved: list[SecretReport] = []
    failed: list[SecretReport] = []
    for path, value in stale:
        where = json_path(path)
        place = Place(file.name, where)
        try:
            plain = decrypt(keystore, value, place)
        except SecretError as error:
            failed.append(SecretReport(file, where, key_id_of(value), error.reason))
            continue
        text = replace_value(text, path, encrypt(keystore, plain, place))
        moved.append(SecretReport(file, where, keystore.active_id))
    if failed:
        return failed
    if moved:
        write_atomic(file, text.encode("utf-8"))
    return moved
