"""What one client may make the proxy hold: connections in total and per identity, the size
of one protocol message, the time to authenticate. The counts are per proxy process; the
refusals are FATAL ErrorResponses that name the limit and the setting that raises it."""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
from collections import Counter

from proctor import pgwire
from proctor.pgwire import MessageTooLarge

TOO_MANY_CONNECTIONS = "53300"
PROGRAM_LIMIT_EXCEEDED = "54000"
QUERY_CANCELED = "57014"
INSUFFICIENT_RESOURCES = "53000"  # what Postgres says when authentication takes too long
LARGE_MESSAGE = 1 << 20  # after a message this big, free memory goes back to the system


class ConnectionLimits:
    """Counts open client connections, and sessions per identity, against their caps."""

    def __init__(self, total: int, per_identity: int) -> None:
        self.total = total
        self.per_identity = per_identity
        self.open = 0
        self.by_identity: Counter[str] = Counter()

    def admit(self) -> bool:
        """A connection was accepted: False (and not counted) when the proxy is full."""
        if self.open >= self.total:
            return False
        self.open += 1
        return True

    def release(self) -> None:
        self.open -= 1

    def admit_identity(self, name: str) -> bool:
        if self.by_identity[name] >= self.per_identity:
            return False
        self.by_identity[name] += 1
        return True

    def release_identity(self, name: str) -> None:
        self.by_identity[name] -= 1
        if self.by_identity[name] <= 0:
            del self.by_identity[name]


def too_many_connections(limit: int) -> bytes:
    return pgwire.error_response(
        f"sorry, too many clients already: this Proctor gateway process accepts at most "
        f"{limit} connections",
        code=TOO_MANY_CONNECTIONS,
        severity="FATAL",
        hint="Close idle connections or retry later; the operator can raise "
        "PROCTOR_PG_MAX_CONNECTIONS.",
    )


def too_many_for_identity(name: str, limit: int) -> bytes:
    return pgwire.error_response(
        f'too many connections for identity "{name}": at most {limit} at once',
        code=TOO_MANY_CONNECTIONS,
        severity="FATAL",
        hint="Close idle connections (or use fewer in your pool); the operator can raise "
        "PROCTOR_PG_MAX_CONNECTIONS_PER_IDENTITY.",
    )


def message_too_large(exc: MessageTooLarge) -> bytes:
    return pgwire.error_response(
        f"message too large: a {exc.kind.decode(errors='replace')!r} message of {exc.length} "
        f"bytes exceeds Proctor's limit of {exc.limit} bytes per protocol message; the "
        "connection is closed and nothing of it was run",
        code=PROGRAM_LIMIT_EXCEEDED,
        severity="FATAL",
        hint="Send smaller statements or parameter values; the operator can raise "
        "PROCTOR_PG_MAX_MESSAGE.",
    )


def authentication_timeout(seconds: float) -> bytes:
    return pgwire.error_response(
        f"canceling authentication due to timeout: Proctor allows {seconds:g} s to start up "
        "and authenticate",
        code=QUERY_CANCELED,
        severity="FATAL",
        hint="The operator can change PROCTOR_PG_AUTH_TIMEOUT.",
    )


def outbox_full(pending: int, waited: float) -> bytes:
    return pgwire.error_response(
        f"Proctor cannot record this statement: the event stream (NATS JetStream) has not "
        f"taken this gateway's events for a while and its outbox is full ({pending} bytes "
        f"waiting); waited {waited:g} s. Nothing was run.",
        code=INSUFFICIENT_RESOURCES,
        hint="Retry in a moment; the operator should check the NATS server. The limit is "
        "PROCTOR_OUTBOX_MAX_BYTES.",
    )


def _malloc_trim() -> None:
    if sys.platform != "linux":
        return
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None)
        libc.malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        return


def release_memory() -> None:
    """Give the heap's free pages back to the system after a large message: CPython frees a
    large buffer, but glibc may keep the pages (its mmap threshold grows with each one)."""
    _malloc_trim()
