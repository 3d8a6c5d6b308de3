"""The audit store adapter: appends stream messages to the hash-chained event store and writes
the projections in the same transaction. Replicas serialise on one advisory lock, so the chain
grows in stream order whichever replica holds a message.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from typing import Any

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from proctor.auditstore import EVENT_COLUMNS
from proctor.errors import UndecodableEvent
from proctor.events import codec
from proctor.events.v1 import events_pb2 as pb
from proctor.hashchain import GENESIS, ChainRow, canonical_json, row_hash
from proctor_audit.projections import (
    ApprovalRow,
    CommandRow,
    Projections,
    SessionRow,
    fold,
)

log = logging.getLogger(__name__)

# One key for the writers of audit.events (any 64-bit number the deployment does not use).
APPEND_LOCK = 0x70726F63746F72  # "proctor"
PROJECTIONS = ("sessions", "commands", "approvals")


@dataclass(frozen=True, slots=True)
class StreamMessage:
    """A message as the consumer received it, free of the NATS client's types."""

    seq: int
    subject: str
    data: bytes
    stored_at: datetime


@dataclass(frozen=True, slots=True)
class AppendResult:
    """What became of each message of a batch."""

    stored: tuple[int, ...] = ()
    undecodable: tuple[int, ...] = ()  # stored, as undecodable rows
    dead_letters: tuple[int, ...] = ()  # stored raw, after failing to store as events
    duplicates: tuple[int, ...] = ()  # already stored before
    waiting: tuple[int, ...] = ()  # an earlier sequence is not stored yet


async def migrate(pool: asyncpg.Pool) -> None:
    """Create the schema if needed (replicas may race: the lock makes it one at a time)."""
    ddl = resources.files("proctor_audit").joinpath("schema.sql").read_text()
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", APPEND_LOCK)
        await conn.execute(ddl)


@dataclass(frozen=True, slots=True)
class PreparedMessage:
    """A message decoded into its store row, before it takes its place in the chain."""

    seq: int
    row: ChainRow
    event: pb.Event | None  # None when undecodable


def prepare(msg: StreamMessage) -> PreparedMessage:
    """Decode a message outside the append lock, so replicas decode in parallel."""
    row, event = chain_row(msg)
    return PreparedMessage(msg.seq, row, event)


DEAD_LETTER = "dead_letter"  # the type of a row stored raw after it failed to store N times


def dead_letter(msg: PreparedMessage, reason: str) -> PreparedMessage:
    """The message as a dead letter: its payload as it came and why it could not be stored,
    nothing decoded (whatever made it fail may be in any decoded field), so the chain moves on."""
    row = msg.row
    return PreparedMessage(
        msg.seq,
        ChainRow(
            seq=row.seq, stored_at=row.stored_at, subject=row.subject.replace("\x00", ""),
            type=DEAD_LETTER, event_id="", session_id="", command_id="", occurred_at=None,
            schema_version=0, payload=row.payload, body=None, error=reason[:2000],
        ),
        None,
    )  # fmt: skip


def chain_row(msg: StreamMessage) -> tuple[ChainRow, pb.Event | None]:
    """The store row of a message, and the decoded event unless it is undecodable."""
    try:
        event = codec.parse(msg.data)
        written_version = event.schema_version
        codec.upcast(event)
    except UndecodableEvent as exc:
        return (
            ChainRow(
                seq=msg.seq, stored_at=msg.stored_at, subject=msg.subject, type="undecodable",
                event_id="", session_id="", command_id="", occurred_at=None, schema_version=0,
                payload=msg.data, body=None, error=str(exc),
            ),
            None,
        )  # fmt: skip
    return (
        ChainRow(
            seq=msg.seq,
            stored_at=msg.stored_at,
            subject=msg.subject,
            type=codec.event_type(event),
            event_id=event.event_id,
            session_id=event.session_id,
            command_id=event.command_id,
            occurred_at=event.occurred_at.ToDatetime(tzinfo=UTC)
            if event.HasField("occurred_at")
            else None,
            schema_version=written_version,
            payload=msg.data,
            body=canonical_json(codec.to_dict(event)),
            error=None,
        ),
        event,
    )


