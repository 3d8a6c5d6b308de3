"""A running gateway for integration tests: a target database, the classifier, the masker and
the ingress-proxy as real processes, and the identities agents connect as."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import asyncpg
import pytest

from proctor import bus
from proctor.decisions import DecisionSigner
from proctor.embedded import EmbeddedNats, free_port
from proctor.events import codec, new_event
from proctor.events.v1 import events_pb2 as pb
from proctor.settings import Settings
from proctor.testing import ServiceRunner, wait_for_port, write_gateway_config

AGENT_TOKEN = "prx_test_agent_token_not_a_secret"
APPROVER_TOKEN = "prx_test_approver_token_not_a_secret"
TARGET_SQL = """
CREATE TABLE accounts (id integer PRIMARY KEY, owner text NOT NULL, balance numeric NOT NULL);
INSERT INTO accounts SELECT g, 'owner' || g, g * 10 FROM generate_series(1, 100) g;
CREATE TABLE big (id integer PRIMARY KEY, payload text NOT NULL);
INSERT INTO big SELECT g, repeat('x', 100) FROM generate_series(1, 50000) g;
"""


@dataclass
class RunningGateway:
    settings: Settings
    target_url: str
    host: str
    port: int
    proxy: ServiceRunner
    classifier: ServiceRunner
    js: Any
    masker: ServiceRunner
    # approval id -> the binding its ApprovalRequested names, which a decision is signed for
    requested: dict[str, str] = field(default_factory=dict)

    def dsn(self, user: str = "alice", token: str = AGENT_TOKEN, db: str = "target") -> str:
        return f"postgresql://{user}:{token}@{self.host}:{self.port}/{db}"

    def libpq(self, user: str = "alice", token: str = AGENT_TOKEN, db: str = "target") -> str:
        return (f"host={self.host} port={self.port} user={user} password={token} dbname={db} "
                "sslmode=disable")  # fmt: skip

    async def target_rows(self, query: str) -> list[dict[str, Any]]:
        """Read the target directly (not through the gateway), to check what really happened."""
        conn = await asyncpg.connect(self.target_url)
        try:
            return [dict(r) for r in await conn.fetch(query)]
        finally:
            await conn.close()

    async def decide(self, session_id: str, approval_id: str, grant: bool, note: str = "") -> None:
        """Publish an approver's decision on the bus as the approval service does: for the
        command its request names, signed with the approval service's key."""
        deadline = time.monotonic() + 10
        while approval_id not in self.requested and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        binding = self.requested.get(approval_id, "")
        who = pb.Identity(human="bob", agent="test")
        decided = {"approval_id": approval_id, "approver": "bob", "note": note,
                   "command_hash": binding}  # fmt: skip
        payload: dict[str, Any] = (
            {"approval_granted": pb.ApprovalGranted(**decided)}
            if grant
            else {"approval_denied": pb.ApprovalDenied(**decided)}
        )
        event = new_event(session_id=session_id, identity=who, resource=pb.Resource(name="target"),
                          source="test", **payload)  # fmt: skip
        assert self.settings.approval_signing_key is not None
        DecisionSigner.from_file(self.settings.approval_signing_key).sign_event(event)
        await bus.EventPublisher(self.js, self.settings).publish(event)


async def _wait_masker(js: Any, timeout: float = 30.0) -> None:
    """Until the masker answers on proctor.rpc.mask (it loads its recognizers first)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            await js._nc.request("proctor.rpc.mask", b"", timeout=0.5)
            return
        except Exception:
            if time.monotonic() > deadline:
                raise TimeoutError("the masker did not answer") from None
            await asyncio.sleep(0.05)


@pytest.fixture(scope="module")
def nats_module(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedNats]:
    """A nats-server for a test module that shares one stack among its tests."""
    server = EmbeddedNats(tmp_path_factory.mktemp("nats")).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def gateway_env() -> dict[str, str]:
    """Extra settings for the gateway's processes; a test module may override it."""
    return {}


