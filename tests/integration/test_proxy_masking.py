"""Results masked on their way through the gateway: asyncpg (binary) and psql (text), big
reads, error details, the ResultMasked event, and failing closed without the masker."""

from __future__ import annotations

import asyncio
import json
import re
import time
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from proctor.events import codec
from proctor.events.v1 import events_pb2 as pb
from proctor.testing import ServiceRunner
from tests.integration.conftest import RunningGateway, next_request, psql

pytestmark = pytest.mark.integration

EMAIL = "ada.lovelace@example.com"
CARD = "4111111111111111"
SSN = "ssn: 078-05-1120"
PEOPLE_SQL = f"""
CREATE TABLE people (
    id integer PRIMARY KEY, email text UNIQUE, note varchar(200), profile jsonb, tags text[],
    score numeric
);
INSERT INTO people VALUES
    (1, '{EMAIL}', 'card {CARD}', '{{"card": "{CARD}", "tier": "pro"}}',
     ARRAY['vip', '{EMAIL}'], 12345.67),
    (2, NULL, '{SSN}', NULL, NULL, 2),
    (3, 'nobody', 'plain', '{{"tier": "free"}}', ARRAY['a'], 3);
CREATE TABLE many (id integer PRIMARY KEY, email text NOT NULL);
INSERT INTO many SELECT g, 'user' || g || '@example.com' FROM generate_series(1, 20000) g;
"""


async def _setup(gateway: RunningGateway) -> None:
    conn = await asyncpg.connect(gateway.target_url)
    try:
        await conn.execute(PEOPLE_SQL)
    finally:
        await conn.close()


def _no_pii(text: str) -> None:
    assert EMAIL not in text and CARD not in text and "078-05-1120" not in text, text


async def test_asyncpg_reads_masked_values(gateway: RunningGateway, js: Any) -> None:
    await _setup(gateway)
    events: asyncio.Queue[pb.Event] = asyncio.Queue()

    async def on_event(msg: Any) -> None:
        await events.put(codec.decode(msg.data))

    sub = await js._nc.subscribe(codec.subject_filter("result_masked"), cb=on_event)
    conn = await asyncpg.connect(gateway.dsn(), ssl=False)
    try:
        rows = await conn.fetch("SELECT * FROM people ORDER BY id")
        direct = await gateway.target_rows("SELECT * FROM people ORDER BY id")
        assert len(rows) == len(direct) == 3
        first, second, third = (dict(r) for r in rows)
        _no_pii(repr(rows))
        assert "example.com" not in first["email"]
        assert first["note"].startswith("card ") and first["note"].endswith("1111")
        assert json.loads(first["profile"])["tier"] == "pro"
        assert CARD not in first["profile"]
        assert first["tags"][0] == "vip" and len(first["tags"]) == 2
        assert first["score"] == direct[0]["score"] and first["id"] == 1
        assert second["email"] is None and second["profile"] is None and second["tags"] is None
        assert third == direct[2]  # nothing to mask: untouched
        # Prepared statements (Describe once, then Bind/Execute only) are masked too.
        stmt = await conn.prepare("SELECT email, tags, id FROM people WHERE id = $1")
        for _ in range(3):
            row = await stmt.fetchrow(1)
            assert row is not None
            _no_pii(repr(row))
            assert row["id"] == 1
        event = await asyncio.wait_for(events.get(), 10)
        masked = event.result_masked
        assert masked.values_masked >= 4 and masked.row_count >= 2
        assert {(c.column, c.entity_type) for c in masked.counts} >= {
            ("email", "EMAIL_ADDRESS"),
            ("profile", "CREDIT_CARD"),
        }
    finally:
        await conn.close()
        await sub.unsubscribe()


async def test_psql_reads_masked_values_and_types(gateway: RunningGateway) -> None:
    await _setup(gateway)
    query = (
        "SELECT * FROM people ORDER BY id;\n"
        "SELECT pg_typeof(profile), pg_typeof(tags) FROM people LIMIT 1;\n"
    )
    through = await psql(gateway.libpq(), "-A", "-t", stdin=query)
    assert through.returncode == 0, through.stderr
    _no_pii(through.stdout)
    lines = through.stdout.splitlines()
    assert len(lines) == 4
    assert lines[0].startswith("1|<EMAIL_ADDRESS>|card ************1111|")
    assert lines[0].endswith("|12345.67")
    assert lines[1] == "2||ssn: <US_SSN>|||2"
    assert lines[2] == '3|nobody|plain|{"tier": "free"}|{a}|3'
    assert lines[3] == "jsonb|text[]"

    copied = await psql(gateway.libpq(), stdin="COPY people TO STDOUT;\nSELECT 'after';\n")
    assert copied.returncode == 0, copied.stderr
    _no_pii(copied.stdout)
    assert "<EMAIL_ADDRESS>" in copied.stdout and "after" in copied.stdout
    assert len(copied.stdout.splitlines()) >= 3 + 3


