"""Crash safety of secrets at rest: a process killed at any file-system call loses nothing.

Each test forks a child that runs the real operation and SIGKILLs itself at its k-th
file-system call, for k = 1, 2, ... until the operation finishes; after every kill the parent
checks that the configuration still loads with the right values. Forking (not a new
interpreter) keeps each round to milliseconds.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from protocol.values import GuardedString
from server.conf import load_conf
from server.secrets import maintenance
from server.secrets.envelope import key_id_of
from server.secrets.keystore import Keystore
from tests.server.conf_samples import (
    SAMPLE_ENV,
    SEED_PROPERTIES,
    confidential,
    copy_conf,
    write_seed_provisioner,
)
from tests.server.crash import run_killed_at


def assert_seed_loads(conf_dir: Path, *names: str) -> None:
    loaded = load_conf(conf_dir, SAMPLE_ENV, confidential=confidential)
    for name in names:
        props = loaded.configurations[name].configurationProperties
        assert props["clientSecret"] == GuardedString(SEED_PROPERTIES["clientSecret"])
        assert props["refreshToken"] == GuardedString(SEED_PROPERTIES["refreshToken"])


def test_encrypt_on_load_killed_at_every_step(tmp_path: Path) -> None:
    conf_dir = copy_conf(tmp_path)
    path = write_seed_provisioner(conf_dir)
    original = path.read_bytes()
    keys = conf_dir / "keys"
    outcomes = set()
    step = 1
    while run_killed_at(step, lambda: load_conf(conf_dir, SAMPLE_ENV, confidential=confidential)):
        text = path.read_bytes()
        outcomes.add("plain" if text == original else "encrypted")
        if text != original:  # whole and encrypted, never torn
            stored = json.loads(text)["configurationProperties"]
            assert key_id_of(stored["clientSecret"]) is not None
        assert_seed_loads(conf_dir, "seed")  # the next start copes, whatever was left
        path.write_bytes(original)
        shutil.rmtree(keys, ignore_errors=True)
        step += 1
    assert outcomes == {"plain", "encrypted"}
    assert step > 10
    assert_seed_loads(conf_dir, "seed")


def test_rotation_killed_at_every_step(tmp_path: Path) -> None:
    conf_dir = copy_conf(tmp_path)
    files = [write_seed_provisioner(conf_dir, name) for name in ("one", "two")]
    load_conf(conf_dir, SAMPLE_ENV, confidential=confidential)
    keystore = Keystore.load(conf_dir / "keys" / "keystore.json")
    old_id = keystore.active_id
    keystore, new_id = keystore.with_new_key(activate=True)
    before = [f.read_bytes() for f in files]
    seen: set[tuple[str | None, ...]] = set()
    step = 1
    while run_killed_at(step, lambda: maintenance.rotate(files, keystore)):
        key_ids = tuple(
            key_id_of(json.loads(f.read_text(encoding="utf-8"))["configurationProperties"][p])
            for f in files
            for p in ("clientSecret", "refreshToken")
        )
        seen.add(key_ids)
        assert all(r.error is None for r in maintenance.verify(files, keystore))
        assert_seed_loads(conf_dir, "one", "two")
        for f, content in zip(files, before, strict=True):
            f.write_bytes(content)
        step += 1
    # Killed before, between and after the two files: old, half-rotated, and rotated states.
    assert (old_id,) * 4 in seen
    assert (new_id, new_id, old_id, old_id) in seen
    # The last child finished: everything is under the new key, and rotating again is a no-op.
    assert {r.key_id for r in maintenance.verify(files, keystore)} == {new_id}
    assert maintenance.rotate(files, keystore) == []
    assert maintenance.unused_keys(files, keystore) == [old_id]
    assert_seed_loads(conf_dir, "one", "two")


def test_adding_a_key_killed_at_every_step(tmp_path: Path) -> None:
    keystore, _ = Keystore.open(tmp_path / "keys" / "keystore.json")
    original = keystore.path.read_bytes()
    step = 1
    while run_killed_at(step, lambda: keystore.with_new_key(activate=True)):
        reread = Keystore.load(keystore.path)  # whole, private, and old or new
        assert reread.key_ids[0] == keystore.active_id
        assert len(reread.key_ids) in (1, 2)
        keystore.path.write_bytes(original)
        step += 1
    assert len(Keystore.load(keystore.path).key_ids) == 2