@contextlib.asynccontextmanager
async def running_gateway(
    settings: Settings,
    js: Any,
    target_url: str,
    workdir: Path,
    env: dict[str, str],
    identities: dict[str, dict[str, Any]] | None = None,
    resources: dict[str, Any] | None = None,
) -> AsyncIterator[RunningGateway]:
    """The classifier, masker and ingress-proxy as processes, in front of `target_url` as
    resource `target` (alice and bob, or `identities`; more `resources` beside it), stopped on
    exit."""
    config_path = write_gateway_config(
        workdir / "gateway.yaml",
        identities
        or {
            "alice": {"groups": ["engineering"], "token": AGENT_TOKEN},
            "bob": {"groups": ["sre"], "token": APPROVER_TOKEN},
        },
        {"target": target_url, **(resources or {})},
    )
    port = free_port()
    kinds = {spec.get("kind") for spec in (resources or {}).values() if isinstance(spec, dict)}
    # The listeners the resources need; the MCP listener only where a test asks for it (it
    # costs every gateway start a second or two of imports).
    serving = (
        ["postgres"] + ["kubernetes"] * ("kubernetes" in kinds) + ["ssh", "grpc"] * ("ssh" in kinds)
    )
    env = {
        "PROCTOR_GATEWAY_CONFIG": str(config_path),
        "PROCTOR_PG_LISTEN": f"127.0.0.1:{port}",
        "PROCTOR_INGRESS_PROTOCOLS": ",".join(serving),
        "PROCTOR_APPROVAL_TIMEOUT": "20",
        **env,
    }
    classifier = ServiceRunner("proctor_classifier", settings, workdir / "classifier.log", env)
    proxy = ServiceRunner("proctor_ingress", settings, workdir / "proxy.log", env)
    masker = ServiceRunner("proctor_masker", settings, workdir / "masker.log", env)
    classifier.start()
    masker.start()
    proxy.start()
    running = RunningGateway(settings, target_url, "127.0.0.1", port, proxy, classifier, js, masker)

    async def on_request(msg: Any) -> None:
        asked = codec.decode(msg.data).approval_requested
        running.requested[asked.approval_id] = asked.command_hash

    requests = await js._nc.subscribe(codec.subject_filter("approval_requested"), cb=on_request)
    try:
        await asyncio.gather(
            asyncio.to_thread(wait_for_port, "127.0.0.1", port, 45.0), _wait_masker(js)
        )
        yield running
    finally:
        await requests.unsubscribe()
        proxy.stop()
        masker.stop()
        classifier.stop()


@contextlib.asynccontextmanager
async def approval_service(settings: Settings, workdir: Path, port: int) -> AsyncIterator[None]:
    """The approval service as a process, reading the identities of `workdir`'s gateway.yaml
    (the one `running_gateway` wrote), its HTTP API (and so the approvals CLI) on `port`."""
    from tests.integration.test_approval_service import wait_listening

    runner = ServiceRunner(
        "proctor_approval",
        settings,
        workdir / "approval.log",
        {
            "PROCTOR_GATEWAY_CONFIG": str(workdir / "gateway.yaml"),
            "PROCTOR_APPROVAL_HTTP_LISTEN": f"127.0.0.1:{port}",
        },
    ).start()
    try:
        await wait_listening(runner, port)
        yield
    finally:
        runner.stop()


@pytest.fixture
async def gateway(
    settings: Settings, js: Any, postgres: Any, tmp_path: Path, gateway_env: dict[str, str]
) -> AsyncIterator[RunningGateway]:
    target_url = await postgres.new_database(TARGET_SQL)
    async with running_gateway(settings, js, target_url, tmp_path, gateway_env) as running:
        yield running


@pytest.fixture
async def approval_requests(js: Any, settings: Settings) -> AsyncIterator[asyncio.Queue[pb.Event]]:
    """Every ApprovalRequested published from now on."""
    queue: asyncio.Queue[pb.Event] = asyncio.Queue()

    async def on_message(msg: Any) -> None:
        await queue.put(codec.decode(msg.data))

    sub = await js._nc.subscribe(codec.subject_filter("approval_requested"), cb=on_message)
    try:
        yield queue
    finally:
        await sub.unsubscribe()


