"""Helpers shared by the tests and benchmarks: synthetic lifecycles and service processes."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from proctor.events import new_event
from proctor.events.v1 import events_pb2 as pb
from proctor.gateway import hash_token
from proctor.scram import ScramVerifier
from proctor.settings import Settings


def lifecycle(
    session_id: str | None = None,
    *,
    human: str = "alice@example.com",
    agent: str = "claude-code",
    resource: str = "demo",
    start: datetime | None = None,
) -> list[pb.Event]:
    """One session: a read that runs masked, a write denied with a note, a corrected write that
    is approved and runs, a DROP that is blocked, and the close."""
    session_id = session_id or uuid.uuid4().hex
    who = pb.Identity(human=human, agent=agent, groups=["engineering"])
    where = pb.Resource(name=resource, kind=pb.RESOURCE_KIND_POSTGRES)
    clock = start or datetime.now(UTC)
    events: list[pb.Event] = []

    def add(command_id: str = "", source: str = "ingress-proxy", **payload: Any) -> None:
        nonlocal clock
        clock += timedelta(milliseconds=5)
        events.append(
            new_event(
                session_id=session_id, identity=who, resource=where, source=source,
                command_id=command_id, occurred_at=clock, **payload,
            )
        )  # fmt: skip

    allow, review, block = pb.ACTION_ALLOW, pb.ACTION_REVIEW, pb.ACTION_BLOCK
    add(session_opened=pb.SessionOpened(protocol="postgres", client_address="127.0.0.1:50000",
                                        client_name="psql"))  # fmt: skip
    read, deny, fixed, drop = (uuid.uuid4().hex for _ in range(4))
    add(read, command_received=pb.CommandReceived(text="SELECT name, email FROM customers"))
    add(
        read,
        "classifier",
        command_classified=pb.CommandClassified(
            action=allow, rule_ids=["read.select"], reasons=["a plain read"], policy_version="v1"
        ),
    )
    add(read, command_executed=pb.CommandExecuted(row_count=3, duration_us=850))
    add(
        read,
        "masker",
        result_masked=pb.ResultMasked(
            row_count=3,
            values_masked=3,
            counts=[pb.MaskCount(column="email", entity_type="EMAIL_ADDRESS", count=3)],
        ),
    )
    update = "UPDATE deployments SET replicas = 3 WHERE namespace = 'prod'"
    add(deny, command_received=pb.CommandReceived(text=update))
    add(
        deny,
        "classifier",
        command_classified=pb.CommandClassified(
            action=review, rule_ids=["write.update"], reasons=["writes need approval"]
        ),
    )
    approval_1 = uuid.uuid4().hex[:12]
    add(
        deny,
        "approval",
        approval_requested=pb.ApprovalRequested(
            approval_id=approval_1,
            command_text=update,
            rule_ids=["write.update"],
            reason="writes need approval",
            approver_groups=["sre"],
        ),
    )
    add(
        deny,
        "approval",
        approval_denied=pb.ApprovalDenied(
            approval_id=approval_1, approver="bob@example.com", note="wrong namespace"
        ),
    )
    corrected = update.replace("'prod'", "'staging'")
    add(fixed, command_received=pb.CommandReceived(text=corrected))
    add(
        fixed,
        "classifier",
        command_classified=pb.CommandClassified(
            action=review, rule_ids=["write.update"], reasons=["writes need approval"]
        ),
    )
    approval_2 = uuid.uuid4().hex[:12]
    add(
        fixed,
        "approval",
        approval_requested=pb.ApprovalRequested(
            approval_id=approval_2,
            command_text=corrected,
            rule_ids=["write.update"],
            reason="writes need approval",
            approver_groups=["sre"],
        ),
    )
    add(
        fixed,
        "approval",
        approval_granted=pb.ApprovalGranted(approval_id=approval_2, approver="bob@example.com"),
    )
    add(fixed, command_executed=pb.CommandExecuted(row_count=1, duration_us=2300))
    add(drop, command_received=pb.CommandReceived(text="DROP TABLE customers"))
    add(
        drop,
        "classifier",
        command_classified=pb.CommandClassified(
            action=block, rule_ids=["ddl.drop"], reasons=["DROP destroys data"]
        ),
    )
    add(
        drop,
        command_blocked=pb.CommandBlocked(
            rule_ids=["ddl.drop"], reason="DROP destroys data", hint="ask a human to run it"
        ),
    )
    add(session_closed=pb.SessionClosed(reason="client closed", command_count=4))
    return events  # fmt: skip


def service_env(settings: Settings) -> dict[str, str]:
    """The environment a service process needs to join the same bus and store."""
    env = dict(os.environ)
    env |= {
        "PROCTOR_NATS_URL": settings.nats_url,
        "PROCTOR_STREAM_NAME": settings.stream_name,
        "PROCTOR_AUDIT_ACK_WAIT": str(settings.audit_ack_wait),
        "PROCTOR_AUDIT_BATCH_SIZE": str(settings.audit_batch_size),
        "PROCTOR_LOG_LEVEL": settings.log_level,
        "PROCTOR_RUN_DIR": str(settings.run_dir.resolve()),
    }
    if settings.database_url:
        env["PROCTOR_DATABASE_URL"] = settings.database_url
    if settings.policy_file:
        env["PROCTOR_POLICY_FILE"] = str(settings.policy_file)
    if settings.approval_signing_key:
        env["PROCTOR_APPROVAL_SIGNING_KEY"] = str(settings.approval_signing_key)
    if settings.approval_verify_keys:
        env["PROCTOR_APPROVAL_VERIFY_KEYS"] = settings.approval_verify_keys
    user, password = settings.nats_auth()
    if user and password:
        env |= {"PROCTOR_NATS_USER": user, "PROCTOR_NATS_PASSWORD": password}
    return env


class ServiceRunner:
    """A service run as its own process, as in production, with its output in a log file."""

    def __init__(
        self,
        module: str,
        settings: Settings,
        log_path: Path,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.module = module
        self.settings = settings
        self.log_path = log_path
        self.extra_env = extra_env or {}
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> ServiceRunner:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", self.module], env=service_env(self.settings) | self.extra_env,
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        log.close()
        return self

    def kill(self) -> None:
        """SIGKILL: the process gets no chance to finish anything."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self, timeout: float = 15.0) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


