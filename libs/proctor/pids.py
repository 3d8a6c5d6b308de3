"""Whether a process still runs: for `proctor up` and `down`, its stack file, and its servers."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def process_running(pid: object) -> bool:
    """True while `pid` is a live process (an exited one not yet reaped counts as gone)."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, owned by another user
    with contextlib.suppress(OSError):
        return "State:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    return True
