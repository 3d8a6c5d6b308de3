"""`proctor up` on a machine with nothing running: embedded NATS and Postgres, the services,
a synthetic lifecycle published and seen in `proctor replay`, and a clean stop."""

from __future__ import annotations

import asyncio
import json
import os
import queue
import shlex
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO

import asyncpg
import nats
import nats.errors
import pytest
from pydantic import SecretStr

from proctor import bus
from proctor.embedded import free_port
from proctor.kubedouble import DEMO_EMAIL, DEMO_NAMESPACE, DEMO_POD
from proctor.kubedouble.testing import Kubectl, kubectl_binaries
from proctor.pids import process_running
from proctor.settings import Settings
from proctor.testing import lifecycle, wait_until

pytestmark = pytest.mark.integration


def clean_env(run_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROCTOR_")}
    env["PROCTOR_RUN_DIR"] = str(run_dir)
    env["PROCTOR_PG_LISTEN"] = f"127.0.0.1:{free_port()}"  # not 6543: a real stack may run
    env["PROCTOR_APPROVAL_HTTP_LISTEN"] = f"127.0.0.1:{free_port()}"
    env["PROCTOR_KUBE_LISTEN"] = f"127.0.0.1:{free_port()}"
    env["PROCTOR_SSH_LISTEN"] = f"127.0.0.1:{free_port()}"
    env["PROCTOR_GRPC_LISTEN"] = f"127.0.0.1:{free_port()}"
    env["PROCTOR_MCP_LISTEN"] = f"127.0.0.1:{free_port()}"
    return env


def proctor(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "proctor.cli.main", *args],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def reader(stream: IO[str], lines: queue.Queue[str]) -> None:
    for line in stream:
        lines.put(line)


def start_up(env: dict[str, str]) -> tuple[subprocess.Popen[str], queue.Queue[str], list[str]]:
    """Run `proctor up` and wait for its ready line."""
    up = subprocess.Popen(
        [sys.executable, "-m", "proctor.cli.main", "up"], env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=reader, args=(up.stdout, lines), daemon=True).start()
    output: list[str] = []
    while "ready\n" not in output:
        try:
            output.append(lines.get(timeout=90))
        except queue.Empty:
            up.kill()
            pytest.fail("proctor up did not become ready:\n" + "".join(output))
    return up, lines, output


def stop_up(up: subprocess.Popen[str]) -> None:
    up.send_signal(signal.SIGINT)
    try:
        up.wait(60)
    except subprocess.TimeoutExpired:
        up.kill()
        raise


async def test_proctor_up_runs_the_stack_and_replays_a_session(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    env = clean_env(run_dir)
    up, lines, output = start_up(env)
    try:
        banner = "".join(output)
        assert "Proctor is up." in banner and "audit" in banner
        agent_lines = [line for line in output if line.startswith("agent: postgresql://")]
        assert len(agent_lines) == 1, banner
        agent_url = agent_lines[0].removeprefix("agent: ").strip()
        # TLS checked against the stack's own CA, as printed; the token goes by SCRAM.
        assert "sslmode=verify-full" in agent_url and "sslrootcert=" in agent_url, agent_url
        shown = await asyncio.to_thread(
            subprocess.run,
            ["psql", agent_url, "-X", "-A", "-t", "-c", "SELECT count(*) FROM customers"],
            capture_output=True, text=True, timeout=30,
            env={k: v for k, v in os.environ.items() if not k.startswith("PG")},
        )  # fmt: skip
        assert shown.returncode == 0 and shown.stdout.strip() == "200", shown.stderr
        # The embedded Postgres has a password now, and the banner does not print it.
        pg_password = (run_dir / "secrets" / "postgres-password").read_text().strip()
        assert pg_password and pg_password not in banner and "postgres:…@" in banner
        stack_db_url = json.loads((run_dir / "stack.json").read_text())["database_url"]
        no_password = stack_db_url.replace(f":{pg_password}@", "@")
        with pytest.raises(asyncpg.InvalidPasswordError):
            await asyncpg.connect(no_password)
        demo = await asyncpg.connect(agent_url)
        try:
            assert await demo.fetchval("SELECT count(*) FROM customers") == 200
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match=r"ddl\.drop"):
                await demo.execute("DROP TABLE customers")
            assert await demo.fetchval("SELECT count(*) FROM customers") == 200
        finally:
            await demo.close()

        # kubectl reaches the demo cluster (the API server double) through the gateway, with
        # the kubeconfig the banner names; the pod's logs come back masked.
        kube_lines = [line for line in output if line.startswith("kubeconfig: ")]
        assert len(kube_lines) == 1, banner
        kubeconfig = Path(kube_lines[0].removeprefix("kubeconfig: ").strip())
        assert kubeconfig.stat().st_mode & 0o777 == 0o600
        binaries = kubectl_binaries()
        assert binaries, "no kubectl binary"
        kubectl = Kubectl(binaries[-1], kubeconfig)
        pods = await asyncio.to_thread(kubectl, "-n", DEMO_NAMESPACE, "get", "pods")
        assert pods.rc == 0 and DEMO_POD in pods.stdout, pods.stderr
        logs = await asyncio.to_thread(kubectl, "-n", DEMO_NAMESPACE, "logs", DEMO_POD)
        assert logs.rc == 0 and logs.stdout and DEMO_EMAIL not in logs.stdout, logs

        # The demo host through both shell entrances, with the prefixes the banner prints:
        # its app.log comes back masked.
        for entrance in ("ssh", "exec"):
            prefixes = [line for line in output if line.startswith(f"{entrance}: ")]
            assert len(prefixes) == 1, banner
            words = shlex.split(prefixes[0].removeprefix(f"{entrance}: "))
            if entrance == "ssh":
                words[1:1] = ["-o", "BatchMode=yes", "-F", "/dev/null"]
            read = await asyncio.to_thread(
                subprocess.run, [*words, "cat app.log"], capture_output=True, text=True,
                timeout=60, env=env, stdin=subprocess.DEVNULL,
            )  # fmt: skip
            assert read.returncode == 0, (entrance, read.stderr)
            assert "INFO checkout order=5000" in read.stdout, read.stdout
            assert "@example.com" not in read.stdout and "4111 1111" not in read.stdout, read

        stack = json.loads((run_dir / "stack.json").read_text())
        assert stack["pid"] == up.pid
        # NATS has a user per service; the CLI's (admin) password is in a file only we read.
        credentials = Path(stack["nats_credentials"])
        assert credentials.stat().st_mode & 0o777 == 0o600
        assert (run_dir / "secrets" / "approval-signing-key.pem").stat().st_mode & 0o777 == 0o600
        with pytest.raises(nats.errors.Error, match="Authorization Violation"):
            await nats.connect(stack["nats_url"], allow_reconnect=False)
        password = json.loads(credentials.read_text())[stack["nats_user"]]
        settings = Settings(
            nats_url=stack["nats_url"],
            database_url=stack["database_url"],
            nats_user=stack["nats_user"],
            nats_password=SecretStr(password),
        )

        second = proctor("up", env=env)
        assert second.returncode == 1
        assert "already running" in second.stderr

        events = lifecycle()
        session = events[0].session_id
        nc = await bus.connect(settings, "test")
        try:
            await bus.EventPublisher(nc.jetstream(), settings).publish_many(events)
        finally:
            await nc.close()

        replay: subprocess.CompletedProcess[str] | None = None

        async def replayed() -> bool:
            nonlocal replay
            replay = await asyncio.to_thread(proctor, "replay", session, env=env)
            return replay.returncode == 0 and "session closed" in replay.stdout

        assert await wait_until(replayed, timeout=30, interval=0.3), replay
        assert replay is not None
        for text in ("alice@example.com via claude-code", "DROP TABLE customers",
                     'denied by bob@example.com, note: "wrong namespace"'):  # fmt: skip
            assert text in replay.stdout
        as_json = proctor("replay", session, "--json", env=env)
        data = json.loads(as_json.stdout)
        assert len(data["events"]) == len(events)
        assert [c["status"] for c in data["commands"]] == [
            "executed", "denied", "executed", "blocked",
        ]  # fmt: skip
        assert proctor("audit", "verify", env=env).returncode == 0
        # The CLI finds the stack's admin credentials by itself, as it finds the stack.
        tail = proctor("events", "tail", "--all", "--count", "1", env=env)
        assert tail.returncode == 0 and '"stream_seq":1,' in tail.stdout, tail.stderr
    finally:
        stop_up(up)
    while not lines.empty():
        output.append(lines.get())
    assert up.returncode == 0, "".join(output)
    assert "Proctor stopped." in "".join(output)
    assert not (run_dir / "stack.json").exists()
    for svc in stack["services"].values():
        assert not process_running(svc["pid"])
    assert stack["nats_pid"] and not process_running(stack["nats_pid"])
    assert stack["postgres_pid"] and not process_running(stack["postgres_pid"])
    postmaster = run_dir / "postgres" / "pgdata" / "postmaster.pid"
    assert not postmaster.exists(), "embedded Postgres still running"


async def test_proctor_up_recovers_after_being_killed(tmp_path: Path) -> None:
    """A SIGKILLed `proctor up` leaves no service running, and the next one starts cleanly on
    the same data (stopping the servers the killed one left behind)."""
    run_dir = tmp_path / "run"
    env = clean_env(run_dir)
    up, _, _ = start_up(env)
    stack = json.loads((run_dir / "stack.json").read_text())
    up.kill()
    up.wait()
    audit_pid = stack["services"]["audit"]["pid"]
    for _ in range(100):
        if not process_running(audit_pid):
            break
        await asyncio.sleep(0.1)
    assert not process_running(audit_pid), "the audit service outlived proctor up"

    again, _, output = start_up(env)
    try:
        assert "Proctor is up." in "".join(output)
        assert not process_running(stack["nats_pid"]), "the old nats-server is still running"
        verify = proctor("audit", "verify", env=env)
        assert verify.returncode == 0, verify.stderr
    finally:
        stop_up(again)
    assert again.returncode == 0
