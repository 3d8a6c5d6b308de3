"""The audit service against a real nats-server and a real Postgres, run as real processes."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from nats.js.errors import APIError

from proctor import bus
from proctor.embedded import EmbeddedNats
from proctor.events import codec
from proctor.settings import Settings
from proctor.testing import ServiceRunner, lifecycle, service_env, wait_until

pytestmark = pytest.mark.integration


async def stored_count(url: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM audit.events") or 0)
    except asyncpg.UndefinedTableError:
        return 0
    finally:
        await conn.close()


async def wait_stored(url: str, n: int, timeout: float = 60.0) -> None:
    async def enough() -> bool:
        return await stored_count(url) >= n

    assert await wait_until(enough, timeout, 0.1), f"only {await stored_count(url)} of {n} stored"


def audit(settings: Settings, tmp_path: Path, name: str = "audit") -> ServiceRunner:
    return ServiceRunner("proctor_audit", settings, tmp_path / f"{name}.log").start()


def cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "proctor.cli.main", *args],
        env=service_env(settings), capture_output=True, text=True, timeout=60,
    )  # fmt: skip


async def fetch_all(url: str, query: str) -> list[dict[str, Any]]:
    conn = await asyncpg.connect(url)
    try:
        return [dict(r) for r in await conn.fetch(query)]
    finally:
        await conn.close()


async def test_lifecycle_lands_in_store_and_projections(
    settings: Settings, js: Any, tmp_path: Path
) -> None:
    url = settings.database_url
    assert url
    events = lifecycle()
    session = events[0].session_id
    service = audit(settings, tmp_path)
    try:
        await bus.EventPublisher(js, settings).publish_many(events)
        await wait_stored(url, len(events))
    finally:
        assert service.stop() == 0, service.output()

    rows = await fetch_all(url, "SELECT seq, type, event_id FROM audit.events ORDER BY seq")
    assert [r["seq"] for r in rows] == list(range(1, len(events) + 1))
    assert [r["event_id"] for r in rows] == [e.event_id for e in events]
    assert [r["type"] for r in rows] == [codec.event_type(e) for e in events]

    sessions = await fetch_all(url, "SELECT * FROM audit.sessions")
    assert len(sessions) == 1
    assert sessions[0]["session_id"] == session
    assert sessions[0]["command_count"] == 4
    assert sessions[0]["close_reason"] == "client closed"

    commands = await fetch_all(url, "SELECT * FROM audit.commands ORDER BY received_at")
    assert [c["status"] for c in commands] == ["executed", "denied", "executed", "blocked"]
    assert commands[0]["values_masked"] == 3
    assert commands[1]["note"] == "wrong namespace"
    assert commands[3]["rule_ids"] == ["ddl.drop"]
    assert len(json.loads(commands[2]["timeline"])) == 5

    approvals = await fetch_all(url, "SELECT * FROM audit.approvals ORDER BY requested_at")
    assert [(a["status"], a["note"]) for a in approvals] == [
        ("denied", "wrong namespace"),
        ("granted", ""),
    ]
    checkpoints = await fetch_all(url, "SELECT * FROM audit.checkpoints")
    assert {c["projection"]: c["seq"] for c in checkpoints} == {
        "sessions": len(events),
        "commands": len(events),
        "approvals": len(events),
    }

    verify = cli(settings, "audit", "verify")
    assert verify.returncode == 0, verify.stderr
    assert f"{len(events)} events" in verify.stdout

    replay = cli(settings, "replay", session)
    assert replay.returncode == 0, replay.stderr
    for expected in ("alice@example.com via claude-code", "wrong namespace", "ddl.drop",
                     "DROP TABLE customers", "masked 3 values"):  # fmt: skip
        assert expected in replay.stdout


async def test_killed_mid_stream_loses_and_duplicates_nothing(
    settings: Settings, js: Any, tmp_path: Path
) -> None:
    url = settings.database_url
    assert url
    publisher = bus.EventPublisher(js, settings)
    events = [e for _ in range(150) for e in lifecycle()]  # 3,000 events
    service = audit(settings, tmp_path)

    async def publish() -> None:
        for i in range(0, len(events), 100):
            await publisher.publish_many(events[i : i + 100])
            await asyncio.sleep(0.01)

    publishing = asyncio.create_task(publish())
    await wait_stored(url, 300)
    service.kill()
    stored_at_kill = await stored_count(url)
    await publishing
    assert stored_at_kill < len(events), "the kill came too late to test anything"

    restarted = audit(settings, tmp_path, "audit-restarted")
    try:
        await wait_stored(url, len(events), timeout=90)
        await asyncio.sleep(settings.audit_ack_wait + 1)  # any redelivery has happened by now
    finally:
        restarted.stop()
    rows = await fetch_all(url, "SELECT seq, event_id FROM audit.events ORDER BY seq")
    assert [r["seq"] for r in rows] == list(range(1, len(events) + 1))
    assert sorted(r["event_id"] for r in rows) == sorted(e.event_id for e in events)
    assert cli(settings, "audit", "verify").returncode == 0


async def test_two_replicas_store_every_event_exactly_once(
    settings: Settings, js: Any, tmp_path: Path
) -> None:
    url = settings.database_url
    assert url
    replicas = [audit(settings, tmp_path, f"audit-{i}") for i in (1, 2)]
    events = [e for _ in range(100) for e in lifecycle()]
    try:
        publisher = bus.EventPublisher(js, settings)
        for i in range(0, len(events), 200):
            await publisher.publish_many(events[i : i + 200])
        await wait_stored(url, len(events))
        await asyncio.sleep(1)
    finally:
        for r in replicas:
            r.stop()
    rows = await fetch_all(url, "SELECT seq, event_id FROM audit.events ORDER BY seq")
    assert len(rows) == len(events)
    assert [r["seq"] for r in rows] == list(range(1, len(events) + 1))
    assert len({r["event_id"] for r in rows}) == len(events)
    assert cli(settings, "audit", "verify").returncode == 0


async def test_edited_row_fails_verification_naming_it(
    settings: Settings, js: Any, tmp_path: Path
) -> None:
    url = settings.database_url
    assert url
    events = lifecycle()
    service = audit(settings, tmp_path)
    try:
        await bus.EventPublisher(js, settings).publish_many(events)
        await wait_stored(url, len(events))
    finally:
        service.stop()
    conn = await asyncpg.connect(url)
    try:
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            await conn.execute("UPDATE audit.events SET session_id = 'x' WHERE seq = 7")
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            await conn.execute("DELETE FROM audit.events WHERE seq = 7")
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            await conn.execute("TRUNCATE audit.events")
        # A superuser can still disable the trigger; the chain is what catches that.
        await conn.execute("ALTER TABLE audit.events DISABLE TRIGGER events_append_only")
        await conn.execute(
            "UPDATE audit.events SET body = jsonb_set(body, '{approval_denied,note}', "
            "'\"fine by me\"') WHERE seq = 9"
        )
        await conn.execute("ALTER TABLE audit.events ENABLE TRIGGER events_append_only")
    finally:
        await conn.close()
    result = cli(settings, "audit", "verify")
    assert result.returncode == 1
    assert "BROKEN at seq 9" in result.stdout


async def test_broker_refuses_to_delete_or_purge_events(settings: Settings, js: Any) -> None:
    await bus.EventPublisher(js, settings).publish_many(lifecycle())
    with pytest.raises(APIError):
        await js.delete_msg(settings.stream_name, 3)
    with pytest.raises(APIError):
        await js.purge_stream(settings.stream_name)
    info = await js.stream_info(settings.stream_name)
    assert info.state.messages == len(lifecycle())
    assert info.config.deny_delete and info.config.deny_purge


async def test_undecodable_message_is_stored_terminated_and_counted(
    settings: Settings, js: Any, tmp_path: Path
) -> None:
    url = settings.database_url
    assert url
    service = audit(settings, tmp_path)
    events = lifecycle()
    try:
        publisher = bus.EventPublisher(js, settings)
        await publisher.publish_many(events[:3])
        await js.publish("proctor.evt.command_received.garbage", b"\xff\x00not protobuf")
        await publisher.publish_many(events[3:])
        await wait_stored(url, len(events) + 1)
        await asyncio.sleep(0.5)
        assert service.proc is not None and service.proc.poll() is None, "consumer crashed"
    finally:
        service.stop()
    rows = await fetch_all(url, "SELECT seq, type, error FROM audit.events ORDER BY seq")
    assert rows[3]["type"] == "undecodable"
    assert "not a proctor.events.v1.Event" in rows[3]["error"]
    assert "stream seq 4 is not a readable event" in service.output()
    info = await js.consumer_info(settings.stream_name, settings.audit_durable)
    assert info.num_ack_pending == 0 and info.num_redelivered == 0
    verify = cli(settings, "audit", "verify")
    assert verify.returncode == 0 and "1 undecodable" in verify.stdout


async def test_rebuild_from_sequence_one_gives_identical_rows(
    settings: Settings, js: Any, tmp_path: Path
) -> None:
    url = settings.database_url
    assert url
    events = [e for _ in range(20) for e in lifecycle()]
    service = audit(settings, tmp_path)
    try:
        await bus.EventPublisher(js, settings).publish_many(events)
        await wait_stored(url, len(events))
    finally:
        service.stop()
    queries = [
        "SELECT * FROM audit.sessions ORDER BY session_id",
        "SELECT * FROM audit.commands ORDER BY command_id",
        "SELECT * FROM audit.approvals ORDER BY approval_id",
        "SELECT * FROM audit.checkpoints ORDER BY projection",
    ]
    before = [await fetch_all(url, q) for q in queries]
    rebuilt = subprocess.run(
        [sys.executable, "-m", "proctor_audit", "rebuild"], env=service_env(settings),
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert rebuilt.returncode == 0, rebuilt.stderr
    after = [await fetch_all(url, q) for q in queries]
    assert before == after
    assert len(before[1]) == 80


async def test_events_tail_filters_by_type_and_session(settings: Settings, js: Any) -> None:
    first, second = lifecycle(), lifecycle()
    await bus.EventPublisher(js, settings).publish_many(first + second)

    by_type = cli(settings, "events", "tail", "--all", "--type", "CommandBlocked", "--count", "2")
    lines = [json.loads(line) for line in by_type.stdout.splitlines()]
    assert [line["type"] for line in lines] == ["command_blocked", "command_blocked"]
    session = second[0].session_id
    count = str(len(second))
    by_session = cli(settings, "events", "tail", "--all", "--session", session, "--count", count)
    lines = [json.loads(line) for line in by_session.stdout.splitlines()]
    assert len(lines) == len(second)
    assert {line["session_id"] for line in lines} == {session}
    assert [line["event_id"] for line in lines] == [e.event_id for e in second]


async def test_new_database_catches_up_from_the_stream(
    settings: Settings, js: Any, tmp_path: Path, postgres: Any
) -> None:
    """A new (or restored) audit database behind the durable consumer is filled again from the
    stream instead of waiting forever for sequences the consumer already acknowledged."""
    first_url = settings.database_url
    assert first_url
    events = lifecycle() + lifecycle()
    service = audit(settings, tmp_path)
    try:
        await bus.EventPublisher(js, settings).publish_many(events)
        await wait_stored(first_url, len(events))
        await asyncio.sleep(0.5)  # acknowledgements reach the broker
    finally:
        service.stop()
    fresh = settings.model_copy(update={"database_url": await postgres.new_database()})
    assert fresh.database_url
    replacement = audit(fresh, tmp_path, "audit-fresh")
    try:
        await wait_stored(fresh.database_url, len(events), timeout=30)
    finally:
        replacement.stop()
    assert "delivering again from seq 1" in replacement.output()
    assert cli(fresh, "audit", "verify").returncode == 0


async def test_a_stop_after_the_broker_died_is_prompt_and_clean(
    settings: Settings, js: Any, nats_server: EmbeddedNats, tmp_path: Path
) -> None:
    events = lifecycle()
    service = audit(settings, tmp_path)
    try:
        await bus.EventPublisher(js, settings).publish_many(events)
        await wait_stored(settings.database_url or "", len(events))
        nats_server.stop()
        await asyncio.sleep(2)  # the client is reconnecting, its pull requests unsent
        started = time.monotonic()
        code = service.stop(timeout=20)
        took = time.monotonic() - started
    finally:
        nats_server.start()  # for the fixtures' own teardown
    assert code == 0 and took < 10, f"{code} after {took:.1f} s\n{service.output()}"
    assert "audit service stopped" in service.output()
