"""Shell commands through the gateway against ssh straight to the same host, in the same run:
the latency of a trivial command (`true`) direct (a new ssh process each run, as an agent runs
it; and a kept asyncssh connection, as the gateway holds one), through the ssh entrance (a new
ssh process each run), through the gRPC API (a kept channel) and the `proctor exec` CLI (a new
process each run); and the throughput of output in lines per second (`cat` of a large
log whose lines hold emails and card numbers; through the gateway every line is masked).

The host is OpenSSH's sshd where /usr/sbin/sshd exists, else the asyncssh demo host."""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import asyncssh
import grpc

from proctor import bus
from proctor.api.v1 import gateway_pb2 as gpb
from proctor.api.v1 import gateway_pb2_grpc as gpb_grpc
from proctor.embedded import EmbeddedNats, free_port
from proctor.localca import ensure_local_tls
from proctor.settings import Settings
from proctor.shelltesting import make_key, public_line, start_host
from proctor.testing import ServiceRunner, wait_for_port, write_gateway_config

TOKEN = "prx_bench_token_not_a_secret"


def ssh_base(port: int, key: Path, known_hosts: Path, user: str) -> list[str]:
    return [
        "ssh", "-F", "/dev/null", "-p", str(port), "-i", str(key), "-o", "IdentitiesOnly=yes",
        "-o", "BatchMode=yes", "-o", f"UserKnownHostsFile={known_hosts}",
        "-o", "GlobalKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", f"{user}@127.0.0.1",
    ]  # fmt: skip


def timed(args: list[str]) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args[-2:])} failed ({done.returncode}): {done.stderr}")
    return elapsed, done.stdout


def grpc_call(stub: gpb_grpc.GatewayServiceStub, command: str) -> tuple[float, str]:
    started = time.perf_counter()
    out: list[bytes] = []
    status = -1
    for reply in stub.Exec(
        gpb.ExecRequest(resource="web", command=command),
        metadata=(("authorization", f"Bearer bench:{TOKEN}"),),
    ):
        if reply.WhichOneof("reply") == "stdout":
            out.append(reply.stdout)
        elif reply.WhichOneof("reply") == "exit":
            status = reply.exit.status
    elapsed = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"gRPC {command} ended with {status}")
    return elapsed, b"".join(out).decode()


