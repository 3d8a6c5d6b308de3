"""Postgres through the gateway against Postgres directly, in the same run: pgbench select-only
(-S) and a 100-row read, at 1 and 8 clients. The classifier runs as its own process over NATS;
the ingress-proxy publishes every command's events to JetStream.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
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
    parser.add_argument(
        "--baseline",
        type=Path,
        help="a source tree of another revision (e.g. `git archive REV | tar -x -C DIR`): its "
        "ingress-proxy runs beside this one on the same NATS, Postgres and classifier, and "
        "the two are measured in alternating rounds",
    )
    parser.add_argument("--rounds", type=int, default=1, help="alternating rounds per proxy")
    args = parser.parse_args()
    if args.baseline is not None:
        return compare(args)
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


def process_cpu(pid: int) -> float:
    """Seconds of CPU (user + system) a process has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def compare(args: argparse.Namespace) -> int:
    """This revision's proxy against a baseline's, select-only at 1 and 8 clients, in rounds
    that alternate between them so a machine's changing load hits both alike."""
    base_src: Path = args.baseline.resolve()
    base_path = os.pathsep.join(
        str(base_src / d)
        for d in ("libs", "services/ingress-proxy", "services/classifier", "services/masker")
    )
    rows: dict[tuple[str, int], list[float]] = {}
    cpu: dict[tuple[str, int], list[float]] = {}  # proxy CPU (us) per statement
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
            config = write_gateway_config(
                work / "gateway.yaml",
                {"bench": {"groups": ["engineering"], "token": TOKEN}},
                {"bench": pg.url("bench")},
            )
            settings = Settings(nats_url=nats.url, log_level="WARNING", run_dir=work / "run")
            ports = {"this": free_port(), "baseline": free_port()}
            common = {"PROCTOR_GATEWAY_CONFIG": str(config),
                      "PROCTOR_INGRESS_WORKERS": str(args.workers)}  # fmt: skip
            services = [
                ServiceRunner("proctor_classifier", settings, work / "classifier.log", common),
                ServiceRunner("proctor_ingress", settings, work / "proxy.log",
                              common | {"PROCTOR_PG_LISTEN": f"127.0.0.1:{ports['this']}"}),
                ServiceRunner("proctor_ingress", settings, work / "baseline.log",
                              common | {"PROCTOR_PG_LISTEN": f"127.0.0.1:{ports['baseline']}",
                                        "PYTHONPATH": base_path}),
            ]  # fmt: skip
            for service in services:
                service.start()
            time.sleep(3.0)
            genv = env | {"PGPASSWORD": TOKEN}
            direct = f"host=127.0.0.1 port={pg.port} user=postgres dbname=bench"
            for _ in range(args.rounds):
                for clients in (1, 8):
                    load = ["-S", "-c", str(clients), "-j", str(min(clients, 2))]
                    rows.setdefault(("direct", clients), []).append(
                        run_pgbench(direct, load, args.seconds, env)[0]
                    )
                    for (name, port), proxy in zip(ports.items(), services[1:], strict=True):
                        dsn = f"host=127.0.0.1 port={port} user=bench dbname=bench sslmode=disable"
                        assert proxy.proc is not None
                        before = process_cpu(proxy.proc.pid)
                        tps = run_pgbench(dsn, load, args.seconds, genv)[0]
                        used = process_cpu(proxy.proc.pid) - before
                        rows.setdefault((name, clients), []).append(tps)
                        cpu.setdefault((name, clients), []).append(
                            used / (tps * args.seconds) * 1e6
                        )
        finally:
            for service in services:
                service.stop()
            pg.stop("immediate")
            nats.stop()
    print(f"select-only (-S), {args.rounds} alternating rounds of {args.seconds}s, "
          f"{os.cpu_count()} cores shared by everything, {args.workers} proxy processes each; "
          f"baseline: {base_src}")  # fmt: skip
    print(f"  {'proxy':<10}{'clients':>8}{'median tps':>12}{'proxy CPU us/stmt':>19}   runs (tps)")
    for (name, clients), values in sorted(rows.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        runs = ", ".join(f"{v:,.0f}" for v in values)
        spent = cpu.get((name, clients))
        per = f"{statistics.median(spent):.0f}" if spent else "-"
        print(f"  {name:<10}{clients:>8}{statistics.median(values):>12,.0f}{per:>19}   {runs}")
    for clients in (1, 8):
        this = statistics.median(rows[("this", clients)])
        base = statistics.median(rows[("baseline", clients)])
        # 1 client: added latency per statement; 8: added time per statement at saturation.
        added = (1 / this - 1 / base) * 1e6
        print(f"  {clients} client(s): this/baseline {this / base:.2f}, "
              f"{added:+.0f} us per statement (1/tps)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
