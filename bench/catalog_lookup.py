"""What judging calls by the target's catalog costs, against the same statements sent directly,
in the same run.

- The lookups themselves on a miss (one function name, one relation name, a write's row
  estimate), on a connection like the ingress's side connection, beside a bare `SELECT 1`.
- Through the gateway, with nothing cached: statements that each read a column not asked about
  before (a classify request, the relation cached) against statements that each call a
  function not seen before (a classify request, a function lookup, and a second request with
  the facts). The difference is the lookup's cost on a miss as an agent sees it.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import asyncpg

from proctor.catalogfacts import estimate_rows, lookup_functions, lookup_relations
from proctor.embedded import EmbeddedNats, EmbeddedPostgres, free_port
from proctor.settings import Settings
from proctor.testing import ServiceRunner, wait_for_port, write_gateway_config

TOKEN = "prx_bench_token_not_a_secret"


def setup_sql(n: int) -> str:
    columns = ", ".join(f"c{i} integer DEFAULT {i}" for i in range(n))
    functions = "\n".join(
        f"CREATE FUNCTION f{i}() RETURNS integer LANGUAGE sql STABLE AS $$ SELECT {i} $$;"
        for i in range(n)
    )
    return f"""
    CREATE TABLE wide (id integer PRIMARY KEY, {columns});
    INSERT INTO wide (id) SELECT g FROM generate_series(1, 1000) g;
    ANALYZE wide;
    {functions}
    """


async def timed(n: int, make: object) -> list[float]:
    out = []
    for i in range(n):
        started = time.perf_counter()
        await make(i)  # type: ignore[operator]
        out.append((time.perf_counter() - started) * 1000)
    return out


def ms(samples: list[float]) -> str:
    return (
        f"{statistics.median(samples):8.3f} ms (p90 {statistics.quantiles(samples, n=10)[-1]:.3f})"
    )


async def lookups(url: str, n: int) -> None:
    read_only = {"default_transaction_read_only": "on"}
    conn = await asyncpg.connect(url, statement_cache_size=0, server_settings=read_only)
    try:
        direct = await timed(n, lambda i: conn.fetchval("SELECT 1"))
        function = await timed(n, lambda i: lookup_functions(conn, [f"f{i}"]))
        relation = await timed(n, lambda i: lookup_relations(conn, ["wide"]))
        estimate = await timed(
            n, lambda i: estimate_rows(conn, f"UPDATE wide SET c0 = 1 WHERE id < {i + 2}")
        )
    finally:
        await conn.close()
    print(f"lookups on a miss, {n} each (median):")
    print(f"  direct SELECT 1 round trip   {ms(direct)}")
    print(f"  one function name            {ms(function)}")
    print(f"  one relation name            {ms(relation)}")
    print(f"  a write's row estimate       {ms(estimate)}")


async def through_gateway(direct_url: str, gateway_url: str, n: int) -> None:
    direct = await asyncpg.connect(direct_url, statement_cache_size=0)
    gateway = await asyncpg.connect(gateway_url, statement_cache_size=0)
    try:
        await gateway.execute("SELECT id FROM wide WHERE id = 1")  # the relation, looked up once
        reads = {
            "direct, new column": await timed(n, lambda i: direct.execute(
                f"SELECT c{i} FROM wide WHERE id = 1")),
            "gateway, new column (classified)": await timed(n, lambda i: gateway.execute(
                f"SELECT c{i} FROM wide WHERE id = 2")),
            "direct, new function": await timed(n, lambda i: direct.execute(
                f"SELECT f{i}() FROM wide WHERE id = 1")),
            "gateway, new function (looked up)": await timed(n, lambda i: gateway.execute(
                f"SELECT f{i}() FROM wide WHERE id = 2")),
            "gateway, the same again (cached)": await timed(n, lambda i: gateway.execute(
                f"SELECT f{i}() FROM wide WHERE id = 3")),
        }  # fmt: skip
    finally:
        await direct.close()
        await gateway.close()
    print(f"through the gateway against direct, {n} statements each (median):")
    for name, samples in reads.items():
        print(f"  {name:<36}{ms(samples)}")
    added = statistics.median(reads["gateway, new function (looked up)"]) - statistics.median(
        reads["gateway, new column (classified)"]
    )
    print(f"  a function lookup adds {added:.3f} ms to a statement the gateway had to classify")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=200, help="statements per measurement")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="proctor-catalog-") as tmp:
        work = Path(tmp)
        nats = EmbeddedNats(work / "nats").start()
        pg = EmbeddedPostgres(work / "pg").start()
        services: list[ServiceRunner] = []
        try:
            pg.create_database("bench")
            url = pg.url("bench")

            async def prepare() -> None:
                conn = await asyncpg.connect(url)
                try:
                    await conn.execute(setup_sql(args.n))
                finally:
                    await conn.close()

            asyncio.run(prepare())
            config = write_gateway_config(
                work / "gateway.yaml",
                {"bench": {"groups": ["engineering"], "token": TOKEN}},
                {"bench": url},
            )
            port = free_port()
            settings = Settings(nats_url=nats.url, log_level="WARNING")
            extra = {
                "PROCTOR_GATEWAY_CONFIG": str(config),
                "PROCTOR_PG_LISTEN": f"127.0.0.1:{port}",
            }
            services = [
                ServiceRunner(
                    "proctor_classifier", settings, work / "classifier.log", extra
                ).start(),
                ServiceRunner("proctor_ingress", settings, work / "proxy.log", extra).start(),
            ]
            wait_for_port("127.0.0.1", port)
            time.sleep(1.0)  # the classifier subscribes
            asyncio.run(lookups(url, args.n))
            gateway = f"postgresql://bench:{TOKEN}@127.0.0.1:{port}/bench"
            asyncio.run(through_gateway(url, gateway, args.n))
        finally:
            for s in services:
                s.stop()
            pg.stop("immediate")
            nats.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
