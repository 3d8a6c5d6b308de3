"""The audit store's hash chain: how a row is hashed, and how a sequence of rows is verified.

Each row's hash is SHA-256 over the previous row's hash and every column of the row in a fixed,
length-prefixed encoding, so editing any column, or removing or reordering rows, breaks the chain
at that row. The writer (audit service) and the verifier (`proctor audit verify`) share this code.
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import AsyncIterable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from proctor.errors import ChainBroken

GENESIS = bytes(32)


@dataclass(frozen=True, slots=True)
class ChainRow:
    """One row of the event store, as hashed."""

    seq: int
    stored_at: datetime
    subject: str
    type: str
    event_id: str
    session_id: str
    command_id: str
    occurred_at: datetime | None
    schema_version: int
    payload: bytes
    body: str | None
    error: str | None


def canonical_json(value: Any) -> str:
    """The one JSON text of a value that the chain hashes (sorted keys, no spaces)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _time(value: datetime | None) -> bytes:
    return b"" if value is None else value.astimezone(UTC).isoformat().encode()


def _field(data: bytes | None) -> bytes:
    if data is None:
        return b"\xff\xff\xff\xff"
    return struct.pack(">I", len(data)) + data


def _text(value: str | None) -> bytes | None:
    return None if value is None else value.encode()


def row_hash(prev_hash: bytes, row: ChainRow) -> bytes:
    """SHA-256 of the previous hash and every column of `row`."""
    digest = hashlib.sha256(prev_hash)
    digest.update(struct.pack(">QI", row.seq, row.schema_version))
    for part in (
        _time(row.stored_at),
        _text(row.subject),
        _text(row.type),
        _text(row.event_id),
        _text(row.session_id),
        _text(row.command_id),
        _time(row.occurred_at),
        row.payload,
        _text(row.body),
        _text(row.error),
    ):
        digest.update(_field(part))
    return digest.digest()


@dataclass(frozen=True, slots=True)
class StoredLink:
    """A row as read back from the store, with the hashes it claims."""

    row: ChainRow
    prev_hash: bytes
    hash: bytes


@dataclass
class ChainWalk:
    """Verifies links one at a time, in seq order; raises ChainBroken at the first bad one."""

    first_seq: int | None = None
    checked: int = 0
    last_seq: int = 0
    last_hash: bytes = GENESIS

    def check(self, link: StoredLink) -> None:
        seq = link.row.seq
        # The first row's prev_hash must be GENESIS, so a removed head is caught there.
        if self.first_seq is None:
            self.first_seq = seq
        expected_seq = self.last_seq + 1 if self.checked else self.first_seq
        if seq != expected_seq:
            missing = f"{expected_seq}" if seq == expected_seq + 1 else f"{expected_seq}..{seq - 1}"
            raise ChainBroken(seq, f"rows with seq {missing} are missing before it")
        if link.prev_hash != self.last_hash:
            raise ChainBroken(seq, "its prev_hash is not the hash of the row before it")
        if row_hash(link.prev_hash, link.row) != link.hash:
            raise ChainBroken(seq, "its contents do not match its hash (the row was edited)")
        self.checked += 1
        self.last_seq = seq
        self.last_hash = link.hash


def verify(links: Iterable[StoredLink], first_seq: int | None = None) -> ChainWalk:
    """Walk a whole chain held in memory."""
    walk = ChainWalk(first_seq)
    for link in links:
        walk.check(link)
    return walk


async def verify_stream(
    links: AsyncIterable[StoredLink], first_seq: int | None = None
) -> ChainWalk:
    """Walk a chain read lazily (e.g. from a server-side cursor)."""
    walk = ChainWalk(first_seq)
    async for link in links:
        walk.check(link)
    return walk
