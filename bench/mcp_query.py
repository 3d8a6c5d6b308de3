"""The MCP `query` tool against the same SELECT over the Postgres wire protocol, through the
same gateway in the same run (and straight to Postgres, for scale): what a tool call adds.

The table is the masked-read bench's customer-orders table (PII in most rows). Each read is a
10-row and a 100-row SELECT of random rows, masked on both paths: over the wire with asyncpg
(one kept connection, simple protocol, text), over MCP with the SDK's own client (one kept
streamable HTTP session; the tool keeps its connection to the gateway between calls). The
classifier, masker and ingress-proxy run as processes over NATS, as in production."""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.masked_read import wait_ready
from proctor.embedded import EmbeddedNats, EmbeddedPostgres, free_port
from proctor.settings import Settings
from proctor.testing import ServiceRunner, wait_for_port, write_gateway_config
from tests.unit.masker_corpus import pii_table_sql

TOKEN = "prx_bench_token_not_a_secret"


def query(rows: int, start: int) -> str:
    return f"SELECT * FROM orders WHERE id BETWEEN {start} AND {start + rows - 1}"


async def timed_all(
    n: int, call: Callable[[str], Awaitable[int]], make: Callable[[], str]
) -> list[float]:
    for _ in range(5):  # warm: connections, caches of the verdict shape
        await call(make())
    out = []
    for _ in range(n):
        sql = make()
        started = time.perf_counter()
        got = await call(sql)
        out.append(time.perf_counter() - started)
        assert got > 0, sql
    return out


def ms(seconds: list[float]) -> str:
    q = statistics.quantiles(seconds, n=20)
    return f"median {statistics.median(seconds) * 1e3:7.2f} ms, p95 {q[18] * 1e3:7.2f} ms"


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
        port, mcp_port = free_port(), free_port()
        settings = Settings(nats_url=nats_server.url, log_level="WARNING")
        extra = {
            "PROCTOR_GATEWAY_CONFIG": str(config),
            "PROCTOR_PG_LISTEN": f"127.0.0.1:{port}",
            "PROCTOR_MCP_LISTEN": f"127.0.0.1:{mcp_port}",
        }
        services = [
            ServiceRunner(m, settings, work / f"{m}.log", extra).start()
            for m in ("proctor_classifier", "proctor_masker", "proctor_ingress")
        ]
        await wait_ready(nats_server.url, "127.0.0.1", port)
        await asyncio.to_thread(wait_for_port, "127.0.0.1", mcp_port)
        direct = await asyncpg.connect(pg.url("bench"))
        wire = await asyncpg.connect(
            f"postgresql://bench:{TOKEN}@127.0.0.1:{port}/bench", ssl=False
        )
        http = create_mcp_http_client(headers={"Authorization": f"Bearer bench:{TOKEN}"})
        url = f"http://127.0.0.1:{mcp_port}/mcp"
        rng = random.Random(1)
        async with Client(streamable_http_client(url, http_client=http), mode="legacy") as mcp:  # type: ignore[arg-type]

            async def over_mcp(sql: str) -> int:
                result = await mcp.call_tool(
                    "query", {"resource": "bench", "sql": sql, "max_rows": 100}
                )
                assert not result.is_error, result.content
                return len((result.structured_content or {})["statements"][0]["rows"])

            async def over_wire(sql: str) -> int:
                return len(await wire.fetch(sql))

            async def straight(sql: str) -> int:
                return len(await direct.fetch(sql))

            print(f"orders: {args.rows:,} rows; one client; {args.calls} calls each")
            for rows in (10, 100):

                def make(rows: int = rows) -> str:
                    return query(rows, rng.randint(1, args.rows - rows))

                d = await timed_all(args.calls, straight, make)
                w = await timed_all(args.calls, over_wire, make)
                m = await timed_all(args.calls, over_mcp, make)
                added = (statistics.median(m) - statistics.median(w)) * 1e3
                print(f"\n{rows}-row SELECT, random rows, masked through the gateway:")
                print(f"  Postgres directly      {ms(d)}")
                print(f"  gateway, wire protocol {ms(w)}")
                print(f"  gateway, MCP query     {ms(m)}   added {added:.2f} ms over the wire "
                      f"(medians), x{statistics.median(m) / statistics.median(w):.2f}")  # fmt: skip
        await wire.close()
        await direct.close()
    finally:
        for s in services:
            s.stop()
        pg.stop("immediate")
        nats_server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="proctor-bench-mcp-") as tmp:
        asyncio.run(run(args, Path(tmp)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
