"""The whole story through real processes and a real client: an agent reads a table (masked),
submits an UPDATE, the approver denies it in Slack with a note, the agent gets the note,
submits a corrected UPDATE, which is approved and runs once; running it again asks again;
`proctor replay` tells the story in order from the audit store."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from proctor.embedded import free_port
from proctor.settings import Settings
from proctor.testing import ServiceRunner, service_env
from tests.fakeslack import FakeSlack, Message, with_slack_users
from tests.integration.conftest import RunningGateway, eventually, next_request
from tests.integration.test_approval_service import wait_listening

pytestmark = pytest.mark.integration

BOB = "U0BOB"  # the approver's Slack member id
DEPLOYMENTS = """
CREATE TABLE deployments (
    name text, namespace text, replicas integer, owner_email text, settings jsonb
);
INSERT INTO deployments VALUES
    ('web', 'staging', 2, 'dana.scully@example.org', '{"contact": "fox.mulder@example.org"}'),
    ('web', 'prod', 3, 'walter.skinner@example.org', '{"contact": "john.doggett@example.org"}');
"""
WRONG = (
    "UPDATE deployments SET replicas = replicas + 1 WHERE name = 'web' AND namespace = 'staging'"
)
FIXED = "UPDATE deployments SET replicas = replicas + 1 WHERE name = 'web' AND namespace = 'prod'"


async def replicas(gateway: RunningGateway) -> dict[str, int]:
    rows = await gateway.target_rows("SELECT namespace, replicas FROM deployments")
    return {r["namespace"]: r["replicas"] for r in rows}


def replay(settings: Settings, session: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "proctor.cli.main", "replay", session],
        env=service_env(settings), capture_output=True, text=True, timeout=60,
    )  # fmt: skip


async def test_deny_with_a_note_then_approve_the_correction_in_slack(
    gateway: RunningGateway, settings: Settings, tmp_path: Path, approval_requests: Any
) -> None:
    conn = await asyncpg.connect(gateway.target_url)
    try:
        await conn.execute(DEPLOYMENTS)
    finally:
        await conn.close()
    audit = ServiceRunner("proctor_audit", settings, tmp_path / "audit.log").start()
    async with FakeSlack() as slack:
        config = with_slack_users(tmp_path / "gateway.yaml", {"bob": BOB})
        port = free_port()
        env = {
            "PROCTOR_GATEWAY_CONFIG": str(config),
            "PROCTOR_APPROVAL_HTTP_LISTEN": f"127.0.0.1:{port}",
            **slack.env("C0APPROVALS"),
        }
        approval = ServiceRunner("proctor_approval", settings, tmp_path / "approval.log", env)
        approval.start()
        slack.events_url = f"http://127.0.0.1:{port}/slack/events"
        try:
            await wait_listening(approval, port)
            session = await _story(gateway, slack, approval_requests)
            await _replayed(settings, session)
        finally:
            approval.stop()
            audit.stop()


async def _asked(
    slack: FakeSlack, approval_requests: Any, command: str, sessions: set[str]
) -> Message:
    request = await next_request(approval_requests, timeout=15)
    assert request.approval_requested.command_text == command
    sessions.add(request.session_id)
    message = await slack.wait_for_message(request.approval_requested.approval_id)
    shown = message.all_text()
    assert command.replace("'", "&#39;") in shown or command in shown
    assert "alice" in shown
    assert len(message.buttons()) == 2
    return message


async def _story(gateway: RunningGateway, slack: FakeSlack, approval_requests: Any) -> str:
    sessions: set[str] = set()
    agent = await asyncpg.connect(gateway.dsn(), ssl=False)
    try:
        # 1. A read passes, masked: same rows and types, no e-mail address reaches the agent.
        rows = await agent.fetch("SELECT name, namespace, owner_email, settings FROM deployments")
        assert len(rows) == 2
        text = repr([dict(r) for r in rows])
        assert "@example.org" not in text, text
        assert {r["namespace"] for r in rows} == {"staging", "prod"}

        # 2. The write waits for a human, who denies it in Slack with a note.
        held = asyncio.create_task(agent.execute(WRONG))
        message = await _asked(slack, approval_requests, WRONG, sessions)
        assert (await slack.deny(message, BOB, "wrong namespace")).status == 200
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="wrong namespace"):
            await asyncio.wait_for(held, 15)
        decided = await slack.wait_for_update(message)
        assert decided.buttons() == [] and "wrong namespace" in decided.all_text()
        assert await replicas(gateway) == {"staging": 2, "prod": 3}

        # 3. The corrected write is approved and runs once.
        held = asyncio.create_task(agent.execute(FIXED))
        message = await _asked(slack, approval_requests, FIXED, sessions)
        assert (await slack.approve(message, BOB)).status == 200
        assert await asyncio.wait_for(held, 15) == "UPDATE 1"
        assert await replicas(gateway) == {"staging": 2, "prod": 4}

        # 4. Running it again asks again; nothing runs until someone decides.
        held = asyncio.create_task(agent.execute(FIXED))
        again = await _asked(slack, approval_requests, FIXED, sessions)
        assert again.ts != message.ts
        await asyncio.sleep(0.5)
        assert not held.done() and await replicas(gateway) == {"staging": 2, "prod": 4}
        assert (await slack.deny(again, BOB, "already scaled")).status == 200
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="already scaled"):
            await asyncio.wait_for(held, 15)
        assert await replicas(gateway) == {"staging": 2, "prod": 4}
    finally:
        await agent.close()
    (session,) = sessions  # every request came from the agent's one session
    return session


async def _replayed(settings: Settings, session: str) -> None:
    result: subprocess.CompletedProcess[str] | None = None

    async def complete() -> bool:
        nonlocal result
        result = await asyncio.to_thread(replay, settings, session)
        return result.returncode == 0 and "session closed" in result.stdout

    await eventually(complete, 30, "the session replayed to its end")
    assert result is not None
    print(result.stdout)
    story = [
        "session opened",
        "received: SELECT name, namespace, owner_email, settings FROM deployments",
        "classified allow",
        "masked ",
        "executed: 2 rows",
        f"received: {WRONG}",
        "classified review",
        "requested",
        'denied by bob, note: "wrong namespace"',
        f"received: {FIXED}",
        "requested",
        "granted by bob",
        "executed: 1 rows",
        f"received: {FIXED}",
        "requested",
        'denied by bob, note: "already scaled"',
        "session closed",
    ]
    at = 0
    for step in story:
        found = result.stdout.find(step, at)
        assert found >= 0, f"{step!r} not found after position {at} in:\n{result.stdout}"
        at = found + len(step)
