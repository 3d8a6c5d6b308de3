"""The approval service as a real process on a real nats-server: approvers list, approve and
deny held statements with `proctor approvals`, and the agent's client sees the outcome."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import yaml

from proctor import bus
from proctor.embedded import EmbeddedNats, free_port
from proctor.events import codec, new_event
from proctor.events.v1 import events_pb2 as pb
from proctor.gateway import hash_token
from proctor.settings import Settings
from proctor.testing import ServiceRunner
from tests.integration.conftest import (
    AGENT_TOKEN,
    APPROVER_TOKEN,
    RunningGateway,
    eventually,
    next_request,
    run_client,
    target_state,
)

pytestmark = pytest.mark.integration

UPDATE = "UPDATE accounts SET balance = 0 WHERE id = 1"


async def api_call(
    listen: str, method: str, path: str, token: str, body: Any = None
) -> tuple[int, Any]:
    """One call of the approval service's HTTP API: (status, JSON body)."""

    def call() -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            f"http://{listen}{path}", data=data, method=method,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )  # fmt: skip
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    return await asyncio.to_thread(call)


@dataclass
class RunningApproval:
    runner: ServiceRunner
    listen: str
    run_dir: Path

    def env(self, token: str | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PROCTOR_", "PG"))}
        env |= {"PROCTOR_APPROVAL_HTTP_LISTEN": self.listen, "PROCTOR_RUN_DIR": str(self.run_dir)}
        if token is not None:
            env["PROCTOR_APPROVER_TOKEN"] = token
        return env

    async def cli(self, *args: str, token: str | None = None) -> Any:
        """`proctor approvals ARGS` as a subprocess, as an approver runs it."""
        return await run_client(
            sys.executable, "-m", "proctor.cli.main", "approvals", *args, env=self.env(token)
        )

    async def http(self, method: str, path: str, token: str, body: Any = None) -> Any:
        """A raw HTTP call: (status, JSON body)."""
        return await api_call(self.listen, method, path, token, body)

    async def pending_ids(self) -> list[str]:
        _, body = await self.http("GET", "/approvals", APPROVER_TOKEN)
        return [p["approval_id"] for p in body["pending"]]


def start_approval(settings: Settings, tmp_path: Path, config: Path, port: int) -> ServiceRunner:
    env = {
        "PROCTOR_GATEWAY_CONFIG": str(config),
        "PROCTOR_APPROVAL_HTTP_LISTEN": f"127.0.0.1:{port}",
        "PROCTOR_APPROVAL_EXPIRY_GRACE": "0.5",
    }
    return ServiceRunner("proctor_approval", settings, tmp_path / "approval.log", env).start()


async def wait_listening(runner: ServiceRunner, port: int, timeout: float = 20.0) -> None:
    async def listening() -> bool:
        assert runner.proc is not None
        if runner.proc.poll() is not None:
            raise AssertionError(f"the approval service exited:\n{runner.output()}")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            return False
        writer.close()
        return True

    await eventually(listening, timeout, "the approval service listening")


@contextlib.asynccontextmanager
async def approval_service(
    settings: Settings, tmp_path: Path, config: Path
) -> AsyncIterator[RunningApproval]:
    port = free_port()
    runner = start_approval(settings, tmp_path, config, port)
    try:
        await wait_listening(runner, port)
        yield RunningApproval(runner, f"127.0.0.1:{port}", tmp_path / "run")
    finally:
        runner.stop()


@pytest.fixture
async def approval(
    gateway: RunningGateway, settings: Settings, tmp_path: Path
) -> AsyncIterator[RunningApproval]:
    """The approval service beside the gateway, with the gateway's identities: alice
    (engineering, not an approver) and bob (sre, an approver)."""
    async with approval_service(settings, tmp_path, tmp_path / "gateway.yaml") as running:
        yield running


async def balance(gateway: RunningGateway) -> Any:
    return (await gateway.target_rows("SELECT balance FROM accounts WHERE id = 1"))[0]["balance"]


async def test_deny_with_a_note_then_approve_through_the_cli(
    gateway: RunningGateway, approval: RunningApproval, approval_requests: Any
) -> None:
    before = await target_state(gateway)
    conn = await asyncpg.connect(gateway.dsn())
    try:
        held = asyncio.create_task(conn.execute(UPDATE))
        request = await next_request(approval_requests)
        aid = request.approval_requested.approval_id
        await eventually(lambda: _has(approval, aid), 10, "the request listed")

        listed = await approval.cli("list", "--as", "bob", token=APPROVER_TOKEN)
        assert listed.returncode == 0, listed.stderr
        assert aid in listed.stdout and UPDATE in listed.stdout and "alice" in listed.stdout

        # alice sees her own request, but is not an approver: refused, nothing runs.
        mine = await approval.cli("list", "--as", "alice", token=AGENT_TOKEN)
        assert mine.returncode == 0 and aid in mine.stdout
        refused = await approval.cli("approve", aid, "--as", "alice", token=AGENT_TOKEN)
        assert refused.returncode != 0
        assert "not an approver" in refused.stderr
        # A denial needs a note, at the API as well as in the CLI.
        status, body = await approval.http("POST", f"/approvals/{aid}/deny", APPROVER_TOKEN, {})
        assert status == 400 and "note" in body["error"]
        blank = await approval.cli("deny", aid, "--note", " ", "--as", "bob", token=APPROVER_TOKEN)
        assert blank.returncode != 0
        await asyncio.sleep(0.3)
        assert not held.done()
        assert await target_state(gateway) == before

        denied = await approval.cli(
            "deny", aid, "--note", "wrong namespace", "--as", "bob", token=APPROVER_TOKEN
        )
        assert denied.returncode == 0, denied.stderr
        with pytest.raises(asyncpg.PostgresError, match="wrong namespace"):
            await asyncio.wait_for(held, 10)
        assert await target_state(gateway) == before

        # Decided once: a second decision is refused.
        again = await approval.cli("approve", aid, "--as", "bob", token=APPROVER_TOKEN)
        assert again.returncode != 0 and "already denied" in again.stderr
        shown = await approval.cli("show", aid, "--as", "bob", token=APPROVER_TOKEN)
        assert json.loads(shown.stdout)["status"] == "denied"

        # The second try is approved; the token comes from the demo credentials of `proctor up`.
        approval.run_dir.mkdir(parents=True, exist_ok=True)
        (approval.run_dir / "demo-credentials.json").write_text(json.dumps({"bob": APPROVER_TOKEN}))
        held = asyncio.create_task(conn.execute(UPDATE))
        aid = (await next_request(approval_requests)).approval_requested.approval_id
        await eventually(lambda: _has(approval, aid), 10, "the second request listed")
        approved = await approval.cli("approve", aid, "--as", "bob", "--note", "fine")
        assert approved.returncode == 0, approved.stderr
        assert await asyncio.wait_for(held, 10) == "UPDATE 1"
        assert await balance(gateway) == 0
        assert await approval.pending_ids() == []
    finally:
        await conn.close()


async def test_a_requester_cannot_approve_their_own_statement(
    gateway: RunningGateway, approval: RunningApproval, approval_requests: Any
) -> None:
    conn = await asyncpg.connect(gateway.dsn(user="bob", token=APPROVER_TOKEN))
    try:
        held = asyncio.create_task(conn.execute(UPDATE))
        aid = (await next_request(approval_requests)).approval_requested.approval_id
        await eventually(lambda: _has(approval, aid), 10, "the request listed")
        own = await approval.cli("approve", aid, "--as", "bob", token=APPROVER_TOKEN)
        assert own.returncode != 0 and "cannot decide" in own.stderr
        others = await approval.cli("list", "--as", "alice", token=AGENT_TOKEN)
        assert others.returncode == 0 and aid not in others.stdout
        status, body = await approval.http("POST", f"/approvals/{aid}/approve", "wrong-token")
        assert status == 401 and "Bearer" in body["error"]
        await asyncio.sleep(0.3)
        assert not held.done()
        assert await balance(gateway) == 10
        held.cancel()
    finally:
        conn.terminate()


async def _has(approval: RunningApproval, aid: str) -> bool:
    return aid in await approval.pending_ids()


# ---- without a gateway: restarts and expiry, driven by events published directly ------------


def _request(approval_id: str, expires_in: float) -> pb.Event:
    body = pb.ApprovalRequested(
        approval_id=approval_id,
        command_text=UPDATE,
        rule_ids=["write.update"],
        reason="writes need approval",
    )
    body.expires_at.FromDatetime(datetime.now(UTC) + timedelta(seconds=expires_in))
    return new_event(
        session_id="s" * 32, command_id="c1",
        identity=pb.Identity(human="alice", agent="psql", groups=["engineering"]),
        resource=pb.Resource(name="target", kind=pb.RESOURCE_KIND_POSTGRES),
        source="ingress-proxy", approval_requested=body,
    )  # fmt: skip


async def subscribe(js: Any, kind: str, queue: asyncio.Queue[pb.Event]) -> Any:
    async def on_message(msg: Any) -> None:
        await queue.put(codec.decode(msg.data))

    return await js._nc.subscribe(codec.subject_filter(kind), cb=on_message)


@pytest.fixture
def identities(tmp_path: Path) -> Path:
    path = tmp_path / "gateway.yaml"
    path.write_text(yaml.safe_dump({"identities": {
        "alice": {"groups": ["engineering"], "token_sha256": hash_token(AGENT_TOKEN)},
        "bob": {"groups": ["sre"], "token_sha256": hash_token(APPROVER_TOKEN)},
    }}))  # fmt: skip
    return path


async def test_a_restart_rebuilds_pending_approvals_from_the_stream(
    settings: Settings, js: Any, tmp_path: Path, identities: Path
) -> None:
    publisher = bus.EventPublisher(js, settings)
    await publisher.publish(_request("keep", 300))
    await publisher.publish(_request("gone", 300))
    async with approval_service(settings, tmp_path, identities) as first:
        await eventually(lambda: _has(first, "keep"), 10, "the request listed")
        status, _ = await first.http("POST", "/approvals/gone/deny", APPROVER_TOKEN,
                                     {"note": "no"})  # fmt: skip
        assert status == 200
        first.runner.kill()  # no chance to save anything
    decided: asyncio.Queue[pb.Event] = asyncio.Queue()
    sub = await subscribe(js, "approval_granted", decided)
    try:
        async with approval_service(settings, tmp_path, identities) as second:
            assert await second.pending_ids() == ["keep"]  # served only once rebuilt
            status, body = await second.http("GET", "/approvals/gone", APPROVER_TOKEN)
            assert status == 200 and body["status"] == "denied" and body["note"] == "no"
            status, _ = await second.http("POST", "/approvals/keep/approve", APPROVER_TOKEN)
            assert status == 200
            event = await asyncio.wait_for(decided.get(), 10)
            assert event.approval_granted.approval_id == "keep"
            assert event.approval_granted.approver == "bob"
            assert event.source == "approval"
    finally:
        await sub.unsubscribe()


async def test_an_undecided_request_expires(
    settings: Settings, js: Any, tmp_path: Path, identities: Path
) -> None:
    expired: asyncio.Queue[pb.Event] = asyncio.Queue()
    sub = await subscribe(js, "approval_expired", expired)
    try:
        async with approval_service(settings, tmp_path, identities) as running:
            await bus.EventPublisher(js, settings).publish(_request("soon", 1))
            event = await asyncio.wait_for(expired.get(), 10)
            assert event.approval_expired.approval_id == "soon"
            assert await running.pending_ids() == []
            status, body = await running.http("POST", "/approvals/soon/approve", APPROVER_TOKEN)
            assert status == 409 and "expired" in body["error"]
    finally:
        await sub.unsubscribe()


async def test_a_stop_after_the_broker_died_is_prompt_and_clean(
    settings: Settings, nats_server: EmbeddedNats, tmp_path: Path, identities: Path
) -> None:
    """NATS goes away under a running approval service, then the service is told to stop: it
    exits at once and cleanly (the client's unsent data is dropped, not an error)."""
    async with approval_service(settings, tmp_path, identities) as running:
        nats_server.stop()
        await asyncio.sleep(2)  # the client is reconnecting, its pull requests unsent
        started = time.monotonic()
        code = running.runner.stop(timeout=20)
        took = time.monotonic() - started
        output = running.runner.output()
    assert code == 0, output
    assert "approval service stopped" in output, output
    assert took < 10, f"took {took:.1f} s\n{output}"
