"""Riding out transient faults: which errors are worth retrying, back-off between attempts, and
logging an outage once when it starts and once when it ends instead of at every attempt.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import asyncpg
from nats.errors import Error as NatsError

T = TypeVar("T")

# Errors that say the broker or the database is away for now, not that the request was wrong.
_TRANSIENT_DB = (
    OSError,  # includes TimeoutError and ConnectionError
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,  # e.g. the connection was closed under a query
    asyncpg.exceptions.OperatorInterventionError,  # 57xxx: admin shutdown, cannot connect now
    asyncpg.exceptions.InsufficientResourcesError,  # 53xxx: too many connections, disk full
)


def describe(exc: BaseException) -> str:
    """An error as `Type: message`, or its type alone when it has no message (e.g. a timeout)."""
    text = str(exc).strip()
    name = type(exc).__name__
    return f"{name}: {text}" if text else name


def transient_db_error(exc: BaseException) -> bool:
    """True when a database error means "not now" rather than "never" (also when it is the
    cause of an error mapped at the boundary)."""
    return isinstance(exc, _TRANSIENT_DB) or isinstance(exc.__cause__, _TRANSIENT_DB)


def transient_bus_error(exc: BaseException) -> bool:
    """True when a NATS error means the broker did not answer (yet)."""
    return isinstance(exc, (TimeoutError, NatsError, OSError))


class Backoff:
    """Exponential delays with jitter, from `first` up to `cap`; `reset()` after a success."""

    def __init__(self, first: float = 0.1, cap: float = 5.0, factor: float = 2.0) -> None:
        self.first = first
        self.cap = cap
        self.factor = factor
        self._next = first

    def next(self) -> float:
        delay = self._next
        self._next = min(self._next * self.factor, self.cap)
        return delay * random.uniform(0.8, 1.0)

    def reset(self) -> None:
        self._next = self.first


class Outage:
    """The state of one dependency as a service sees it: logged when it changes, not per retry."""

    def __init__(self, what: str, log: logging.Logger) -> None:
        self.what = what
        self.log = log
        self.since: float | None = None
        self.attempts = 0
        self.outages = 0

    @property
    def down(self) -> bool:
        return self.since is not None

    def failed(self, exc: BaseException | str, consequence: str = "retrying") -> None:
        """Record a failed attempt; the first one of an outage is logged."""
        self.attempts += 1
        if self.since is None:
            self.since = time.monotonic()
            self.outages += 1
            reason = exc if isinstance(exc, str) else describe(exc)
            self.log.warning("%s unavailable (%s); %s", self.what, reason, consequence)

    def recovered(self) -> None:
        """Record a success; the first one after an outage is logged."""
        if self.since is not None:
            self.log.warning(
                "%s available again after %.1f s (%d failed attempts)",
                self.what, time.monotonic() - self.since, self.attempts,
            )  # fmt: skip
        self.since = None
        self.attempts = 0


def bus_callbacks(what: str, log: logging.Logger) -> dict[str, Any]:
    """nats-py connection callbacks that log a broker outage when it starts and when it ends.

    nats-py's default error callback logs a traceback at every reconnect attempt (every
    `reconnect_time_wait` while the broker is away); these log the change of state instead.
    """
    outage = Outage(what, log)

    async def error_cb(exc: Exception) -> None:
        if transient_bus_error(exc) or isinstance(exc, (ConnectionError, EOFError)):
            outage.failed(exc, "reconnecting")
        else:
            log.warning("%s reported an error: %s", what, describe(exc))

    async def reconnected_cb() -> None:
        outage.recovered()

    # A disconnection alone is not logged: a deliberate close is one too, and a broker that
    # is really away fails the first reconnect attempt (error_cb).
    return {"error_cb": error_cb, "reconnected_cb": reconnected_cb}


async def retrying(
    what: str,
    attempt: Callable[[], Awaitable[T]],
    *,
    log: logging.Logger,
    transient: Callable[[BaseException], bool],
    backoff: Backoff | None = None,
) -> T:
    """Run `attempt` until it succeeds, sleeping with back-off after each transient failure;
    any other error is raised at once. The outage is logged when it starts and when it ends."""
    outage = Outage(what, log)
    backoff = backoff or Backoff(0.2, 5.0)
    while True:
        try:
            result = await attempt()
        except Exception as exc:
            if not transient(exc):
                raise
            outage.failed(exc)
            await asyncio.sleep(backoff.next())
            continue
        outage.recovered()
        return result
