"""Several ingress-proxy processes on one port: the first process starts the others (each a
plain `proctor-ingress` with one worker), restarts any that die, and stops them when it stops;
a worker whose starting process dies (even by SIGKILL) stops too.
The kernel spreads new connections over every process listening with SO_REUSEPORT.

A CancelRequest arrives on a connection of its own, which may land on any process (or any
replica); a process that does not hold the key passes it on over NATS, where the one that does
acts on it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import struct
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from nats.aio.client import Client as NATS
from nats.aio.subscription import Subscription

from proctor import subjects
from proctor.children import die_with_parent, watch_parent

log = logging.getLogger("proctor.ingress")

CANCEL_SUBJECT = subjects.INGRESS_CANCEL
WORKER_ENV = "PROCTOR_INGRESS_WORKER"
RESTART_DELAY = 1.0
_KEY = struct.Struct("!ii")


def is_worker() -> bool:
    """True in a process started by another proctor-ingress process."""
    return bool(os.environ.get(WORKER_ENV))


async def _keep_running(number: int, stop: asyncio.Event) -> None:
    env = {**os.environ, WORKER_ENV: str(number), "PROCTOR_INGRESS_WORKERS": "1"}
    while not stop.is_set():
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "proctor_ingress", env=env, stdin=asyncio.subprocess.DEVNULL,
            preexec_fn=die_with_parent(),
        )  # fmt: skip
        waiting = asyncio.create_task(proc.wait())
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait((waiting, stopping), return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if not waiting.done():
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
            try:
                await asyncio.wait_for(waiting, 10)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await waiting
            return
        log.warning("ingress worker %d exited with %s; restarting it", number, proc.returncode)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), RESTART_DELAY)


async def with_workers(
    count: int, serve: Callable[[asyncio.Event], Coroutine[Any, Any, None]], stop: asyncio.Event
) -> None:
    """Run `serve` here and in `count - 1` more processes until `stop`. A worker stops when
    the process that started it is gone (the kernel tells it on Linux; it also looks)."""
    keepers = [asyncio.create_task(_keep_running(n, stop)) for n in range(1, count)]
    if is_worker():
        keepers.append(asyncio.create_task(watch_parent(stop)))
    try:
        await serve(stop)
    finally:
        stop.set()
        await asyncio.gather(*keepers, return_exceptions=True)


def cancel_message(pid: int, key: int) -> bytes:
    return _KEY.pack(pid, key)


async def serve_cancels(
    nc: NATS, cancel: Callable[[int, int], Coroutine[Any, Any, bool]]
) -> Subscription:
    """Act on CancelRequests that other processes received for sessions held here."""

    async def handle(msg: Any) -> None:
        if len(msg.data) == _KEY.size:
            await cancel(*_KEY.unpack(msg.data))

    return await nc.subscribe(CANCEL_SUBJECT, cb=handle)