class KeptConnection:
    """An asyncssh connection to the host, kept open, used from this (synchronous) thread."""

    def __init__(self, port: int, user: str, key: Path, host_key: str) -> None:
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()

        async def connect() -> asyncssh.SSHClientConnection:
            return await asyncssh.connect(
                "127.0.0.1", port, username=user, client_keys=[str(key)],
                known_hosts=([asyncssh.import_public_key(host_key)], [], []),
                agent_path=None, config=None,
            )  # fmt: skip

        self.conn = self._call(connect())

    def _call(self, coro: object) -> object:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()  # type: ignore[arg-type]

    def run(self, command: str) -> tuple[float, str]:
        started = time.perf_counter()
        done = self._call(self.conn.run(command, check=False))  # type: ignore[attr-defined]
        elapsed = time.perf_counter() - started
        if done.exit_status != 0:  # type: ignore[attr-defined]
            raise SystemExit(f"{command} failed: {done.stderr}")  # type: ignore[attr-defined]
        return elapsed, str(done.stdout)  # type: ignore[attr-defined]

    def close(self) -> None:
        self.conn.close()  # type: ignore[attr-defined]
        self.loop.call_soon_threadsafe(self.loop.stop)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15, help="`true` runs per path")
    parser.add_argument("--lines", type=int, default=20000, help="log lines read per run")
    parser.add_argument("--log-runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="proctor-shell-bench-") as tmp:
        work = Path(tmp)
        workdir = work / "host-workdir"
        workdir.mkdir()
        (workdir / "big.log").write_text(
            "".join(
                f"2026-12-07 10:00:{i % 60:02d} INFO order {i} paid by customer{i}@example.com "
                f"card 4111 1111 1111 1111 in 23 ms\n"
                for i in range(args.lines)
            )
        )
        gateway_key = work / "gateway_key"
        host = start_host(work / "host", make_key(gateway_key), workdir)
        alice = make_key(work / "alice_key")
        gw_host_key = work / "gw_host_key"
        make_key(gw_host_key)
        ssh_port, grpc_port = free_port(), free_port()
        (work / "known_hosts").write_text(
            f"{host.known_hosts_line()}\n[127.0.0.1]:{ssh_port} {public_line(gw_host_key)}\n"
        )
        nats = EmbeddedNats(work / "nats").start()
        services: list[ServiceRunner] = []
        try:
            tls = ensure_local_tls(work / "tls", "127.0.0.1")
            config = write_gateway_config(
                work / "gateway.yaml",
                {"bench": {"groups": ["engineering"], "token": TOKEN, "ssh_keys": [alice]}},
                {"web": {"kind": "ssh", "host": "127.0.0.1", "port": host.port,
                         "user": host.user, "private_key_file": str(gateway_key),
                         "host_key": host.host_key_line, "workdir": str(workdir)}},
            )  # fmt: skip
            settings = Settings(nats_url=nats.url, log_level="WARNING", run_dir=work / "run")
            asyncio.run(_stream(settings))
            env = {
                "PROCTOR_GATEWAY_CONFIG": str(config),
                "PROCTOR_SSH_LISTEN": f"127.0.0.1:{ssh_port}",
                "PROCTOR_SSH_HOST_KEY": str(gw_host_key),
                "PROCTOR_GRPC_LISTEN": f"127.0.0.1:{grpc_port}",
                "PROCTOR_TLS_CERT": str(tls.cert),
                "PROCTOR_TLS_KEY": str(tls.key),
            }
            services = [
                ServiceRunner(name, settings, work / f"{name}.log", env).start()
                for name in ("proctor_classifier", "proctor_masker", "proctor_ingress")
            ]
            wait_for_port("127.0.0.1", ssh_port)
            wait_for_port("127.0.0.1", grpc_port)
            time.sleep(3.0)  # the masker loads its recognizers
            known = work / "known_hosts"
            direct = ssh_base(host.port, gateway_key, known, host.user)
            via_ssh = [*ssh_base(ssh_port, work / "alice_key", known, "bench"), "web"]
            cli = [
                sys.executable, "-m", "proctor.cli.main", "exec", "--as", "bench", "--token",
                TOKEN, "--server", f"127.0.0.1:{grpc_port}", "--ca", str(tls.ca), "web", "--",
            ]  # fmt: skip
            cd = f"cd {workdir} && "
            channel = grpc.secure_channel(
                f"127.0.0.1:{grpc_port}", grpc.ssl_channel_credentials(tls.ca.read_bytes())
            )
            stub = gpb_grpc.GatewayServiceStub(channel)  # type: ignore[no-untyped-call]
            kept = KeptConnection(host.port, host.user, gateway_key, host.host_key_line)
            paths: dict[str, Callable[[str], tuple[float, str]]] = {
                "direct ssh": lambda c: timed([*direct, cd + c]),
                "direct, kept conn.": lambda c: kept.run(cd + c),
                "ssh entrance": lambda c: timed([*via_ssh, c]),
                "gRPC (kept channel)": lambda c: grpc_call(stub, c),
                "proctor exec (CLI)": lambda c: timed([*cli, c]),
            }
            for run in paths.values():  # warm: connections open, verdicts cached
                run("true")
            latency: dict[str, list[float]] = {name: [] for name in paths}
            for _ in range(args.runs):
                for name, run in paths.items():
                    latency[name].append(run("true")[0] * 1000)
            rates: dict[str, list[float]] = {name: [] for name in paths}
            outputs: dict[str, str] = {}
            for _ in range(args.log_runs):
                for name, run in paths.items():
                    elapsed, outputs[name] = run("cat big.log")
                    got = outputs[name].count("\n")
                    if got != args.lines:
                        raise SystemExit(f"{name}: cat returned {got} lines, not {args.lines}")
                    rates[name].append(args.lines / elapsed)
            channel.close()
            kept.close()
        finally:
            for service in services:
                service.stop()
            nats.stop()
            host.stop()
    masked = all(
        "@example.com" not in out and "4111 1111" not in out
        for name, out in outputs.items()
        if not name.startswith("direct")
    )
    print(f"shell commands on one host ({host.kind} on loopback), same run")
    base_ms = statistics.median(latency["direct ssh"])
    kept_ms = statistics.median(latency["direct, kept conn."])
    print(f"  `true` ({args.runs} runs, median; the gateway keeps its connection to the host):")
    for name, values in latency.items():
        ms = statistics.median(values)
        extra = (
            ""
            if name.startswith("direct")
            else f"  ({ms - base_ms:+.1f} ms against direct ssh, {ms - kept_ms:+.1f} ms against "
            "a kept connection)"
        )
        print(f"    {name:<22} {ms:7.1f} ms{extra}")
    base_rate = statistics.median(rates["direct ssh"])
    print(f"  `cat` of {args.lines} lines (median of {args.log_runs}):")
    for name, values in rates.items():
        rate = statistics.median(values)
        print(f"    {name:<22} {rate:9,.0f} lines/s ({rate / base_rate:.2f} of direct)")
    print(f"  nothing unmasked through the gateway: {masked}")
    return 0 if masked else 1


async def _stream(settings: Settings) -> None:
    nc = await bus.connect(settings, "bench")
    try:
        await bus.ensure_stream(nc.jetstream(), settings)
    finally:
        await nc.close()


if __name__ == "__main__":
    sys.exit(main())
