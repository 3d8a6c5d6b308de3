"""Several ingress-proxy processes on one port (PROCTOR_INGRESS_WORKERS): connections spread
over them, a CancelRequest reaches the statement whichever process it lands on, and stopping
the proxy stops every worker."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import asyncpg
import psycopg
import pytest
from psycopg import errors

from proctor.pids import process_running
from tests.integration.conftest import RunningGateway, eventually

pytestmark = pytest.mark.integration
WORKERS = 3


@pytest.fixture
def gateway_env() -> dict[str, str]:
    return {"PROCTOR_INGRESS_WORKERS": str(WORKERS)}


def children(pid: int) -> list[int]:
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(
                line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line
            )
        except OSError:
            continue
        if int(fields.get("PPid", "0")) == pid:
            found.append(int(status.parent.name))
    return found


async def _sleeping(gateway: RunningGateway) -> bool:
    rows = await gateway.target_rows(
        "SELECT 1 FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(30)' AND state = 'active'"
    )
    return bool(rows)


async def test_workers_share_the_port_and_cancels_reach_any_of_them(
    gateway: RunningGateway,
) -> None:
    assert gateway.proxy.proc is not None
    main = gateway.proxy.proc.pid
    await eventually(
        lambda: asyncio.sleep(0, len(children(main)) == WORKERS - 1), 10, "the workers started"
    )
    workers = children(main)
    conns = [await asyncpg.connect(gateway.dsn(), ssl=False) for _ in range(12)]
    try:
        counts = await asyncio.gather(*(c.fetchval("SELECT count(*) FROM accounts") for c in conns))
        assert counts == [100] * 12
    finally:
        await asyncio.gather(*(c.close() for c in conns))
    # Each cancel travels on a new connection, which the kernel may give to any process.
    for _ in range(6):
        async with await psycopg.AsyncConnection.connect(
            gateway.dsn(), sslmode="disable", autocommit=True, connect_timeout=10
        ) as conn:
            sleeper = asyncio.create_task(conn.execute("SELECT pg_sleep(30)"))
            await eventually(lambda: _sleeping(gateway), 5, "pg_sleep running on the target")
            started = time.monotonic()
            await conn.cancel_safe(timeout=5)
            with pytest.raises(errors.QueryCanceled):
                await asyncio.wait_for(sleeper, 5)
            assert time.monotonic() - started < 3
    gateway.proxy.stop()
    await eventually(
        lambda: asyncio.sleep(0, not any(process_running(p) for p in workers)),
        15,
        "the workers stopped with the proxy",
    )
