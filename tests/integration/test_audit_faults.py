"""The audit consumer under faults, against a real nats-server and a real Postgres: an idle
stream for an hour's worth of empty fetches, a broker that goes away and comes back (logged
once each way), and an event that cannot be stored (stored raw as a dead letter, counted by
`proctor audit verify`, and the chain moves on)."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Any

import pytest

from proctor import auditstore, bus
from proctor.embedded import EmbeddedNats
from proctor.settings import Settings
from proctor.testing import ServiceRunner, lifecycle, service_env, wait_until
from proctor_audit.consumer import AuditConsumer, align_consumer
from proctor_audit.store import AuditStore, migrate

pytestmark = pytest.mark.integration


class Running:
    def __init__(self, consumer: AuditConsumer, task: asyncio.Task[None], stop: asyncio.Event):
        self.consumer = consumer
        self.task = task
        self.stop = stop


@pytest.fixture
async def audit(settings: Settings, js: Any) -> AsyncIterator[Running]:
    """The audit consumer in this process, with short fetches (1 ms instead of 1 s)."""
    assert settings.database_url
    pool = await auditstore.create_pool(settings.database_url)
    await migrate(pool)
    store = AuditStore(pool)
    await align_consumer(js, store, settings)
    consumer = AuditConsumer(js, store, settings, fetch_timeout=0.001)
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    try:
        yield Running(consumer, task, stop)
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
        await pool.close()


async def stored_rows(url: str) -> list[dict[str, Any]]:
    conn = await auditstore.connect(url)
    try:
        rows = await conn.fetch("SELECT seq, type, error FROM audit.events ORDER BY seq")
        return [dict(r) for r in rows]
    finally:
        await conn.close()


async def test_an_idle_hour_of_empty_fetches_does_not_stop_the_consumer(
    settings: Settings, js: Any, audit: Running
) -> None:
    # 3600 empty fetches is an hour of an idle stream at the service's 1 s fetch timeout.
    async def an_hour_idle() -> bool:
        return audit.consumer.fetches >= 3600 or audit.task.done()

    assert await wait_until(an_hour_idle, 60, 0.05)
    assert not audit.task.done(), audit.task.exception()
    # And it still stores what comes after the idle hour.
    events = lifecycle()
    await bus.EventPublisher(js, settings).publish_many(events)
    assert settings.database_url

    async def stored() -> bool:
        return audit.consumer.stored == len(events)

    assert await wait_until(stored, 20, 0.05)


async def test_a_broker_outage_is_logged_once_when_it_starts_and_once_when_it_ends(
    settings: Settings, js: Any, audit: Running, nats_server: EmbeddedNats,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    caplog.set_level(logging.WARNING)
    nats_server.stop()
    await asyncio.sleep(4)  # eight reconnect attempts at 0.5 s, many more failed fetches
    nats_server.start()

    async def back() -> bool:
        return not audit.consumer.bus.down and js._nc.is_connected

    assert await wait_until(back, 30, 0.1)
    events = lifecycle()
    await bus.EventPublisher(js, settings).publish_many(events)

    async def stored() -> bool:
        return audit.consumer.stored == len(events)

    assert await wait_until(stored, 30, 0.1)
    assert not audit.task.done()
    lines = [r.getMessage() for r in caplog.records]
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"
    went = [m for m in lines if "unavailable" in m and "NATS" in m]
    came = [m for m in lines if "available again" in m and "NATS" in m]
    # One connection (the consumer's) logs the outage once and the recovery once.
    assert len(went) == 1 and len(came) == 1, lines


async def test_an_event_that_cannot_be_stored_becomes_a_dead_letter_and_the_chain_moves_on(
    settings: Settings, js: Any, nats_server: EmbeddedNats
) -> None:
    settings = settings.model_copy(update={"audit_dead_letter_after": 2, "audit_ack_wait": 2.0})
    assert settings.database_url
    pool = await auditstore.create_pool(settings.database_url)
    await migrate(pool)
    store = AuditStore(pool)
    await align_consumer(js, store, settings)
    consumer = AuditConsumer(js, store, settings, fetch_timeout=0.05)
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    try:
        events = lifecycle()
        # A NUL character decodes as protobuf, but Postgres cannot hold it in text or jsonb:
        # every attempt to store this event fails, however often it is delivered.
        events[1].command_received.text = "SELECT 1 -- \x00"
        await bus.EventPublisher(js, settings).publish_many(events)

        async def all_stored() -> bool:
            return consumer.stored + consumer.dead_letters == len(events)

        assert await wait_until(all_stored, 30, 0.1), (consumer.stored, consumer.dead_letters)
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
        await pool.close()
    rows = await stored_rows(settings.database_url)
    assert [r["seq"] for r in rows] == list(range(1, len(events) + 1))
    assert rows[1]["type"] == "dead_letter"
    assert "UntranslatableCharacter" in rows[1]["error"] or "\\u0000" in rows[1]["error"]
    assert consumer.dead_letters == 1

    verify = subprocess.run(
        [sys.executable, "-m", "proctor.cli.main", "audit", "verify"],
        env=service_env(settings), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert verify.returncode == 0, verify.stderr
    assert f"audit chain OK: {len(events)} events" in verify.stdout
    assert "1 dead letter" in verify.stdout, verify.stdout


async def test_the_service_started_before_the_broker_waits_for_it(
    settings: Settings, js: Any, nats_server: EmbeddedNats, tmp_path: Any
) -> None:
    nats_server.stop()
    service = ServiceRunner("proctor_audit", settings, tmp_path / "audit.log").start()
    try:
        await asyncio.sleep(2)
        assert service.proc is not None and service.proc.poll() is None, service.output()
        nats_server.start()
        events = lifecycle()
        await bus.EventPublisher(js, settings).publish_many(events)
        assert settings.database_url

        async def all_stored() -> bool:
            try:
                return len(await stored_rows(settings.database_url or "")) == len(events)
            except Exception:  # the schema is not there yet
                return False

        assert await wait_until(all_stored, 30, 0.2), service.output()
    finally:
        assert service.stop() == 0, service.output()
    assert service.output().count("unavailable") == 1, service.output()
