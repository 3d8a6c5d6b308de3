"""Audit benchmarks: ingest throughput with the hash chain on, and projection lag under load.

Starts its own nats-server and Postgres (embedded, free ports, temporary directories) and runs
the audit service as its own process, as in production. The baseline is a plain COPY of the same
rows into a table with no chain, no projections and no broker, measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from proctor import bus
from proctor.embedded import EmbeddedNats, EmbeddedPostgres
from proctor.events import codec
from proctor.settings import Settings
from proctor.testing import ServiceRunner, lifecycle


async def count(url: str, query: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        return int(await conn.fetchval(query) or 0)
    except asyncpg.UndefinedTableError:
        return 0
    finally:
        await conn.close()


async def baseline_copy(url: str, events: list[bytes]) -> float:
    """Events/s for a bare COPY of the payloads: the floor cost of putting bytes in Postgres."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("CREATE TABLE bench_plain (seq bigint PRIMARY KEY, payload bytea)")
        start = time.perf_counter()
        for i in range(0, len(events), 500):
            records = [(i + j + 1, p) for j, p in enumerate(events[i : i + 500])]
            async with conn.transaction():
                await conn.copy_records_to_table("bench_plain", records=records)
        return len(events) / (time.perf_counter() - start)
    finally:
        await conn.close()


async def publish_backlog(settings: Settings, n_sessions: int) -> int:
    events = [e for _ in range(n_sessions) for e in lifecycle()]
    nc = await bus.connect(settings, "bench")
    js = nc.jetstream()
    await bus.ensure_stream(js, settings)
    publisher = bus.EventPublisher(js, settings)
    for i in range(0, len(events), 1000):
        await publisher.publish_many(events[i : i + 1000])
    await nc.close()
    return len(events)


async def ingest(settings: Settings, work: Path, total: int, replicas: int) -> float:
    """Time `replicas` audit processes storing a backlog of `total` events; events/s."""
    assert settings.database_url
    services = [
        ServiceRunner("proctor_audit", settings, work / f"audit-{replicas}-{i}.log").start()
        for i in range(replicas)
    ]
    try:
        query = "SELECT count(*) FROM audit.events"
        while await count(settings.database_url, query) == 0:
            await asyncio.sleep(0.01)
        start = time.perf_counter()
        first = await count(settings.database_url, query)
        while (stored := await count(settings.database_url, query)) < total:
            await asyncio.sleep(0.02)
        elapsed = time.perf_counter() - start
    finally:
        for service in services:
            service.stop()
    return (stored - first) / elapsed


async def lag(settings: Settings, work: Path, rate: int, seconds: float) -> list[float]:
    """Publish at a steady rate; sample how far projections trail the newest stored event."""
    assert settings.database_url
    service = ServiceRunner("proctor_audit", settings, work / "audit-lag.log").start()
    nc = await bus.connect(settings, "bench-lag")
    js = nc.jetstream()
    publisher = bus.EventPublisher(js, settings)
    published_at: dict[int, float] = {}
    lags: list[float] = []
    done = asyncio.Event()

    async def produce() -> None:
        per_tick = max(rate // 50, 1)
        pool = [e for _ in range(per_tick // 18 + 2) for e in lifecycle()]
        end = time.perf_counter() + seconds
        tick = time.perf_counter()
        while tick < end:
            batch = [pool.pop() if pool else None for _ in range(per_tick)]
            fresh = [e for e in batch if e is not None]
            if len(pool) < per_tick:
                pool.extend(e for _ in range(per_tick // 18 + 2) for e in lifecycle())
            for seq in await publisher.publish_many(fresh):
                published_at[seq] = time.perf_counter()
            tick += 0.02
            await asyncio.sleep(max(tick - time.perf_counter(), 0))
        done.set()

    async def sample() -> None:
        conn = await asyncpg.connect(settings.database_url)
        try:
            seen = 0
            while not (done.is_set() and seen >= max(published_at, default=0)):
                try:
                    seq = await conn.fetchval("SELECT min(seq) FROM audit.checkpoints")
                except asyncpg.UndefinedTableError:
                    seq = None
                now = time.perf_counter()
                for s in range(seen + 1, (seq or 0) + 1):
                    if s in published_at:
                        lags.append((now - published_at[s]) * 1000)
                seen = max(seen, seq or 0)
                await asyncio.sleep(0.005)
        finally:
            await conn.close()

    await asyncio.sleep(1.0)  # let the service connect before the clock starts
    await asyncio.gather(produce(), sample())
    await nc.close()
    service.stop()
    return lags


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(len(ordered) * p), len(ordered) - 1)]


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=2000, help="lifecycles of 18 events")
    parser.add_argument("--rate", type=int, default=2000, help="events/s for the lag test")
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="proctor-bench-") as tmp:
        work = Path(tmp)
        nats = EmbeddedNats(work / "nats").start()
        pg = EmbeddedPostgres(work / "pg").start()
        try:
            for db in ("ingest1", "ingest2", "lag", "plain"):
                pg.create_database(db)
            base = Settings(nats_url=nats.url, audit_batch_size=500)
            n = await publish_backlog(base, args.sessions)
            rates = {}
            for replicas in (1, 2):
                each = base.model_copy(
                    update={
                        "database_url": pg.url(f"ingest{replicas}"),
                        "audit_durable": f"audit-bench-{replicas}",
                    }
                )
                rates[replicas] = await ingest(each, work, n, replicas)
            payloads = [codec.encode(e) for _ in range(args.sessions) for e in lifecycle()]
            plain = await baseline_copy(pg.url("plain"), payloads)
            # A fresh broker, so the lag run starts with an empty stream.
            nats.stop()
            nats = EmbeddedNats(work / "nats-lag").start()
            lag_settings = base.model_copy(
                update={"nats_url": nats.url, "database_url": pg.url("lag")}
            )
            lags = await lag(lag_settings, work, args.rate, args.seconds)
        finally:
            pg.stop("immediate")
            nats.stop()
    print(
        f"audit benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, Python {sys.version.split()[0]}"
    )
    for replicas, eps in rates.items():
        print(
            f"  ingest, hash chain + 3 projections, {replicas} replica(s): {eps:8,.0f} events/s"
            f"  ({n:,} events; {eps / plain:.3f} x bare COPY)"
        )
    print(f"  baseline: bare COPY of the same payloads:            {plain:8,.0f} events/s")
    if lags:
        print(f"  projection lag at {args.rate:,} events/s for {args.seconds:.0f}s "
              f"({len(lags):,} events): p50 {statistics.median(lags):.1f} ms, "
              f"p99 {pct(lags, 0.99):.1f} ms, max {max(lags):.1f} ms")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