async def test_big_read_is_all_masked(gateway: RunningGateway) -> None:
    await _setup(gateway)
    conn = await asyncpg.connect(gateway.dsn(), ssl=False)
    try:
        rows = await conn.fetch("SELECT id, email FROM many ORDER BY id")
        assert len(rows) == 20000
        assert [r["id"] for r in rows] == list(range(1, 20001))
        assert all(r["email"] == "<EMAIL_ADDRESS>" for r in rows)
    finally:
        await conn.close()


async def test_big_read_shared_by_masker_replicas(gateway: RunningGateway, tmp_path: Path) -> None:
    """A session keeps several batches of one result at the masker at once: with two replicas
    both work on one read, their answers come back in any order, and the rows reach the client
    in the order the target sent them."""
    await _setup(gateway)
    second = ServiceRunner("proctor_masker", gateway.settings, tmp_path / "masker-2.log").start()
    try:
        deadline = time.monotonic() + 60
        while "masker ready" not in second.output():
            assert time.monotonic() < deadline, second.output()
            await asyncio.sleep(0.1)
        nc = gateway.js._nc
        requests: list[int] = []

        async def on_request(msg: Any) -> None:
            requests.append(len(msg.data))

        sub = await nc.subscribe("proctor.rpc.mask", cb=on_request)
        conn = await asyncpg.connect(gateway.dsn(), ssl=False)
        try:
            rows = await conn.fetch("SELECT id, email, 'ok ' || id AS note FROM many ORDER BY id")
        finally:
            await conn.close()
            await sub.unsubscribe()
        assert [r["id"] for r in rows] == list(range(1, 20001))
        assert [r["note"] for r in rows] == [f"ok {i}" for i in range(1, 20001)]
        assert all(r["email"] == "<EMAIL_ADDRESS>" for r in rows)
        assert len(requests) > 20  # many batches, not one
    finally:
        assert second.stop() == 0, second.output()
    # The second replica served batches of the read too (it logs how many when it stops).
    served = re.search(r"served (\d+) batches", second.output())
    assert served is not None and int(served.group(1)) > 1, second.output()


async def test_masker_gone_mid_result_withholds_the_rest(gateway: RunningGateway) -> None:
    """The masker stops while batches of a large result are at it: the agent gets the
    masking error, never an unmasked row, and the session goes on."""
    await _setup(gateway)
    nc = gateway.js._nc
    asked = asyncio.Event()

    async def on_request(msg: Any) -> None:
        asked.set()

    sub = await nc.subscribe("proctor.rpc.mask", cb=on_request)
    conn = await asyncpg.connect(gateway.dsn(), ssl=False)
    try:
        # Distinct values the masker has not seen: the read takes it a while.
        read = asyncio.ensure_future(
            conn.fetch("SELECT id, 'x' || id || '.' || email AS email FROM many ORDER BY id")
        )
        await asyncio.wait_for(asked.wait(), 30)
        await asyncio.to_thread(gateway.masker.stop)
        with pytest.raises(asyncpg.PostgresError) as error:
            await read
        assert error.value.sqlstate == "58000"
        _no_pii(str(error.value))
        assert "@example.com" not in str(error.value)
        assert await conn.fetchval("SELECT count(*) FROM many") == 20000
    finally:
        await sub.unsubscribe()
        await conn.close()


async def test_unique_violation_detail_is_masked(
    gateway: RunningGateway, approval_requests: Any
) -> None:
    await _setup(gateway)
    conn = await asyncpg.connect(gateway.dsn(), ssl=False)
    try:
        insert = asyncio.create_task(
            conn.execute(f"INSERT INTO people (id, email) VALUES (9, '{EMAIL}')")
        )
        request = await next_request(approval_requests)
        await gateway.decide(request.session_id, request.approval_requested.approval_id, True)
        with pytest.raises(asyncpg.UniqueViolationError) as error:
            await insert
        assert error.value.detail is not None and "<EMAIL_ADDRESS>" in error.value.detail
        _no_pii(str(error.value) + error.value.detail)
        assert await conn.fetchval("SELECT 1") == 1
    finally:
        await conn.close()


