"""Crash-safe replacement of a configuration file, and a lock for read-modify-write.

The server rewrites files an operator wrote (a plain-text secret it has just encrypted, a refresh
token HubSpot rotated, a new key hash): losing one of them to a crash half-way would lose a
credential. So a file is never written in place. The new content goes to a temporary file in the
same directory, is flushed to disk (fsync), and takes the old name with one rename(2), which
POSIX makes atomic; then the directory is flushed too, so the rename itself survives a power
loss. A process killed at any instant leaves the old file or the new one, never a torn or empty
one; at worst a hidden `.<name>.<random>.tmp` stays behind.

Everything goes through `os` calls (no buffered file objects), so the steps are the system calls
themselves; the crash test kills a child process at each of them.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

__all__ = ["locked", "write_atomic"]


def write_atomic(path: Path, data: bytes, *, mode: int | None = None) -> None:
    """Replace the contents of `path` with `data`, crash-safely.

    An existing file keeps its permission bits (and its owner, when we may set it); a new one
    gets `mode`, or 0o666 less the umask when `mode` is None. A symlink is followed, so the file
    it points to is replaced and the link stays (a Kubernetes secret mount is a symlink chain).
    """
    target = Path(os.path.realpath(path))
    directory = target.parent
    try:
        existing: os.stat_result | None = os.stat(target)
    except FileNotFoundError:
        existing = None
    temporary = directory / f".{target.name}.{secrets.token_hex(6)}.tmp"
    # O_EXCL: never follow or reuse a file someone else placed under our temporary name. Created
    # 0o600 and widened afterwards, so the bytes are never readable by more than the final mode
    # allows; with neither an old file nor `mode`, 0o666 and the umask decide, as for open(2).
    create_mode = 0o666 if existing is None and mode is None else 0o600
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, create_mode)
    try:
        try:
            if existing is not None:
                os.fchmod(fd, stat.S_IMODE(existing.st_mode))
                if (existing.st_uid, existing.st_gid) != (os.geteuid(), os.getegid()):
                    with contextlib.suppress(PermissionError):
                        os.fchown(fd, existing.st_uid, existing.st_gid)
            elif mode is not None:
                os.fchmod(fd, mode)
            _write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    _fsync_directory(directory)


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on the directory of `path` for a read-modify-write of the file.

    The lock is flock(2) on the directory, not on the file: the file's inode changes at every
    rename, and a lock file would be litter in `conf/`. flock serializes processes (the daemon
    persisting a refresh token while an operator runs `hubspot-rcs secrets rotate`); threads of
    this process queue on a re-entrant lock first, so one thread may lock a directory it already
    holds (two flocks from one process on two descriptors would deadlock). Blocking: call it
    from a worker thread in async code.
    """
    directory = os.path.dirname(os.path.realpath(path))
    with _registry_guard:
        lock = _registry.setdefault(directory, _DirectoryLock())
    with lock.thread_lock:
        if lock.depth == 0:
            fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
            except BaseException:
                os.close(fd)
                raise
            lock.fd = fd
        lock.depth += 1
        try:
            yield
        finally:
            lock.depth -= 1
            if lock.depth == 0:
                os.close(lock.fd)  # closing the descriptor releases the flock
                lock.fd = -1


class _DirectoryLock:
    def __init__(self) -> None:
        self.thread_lock = threading.RLock()
        self.depth = 0
        self.fd = -1


_registry: dict[str, _DirectoryLock] = {}
_registry_guard = threading.Lock()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
