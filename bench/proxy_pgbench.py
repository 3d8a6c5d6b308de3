"""Postgres through the gateway against Postgres directly, in the same run: pgbench select-only
(-S) and a 100-row read, at 1 and 8 clients. The classifier runs as its own process over NATS;
the ingress-proxy publishes every command's events to JetStream.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from proctor.embedded import EmbeddedNats, EmbeddedPostgres, free_port
from proctor.settings import Settings
from proctor.testing import ServiceRunner, write_gateway_config

TOKEN = "prx_bench_token_not_a_secret"
READ_100 = r"""\set a random(1, 99900)
SELECT aid, bid, abalance FROM pgbench_accounts WHERE aid BETWEEN :a AND :a + 99;
"""


def pgbench_bin() -> str:
    from proctor.embedded import _pg_bin

    return _pg_bin("pgbench")


def run_pgbench(
    conninfo: str, args: list[str], seconds: int, env: dict[str, str]
) -> tuple[float, float]:
    out = subprocess.run(
        [pgbench_bin(), *args, "-T", str(seconds), "-n", conninfo],
        capture_output=True, text=True, env=env, timeout=seconds + 60,
    )  # fmt: skip
    if out.returncode != 0:
        raise RuntimeError(f"pgbench failed: {out.stderr[-2000:]}")
    tps = float(re.search(r"tps = ([\d.]+)", out.stdout).group(1))  # type: ignore[union-attr]
    lat = float(re.search(r"latency average = ([\d.]+) ms", out.stdout).group(1))  # type: ignore[union-attr]
    return tps, lat


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="ingress-proxy processes"
    )
    args = parser.parse_args()
    results: list[tuple[str, int, tuple[float, float], tuple[float, float]]] = []
    with tempfile.TemporaryDirectory(prefix="proctor-pgbench-") as tmp:
        work = Path(tmp)
        nats = EmbeddedNats(work / "nats").start()
        pg = EmbeddedPostgres(work / "pg").start()
        services: list[ServiceRunner] = []
        try:
            pg.create_database("bench")
            env = dict(os.environ)
            subprocess.run([pgbench_bin(), "-i", "-s", "1", "-q", pg.url("bench")], check=True,
                           capture_output=True, env=env)  # fmt: skip
            script = work / "read100.sql"
            script.write_text(READ_100)
            config = write_gateway_config(
                work / "gateway.yaml",
                {"bench": {"groups": ["engineering"], "token": TOKEN}},
                {"bench": pg.url("bench")},
            )
            port = free_port()
            settings = Settings(nats_url=nats.url, log_level="WARNING", run_dir=work / "run")
            extra = {
                "PROCTOR_GATEWAY_CONFIG": str(config),
                "PROCTOR_PG_LISTEN": f"127.0.0.1:{port}",
                "PROCTOR_INGRESS_WORKERS": str(args.workers),
            }
            services = [
                ServiceRunner(
                    "proctor_classifier", settings, work / "classifier.log", extra
                ).start(),
                ServiceRunner("proctor_ingress", settings, work / "proxy.log", extra).start(),
            ]
            time.sleep(2.0)
            direct = f"host=127.0.0.1 port={pg.port} user=postgres dbname=bench"
            gateway = f"host=127.0.0.1 port={port} user=bench dbname=bench sslmode=disable"
            genv = env | {"PGPASSWORD": TOKEN}
            for name, workload in (
                ("select-only (-S)", ["-S"]),
                ("100-row read", ["-f", str(script)]),
            ):
                for clients in (1, 8):
                    load = [*workload, "-c", str(clients), "-j", str(min(clients, 2))]
                    d = run_pgbench(direct, load, args.seconds, env)
                    g = run_pgbench(gateway, load, args.seconds, genv)
                    results.append((name, clients, d, g))
        finally:
            for s in services:
                s.stop()
            pg.stop("immediate")
            nats.stop()
    print(f"gateway vs direct, pgbench {args.seconds}s per run, {os.cpu_count()} cores shared by "
          f"everything, {args.workers} ingress-proxy processes")  # fmt: skip
    print(f"  {'workload':<18}{'clients':>8}{'direct tps':>12}{'gateway tps':>13}{'ratio':>7}"
          f"{'direct ms':>11}{'gateway ms':>12}{'added ms':>10}")  # fmt: skip
    for name, clients, (dt, dl), (gt, gl) in results:
        print(f"  {name:<18}{clients:>8}{dt:>12,.0f}{gt:>13,.0f}{gt / dt:>7.2f}"
              f"{dl:>11.3f}{gl:>12.3f}{gl - dl:>10.3f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
