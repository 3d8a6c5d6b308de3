"""The entry point every Proctor service shares: load settings, set up logging, run, and turn a
ProctorError into a message (its type and text) and exit status 1."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from proctor.errors import ProctorError
from proctor.faults import describe
from proctor.settings import Settings, load_settings
from proctor.telemetry import setup_logging

log = logging.getLogger("proctor.runtime")
# Seconds a stopped service waits for the tasks it left running (a NATS client's reconnect loop
# among them) to end once cancelled.
SETTLE_SECONDS = 3.0


def run_service(
    prog: str,
    entry: Callable[[Settings], Coroutine[Any, Any, None]],
    *,
    fast_loop: bool = False,
) -> int:
    """Run a service's async entry with its settings; exit 1 with the message on ProctorError.

    `fast_loop` installs uvloop when it is available (the proxy's hot path wants it). When the
    entry is done, the tasks it left are cancelled; one that will not end (a NATS client that
    swallows the cancellation and goes on reconnecting to a server that is gone) would keep
    asyncio's shutdown, and so the process, waiting for ever: after SETTLE_SECONDS the process
    exits without it.
    """
    try:
        settings = load_settings()
        setup_logging(settings.log_level)
        if fast_loop:
            with contextlib.suppress(ImportError):
                import uvloop

                uvloop.install()
        asyncio.run(_run(prog, entry, settings))
    except (ProctorError, OSError) as exc:  # OSError: e.g. a listen address already in use
        return _report(prog, exc)
    return 0


def _report(prog: str, exc: BaseException) -> int:
    # A ProctorError's text is written for the operator; anything else gets its type too
    # (a bare TimeoutError has no text at all).
    text = str(exc) if isinstance(exc, ProctorError) and str(exc) else describe(exc)
    print(f"{prog}: {text}", file=sys.stderr)
    return 1


async def _run(
    prog: str, entry: Callable[[Settings], Coroutine[Any, Any, None]], settings: Settings
) -> None:
    try:
        await entry(settings)
    finally:
        left = await _settle(SETTLE_SECONDS)
        if left:
            exc = sys.exc_info()[1]
            log.warning(
                "%d task(s) did not end %.0f s after the stop; exiting", left, SETTLE_SECONDS
            )
            code = 0 if exc is None else _report(prog, exc)
            logging.shutdown()
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)


async def _settle(timeout: float) -> int:
    """Cancel every other task and wait for them up to `timeout`; how many did not end."""
    me = asyncio.current_task()
    rest = [t for t in asyncio.all_tasks() if t is not me and not t.done()]
    for task in rest:
        task.cancel()
    if not rest:
        return 0
    _, pending = await asyncio.wait(rest, timeout=timeout)
    return len(pending)
