"""asyncpg through the gateway: reads, blocks with the rule named, reviews held and released."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest

from proctor.events import codec
from proctor.testing import wait_until
from tests.integration.conftest import RunningGateway

pytestmark = pytest.mark.integration


async def test_read_block_and_review(gateway: RunningGateway, approval_requests: Any) -> None:
    conn = await asyncpg.connect(gateway.dsn(), ssl=False)
    try:
        assert await conn.fetchval("SELECT count(*) FROM accounts") == 100
        assert await conn.fetchval("SELECT owner FROM accounts WHERE id = $1", 7) == "owner7"

        with pytest.raises(asyncpg.InsufficientPrivilegeError) as blocked:
            await conn.execute("DROP TABLE accounts")
        assert "ddl.drop" in str(blocked.value)
        assert await gateway.target_rows("SELECT count(*) AS n FROM accounts") == [{"n": 100}]

        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("DELETE FROM accounts")
        assert await gateway.target_rows("SELECT count(*) AS n FROM accounts") == [{"n": 100}]

        update = asyncio.create_task(conn.execute("UPDATE accounts SET balance = 0 WHERE id = 1"))
        request = await asyncio.wait_for(approval_requests.get(), 10)
        assert request.approval_requested.command_text.startswith("UPDATE accounts")
        assert not update.done()
        assert await gateway.target_rows("SELECT balance FROM accounts WHERE id = 1") != [
            {"balance": 0}
        ]
        await gateway.decide(request.session_id, request.approval_requested.approval_id, True)
        assert await asyncio.wait_for(update, 10) == "UPDATE 1"
        assert await gateway.target_rows("SELECT balance FROM accounts WHERE id = 1") == [
            {"balance": 0}
        ]

        denied = asyncio.create_task(conn.execute("UPDATE accounts SET balance = 1 WHERE id = 2"))
        request = await asyncio.wait_for(approval_requests.get(), 10)
        await gateway.decide(
            request.session_id, request.approval_requested.approval_id, False, "wrong namespace"
        )
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="wrong namespace"):
            await asyncio.wait_for(denied, 10)
        assert await gateway.target_rows("SELECT balance FROM accounts WHERE id = 2") == [
            {"balance": 20}
        ]
        assert await conn.fetchval("SELECT 1") == 1  # the session goes on
    finally:
        await conn.close()


async def test_a_parameterized_write_is_reviewed_with_its_values(
    gateway: RunningGateway, approval_requests: Any
) -> None:
    """The approver sees what the statement will run with, and each execution is reviewed
    with its own values: the prepared statement runs nothing until its Bind is approved."""
    conn = await asyncpg.connect(gateway.dsn(), ssl=False)
    try:
        statement = "UPDATE accounts SET owner = $1 WHERE id = $2"
        update = asyncio.create_task(conn.execute(statement, "mallory", 3))
        request = await asyncio.wait_for(approval_requests.get(), 10)
        asked = request.approval_requested
        assert asked.command_text == statement
        assert list(asked.parameters) == ["mallory", "3"]
        assert not update.done()
        assert await gateway.target_rows("SELECT owner FROM accounts WHERE id = 3") == [
            {"owner": "owner3"}
        ]
        await gateway.decide(request.session_id, asked.approval_id, True)
        assert await asyncio.wait_for(update, 10) == "UPDATE 1"

        # The same prepared statement with other values is a new request, with those values.
        again = asyncio.create_task(conn.execute(statement, "eve", 4))
        request = await asyncio.wait_for(approval_requests.get(), 10)
        assert list(request.approval_requested.parameters) == ["eve", "4"]
        await gateway.decide(
            request.session_id, request.approval_requested.approval_id, False, "not eve"
        )
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="not eve"):
            await asyncio.wait_for(again, 10)
        assert await gateway.target_rows(
            "SELECT id, owner FROM accounts WHERE id IN (3, 4) ORDER BY id"
        ) == [{"id": 3, "owner": "mallory"}, {"id": 4, "owner": "owner4"}]
    finally:
        await conn.close()


async def test_every_step_is_an_event_in_order(gateway: RunningGateway, js: Any) -> None:
    conn = await asyncpg.connect(gateway.dsn(), ssl=False)
    try:
        assert await conn.fetchval("SELECT count(*) FROM accounts") == 100
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("TRUNCATE accounts")
    finally:
        await conn.close()

    async def stored() -> list[Any]:
        sub = await js.subscribe("proctor.evt.>", ordered_consumer=True)
        events = []
        try:
            while True:
                msg = await sub.next_msg(timeout=0.5)
                events.append(codec.decode(msg.data))
        except TimeoutError:
            pass  # caught up with the stream
        finally:
            await sub.unsubscribe()
        return events

    events: list[Any] = []

    async def closed() -> bool:
        nonlocal events
        events = await stored()
        return any(codec.event_type(e) == "session_closed" for e in events)

    assert await wait_until(closed, timeout=10, interval=0.2)
    kinds = [codec.event_type(e) for e in events]
    assert kinds[0] == "session_opened" and kinds[-1] == "session_closed"
    read = [e for e in events if e.command_received.text == "SELECT count(*) FROM accounts"]
    assert len(read) == 1
    steps = [codec.event_type(e) for e in events if e.command_id == read[0].command_id]
    assert steps == ["command_received", "command_classified", "command_executed"]
    executed = next(e for e in events if e.command_id == read[0].command_id and e.HasField(
        "command_executed"))  # fmt: skip
    assert executed.command_executed.row_count == 1
    truncate = next(e for e in events if e.command_received.text == "TRUNCATE accounts")
    steps = [codec.event_type(e) for e in events if e.command_id == truncate.command_id]
    assert steps == ["command_received", "command_classified", "command_blocked"]
    assert {e.identity.human for e in events} == {"alice"}
