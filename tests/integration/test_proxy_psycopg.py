"""psycopg 3 through the gateway: the extended protocol as a modern driver uses it (unnamed
and named statements, pipelines, server-side cursors), with blocks and reviews in its flow."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import errors

from tests.integration.conftest import RunningGateway, next_request, target_state

# Sequences advance outside transactions (write.sequence); this module's policy lets agents
# use them, so that nextval() serves as a read with a side effect the target can show.
POLICY = "version: 1\nrules:\n  - actions: {write.sequence: allow}\n"


@pytest.fixture
def gateway_env(tmp_path: Path) -> dict[str, str]:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    return {"PROCTOR_POLICY_FILE": str(policy)}


pytestmark = pytest.mark.integration


@pytest.fixture
async def conn(gateway: RunningGateway) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    connection = await psycopg.AsyncConnection.connect(
        gateway.dsn(), sslmode="disable", autocommit=True, connect_timeout=10
    )
    try:
        yield connection
    finally:
        await connection.close()


async def test_reads_with_parameters(conn: psycopg.AsyncConnection[Any]) -> None:
    cur = await conn.execute("SELECT owner, balance FROM accounts WHERE id = %s", (7,))
    assert await cur.fetchall() == [("owner7", 70)]
    cur = await conn.execute(
        "SELECT count(*) FROM accounts WHERE balance BETWEEN %(low)s AND %(high)s "
        "AND owner LIKE %(pattern)s",
        {"low": 100, "high": 500, "pattern": "owner%"},
    )
    assert await cur.fetchone() == (41,)
    # Binary parameters and results, another extended-protocol variant.
    cur = conn.cursor(binary=True)
    await cur.execute("SELECT id, payload FROM big WHERE id = ANY(%s) ORDER BY id", ([3, 5],))
    assert [row[0] for row in await cur.fetchall()] == [3, 5]


async def test_blocked_statement_raises_insufficient_privilege(
    gateway: RunningGateway, conn: psycopg.AsyncConnection[Any]
) -> None:
    before = await target_state(gateway)
    with pytest.raises(errors.InsufficientPrivilege) as blocked:
        await conn.execute("DROP TABLE accounts")
    assert blocked.value.sqlstate == "42501"
    assert blocked.value.diag.message_primary is not None
    assert "rule ddl.drop" in blocked.value.diag.message_primary
    assert blocked.value.diag.message_hint
    with pytest.raises(errors.InsufficientPrivilege, match=r"rule dml\.update_all"):
        await conn.execute("UPDATE accounts SET owner = %s", ("nobody",))
    assert await target_state(gateway) == before
    cur = await conn.execute("SELECT count(*) FROM accounts")
    assert await cur.fetchone() == (100,)  # the connection goes on


async def test_pipeline_of_reads(conn: psycopg.AsyncConnection[Any]) -> None:
    async with conn.pipeline():
        first = await conn.execute("SELECT count(*) FROM accounts")
        second = await conn.execute("SELECT owner FROM accounts WHERE id = %s", (42,))
        third = await conn.execute("SELECT count(*) FROM big WHERE id > %s", (49_990,))
    assert await first.fetchone() == (100,)
    assert await second.fetchone() == ("owner42",)
    assert await third.fetchone() == (10,)


async def test_pipeline_stops_at_a_blocked_statement(
    gateway: RunningGateway,
    conn: psycopg.AsyncConnection[Any],
    approval_requests: asyncio.Queue[Any],
) -> None:
    # A read with a visible side effect, so "not executed" can be checked on the target.
    await gateway.target_rows("CREATE SEQUENCE probe")
    before = await target_state(gateway)
    with pytest.raises(errors.InsufficientPrivilege, match=r"rule ddl\.drop"):
        async with conn.pipeline():
            read = await conn.execute("SELECT nextval('probe')")
            await conn.execute("DROP TABLE big")
            await conn.execute("SELECT nextval('probe')")
            # A write after the block is skipped with the rest: it is neither run nor reviewed.
            await conn.execute("UPDATE accounts SET balance = -1 WHERE id = %s", (5,))
            await conn.execute("SELECT nextval('probe')")
    assert await read.fetchone() == (1,)
    assert await gateway.target_rows("SELECT last_value FROM probe") == [{"last_value": 1}]
    assert approval_requests.empty()
    assert await target_state(gateway) == before

    # The next pipeline runs normally.
    async with conn.pipeline():
        after = await conn.execute("SELECT nextval('probe')")
    assert await after.fetchone() == (2,)


async def test_server_side_prepared_statement_executed_repeatedly(
    conn: psycopg.AsyncConnection[Any],
) -> None:
    query = "SELECT owner FROM accounts WHERE id = %s"
    owners = []
    for i in range(1, 9):
        cur = await conn.execute(query, (i,), prepare=True)
        owners.append((await cur.fetchone() or ("",))[0])
    assert owners == [f"owner{i}" for i in range(1, 9)]
    cur = await conn.execute("SELECT statement FROM pg_prepared_statements")
    assert await cur.fetchall() == [("SELECT owner FROM accounts WHERE id = $1",)]


async def test_review_held_and_released(
    gateway: RunningGateway,
    conn: psycopg.AsyncConnection[Any],
    approval_requests: asyncio.Queue[Any],
) -> None:
    update = asyncio.create_task(
        conn.execute("UPDATE accounts SET owner = %s WHERE id = %s", ("carol", 4))
    )
    request = await next_request(approval_requests)
    assert request.approval_requested.command_text == (
        "UPDATE accounts SET owner = $1 WHERE id = $2"
    )
    await asyncio.sleep(0.3)
    assert not update.done()
    assert await gateway.target_rows("SELECT owner FROM accounts WHERE id = 4") == [
        {"owner": "owner4"}
    ]
    await gateway.decide(request.session_id, request.approval_requested.approval_id, True)
    cur = await asyncio.wait_for(update, 10)
    assert cur.rowcount == 1
    assert await gateway.target_rows("SELECT owner FROM accounts WHERE id = 4") == [
        {"owner": "carol"}
    ]

    denied = asyncio.create_task(
        conn.execute("UPDATE accounts SET owner = %s WHERE id = %s", ("dave", 5))
    )
    request = await next_request(approval_requests)
    await gateway.decide(
        request.session_id, request.approval_requested.approval_id, False, "not on a Friday"
    )
    with pytest.raises(errors.InsufficientPrivilege, match="not on a Friday"):
        await asyncio.wait_for(denied, 10)
    assert await gateway.target_rows("SELECT owner FROM accounts WHERE id = 5") == [
        {"owner": "owner5"}
    ]


async def test_each_execution_of_a_prepared_write_is_reviewed(
    gateway: RunningGateway,
    conn: psycopg.AsyncConnection[Any],
    approval_requests: asyncio.Queue[Any],
) -> None:
    # prepare=True parses the UPDATE once as a named statement and then only binds and
    # executes it: one approval must not cover the executions after the one it was given for.
    query = "UPDATE accounts SET balance = %s WHERE id = %s"
    first = asyncio.create_task(conn.execute(query, (-1, 10), prepare=True))
    request = await next_request(approval_requests)
    await gateway.decide(request.session_id, request.approval_requested.approval_id, True)
    assert (await asyncio.wait_for(first, 10)).rowcount == 1

    second = asyncio.create_task(conn.execute(query, (-1, 11), prepare=True))
    request = await next_request(approval_requests)
    assert request.approval_requested.command_text == (
        "UPDATE accounts SET balance = $1 WHERE id = $2"
    )
    assert await gateway.target_rows("SELECT balance FROM accounts WHERE id = 11") == [
        {"balance": 110}
    ]
    await gateway.decide(request.session_id, request.approval_requested.approval_id, False, "no")
    with pytest.raises(errors.InsufficientPrivilege, match="denied"):
        await asyncio.wait_for(second, 10)
    assert await gateway.target_rows("SELECT id, balance FROM accounts WHERE id IN (10, 11) "
                                     "ORDER BY id") == [{"id": 10, "balance": -1},
                                                        {"id": 11, "balance": 110}]  # fmt: skip

    third = asyncio.create_task(conn.execute(query, (-1, 12), prepare=True))
    request = await next_request(approval_requests)
    await gateway.decide(request.session_id, request.approval_requested.approval_id, True)
    assert (await asyncio.wait_for(third, 10)).rowcount == 1
    assert await gateway.target_rows("SELECT balance FROM accounts WHERE id = 12") == [
        {"balance": -1}
    ]


async def test_named_cursor_streams_all_of_big(gateway: RunningGateway) -> None:
    async with await psycopg.AsyncConnection.connect(
        gateway.dsn(), sslmode="disable", connect_timeout=10
    ) as conn:
        async with conn.cursor(name="all_of_big") as cur:
            cur.itersize = 2000
            await cur.execute("SELECT id, payload FROM big ORDER BY id")
            count = total = 0
            async for row_id, payload in cur:
                count += 1
                total += row_id
                assert len(payload) == 100
        await conn.commit()
    assert count == 50_000
    assert total == 50_000 * 50_001 // 2