# ---- helpers for the suites that drive real clients through the proxy -------------------------

CLIENT_TIMEOUT = 30.0


def libpq_of(url: str) -> str:
    """A postgresql:// URL as a libpq keyword string (what psql and pgbench take)."""
    parts = urlsplit(url)
    fields = {
        "host": parts.hostname or "127.0.0.1",
        "port": str(parts.port or 5432),
        "user": unquote(parts.username or "postgres"),
        "dbname": unquote(parts.path.lstrip("/")) or "postgres",
        "sslmode": "disable",
    }
    if parts.password:
        fields["password"] = unquote(parts.password)
    return " ".join(f"{k}={v}" for k, v in fields.items())


def client_env(**extra: str) -> dict[str, str]:
    """This environment without the PG* variables that would redirect a libpq client."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    return {**env, "PGCONNECT_TIMEOUT": "10", **extra}


async def run_client(
    *argv: str,
    stdin: str | None = None,
    env: dict[str, str] | None = None,
    timeout: float = CLIENT_TIMEOUT,
) -> subprocess.CompletedProcess[str]:
    """Run a client program to completion (killed after `timeout`), capturing its output."""
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env or client_env(),
    )
    try:
        out, err = await asyncio.wait_for(
            proc.communicate(stdin.encode() if stdin is not None else None), timeout
        )
    except (TimeoutError, asyncio.CancelledError):
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
        raise
    assert proc.returncode is not None
    return subprocess.CompletedProcess(list(argv), proc.returncode, out.decode(), err.decode())


async def psql(
    conninfo: str, *args: str, stdin: str | None = None, timeout: float = CLIENT_TIMEOUT
) -> subprocess.CompletedProcess[str]:
    """psql without ~/.psqlrc, going on after errors (each test asserts on what it printed)."""
    return await run_client(
        "psql", conninfo, "-X", "-v", "ON_ERROR_STOP=0", *args, stdin=stdin, timeout=timeout
    )


async def target_state(gateway: RunningGateway) -> list[dict[str, Any]]:
    """The target's tables with their row counts and a checksum of their contents, read
    directly: equal before and after a refused statement means nothing of it ran."""
    conn = await asyncpg.connect(gateway.target_url)
    try:
        tables = [r["relname"] for r in await conn.fetch(
            "SELECT relname FROM pg_class WHERE relkind = 'r' "
            "AND relnamespace = 'public'::regnamespace ORDER BY relname")]  # fmt: skip
        state = []
        for name in tables:
            row = await conn.fetchrow(
                f"SELECT count(*) AS n, md5(coalesce(string_agg(t::text, '|' ORDER BY t::text),"
                f" '')) AS digest FROM \"{name}\" t"
            )
            assert row is not None
            state.append({"table": name, "rows": row["n"], "digest": row["digest"]})
        return state
    finally:
        await conn.close()


async def target_backends(gateway: RunningGateway) -> list[dict[str, Any]]:
    """Client backends of agents' sessions on the target database: not the one asking, nor
    the gateway's own catalog connection (which looks up functions and views)."""
    return await gateway.target_rows(
        "SELECT pid, state, query FROM pg_stat_activity WHERE datname = current_database() "
        "AND backend_type = 'client backend' AND pid <> pg_backend_pid() "
        "AND application_name <> 'proctor-catalog'"
    )


async def eventually(
    check: Callable[[], Awaitable[bool]], timeout: float = 5.0, what: str = "condition"
) -> None:
    """Poll `check` until it holds; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not hold within {timeout:g} s")
        await asyncio.sleep(0.1)


async def next_request(queue: asyncio.Queue[pb.Event], timeout: float = 10.0) -> pb.Event:
    """The next ApprovalRequested from the `approval_requests` fixture."""
    return await asyncio.wait_for(queue.get(), timeout)