class AuditStore:
    """Appends to audit.events and keeps the projections in step, one transaction per batch."""

    def __init__(self, pool: asyncpg.Pool, first_seq: int = 1) -> None:
        self.pool = pool
        self.first_seq = max(first_seq, 1)

    async def head_seq(self) -> int:
        """The last stream sequence stored, or 0 if the store is empty."""
        seq = await self.pool.fetchval("SELECT max(seq) FROM audit.events")
        return int(seq or 0)

    async def append(self, batch: Sequence[PreparedMessage]) -> AppendResult:
        """Store the messages that continue the chain; report the rest."""
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", APPEND_LOCK)
            head = await conn.fetchrow(
                "SELECT seq, hash FROM audit.events ORDER BY seq DESC LIMIT 1"
            )
            next_seq = head["seq"] + 1 if head else self.first_seq
            prev_hash: bytes = head["hash"] if head else GENESIS

            rows: list[tuple[Any, ...]] = []
            events: list[tuple[int, pb.Event]] = []
            stored, undecodable, dead, duplicates, waiting = [], [], [], [], []
            for msg in sorted(batch, key=lambda m: m.seq):
                if msg.seq < next_seq:
                    duplicates.append(msg.seq)
                    continue
                if msg.seq > next_seq:
                    waiting.append(msg.seq)
                    continue
                digest = row_hash(prev_hash, msg.row)
                rows.append((*_fields(msg.row), prev_hash, digest))
                prev_hash = digest
                next_seq += 1
                if msg.row.type == DEAD_LETTER:
                    dead.append(msg.seq)
                elif msg.event is None:
                    undecodable.append(msg.seq)
                else:
                    stored.append(msg.seq)
                    events.append((msg.seq, msg.event))
            if rows:
                await conn.copy_records_to_table(
                    "events", schema_name="audit", records=rows, columns=EVENT_COLUMNS
                )
                await apply_projections(conn, events, last_seq=next_seq - 1)
        return AppendResult(
            tuple(stored), tuple(undecodable), tuple(dead), tuple(duplicates), tuple(waiting)
        )

    async def rebuild(self, chunk: int = 2000) -> int:
        """Drop the projections and fold them again from sequence 1; returns events folded."""
        folded = 0
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", APPEND_LOCK)
            await conn.execute(
                "TRUNCATE audit.sessions, audit.commands, audit.approvals, audit.checkpoints"
            )
            batch: list[tuple[int, pb.Event]] = []
            last = 0
            async for record in conn.cursor(
                "SELECT seq, payload, type FROM audit.events ORDER BY seq", prefetch=chunk
            ):
                last = record["seq"]
                if record["type"] in ("undecodable", DEAD_LETTER):
                    continue
                batch.append((record["seq"], codec.decode(record["payload"])))
                if len(batch) >= chunk:
                    await apply_projections(conn, batch, last_seq=last)
                    folded += len(batch)
                    batch = []
            await apply_projections(conn, batch, last_seq=last)
            folded += len(batch)
        return folded


def _fields(row: Any) -> tuple[Any, ...]:
    # dataclasses.astuple deep-copies every value; the rows are immutable, so a shallow read does.
    return tuple(getattr(row, f.name) for f in dataclasses.fields(row))


def _row_values(row: Any) -> list[Any]:
    values = []
    for value in _fields(row):
        values.append(list(value) if isinstance(value, tuple) else value)
    return values


def _from_record(cls: type[Any], record: asyncpg.Record) -> Any:
    data = dict(record)
    for f in dataclasses.fields(cls):
        if isinstance(data.get(f.name), list):
            data[f.name] = tuple(tuple(v) if isinstance(v, list) else v for v in data[f.name])
    return cls(**data)


_TABLES: dict[str, tuple[type[Any], str]] = {
    "sessions": (SessionRow, "session_id"),
    "commands": (CommandRow, "command_id"),
    "approvals": (ApprovalRow, "approval_id"),
}


def _upsert_sql(table: str, cls: type[Any], key: str) -> str:
    names = [f.name for f in dataclasses.fields(cls)]
    placeholders = ", ".join(f"${i}" for i in range(1, len(names) + 1))
    updates = ", ".join(f"{n} = EXCLUDED.{n}" for n in names if n != key)
    return (
        f"INSERT INTO audit.{table} ({', '.join(names)}) VALUES ({placeholders}) "
        f"ON CONFLICT ({key}) DO UPDATE SET {updates}"
    )


_UPSERTS = {t: _upsert_sql(t, cls, key) for t, (cls, key) in _TABLES.items()}


async def apply_projections(
    conn: asyncpg.Connection | PoolConnectionProxy,
    events: list[tuple[int, pb.Event]],
    last_seq: int,
) -> None:
    """Load the rows the events touch, fold the events, write the rows and the checkpoints."""
    if events:
        keys: dict[str, set[str]] = {t: set() for t in _TABLES}
        for _, event in events:
            keys["sessions"].add(event.session_id)
            keys["commands"].add(event.command_id)
            if codec.event_type(event).startswith("approval_"):
                keys["approvals"].add(getattr(event, codec.event_type(event)).approval_id)
        loaded: dict[str, dict[str, Any]] = {}
        for table, (cls, key) in _TABLES.items():
            wanted = [k for k in keys[table] if k]
            records = await conn.fetch(
                f"SELECT * FROM audit.{table} WHERE {key} = ANY($1::text[])", wanted
            )
            loaded[table] = {r[key]: _from_record(cls, r) for r in records}
        before = Projections(loaded["sessions"], loaded["commands"], loaded["approvals"])
        after = fold(before, events)
        for table, rows in (
            ("sessions", after.sessions),
            ("commands", after.commands),
            ("approvals", after.approvals),
        ):
            changed = [_row_values(r) for k, r in rows.items() if loaded[table].get(k) != r]
            if changed:
                await conn.executemany(_UPSERTS[table], changed)
    await conn.executemany(
        "INSERT INTO audit.checkpoints (projection, seq) VALUES ($1, $2) "
        "ON CONFLICT (projection) DO UPDATE SET seq = EXCLUDED.seq",
        [(name, last_seq) for name in PROJECTIONS],
    )
