"""The audit hash chain: every column of every row, and the order of rows, is covered by it.

`tests/golden/chain_ok.jsonl` is a stored chain of one `lifecycle()` session, one row per line
(bytes as hex, datetimes ISO 8601); `chain_corrupted.jsonl` is the same chain with the
approval_denied row's body edited after the fact. Both stand for rows already written, so the
tests only read them. `python tests/unit/test_hashchain.py` writes a new pair (with new ids).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from proctor.errors import ChainBroken
from proctor.events import encode, event_type, subject_for, to_dict
from proctor.hashchain import (
    GENESIS,
    ChainRow,
    StoredLink,
    canonical_json,
    row_hash,
    verify,
    verify_stream,
)
from proctor.testing import lifecycle

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
CHAIN_OK = GOLDEN / "chain_ok.jsonl"
CHAIN_CORRUPTED = GOLDEN / "chain_corrupted.jsonl"
CORRUPTED_SEQ = 9  # the approval_denied row of lifecycle()
SESSION = "3c9a1f0e7b2d4e6f8a0b1c2d3e4f5a6b"
START = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
_TIMES = ("stored_at", "occurred_at")
_BYTES = ("payload", "prev_hash", "hash")


def lifecycle_rows() -> list[ChainRow]:
    """The rows the audit service stores for one lifecycle."""
    return [
        ChainRow(
            seq=seq,
            stored_at=START + timedelta(milliseconds=10 * seq),
            subject=subject_for(event),
            type=event_type(event),
            event_id=event.event_id,
            session_id=event.session_id,
            command_id=event.command_id,
            occurred_at=event.occurred_at.ToDatetime(tzinfo=UTC),
            schema_version=event.schema_version,
            payload=encode(event),
            body=canonical_json(to_dict(event)),
            error=None,
        )
        for seq, event in enumerate(lifecycle(SESSION, start=START), start=1)
    ]


def undecodable_row(seq: int) -> ChainRow:
    return ChainRow(
        seq=seq,
        stored_at=START + timedelta(seconds=5),
        subject="proctor.evt.command_received.x",
        type="undecodable",
        event_id="",
        session_id="",
        command_id="",
        occurred_at=None,
        schema_version=0,
        payload=b"\xff\xfe garbage",
        body=None,
        error="not a proctor.events.v1.Event: Wire format was corrupt",
    )


def chain(rows: Iterable[ChainRow]) -> list[StoredLink]:
    links, prev = [], GENESIS
    for row in rows:
        digest = row_hash(prev, row)
        links.append(StoredLink(row, prev, digest))
        prev = digest
    return links


def dump(links: Iterable[StoredLink]) -> str:
    lines = []
    for link in links:
        record: dict[str, Any] = dataclasses.asdict(link.row)
        record |= {"prev_hash": link.prev_hash, "hash": link.hash}
        for key in _TIMES:
            record[key] = None if record[key] is None else record[key].isoformat()
        for key in _BYTES:
            record[key] = record[key].hex()
        lines.append(json.dumps(record, ensure_ascii=False) + "\n")
    return "".join(lines)


def load(path: Path) -> list[StoredLink]:
    links = []
    for line in path.read_text().splitlines():
        record = json.loads(line)
        for key in _TIMES:
            if record[key] is not None:
                record[key] = datetime.fromisoformat(record[key])
        for key in _BYTES:
            record[key] = bytes.fromhex(record[key])
        prev_hash, digest = record.pop("prev_hash"), record.pop("hash")
        links.append(StoredLink(ChainRow(**record), prev_hash, digest))
    return links


def write_golden() -> None:
    links = chain(lifecycle_rows())
    CHAIN_OK.write_text(dump(links))
    bad = links[CORRUPTED_SEQ - 1]
    assert bad.row.type == "approval_denied" and bad.row.body is not None
    body = bad.row.body.replace("wrong namespace", "right namespace")
    links[CORRUPTED_SEQ - 1] = dataclasses.replace(bad, row=dataclasses.replace(bad.row, body=body))
    CHAIN_CORRUPTED.write_text(dump(links))


@pytest.fixture(scope="module")
def links() -> list[StoredLink]:
    rows = lifecycle_rows()
    return chain([*rows, undecodable_row(len(rows) + 1)])


def broken_at(links: Iterable[StoredLink], first_seq: int | None = None) -> ChainBroken:
    with pytest.raises(ChainBroken) as info:
        verify(links, first_seq)
    return info.value


def test_a_fresh_chain_verifies(links: list[StoredLink]) -> None:
    walk = verify(links)

    assert walk.checked == len(links) == 19
    assert walk.first_seq == 1
    assert walk.last_seq == 19
    assert walk.last_hash == links[-1].hash


def test_an_empty_chain_verifies() -> None:
    walk = verify([])
    assert (walk.checked, walk.last_hash) == (0, GENESIS)


def _other(column: str, value: Any) -> Any:
    """A value of the column that differs from `value` as little as possible."""
    if value is None:
        return START if column in _TIMES else ""
    if isinstance(value, datetime):
        return value + timedelta(microseconds=1)
    if isinstance(value, bytes):
        return bytes([value[0] ^ 1]) + value[1:]
    if isinstance(value, int):
        return value + 1
    return value + "x"


_EDITABLE = [f.name for f in dataclasses.fields(ChainRow) if f.name != "seq"]


def test_every_column_but_seq_is_editable() -> None:
    # A column added to ChainRow must be added to the edit test too.
    assert len(_EDITABLE) == len(dataclasses.fields(ChainRow)) - 1 == 11


@pytest.mark.parametrize("column", _EDITABLE)
def test_an_edited_column_is_caught_at_its_row(links: list[StoredLink], column: str) -> None:
    for index, link in enumerate(links):
        edited = dataclasses.replace(
            link.row, **{column: _other(column, getattr(link.row, column))}
        )
        tampered = [*links[:index], dataclasses.replace(link, row=edited), *links[index + 1 :]]

        error = broken_at(tampered)

        assert error.seq == link.row.seq, f"{column} of row {link.row.seq}"
        assert "edited" in error.problem


@pytest.mark.parametrize("column", ["body", "error"])
def test_null_and_empty_text_hash_differently(links: list[StoredLink], column: str) -> None:
    row = dataclasses.replace(links[0].row, body=None, error=None)
    assert row_hash(GENESIS, row) != row_hash(GENESIS, dataclasses.replace(row, **{column: ""}))


def test_moving_text_between_columns_changes_the_hash(links: list[StoredLink]) -> None:
    row = dataclasses.replace(links[0].row, subject="ab", type="c")
    assert row_hash(GENESIS, row) != row_hash(
        GENESIS, dataclasses.replace(row, subject="a", type="bc")
    )


def test_the_same_instant_in_another_zone_verifies(links: list[StoredLink]) -> None:
    # Postgres hands timestamptz back in the session's zone; the hash must not care.
    plus_two = timezone(timedelta(hours=2))
    shifted = [
        dataclasses.replace(
            link,
            row=dataclasses.replace(
                link.row,
                stored_at=link.row.stored_at.astimezone(plus_two),
                occurred_at=link.row.occurred_at and link.row.occurred_at.astimezone(plus_two),
            ),
        )
        for link in links
    ]
    assert verify(shifted).checked == len(links)


def test_a_removed_middle_row_is_caught_at_the_next(links: list[StoredLink]) -> None:
    error = broken_at([*links[:5], *links[6:]])
    assert error.seq == 7
    assert "seq 6 are missing" in error.problem


def test_removed_rows_are_named(links: list[StoredLink]) -> None:
    error = broken_at([*links[:5], *links[8:]])
    assert error.seq == 9
    assert "6..8" in error.problem


def test_a_removed_first_row_is_caught_by_its_prev_hash(links: list[StoredLink]) -> None:
    error = broken_at(links[1:])
    assert error.seq == 2
    assert "prev_hash" in error.problem


def test_a_removed_first_row_is_caught_by_seq_when_the_start_is_known(
    links: list[StoredLink],
) -> None:
    error = broken_at(links[1:], first_seq=1)
    assert error.seq == 2
    assert "missing" in error.problem


def test_swapped_rows_are_caught(links: list[StoredLink]) -> None:
    swapped = [*links[:3], links[4], links[3], *links[5:]]
    assert broken_at(swapped).seq == 5


def test_swapped_rows_with_renumbered_seqs_are_caught(links: list[StoredLink]) -> None:
    fourth, fifth = links[3], links[4]
    swapped = [
        *links[:3],
        dataclasses.replace(fifth, row=dataclasses.replace(fifth.row, seq=4)),
        dataclasses.replace(fourth, row=dataclasses.replace(fourth.row, seq=5)),
        *links[5:],
    ]
    assert broken_at(swapped).seq == 4


def test_renumbering_the_whole_chain_is_caught(links: list[StoredLink]) -> None:
    shifted = [
        dataclasses.replace(link, row=dataclasses.replace(link.row, seq=link.row.seq + 10))
        for link in links
    ]
    error = broken_at(shifted)
    assert error.seq == 11
    assert "edited" in error.problem


@pytest.mark.parametrize("index", [0, 7, 18])
def test_a_changed_prev_hash_is_caught(links: list[StoredLink], index: int) -> None:
    tampered = list(links)
    tampered[index] = dataclasses.replace(links[index], prev_hash=bytes(range(32)))
    error = broken_at(tampered)
    assert error.seq == index + 1
    assert "prev_hash" in error.problem


def test_an_edit_with_a_recomputed_hash_is_caught_at_the_next_row(
    links: list[StoredLink],
) -> None:
    link = links[8]
    edited = dataclasses.replace(link.row, body="{}")
    rehashed = StoredLink(edited, link.prev_hash, row_hash(link.prev_hash, edited))
    error = broken_at([*links[:8], rehashed, *links[9:]])
    assert error.seq == 10
    assert "prev_hash" in error.problem


def test_golden_chain_verifies() -> None:
    # Stored hashes are forever: a change to row_hash's encoding would break old stores here.
    stored = load(CHAIN_OK)

    walk = verify(stored)

    assert walk.checked == walk.last_seq == 18
    assert [link.row.type for link in stored][:2] == ["session_opened", "command_received"]


def test_golden_corrupted_chain_fails_at_the_edited_row() -> None:
    ok, corrupted = load(CHAIN_OK), load(CHAIN_CORRUPTED)
    differing = [a.row.seq for a, b in zip(ok, corrupted, strict=True) if a != b]
    assert differing == [CORRUPTED_SEQ]
    assert corrupted[CORRUPTED_SEQ - 1].row.type == "approval_denied"

    error = broken_at(corrupted)

    assert error.seq == CORRUPTED_SEQ
    assert "edited" in error.problem


async def test_streamed_verification_agrees() -> None:
    async def rows(links: list[StoredLink]) -> AsyncIterator[StoredLink]:
        for link in links:
            yield link

    assert (await verify_stream(rows(load(CHAIN_OK)))).last_seq == 18
    with pytest.raises(ChainBroken) as info:
        await verify_stream(rows(load(CHAIN_CORRUPTED)))
    assert info.value.seq == CORRUPTED_SEQ


if __name__ == "__main__":
    write_golden()
