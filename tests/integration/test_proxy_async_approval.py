"""Async-mode approvals through real processes: the agent is told at once that its write is
pending, re-submits it after the approver's decision, and it runs exactly once. The approval is
bound to the normalized command, its parameters, the identity and the resource."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from proctor.events import codec
from tests.integration.conftest import (
    APPROVER_TOKEN,
    RunningGateway,
    eventually,
    next_request,
    target_state,
)
from tests.integration.test_approval_service import RunningApproval, approval  # noqa: F401

pytestmark = pytest.mark.integration

POLICY = """\
version: 1
approvals:
  - match: {resource: target}
    approvers: [sre]
    mode: async
"""
UPDATE = "UPDATE accounts SET balance = 0 WHERE id = 1"


@pytest.fixture
def gateway_env(tmp_path: Path) -> dict[str, str]:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    return {"PROCTOR_POLICY_FILE": str(policy)}


def approval_id_of(error: asyncpg.PostgresError) -> str:
    found = re.search(r"approval_id=(\w+)", getattr(error, "detail", "") or "")
    assert found, f"no approval id in {error!r}"
    return found.group(1)


async def submit(conn: asyncpg.Connection, sql: str, *args: Any) -> str:
    """Run `sql`; its status, or the refusal as `pending <id>` / `refused: <message>`."""
    try:
        return str(await conn.execute(sql, *args))
    except asyncpg.InsufficientPrivilegeError as exc:
        if "is pending" in str(exc):
            return f"pending {approval_id_of(exc)}"
        return f"refused: {exc}"


async def _story_of_run(gateway: RunningGateway, session: str) -> bool:
    sub = await gateway.js.subscribe(codec.subject_filter(None, session), ordered_consumer=True)
    kinds: dict[str, list[str]] = {}
    try:
        while True:
            try:
                msg = await sub.next_msg(timeout=0.5)
            except TimeoutError:
                break
            event = codec.decode(msg.data)
            kinds.setdefault(event.command_id, []).append(codec.event_type(event))
    finally:
        await sub.unsubscribe()
    run = ["command_received", "command_classified", "approval_redeemed", "command_executed"]
    return run in kinds.values()


async def balance(gateway: RunningGateway, account: int = 1) -> Any:
    rows = await gateway.target_rows(f"SELECT balance FROM accounts WHERE id = {account}")
    return rows[0]["balance"]


async def decide(service: RunningApproval, aid: str, verb: str, note: str = "") -> None:
    async def listed() -> bool:
        return aid in await service.pending_ids()

    await eventually(listed, 10, f"approval {aid} listed")
    status, body = await service.http(
        "POST", f"/approvals/{aid}/{verb}", APPROVER_TOKEN, {"note": note}
    )
    assert status == 200, body


async def test_pending_at_once_then_runs_once_after_approval(
    gateway: RunningGateway,
    approval: RunningApproval,  # noqa: F811
    approval_requests: Any,
) -> None:
    before = await target_state(gateway)
    conn = await asyncpg.connect(gateway.dsn())
    try:
        first = await submit(conn, UPDATE)
        assert first.startswith("pending "), first
        aid = first.split()[1]
        request = await next_request(approval_requests)
        body = request.approval_requested
        assert body.approval_id == aid and body.command_text == UPDATE
        assert list(body.approver_groups) == ["sre"]
        # Asked again before anyone decided: the same request, still pending, nothing run.
        again = await submit(conn, "update accounts  set balance=0 where id=1 -- same")
        assert again == f"pending {aid}"
        assert await target_state(gateway) == before

        await decide(approval, aid, "approve")
        # A different command (another constant) is not covered by that approval.
        other = await submit(conn, "UPDATE accounts SET balance = 0 WHERE id = 2")
        assert other.startswith("pending ") and other != f"pending {aid}"
        assert await target_state(gateway) == before

        assert await submit(conn, UPDATE) == "UPDATE 1"
        assert await balance(gateway) == 0
        # On the stream, the command that ran tells its story in order.
        await eventually(
            lambda: _story_of_run(gateway, request.session_id), 10, "the run's events in order"
        )
        # Run once: the same command again needs a new approval.
        third = await submit(conn, UPDATE)
        assert third.startswith("pending ") and third != f"pending {aid}"
    finally:
        await conn.close()
    # Another session of the same identity: its own new request is pending, nothing runs.
    assert await balance(gateway, 2) == 20


async def test_a_denial_reaches_the_agent_on_resubmission(
    gateway: RunningGateway,
    approval: RunningApproval,  # noqa: F811
) -> None:
    before = await target_state(gateway)
    conn = await asyncpg.connect(gateway.dsn())
    try:
        aid = (await submit(conn, UPDATE)).split()[1]
        await decide(approval, aid, "deny", "wrong namespace")
        told = await submit(conn, UPDATE)
        assert told.startswith("refused: ") and "wrong namespace" in told, told
        # The denial is reported once; submitting again asks again.
        assert (await submit(conn, UPDATE)).startswith("pending ")
        assert await target_state(gateway) == before
    finally:
        await conn.close()


async def test_parameters_are_part_of_the_binding(
    gateway: RunningGateway,
    approval: RunningApproval,  # noqa: F811
) -> None:
    sql = "UPDATE accounts SET balance = $1 WHERE id = $2"
    conn = await asyncpg.connect(gateway.dsn())
    try:
        first = await submit(conn, sql, 5, 3)
        assert first.startswith("pending "), first
        await decide(approval, first.split()[1], "approve")
        # Same statement, other parameters: a new approval, not the one given.
        changed = await submit(conn, sql, 6, 3)
        assert changed.startswith("pending ") and changed != first
        assert await balance(gateway, 3) == 30
        # From a new connection (a new session): the approved execution runs, once.
        other = await asyncpg.connect(gateway.dsn())
        try:
            assert await submit(other, sql, 5, 3) == "UPDATE 1"
            assert await balance(gateway, 3) == 5
            assert (await submit(other, sql, 5, 3)).startswith("pending ")
        finally:
            await other.close()
    finally:
        await conn.close()
