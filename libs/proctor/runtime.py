"""The entry point every Proctor service shares: load settings, set up logging, run, and turn a
ProctorError into a message (its type and text) and exit status 1."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from proctor.errors import ProctorError
from proctor.faults import describe
from proctor.settings import Settings, load_settings
from proctor.telemetry import setup_logging


def run_service(
    prog: str,
    entry: Callable[[Settings], Coroutine[Any, Any, None]],
    *,
    fast_loop: bool = False,
) -> int:
    """Run a service's async entry with its settings; exit 1 with the message on ProctorError.

    `fast_loop` installs uvloop when it is available (the proxy's hot path wants it).
    """
    try:
        settings = load_settings()
        setup_logging(settings.log_level)
        if fast_loop:
            with contextlib.suppress(ImportError):
                import uvloop

                uvloop.install()
        asyncio.run(entry(settings))
    except (ProctorError, OSError) as exc:  # OSError: e.g. a listen address already in use
        # A ProctorError's text is written for the operator; anything else gets its type too
        # (a bare TimeoutError has no text at all).
        text = str(exc) if isinstance(exc, ProctorError) and str(exc) else describe(exc)
        print(f"{prog}: {text}", file=sys.stderr)
        return 1
    return 0
