"""Kill a forked child at its k-th file-system call, to test crash safety at every step."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from typing import Any

# The system calls the crash-safe writers make (server.atomicfile, the keystore's directory, the
# directory lock's open); the child is killed at the k-th of them, for every k.
INTERCEPTED = ("open", "mkdir", "chmod", "fchmod", "fchown", "write", "fsync", "close", "replace")


def run_killed_at(step: int, action: Callable[[], object]) -> bool:
    """Run `action` in a forked child that SIGKILLs itself at its `step`-th intercepted call.

    A write at the fatal step first writes half its buffer, so a torn write is covered too.
    Returns True if the child was killed, False if `action` finished before reaching `step`.
    """
    pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        status = 1
        try:
            count = 0

            def intercept(name: str, real: Callable[..., Any]) -> Callable[..., Any]:
                def call(*args: Any, **kwargs: Any) -> Any:
                    nonlocal count
                    count += 1
                    if count == step:
                        if name == "write":
                            real(args[0], bytes(args[1])[: len(args[1]) // 2])
                        os.kill(os.getpid(), signal.SIGKILL)
                    return real(*args, **kwargs)

                return call

            for name in INTERCEPTED:
                setattr(os, name, intercept(name, getattr(os, name)))
            action()
            status = 0
        finally:
            os._exit(status)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        assert os.WTERMSIG(status) == signal.SIGKILL
        return True
    assert os.WEXITSTATUS(status) == 0, "the child failed before reaching the kill point"
    return False
