"""A million rows with PII read through the gateway: every row arrives, masked, and neither the
proxy's nor the masker's memory grows with the result (no row cap, streamed in batches)."""

from __future__ import annotations

import time
from pathlib import Path

import asyncpg
import pytest

from tests.integration.conftest import RunningGateway
from tests.unit.masker_corpus import pii_table_sql

pytestmark = pytest.mark.integration

ROWS = 1_000_000
# Orders repeat their customer's details, as a real orders table does: 20,000 customers.
CUSTOMERS = 20_000
# Peak resident memory allowed for each process, whatever the result's size. The masker holds
# presidio and its caches; 1M masked rows are ~150 MB on the wire.
PROXY_PEAK_MB = 150
MASKER_PEAK_MB = 400
# How much either peak may rise between the first 50,000 rows and the end of the read.
GROWTH_MB = 40


def peak_rss_mb(pid: int) -> float:
    """VmHWM (the process's peak resident set) in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmHWM for pid {pid}")


async def test_a_million_rows_stream_masked_in_bounded_memory(gateway: RunningGateway) -> None:
    setup = await asyncpg.connect(gateway.target_url)
    try:
        await setup.execute(pii_table_sql("orders", ROWS, customers=CUSTOMERS))
    finally:
        await setup.close()
    assert gateway.proxy.proc is not None and gateway.masker.proc is not None
    pids = {"proxy": gateway.proxy.proc.pid, "masker": gateway.masker.proc.pid}

    conn = await asyncpg.connect(gateway.dsn(), ssl=False)
    start = time.monotonic()
    rows = masked_cards = masked_phones = 0
    early: dict[str, float] = {}
    try:
        async with conn.transaction():
            cursor = conn.cursor("SELECT * FROM orders ORDER BY id", prefetch=5000)
            async for r in cursor:
                rows += 1
                assert r["id"] == rows
                assert r["email"] == "<EMAIL_ADDRESS>", r
                assert "@" not in r["note"], r
                if r["card"] is not None:
                    assert r["card"].startswith("************"), r
                    masked_cards += 1
                if r["phone"] is not None:
                    # A few US numbers also pass the NHS checksum, which outranks a phone.
                    assert r["phone"] in ("<PHONE_NUMBER>", "<UK_NHS>"), r
                    masked_phones += 1
                if rows == 50_000:
                    early = {name: peak_rss_mb(pid) for name, pid in pids.items()}
    finally:
        await conn.close()
    seconds = time.monotonic() - start
    peaks = {name: peak_rss_mb(pid) for name, pid in pids.items()}
    print(
        f"\n{rows:,} rows in {seconds:.1f} s ({rows / seconds:,.0f} rows/s); peak RSS (VmHWM): "
        + ", ".join(f"{n} {peaks[n]:.0f} MB (after 50,000 rows {early[n]:.0f} MB)" for n in pids)
    )
    assert rows == ROWS
    assert masked_cards == ROWS // 2 and masked_phones == ROWS * 4 // 5
    assert peaks["proxy"] < PROXY_PEAK_MB, peaks
    assert peaks["masker"] < MASKER_PEAK_MB, peaks
    for name in pids:
        assert peaks[name] - early[name] < GROWTH_MB, (name, early, peaks)
