"""Supervision of `proctor up`'s children: each service replica in a process group of its own,
restarted with a back-off when it exits, and the embedded servers watched the same way."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from proctor.children import RestartPolicy, die_with_parent, kill_group
from proctor.errors import StackError
from proctor.settings import Settings


@dataclass
class ServiceProcess:
    """One replica of a service under supervision, in a process group of its own (so its
    own children, e.g. ingress workers, are stopped with it)."""

    name: str
    argv: list[str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    next_start: float = 0.0
    policy: RestartPolicy = field(default_factory=RestartPolicy)
    log: IO[bytes] | None = field(default=None, repr=False)
    own_env: dict[str, str] = field(default_factory=dict, repr=False)  # its credentials

    def start(self, env: dict[str, str]) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            self.argv, env=env | self.own_env, stdout=self.log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True, preexec_fn=die_with_parent(),
        )  # fmt: skip
        self.policy.started(time.monotonic())

    def tend(self, now: float, env: dict[str, str]) -> bool:
        """Notice an exit and schedule a restart, or restart when due; True if restarted."""
        if self.proc is None:
            return False
        if self.next_start == 0.0:
            if self.proc.poll() is None:
                return False
            delay = self.policy.exited(now)
            self.next_start = now + delay
            kill_group(self.proc.pid)  # whatever it started and left behind
            print(f"{self.name} exited with code {self.proc.returncode}; restarting in "
                  f"{delay:.0f}s (log: {self.log_path})", flush=True)  # fmt: skip
            return False
        if now < self.next_start:
            return False
        kill_group(self.proc.pid, signal.SIGKILL)
        if self.log is not None:
            self.log.close()
        self.restarts += 1
        self.next_start = 0.0
        self.start(env)
        return True

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc is not None:
            kill_group(self.proc.pid)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            # Its children may outlive it by a moment (or were orphaned by a crash).
            deadline = time.monotonic() + timeout
            while kill_group(self.proc.pid, 0) and time.monotonic() < deadline:
                time.sleep(0.05)
            kill_group(self.proc.pid, signal.SIGKILL)
        if self.log is not None:
            self.log.close()


@dataclass
class ServerWatch:
    """An embedded server (nats-server, Postgres) under the same supervision as the services."""

    name: str
    exited: Callable[[], bool]
    restart: Callable[[], object]
    policy: RestartPolicy = field(default_factory=RestartPolicy)
    next_start: float = 0.0

    def tend(self, now: float) -> bool:
        if self.next_start == 0.0:
            if not self.exited():
                return False
            delay = self.policy.exited(now)
            self.next_start = now + delay
            print(f"{self.name} exited; restarting in {delay:.0f}s", flush=True)
            return False
        if now < self.next_start:
            return False
        self.next_start = 0.0
        try:
            self.restart()
        except StackError as exc:
            print(f"{self.name} did not restart: {exc}", flush=True)
            return False
        self.policy.started(time.monotonic())
        print(f"{self.name} restarted", flush=True)
        return True


def services(
    settings: Settings, log_dir: Path, own_env: dict[str, dict[str, str]] | None = None
) -> list[ServiceProcess]:
    """Every service that exists, with its replicas; `own_env` adds each service's own
    variables (its credentials) by service name."""
    specs = [
        ("audit", ["-m", "proctor_audit"], settings.audit_replicas),
        ("classifier", ["-m", "proctor_classifier"], 1),
        ("masker", ["-m", "proctor_masker"], settings.masker_replicas),
        ("approval", ["-m", "proctor_approval"], 1),
        ("ingress-proxy", ["-m", "proctor_ingress"], 1),
    ]
    return [
        ServiceProcess(
            name if replicas == 1 else f"{name}-{i + 1}",
            [sys.executable, *argv],
            log_dir / (f"{name}.log" if replicas == 1 else f"{name}-{i + 1}.log"),
            own_env=(own_env or {}).get(name, {}),
        )
        for name, argv, replicas in specs
        for i in range(replicas)
    ]
