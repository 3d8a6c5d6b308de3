"""Reads with masking on, through the gateway against Postgres directly, in the same run.

The table is a realistic customer-orders table made server-side (tests/unit/masker_corpus.py
`pii_table_sql`): id, timestamp, status, amount, name, and PII in most rows (a distinct email in
every row, a phone number in four of five, a card number in every other). The classifier, the
masker and the ingress-proxy run as their own processes over NATS, as in production, with one
masker replica per core by default (`--maskers`): a session keeps several batches of a result at
the masker at once, so the replicas share one large read.

- 100-row read, random rows: pgbench (text format, simple protocol) and asyncpg (binary,
  prepared), one client; rows mostly never seen before, so the masker's cache rarely helps.
- 100-row read, the same rows again: what a repeated read costs once the masker has seen them.
- 100,000-row read: the whole table with asyncpg, then with psql (text, to /dev/null).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg
import nats

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from proctor.embedded import EmbeddedNats, EmbeddedPostgres, _pg_bin, free_port
from proctor.settings import Settings
from proctor.testing import ServiceRunner, write_gateway_config
from tests.unit.masker_corpus import pii_table_sql

TOKEN = "prx_bench_token_not_a_secret"
READ_100 = "SELECT * FROM orders WHERE id BETWEEN $1 AND $1 + 99"
PGBENCH_100 = r"""\set a random(1, {top})
SELECT * FROM orders WHERE id BETWEEN :a AND :a + 99;
"""


async def wait_ready(nats_url: str, host: str, port: int, timeout: float = 60) -> None:
    nc = await nats.connect(nats_url)
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                await nc.request("proctor.rpc.mask", b"", timeout=0.5)
                _, writer = await asyncio.open_connection(host, port)
                writer.close()
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise TimeoutError("the gateway did not come up") from None
                await asyncio.sleep(0.1)
    finally:
        await nc.close()


async def latencies(
    dsn: str, query: str, args: Callable[[], list[object]], n: int, **kw: object
) -> list[float]:
    """Seconds per execution of a prepared `query`, `n` times (after 5 not counted)."""
    conn = await asyncpg.connect(dsn, **kw)  # type: ignore[arg-type]
    try:
        stmt = await conn.prepare(query)
        for _ in range(5):
            await stmt.fetch(*args())
        out = []
        for _ in range(n):
            a = args()
            start = time.perf_counter()
            rows = await stmt.fetch(*a)
            out.append(time.perf_counter() - start)
            assert rows
        return out
    finally:
        await conn.close()


async def timed(fn: Callable[[], Awaitable[int]]) -> tuple[float, int]:
    start = time.perf_counter()
    rows = await fn()
    return time.perf_counter() - start, rows


async def read_all(dsn: str, **kw: object) -> int:
    conn = await asyncpg.connect(dsn, **kw)  # type: ignore[arg-type]
    try:
        return len(await conn.fetch("SELECT * FROM orders"))
    finally:
        await conn.close()


def psql_all(conninfo: str, env: dict[str, str]) -> tuple[float, int]:
    start = time.perf_counter()
    out = subprocess.run(
        [_pg_bin("psql"), conninfo, "-X", "-A", "-t", "-c", "SELECT * FROM orders"],
        capture_output=True, env=env, timeout=600, check=True,
    )  # fmt: skip
    return time.perf_counter() - start, out.stdout.count(b"\n")


def pgbench(conninfo: str, script: Path, seconds: int, env: dict[str, str]) -> tuple[float, float]:
    out = subprocess.run(
        [_pg_bin("pgbench"), "-n", "-c", "1", "-T", str(seconds), "-f", str(script), conninfo],
        capture_output=True, text=True, env=env, timeout=seconds + 120,
    )  # fmt: skip
    if out.returncode != 0:
        raise RuntimeError(f"pgbench failed: {out.stderr[-2000:]}")
    tps = float(re.search(r"tps = ([\d.]+)", out.stdout).group(1))  # type: ignore[union-attr]
    lat = float(re.search(r"latency average = ([\d.]+) ms", out.stdout).group(1))  # type: ignore[union-attr]
    return tps, lat


def ms(seconds: list[float]) -> str:
    median, mean = statistics.median(seconds) * 1e3, statistics.mean(seconds) * 1e3
    return f"median {median:7.2f} ms, mean {mean:7.2f} ms"


def added(gateway: list[float], direct: list[float]) -> str:
    return f"added {(statistics.median(gateway) - statistics.median(direct)) * 1e3:.2f} ms"


async def run(args: argparse.Namespace, work: Path) -> None:
    nats_server = EmbeddedNats(work / "nats").start()
    pg = EmbeddedPostgres(work / "pg").start()
    services: list[ServiceRunner] = []
    try:
        pg.create_database("bench")
        conn = await asyncpg.connect(pg.url("bench"))
        await conn.execute(pii_table_sql("orders", args.rows))
        await conn.execute("ALTER TABLE orders ADD PRIMARY KEY (id); ANALYZE orders")
        await conn.close()
        config = write_gateway_config(
            work / "gateway.yaml",
            {"bench": {"groups": ["engineering"], "token": TOKEN}},
            {"bench": pg.url("bench")},
        )
        port = free_port()
        settings = Settings(nats_url=nats_server.url, log_level="WARNING")
        extra = {"PROCTOR_GATEWAY_CONFIG": str(config), "PROCTOR_PG_LISTEN": f"127.0.0.1:{port}"}
        services = [
            ServiceRunner(m, settings, work / f"{m}-{i}.log", extra).start()
            for m, replicas in (
                ("proctor_classifier", 1),
                ("proctor_masker", args.maskers),
                ("proctor_ingress", 1),
            )
            for i in range(replicas)
        ]
        await wait_ready(nats_server.url, "127.0.0.1", port)
        direct = pg.url("bench")
        gateway = f"postgresql://bench:{TOKEN}@127.0.0.1:{port}/bench"
        direct_libpq = f"host=127.0.0.1 port={pg.port} user=postgres dbname=bench"
        gateway_libpq = f"host=127.0.0.1 port={port} user=bench dbname=bench sslmode=disable"
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        genv = env | {"PGPASSWORD": TOKEN}

        top = args.rows - 99
        rng = random.Random(1)
        print(f"orders: {args.rows:,} rows, 9 columns; 1 client; {args.maskers} masker "
              f"replica(s); {os.cpu_count()} cores shared by everything")  # fmt: skip

        script = work / "read100.sql"
        script.write_text(PGBENCH_100.format(top=top))
        d_tps, d_lat = pgbench(direct_libpq, script, args.seconds, env)
        g_tps, g_lat = pgbench(gateway_libpq, script, args.seconds, genv)
        print(f"\n100-row read, random rows, pgbench {args.seconds}s (text format):")
        print(f"  direct  {d_tps:8.0f} tps  {d_lat:7.2f} ms")
        print(f"  gateway {g_tps:8.0f} tps  {g_lat:7.2f} ms   added {g_lat - d_lat:6.2f} ms, "
              f"x{g_tps / d_tps:.2f} of direct tps")  # fmt: skip

        n = args.queries
        d = await latencies(direct, READ_100, lambda: [rng.randint(1, top)], n)
        g = await latencies(gateway, READ_100, lambda: [rng.randint(1, top)], n, ssl=False)
        print(f"\n100-row read, random rows, asyncpg x{n} (binary format):")
        print(f"  direct  {ms(d)}")
        print(f"  gateway {ms(g)}   {added(g, d)} (medians)")

        d = await latencies(direct, READ_100, lambda: [1000], n)
        g = await latencies(gateway, READ_100, lambda: [1000], n, ssl=False)
        print(f"\n100-row read, the same rows again, asyncpg x{n}:")
        print(f"  direct  {ms(d)}")
        print(f"  gateway {ms(g)}   {added(g, d)} (medians)")

        print(f"\n{args.rows:,}-row read (whole table):")
        for label, fn in (
            ("asyncpg direct ", lambda: read_all(direct)),
            ("asyncpg gateway", lambda: read_all(gateway, ssl=False)),
        ):
            seconds, rows = await timed(fn)
            assert rows == args.rows, rows
            print(f"  {label}  {seconds:7.2f} s  {rows / seconds:10,.0f} rows/s")
        for label, conninfo, e in (
            ("psql direct    ", direct_libpq, env), ("psql gateway   ", gateway_libpq, genv),
        ):  # fmt: skip
            seconds, rows = await asyncio.to_thread(psql_all, conninfo, e)
            assert rows == args.rows, rows
            print(f"  {label}  {seconds:7.2f} s  {rows / seconds:10,.0f} rows/s")
    finally:
        for s in services:
            s.stop()
        pg.stop("immediate")
        nats_server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--seconds", type=int, default=8, help="pgbench run length")
    parser.add_argument("--queries", type=int, default=200, help="asyncpg 100-row reads")
    parser.add_argument(
        "--maskers", type=int, default=os.cpu_count() or 1, help="masker replicas (one per core)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="proctor-masked-read-") as tmp:
        asyncio.run(run(args, Path(tmp)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
