"""Reading the audit store (written by the audit service): connections, the chain, replays.

`proctor audit verify` and `proctor replay` read Postgres directly, so a security team can
check the store without trusting the process that writes it.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator
from typing import Any

import asyncpg

from proctor.errors import StoreError
from proctor.hashchain import ChainRow, ChainWalk, StoredLink, canonical_json

EVENT_COLUMNS = [f.name for f in dataclasses.fields(ChainRow)] + ["prev_hash", "hash"]


_JSONB_VERSION = b"\x01"  # the binary jsonb format: a version byte, then the JSON text


def _encode_jsonb(value: Any) -> bytes:
    # Values already serialised (the event body, in canonical form) go in as they are.
    text = value if isinstance(value, str) else json.dumps(value)
    return _JSONB_VERSION + text.encode()


def _decode_jsonb(data: bytes) -> Any:
    return json.loads(data[1:])


async def init_connection(conn: asyncpg.Connection) -> None:
    """jsonb in and out as Python values (a str is taken as JSON text already); binary, so
    COPY can write it."""
    await conn.set_type_codec(
        "jsonb",
        encoder=_encode_jsonb,
        decoder=_decode_jsonb,
        schema="pg_catalog",
        format="binary",
    )


async def create_pool(database_url: str, size: int = 4) -> asyncpg.Pool:
    """A connection pool to the audit store, with errors mapped to StoreError."""
    try:
        pool = await asyncpg.create_pool(
            database_url, min_size=1, max_size=size, init=init_connection, timeout=10
        )
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        raise StoreError(f"cannot connect to the audit store: {exc}") from exc
    assert pool is not None
    return pool


async def connect(database_url: str) -> asyncpg.Connection:
    """One connection to the audit store, with errors mapped to StoreError."""
    try:
        conn = await asyncpg.connect(database_url, timeout=10)
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        raise StoreError(f"cannot connect to the audit store: {exc}") from exc
    await init_connection(conn)
    return conn


async def read_links(conn: asyncpg.Connection, chunk: int = 2000) -> AsyncIterator[StoredLink]:
    """Every row of audit.events in seq order (call inside a transaction)."""
    query = f"SELECT {', '.join(EVENT_COLUMNS)} FROM audit.events ORDER BY seq"
    async for r in conn.cursor(query, prefetch=chunk):
        body = r["body"]
        yield StoredLink(
            row=ChainRow(
                seq=r["seq"], stored_at=r["stored_at"], subject=r["subject"], type=r["type"],
                event_id=r["event_id"], session_id=r["session_id"], command_id=r["command_id"],
                occurred_at=r["occurred_at"], schema_version=r["schema_version"],
                payload=bytes(r["payload"]),
                body=None if body is None else canonical_json(body), error=r["error"],
            ),
            prev_hash=bytes(r["prev_hash"]),
            hash=bytes(r["hash"]),
        )  # fmt: skip


async def verify_chain(conn: asyncpg.Connection) -> ChainWalk:
    """Walk the whole chain in one snapshot; raises ChainBroken at the first bad row."""
    walk = ChainWalk()
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        async for link in read_links(conn):
            walk.check(link)
    return walk


async def session_replay(conn: asyncpg.Connection, session_id: str) -> dict[str, Any] | None:
    """A session's projection rows and its events in stream order, or None if unknown."""
    session = await conn.fetchrow("SELECT * FROM audit.sessions WHERE session_id = $1", session_id)
    events = await conn.fetch(
        "SELECT seq, type, payload, body, error FROM audit.events "
        "WHERE session_id = $1 ORDER BY seq",
        session_id,
    )
    if session is None and not events:
        return None
    commands = await conn.fetch(
        "SELECT * FROM audit.commands WHERE session_id = $1 ORDER BY received_at NULLS LAST, "
        "last_seq",
        session_id,
    )
    approvals = await conn.fetch(
        "SELECT * FROM audit.approvals WHERE session_id = $1 ORDER BY requested_at NULLS LAST",
        session_id,
    )
    return {
        "session": dict(session) if session else None,
        "commands": [dict(c) for c in commands],
        "approvals": [dict(a) for a in approvals],
        "events": [dict(e) for e in events],
    }
