"""The pure core of the Postgres path: which command each backend response belongs to.

The proxy forwards Query and Execute messages in order and the backend answers in the same
order, so a FIFO of what was forwarded tells which command a CommandComplete, ErrorResponse or
ReadyForQuery completes. No I/O here: the session feeds it and publishes what it returns.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

from proctor import pgwire


@dataclass(slots=True)
class Command:
    """One command as the agent sent it, once classified."""

    command_id: str
    text: str
    refused: bool = False  # blocked or denied: it never ran, so it is never "executed"
    reviewed: bool = False  # it needs a human's approval for each execution (at its Bind)
    parameter_types: tuple[int, ...] = ()  # type oids of $1, $2, ... (to show their values)
    changes_catalog: bool = False  # DDL and the like: catalog facts are stale once it ran


@dataclass(slots=True)
class _Pending:
    kind: str  # "Q" simple query, "X" execute, "S" sync
    command: Command | None
    started: float = field(default_factory=time.perf_counter)
    rows: int = 0
    data_rows: int = 0
    error_code: str = ""
    error_message: str = ""


@dataclass(frozen=True, slots=True)
class Completed:
    """A command the target finished (or failed)."""

    command: Command
    rows: int
    duration_us: int
    error_code: str
    error_message: str


class CommandTracker:
    """Follows forwarded commands to their completion."""

    __slots__ = ("_pending", "status")

    def __init__(self) -> None:
        self._pending: deque[_Pending] = deque()
        self.status = b"I"  # the last ReadyForQuery transaction status

    def __len__(self) -> int:
        return len(self._pending)

    def query(self, command: Command | None) -> None:
        self._pending.append(_Pending("Q", command))

    def execute(self, command: Command | None) -> None:
        self._pending.append(_Pending("X", command))

    def sync(self) -> None:
        self._pending.append(_Pending("S", None))

    def current(self) -> Command | None:
        """The command whose answer the backend is sending."""
        head = self._pending[0] if self._pending else None
        return head.command if head is not None and head.kind in ("Q", "X") else None

    def add_rows(self, n: int) -> None:
        """DataRows seen for the command at the head (counted by the caller, in bulk)."""
        if self._pending:
            self._pending[0].data_rows += n

    def backend(self, kind: bytes, body: bytes) -> list[Completed]:
        """Account for one backend message; returns the commands it completed."""
        done: list[Completed] = []
        head = self._pending[0] if self._pending else None
        if head is None:
            return done
        if kind == b"C":
            rows = pgwire.command_tag_rows(body)
            if head.kind == "X":
                head.rows = rows
                self._finish(done)
            elif head.kind == "Q":
                head.rows += rows
        elif kind in (b"I", b"s"):
            if head.kind == "X":
                head.rows = head.data_rows
                self._finish(done)
        elif kind == b"E":
            fields = pgwire.error_fields(body)
            target = head if head.kind in ("Q", "X") else None
            if target is not None and not target.error_code:
                target.error_code = fields.get("C", "XX000")
                target.error_message = fields.get("M", "")
            if head.kind == "X":
                self._finish(done)
        elif kind == b"Z":
            self.status = body[:1] or b"I"
            # Everything up to the Sync (or the Query) this ReadyForQuery answers is over;
            # Executes still pending were skipped by the backend after an error.
            while self._pending:
                p = self._pending[0]
                if p.kind == "S":
                    self._pending.popleft()
                    break
                if p.kind == "Q":
                    self._finish(done)
                    break
                self._pending.popleft()
        return done

    def _finish(self, done: list[Completed]) -> None:
        p = self._pending.popleft()
        if p.command is not None and not p.command.refused:
            done.append(
                Completed(
                    command=p.command,
                    rows=p.rows,
                    duration_us=int((time.perf_counter() - p.started) * 1e6),
                    error_code=p.error_code,
                    error_message=p.error_message,
                )
            )
