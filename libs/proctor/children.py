"""Child processes that must not outlive their parent, and when to restart one that died.

A supervised child asks the kernel for a signal when its parent dies (Linux's
PR_SET_PDEATHSIG), so a parent killed with SIGKILL leaves nothing behind; a child that cannot
rely on that (another platform) also watches its parent's pid. Restarts wait longer after each
crash in a row, and a child that ran healthily for a while starts again from the first delay.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass

PR_SET_PDEATHSIG = 1
HEALTHY_AFTER = 30.0  # seconds a child must run before its crash count starts again
FIRST_DELAY = 1.0
MAX_DELAY = 30.0


def die_with_parent(sig: int = signal.SIGTERM) -> Callable[[], None]:
    """A `preexec_fn` for Popen: the child receives `sig` when the process that started it dies.

    The kernel sends it when the starting *thread* ends, so start children from a thread that
    lives as long as the process (the main thread)."""

    def preexec() -> None:
        if sys.platform == "linux":
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, sig)

    return preexec


async def watch_parent(stop: asyncio.Event, interval: float = 1.0) -> None:
    """Set `stop` when the process that started this one is gone (it is then re-parented)."""
    parent = os.getppid()
    while not stop.is_set():
        if os.getppid() != parent:
            stop.set()
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)


@dataclass
class RestartPolicy:
    """Back-off for one child: 1 s, 2 s, 4 s … up to 30 s between crashes in a row; a run that
    lasted `healthy_after` seconds resets it."""

    first: float = FIRST_DELAY
    cap: float = MAX_DELAY
    healthy_after: float = HEALTHY_AFTER
    crashes: int = 0
    started_at: float = 0.0

    def started(self, now: float) -> None:
        self.started_at = now

    def exited(self, now: float) -> float:
        """The delay before the next start of a child that exited at `now`."""
        if now - self.started_at >= self.healthy_after:
            self.crashes = 0
        delay = min(self.first * 2.0**self.crashes, self.cap)
        self.crashes += 1
        return delay


def kill_group(pid: int, sig: int = signal.SIGTERM) -> bool:
    """Signal the process group led by `pid` (a child started in a session of its own, and
    whatever it started); False if nothing was left in it."""
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True