async def wait_until(
    check: Callable[[], Awaitable[bool]], timeout: float = 30.0, interval: float = 0.05
) -> bool:
    """Poll `check` until it is true or `timeout` passes."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        if await check():
            return True
        await asyncio.sleep(interval)
    return await check()


def _stored_token(token: str) -> dict[str, str]:
    """What a gateway configuration keeps of a token: its SHA-256 and its SCRAM verifier."""
    return {"token_sha256": hash_token(token), "token_scram_sha256": str(ScramVerifier.of(token))}


def write_gateway_config(
    path: Path, identities: dict[str, dict[str, Any]], resources: dict[str, Any]
) -> Path:
    """A gateway config file: each identity's `token` is stored as its SHA-256 and SCRAM
    verifier (other keys, such as `groups` or `slack_user`, go as given); each resource is a
    Postgres URL, or the resource's whole entry (a mapping with its `kind`)."""
    config = {
        "identities": {
            name: {k: v for k, v in spec.items() if k != "token"} | _stored_token(spec["token"])
            for name, spec in identities.items()
        },
        "resources": {
            name: spec if isinstance(spec, dict) else {"kind": "postgres", "url": spec}
            for name, spec in resources.items()
        },
    }
    path.write_text(yaml.safe_dump(config))
    return path


def wait_for_port(host: str, port: int, timeout: float = 20.0) -> None:
    """Until something accepts connections on host:port (TimeoutError after `timeout`)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), 0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {host}:{port}")


def approval_history(n: int) -> list[pb.Event]:
    """`n` past approvals, each requested and then granted (for start-up tests and benches)."""
    who = pb.Identity(human="alice", agent="bench", groups=["engineering"])
    where = pb.Resource(name="target", kind=pb.RESOURCE_KIND_POSTGRES)
    events = []
    for i in range(n):
        aid = f"ap{i}"
        common: dict[str, Any] = {"session_id": "s" * 32, "command_id": f"c{i}",
                                  "identity": who, "resource": where}  # fmt: skip
        events.append(new_event(
            **common, source="ingress-proxy",
            approval_requested=pb.ApprovalRequested(
                approval_id=aid, command_text=f"UPDATE accounts SET balance = {i} WHERE id = 1",
                rule_ids=["write.update"], reason="writes need approval",
            ),
        ))  # fmt: skip
        events.append(new_event(
            **common, source="approval",
            approval_granted=pb.ApprovalGranted(approval_id=aid, approver="bob"),
        ))  # fmt: skip
    return events
