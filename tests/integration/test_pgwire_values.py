"""Parameter values shown to approvers: binary-format values of common types read as Postgres
itself prints them, checked against a real Postgres's send functions and text output."""

from __future__ import annotations

import struct

import asyncpg
import pytest

from proctor import pgwire
from tests.conftest import PostgresForTests

pytestmark = pytest.mark.integration

CASES = [
    *(("numeric", v) for v in ("0", "1", "-1", "12345.678", "0.0001", "0.00001234", "100000000",
                               "-0.5", "NaN", "99999999.99", "10000", "1.10", "-123456789.000001")),
    ("int2", "-5"), ("int4", "3"), ("int8", "-9000000000"), ("oid", "4000000000"),
    ("bool", "true"), ("bool", "false"), ("float4", "1.5"), ("float8", "-2.25"),
    ("text", "héllo"), ("varchar", ""), ("name", "accounts"), ("json", '{"a": [1, 2]}'),
    ("jsonb", '{"a": 1}'), ("uuid", "12345678-1234-5678-1234-567812345678"),
    ("date", "2026-11-22"), ("date", "1999-12-31"),
    ("timestamp", "2026-11-22 10:11:12.5"), ("timestamp", "1970-01-01 00:00:00"),
    ("timestamptz", "2026-11-22 10:11:12.123456+00"),
]  # fmt: skip


async def test_binary_values_read_as_postgres_prints_them(postgres: PostgresForTests) -> None:
    conn = await asyncpg.connect(postgres.admin_url)
    try:
        await conn.execute("SET TIME ZONE 'UTC'")
        for type_name, value in CASES:
            oid, send = await conn.fetchrow(
                "SELECT oid, typsend::text FROM pg_type WHERE oid = $1::text::regtype", type_name
            )
            raw = await conn.fetchval(f"SELECT {send}(CAST($1::text AS {type_name}))", value)
            printed = await conn.fetchval(f"SELECT CAST($1::text AS {type_name})::text", value)
            part = struct.pack("!hhhi", 1, 1, 1, len(raw)) + raw
            assert pgwire.parameter_values(part, [oid]) == [printed], (type_name, value)
    finally:
        await conn.close()


def test_text_null_unknown_and_long_values() -> None:
    def part(formats: list[int], values: list[bytes | None]) -> bytes:
        out = struct.pack(f"!h{len(formats)}hh", len(formats), *formats, len(values))
        for v in values:
            out += struct.pack("!i", -1) if v is None else struct.pack("!i", len(v)) + v
        return out

    assert pgwire.parameter_values(b"") == []
    assert pgwire.parameter_values(part([], [b"mallory", b"3", None])) == ["mallory", "3", "NULL"]
    # Binary of a type not known here (or no types given): hex, as bytea prints.
    assert pgwire.parameter_values(part([1], [b"\x00\x01", None])) == ["\\x0001", "NULL"]
    assert pgwire.parameter_values(part([0, 1], [b"x", b"\x00\x00\x00\x07"]), [25, 23]) == [
        "x",
        "7",
    ]
    # Infinite timestamps cannot be shown as dates: hex rather than an error.
    infinity = struct.pack("!q", 2**63 - 1)
    assert pgwire.parameter_values(part([1], [infinity]), [1114]) == ["\\x" + infinity.hex()]
    long = pgwire.parameter_values(part([], [b"a" * 10_000]), limit=100)
    assert len(long[0]) == 100 and long[0].endswith("…")
    with pytest.raises(pgwire.ProtocolError):
        pgwire.parameter_values(part([], [b"abc"])[:-2])
