"""`proctor up` supervises everything it starts: a nats-server that stops is restarted (and
reaped, not left defunct) with `stack.json` naming the new pid; an ingress worker dies with its
parent; and `proctor down` after the primary ingress process was SIGKILLed leaves nothing
listening."""

from __future__ import annotations

import json
import os
import signal
import socket
from pathlib import Path

import asyncpg
import pytest

from proctor.pids import process_running
from proctor.testing import wait_until
from tests.integration.test_proctor_up import clean_env, proctor, start_up

pytestmark = pytest.mark.integration


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rpartition(")")[2].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def listening(address: str) -> bool:
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), 0.5):
            return True
    except OSError:
        return False


async def test_proctor_up_supervises_nats_and_leaves_no_worker_behind(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    env = clean_env(run_dir) | {"PROCTOR_INGRESS_WORKERS": "2"}
    up, lines, output = start_up(env)
    try:
        agent_url = next(x for x in output if x.startswith("agent: ")).removeprefix("agent: ")
        stack = json.loads((run_dir / "stack.json").read_text())

        # nats-server stops: restarted on its port, reaped, and stack.json tells the new pid.
        old_nats = stack["nats_pid"]
        os.kill(old_nats, signal.SIGTERM)

        async def nats_restarted() -> bool:
            now = json.loads((run_dir / "stack.json").read_text())
            return bool(now["nats_pid"] != old_nats and process_running(now["nats_pid"]))

        assert await wait_until(nats_restarted, 30, 0.2), "nats-server was not restarted"
        assert not Path(f"/proc/{old_nats}").exists(), "the old nats-server is left defunct"

        async def serving() -> bool:
            try:
                conn = await asyncpg.connect(agent_url.strip(), ssl=False, timeout=3)
            except (OSError, asyncpg.PostgresError):
                return False
            try:
                return bool(await conn.fetchval("SELECT count(*) FROM customers") == 200)
            except asyncpg.PostgresError:
                return False
            finally:
                await conn.close()

        assert await wait_until(serving, 30, 0.5), "the stack does not serve after the restart"

        # The primary ingress process is killed: its worker goes with it.
        primary = stack["services"]["ingress-proxy"]["pid"]
        workers = children_of(primary)
        assert len(workers) == 1, workers
        os.kill(primary, signal.SIGKILL)

        async def worker_gone() -> bool:
            return not process_running(workers[0])

        assert await wait_until(worker_gone, 10, 0.1), "the ingress worker outlived its parent"
    finally:
        down = proctor("down", env=env)
        up.wait(60)
    assert down.returncode == 0, down.stderr
    assert up.returncode == 0
    pg_listen = env["PROCTOR_PG_LISTEN"]
    assert not listening(pg_listen), f"something still listens on {pg_listen}"
    final = stack["services"]
    for svc in final.values():
        assert not process_running(svc["pid"])
    while not lines.empty():
        output.append(lines.get())
    postmaster = run_dir / "postgres" / "pgdata" / "postmaster.pid"
    assert not postmaster.exists(), "".join(output)
