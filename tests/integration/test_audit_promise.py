"""The audit promise under faults: reconnecting clients load the proxy (two ingress processes)
while the broker is restarted and an ingress process is SIGKILLed. Afterwards every statement a
client saw succeed has its CommandReceived, CommandClassified and CommandExecuted on the stream
and in the audit store."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
from typing import Any

import asyncpg
import pytest

from proctor.embedded import EmbeddedNats
from proctor.events import codec
from proctor.settings import Settings
from proctor.testing import ServiceRunner
from tests.integration.conftest import RunningGateway, eventually
from tests.integration.test_broker_restart import stored
from tests.integration.test_proxy_workers import children

pytestmark = pytest.mark.integration

CLIENTS = 4
KINDS = ("command_received", "command_classified", "command_executed")


@pytest.fixture
def gateway_env() -> dict[str, str]:
    return {"PROCTOR_INGRESS_WORKERS": "2", "PROCTOR_CLASSIFY_TIMEOUT": "0.5"}


class Load:
    """Clients that run numbered statements, reconnecting whenever their connection fails."""

    def __init__(self, gateway: RunningGateway) -> None:
        self.gateway = gateway
        self.numbers = itertools.count(1)
        self.succeeded: set[int] = set()
        self.failed = 0
        self.reconnects = 0
        self.stop = asyncio.Event()

    async def client(self) -> None:
        conn: asyncpg.Connection | None = None
        while not self.stop.is_set():
            if conn is None or conn.is_closed():
                try:
                    conn = await asyncpg.connect(self.gateway.dsn(), ssl=False, timeout=3)
                except (OSError, asyncpg.PostgresError, TimeoutError):
                    self.reconnects += 1
                    await asyncio.sleep(0.05)
                    continue
            n = next(self.numbers)
            # One text per statement, one verdict for all (literals do not change it), so
            # statements keep running from the verdict cache while the broker is away.
            sql = f"SELECT owner, {n} AS n FROM accounts WHERE id = {n % 100 + 1}"
            try:
                row = await asyncio.wait_for(conn.fetchrow(sql), 5)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
                self.failed += 1
                conn = None
                await asyncio.sleep(0.02)
                continue
            if row is not None and row["n"] == n and row["owner"] == f"owner{n % 100 + 1}":
                self.succeeded.add(n)
        if conn is not None:
            await conn.close()


def statement_number(text: str) -> int | None:
    _, found, rest = text.partition("SELECT owner, ")
    head = rest.split(" AS n", 1)[0]
    return int(head) if found and head.isdigit() else None


async def test_every_statement_a_client_saw_succeed_is_recorded(
    gateway: RunningGateway, settings: Settings, nats_server: EmbeddedNats, js: Any, tmp_path: Any
) -> None:
    audit = ServiceRunner("proctor_audit", settings, tmp_path / "audit.log").start()
    try:
        assert gateway.proxy.proc is not None
        primary = gateway.proxy.proc.pid
        await eventually(lambda: asyncio.sleep(0, len(children(primary)) == 1), 10, "worker")
        load = Load(gateway)
        clients = [asyncio.create_task(load.client()) for _ in range(CLIENTS)]
        await asyncio.sleep(2)
        before_outage = len(load.succeeded)
        nats_server.stop()
        await asyncio.sleep(2)
        during_outage = len(load.succeeded) - before_outage
        nats_server.start()
        await asyncio.sleep(2)
        os.kill(children(primary)[0], signal.SIGKILL)  # the primary starts another
        await asyncio.sleep(3)
        load.stop.set()
        await asyncio.gather(*clients)
        assert len(load.succeeded) > 200, (len(load.succeeded), load.failed)
        assert during_outage > 0, "no statement ran from the verdict cache during the outage"

        # On the stream: each of the three events of every statement that succeeded.
        numbers: dict[str, int] = {}  # command id -> statement number
        kinds: dict[str, set[str]] = {}

        async def all_on_stream() -> bool:
            numbers.clear()
            kinds.clear()
            for event in await stored(js, codec.subject_filter("command_received", None)):
                n = statement_number(event.command_received.text)
                if n is not None:
                    numbers[event.command_id] = n
            for kind in KINDS:
                for event in await stored(js, codec.subject_filter(kind, None)):
                    kinds.setdefault(event.command_id, set()).add(kind)
            complete = {n for cid, n in numbers.items() if kinds.get(cid, set()) >= set(KINDS)}
            return load.succeeded <= complete

        await eventually(all_on_stream, 30, "every succeeded statement's events on the stream")
        wanted = {cid for cid, n in numbers.items() if n in load.succeeded}

        # In the store too.
        assert settings.database_url

        async def all_in_store() -> bool:
            conn = await asyncpg.connect(settings.database_url)
            try:
                rows = await conn.fetch(
                    "SELECT command_id, type FROM audit.events WHERE type = ANY($1::text[])",
                    list(KINDS),
                )
            finally:
                await conn.close()
            found: dict[str, set[str]] = {}
            for r in rows:
                found.setdefault(r["command_id"], set()).add(r["type"])
            return all(found.get(cid, set()) >= set(KINDS) for cid in wanted)

        await eventually(all_in_store, 60, "every succeeded statement's events in the store")
    finally:
        assert audit.stop() == 0, audit.output()
