"""Crash-safe file replacement: a process killed at any system call leaves old or new, whole."""

from __future__ import annotations

import fcntl
import os
import stat
from pathlib import Path

import pytest

from server.atomicfile import locked, write_atomic
from tests.server.crash import run_killed_at


def test_killed_at_every_step_leaves_old_or_new(tmp_path: Path) -> None:
    path = tmp_path / "provisioner.openicf-hubspot.json"
    old, new = b'{"old": true}\n' * 50, b'{"new": true}\n' * 400
    path.write_bytes(old)
    path.chmod(0o640)
    outcomes: list[bytes] = []
    step = 1
    while run_killed_at(step, lambda: write_atomic(path, new)):
        content = path.read_bytes()
        assert content in (old, new), f"torn file after a kill at step {step}"
        assert stat.S_IMODE(path.stat().st_mode) == 0o640
        outcomes.append(content)
        path.write_bytes(old)
        step += 1
    assert path.read_bytes() == new
    # The kills fell both before and after the rename: the test did exercise both outcomes.
    assert old in outcomes
    assert new in outcomes
    assert step > 6


def test_new_file_mode(tmp_path: Path) -> None:
    write_atomic(tmp_path / "secret", b"x", mode=0o600)
    assert stat.S_IMODE((tmp_path / "secret").stat().st_mode) == 0o600
    previous = os.umask(0o027)
    try:
        write_atomic(tmp_path / "plain", b"x")
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "plain").stat().st_mode) == 0o640


def test_existing_mode_wins_over_mode_argument(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"old")
    path.chmod(0o604)
    write_atomic(path, b"new", mode=0o600)
    assert stat.S_IMODE(path.stat().st_mode) == 0o604
    assert path.read_bytes() == b"new"


def test_symlink_is_followed_and_kept(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    real = tmp_path / "data" / "keystore.json"
    real.write_bytes(b"old")
    link = tmp_path / "keystore.json"
    link.symlink_to(real)
    write_atomic(link, b"new")
    assert link.is_symlink()
    assert real.read_bytes() == b"new"


def test_failure_cleans_up_and_keeps_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"old")

    def broken_fsync(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="Input/output"):
        write_atomic(path, b"new")
    monkeypatch.undo()
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["f"]


def test_locked_excludes_other_holders(tmp_path: Path) -> None:
    path = tmp_path / "f"
    other = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        # flock conflicts between open file descriptions, even within one process.
        with locked(path), pytest.raises(BlockingIOError):
            fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        os.close(other)