async def test_without_masker_rows_are_withheld(gateway: RunningGateway) -> None:
    await _setup(gateway)
    gateway.masker.stop()
    conn = await asyncpg.connect(gateway.dsn(), ssl=False)
    try:
        with pytest.raises(asyncpg.PostgresError) as error:
            await conn.fetch("SELECT id, email FROM people ORDER BY id")
        assert error.value.sqlstate == "58000"
        assert "masking was unavailable" in str(error.value)
        _no_pii(str(error.value))
        # Values with nothing sensitive-looking, and integers, need no masker.
        assert await conn.fetchval("SELECT count(*) FROM many") == 20000
        assert [r["id"] for r in await conn.fetch("SELECT id FROM people ORDER BY id")] == [
            1,
            2,
            3,
        ]
        assert await conn.fetchval("SELECT email FROM people WHERE id = 3") == "nobody"
    finally:
        await conn.close()
    through = await psql(
        gateway.libpq(), "-A", "-t", stdin="SELECT * FROM people ORDER BY id;\nSELECT 42;\n"
    )
    _no_pii(through.stdout + through.stderr)
    assert "masking was unavailable" in through.stderr
    assert through.stdout.strip() == "42"
    copied = await psql(gateway.libpq(), stdin="COPY people TO STDOUT;\nSELECT 43;\n")
    _no_pii(copied.stdout + copied.stderr)
    assert "masking was unavailable" in copied.stderr and "43" in copied.stdout


async def test_notification_payloads_are_masked(gateway: RunningGateway) -> None:
    """What the target sends to a LISTENing agent is a result too: NOTIFY payloads from other
    sessions reach the agent masked; harmless ones unchanged."""
    agent = await asyncpg.connect(gateway.dsn(), ssl=False)
    received: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
    try:
        await agent.add_listener(
            "orders", lambda _c, _p, ch, payload: received.put_nowait((ch, payload))
        )
        target = await asyncpg.connect(gateway.target_url)
        try:
            paid = "paid by jane.roe@example.com with 4111 1111 1111 1111"
            await target.execute("SELECT pg_notify('orders', $1)", paid)
            await target.execute("SELECT pg_notify('orders', 'order 1042 shipped')")
        finally:
            await target.close()
        channel, first = await asyncio.wait_for(received.get(), 10)
        assert channel == "orders"
        assert "jane.roe@example.com" not in first and "4111 1111 1111 1111" not in first
        assert first.startswith("paid by ")
        assert await asyncio.wait_for(received.get(), 10) == ("orders", "order 1042 shipped")
    finally:
        await agent.close()


async def test_the_demo_customers_show_no_person_and_keep_everything_else(
    gateway: RunningGateway,
) -> None:
    from proctor.demo import DEMO_SQL

    conn = await asyncpg.connect(gateway.target_url)
    try:
        await conn.execute(DEMO_SQL)
        direct = [dict(r) for r in await conn.fetch("SELECT * FROM customers ORDER BY id")]
    finally:
        await conn.close()
    agent = await asyncpg.connect(gateway.dsn())
    try:
        masked = [dict(r) for r in await agent.fetch("SELECT * FROM customers ORDER BY id")]
    finally:
        await agent.close()
    assert len(masked) == len(direct) == 200
    for before, after in zip(direct, masked, strict=True):
        assert after["name"] == "<PERSON>", after
        for column in ("email", "phone", "card_number", "ssn"):
            assert after[column] != before[column] and before[column] not in str(after), column
        profile = json.loads(after["profile"])
        assert before["email"] not in after["profile"] and "-55-" not in after["profile"]
        assert profile["tier"] == json.loads(before["profile"])["tier"]
        assert after["tags"][0] == "vip" and before["email"] not in after["tags"]
        assert "4242424242424242" not in after["notes"] and "555-0147" not in after["notes"]
        if before["notes"] == "no notes":
            assert after["notes"] == "no notes"
        assert (after["id"], after["created_at"]) == (before["id"], before["created_at"])


async def test_a_column_named_for_a_secret_comes_back_masked(gateway: RunningGateway) -> None:
    """Whatever its value looks like: `hunter2` holds no pattern a recognizer knows."""
    conn = await asyncpg.connect(gateway.target_url)
    try:
        await conn.execute(
            "CREATE TABLE logins (id integer, login text, password text, api_key text,"
            " sort_key text);"
            "INSERT INTO logins VALUES (1, 'ops', 'hunter2', 'k-123', 'a1'), (2, 'ci', NULL, '',"
            " 'b2')"
        )
    finally:
        await conn.close()
    agent = await asyncpg.connect(gateway.dsn(), ssl=False)
    try:
        rows = [dict(r) for r in await agent.fetch("SELECT * FROM logins ORDER BY id")]
    finally:
        await agent.close()
    assert rows[0]["password"] != "hunter2" and rows[0]["api_key"] != "k-123"
    assert "hunter2" not in repr(rows)
    assert [r["login"] for r in rows] == ["ops", "ci"]  # the rest as it is
    assert [r["sort_key"] for r in rows] == ["a1", "b2"]
    assert rows[1]["password"] is None and rows[1]["api_key"] == ""
