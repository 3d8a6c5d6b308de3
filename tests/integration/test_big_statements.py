"""A statement too large for its events to fit in a NATS message is refused with a clear
error, recorded on the stream by an excerpt and its SHA-256, and the session goes on; the
memory a large message took is given back."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from proctor.events import codec
from tests.integration.conftest import RunningGateway
from tests.integration.test_broker_restart import stored

pytestmark = pytest.mark.integration


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


async def events_of(js: Any, kind: str) -> list[Any]:
    return await stored(js, codec.subject_filter(kind, None))


async def test_a_statement_over_the_limit_is_refused_and_recorded(
    gateway: RunningGateway, js: Any
) -> None:
    big = "SELECT 1 /* " + "x" * 1_100_000 + " */"
    digest = hashlib.sha256(big.encode()).hexdigest()
    agent = await asyncpg.connect(gateway.dsn(), ssl=False)
    try:
        # Extended protocol (a Parse), then the simple Query protocol.
        with pytest.raises(asyncpg.ProgramLimitExceededError) as refused:
            await agent.fetchval(big)
        assert f"{len(big)} bytes" in str(refused.value) and "Nothing was run" in str(refused.value)
        assert "PROCTOR_PG_MAX_STATEMENT" in (refused.value.hint or "")
        assert digest in (refused.value.detail or "")
        with pytest.raises(asyncpg.ProgramLimitExceededError):
            await agent.execute(big)
        # The session goes on.
        assert await agent.fetchval("SELECT 2") == 2

        # Memory goes back after a large message (40 MB, under the message limit).
        assert gateway.proxy.proc is not None
        pid = gateway.proxy.proc.pid
        before = rss_mb(pid)
        with pytest.raises(asyncpg.ProgramLimitExceededError):
            await agent.execute("SELECT 1 /* " + "y" * (40 << 20) + " */")
        assert await agent.fetchval("SELECT 3") == 3
        await asyncio.sleep(0.5)
        assert rss_mb(pid) - before < 30, (before, rss_mb(pid))
    finally:
        await agent.close()

    received = [e for e in await events_of(js, "command_received") if digest in
                e.command_received.text]  # fmt: skip
    assert len(received) == 2
    assert received[0].command_received.text.startswith("SELECT 1 /* xxx")
    assert len(received[0].command_received.text) < 3000
    blocked = {e.command_id: e.command_blocked for e in await events_of(js, "command_blocked")}
    for event in received:
        assert blocked[event.command_id].rule_ids == ["gateway.statement_too_large"]
        assert digest in blocked[event.command_id].reason
