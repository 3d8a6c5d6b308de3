"""The bus as a trust boundary: on a nats-server with a user per service (as `proctor up`
makes it), a client holding none of the approval service's credentials cannot make a held
statement run, cannot answer for the classifier, and cannot read the event stream; the SIEM
user can read it and nothing more; and a decision the proxy cannot verify runs nothing even
when it reaches the proxy. One stack serves the whole module."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import nats
import pytest
import yaml
from nats.aio.client import Client as NATS
from pydantic import SecretStr

from proctor import bus, busaccess, subjects
from proctor.approval.v1 import approval_pb2 as apb
from proctor.classifier.v1 import classifier_pb2 as cpb
from proctor.decisions import DecisionSigner, new_signing_key
from proctor.embedded import EmbeddedNats, free_port
from proctor.events import codec, new_event
from proctor.events.v1 import events_pb2 as pb
from proctor.localca import ensure_local_tls
from proctor.settings import Settings
from proctor.testing import ServiceRunner, lifecycle, wait_for_port, write_gateway_config
from proctor_ingress.approvals import approval_status
from tests.conftest import PostgresForTests
from tests.integration.conftest import (
    AGENT_TOKEN,
    APPROVER_TOKEN,
    TARGET_SQL,
    eventually,
    libpq_of,
    psql,
    run_client,
)
from tests.integration.test_approval_service import api_call

pytestmark = pytest.mark.integration

UPDATE = "UPDATE accounts SET balance = 0 WHERE id = {}"
CLEARTEXT_TOKEN = "prx_test_cleartext_token_not_a_secret"


def _external_address() -> str | None:
    """A non-loopback IPv4 address of this machine, if it has one."""
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(("192.0.2.1", 9))  # no packet is sent: this only picks a route
        address = str(s.getsockname()[0])
        if not address.startswith("127."):
            return address
    return None


@dataclass
class SecureStack:
    nats: EmbeddedNats
    passwords: dict[str, str]
    settings: Settings  # the admin's
    target_url: str
    dsn: str
    approval_listen: str
    approval_key: Path
    runners: dict[str, ServiceRunner]
    admin: NATS
    requests: asyncio.Queue[pb.Event] = field(default_factory=asyncio.Queue)

    def as_user(self, user: str) -> Settings:
        return self.settings.model_copy(
            update={"nats_user": user, "nats_password": SecretStr(self.passwords[user])}
        )

    async def connect(self, user: str | None, errors: list[str]) -> NATS:
        """A plain client as `user` (None: no credentials), collecting the server's errors."""

        async def on_error(exc: Exception) -> None:
            errors.append(str(exc))

        return await nats.connect(
            self.nats.url,
            user=user,
            password=self.passwords[user] if user else None,
            inbox_prefix=busaccess.inbox_prefix(user),
            error_cb=on_error,
            allow_reconnect=False,
            connect_timeout=2,
        )

    async def balance(self, account: int) -> int:
        conn = await asyncpg.connect(self.target_url)
        try:
            return int(await conn.fetchval("SELECT balance FROM accounts WHERE id = $1", account))
        finally:
            await conn.close()

    async def held(self, account: int) -> tuple[asyncio.Task[Any], pb.Event]:
        """An UPDATE held for approval (psql waits in the background) and its request."""
        client = asyncio.create_task(psql(libpq_of(self.dsn), "-c", UPDATE.format(account)))
        request = await asyncio.wait_for(self.requests.get(), 20)
        return client, request


def _runner(
    module: str, user: str, stack_dir: Path, settings: Settings, env: dict[str, str]
) -> ServiceRunner:
    return ServiceRunner(module, settings, stack_dir / f"{module}.log", env)


@pytest.fixture(scope="module")
async def stack(
    tmp_path_factory: pytest.TempPathFactory, postgres: PostgresForTests
) -> AsyncIterator[SecureStack]:
    work = tmp_path_factory.mktemp("secure")
    passwords = busaccess.new_passwords()
    config = busaccess.write_server_config(work / "nats.conf", passwords, "PROCTOR_EVENTS")
    server = EmbeddedNats(work / "nats", config=config).start()
    key = work / "approval.pem"
    pem, public = new_signing_key()
    key.write_bytes(pem)
    key.chmod(0o600)
    target_url = await postgres.new_database(TARGET_SQL)
    gateway = write_gateway_config(
        work / "gateway.yaml",
        {
            "alice": {"groups": ["engineering"], "token": AGENT_TOKEN},
            "bob": {"groups": ["sre"], "token": APPROVER_TOKEN},
            "carol": {"groups": ["engineering"], "token": CLEARTEXT_TOKEN},
        },
        {"target": target_url},
    )
    # carol has no SCRAM verifier: she can only send her token as a cleartext password.
    loaded = yaml.safe_load(gateway.read_text())
    del loaded["identities"]["carol"]["token_scram_sha256"]
    gateway.write_text(yaml.safe_dump(loaded))
    port, http = free_port(), f"127.0.0.1:{free_port()}"
    admin_settings = Settings(
        nats_url=server.url,
        database_url=await postgres.new_database(),
        nats_user=busaccess.ADMIN,
        nats_password=SecretStr(passwords[busaccess.ADMIN]),
        approval_signing_key=key,
        approval_verify_keys=public,
        run_dir=work / "run",
    )
    admin = await bus.connect(admin_settings, "test")
    await bus.ensure_stream(admin.jetstream(), admin_settings)
    env = {
        "PROCTOR_GATEWAY_CONFIG": str(gateway),
        "PROCTOR_PG_LISTEN": f"127.0.0.1:{port}",
        "PROCTOR_APPROVAL_HTTP_LISTEN": http,
        "PROCTOR_APPROVAL_TIMEOUT": "30",
    }
    runners: dict[str, ServiceRunner] = {}
    for module, user in (
        ("proctor_audit", busaccess.AUDIT),
        ("proctor_classifier", busaccess.CLASSIFIER),
        ("proctor_masker", busaccess.MASKER),
        ("proctor_approval", busaccess.APPROVAL),
        ("proctor_ingress", busaccess.INGRESS),
    ):
        settings = admin_settings.model_copy(
            update={"nats_user": user, "nats_password": SecretStr(passwords[user])}
        )
        # Each service holds only its half of the approval key.
        settings = settings.model_copy(
            update={
                "approval_signing_key": key if user == busaccess.APPROVAL else None,
                "approval_verify_keys": public if user == busaccess.INGRESS else None,
            }
        )
        runners[module] = _runner(module, user, work, settings, env).start()
    external = _external_address()
    if external is not None:  # a second listener off loopback, with TLS from a local CA
        tls = ensure_local_tls(work / "tls", external)
        off_loopback = settings.model_copy(update={"tls_cert": tls.cert, "tls_key": tls.key})
        outside_env = env | {
            "PROCTOR_PG_LISTEN": f"{external}:{free_port()}",
            "PROCTOR_TLS_CERT": str(tls.cert),
            "PROCTOR_TLS_KEY": str(tls.key),
        }
        runners["outside"] = ServiceRunner(
            "proctor_ingress", off_loopback, work / "outside.log", outside_env
        ).start()
    running = SecureStack(
        server, passwords, admin_settings, target_url,
        f"postgresql://alice:{AGENT_TOKEN}@127.0.0.1:{port}/target", http, key, runners, admin,
    )  # fmt: skip

    async def on_request(msg: Any) -> None:
        await running.requests.put(codec.decode(msg.data))

    sub = await admin.subscribe(codec.subject_filter("approval_requested"), cb=on_request)
    try:
        await asyncio.to_thread(wait_for_port, "127.0.0.1", port)
        if "outside" in runners:
            host, _, outside_port = (
                runners["outside"].extra_env["PROCTOR_PG_LISTEN"].rpartition(":")
            )
            await asyncio.to_thread(wait_for_port, host, int(outside_port))
        await asyncio.to_thread(wait_for_port, *http.split(":"))  # type: ignore[arg-type]
        await _wait_answering(admin, subjects.MASK, b"")
        yield running
    finally:
        await sub.unsubscribe()
        await admin.close()
        for runner in reversed(runners.values()):
            runner.stop()
        server.stop()


async def _wait_answering(nc: NATS, subject: str, body: bytes, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            await nc.request(subject, body, timeout=0.5)
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)


def _violation(errors: list[str], what: str) -> Callable[[], Any]:
    async def seen() -> bool:
        return any(
            "permissions violation" in e.lower() and what.lower() in e.lower() for e in errors
        )

    return seen


def _grant(request: pb.Event, *, key: DecisionSigner | None = None, forged_hash: str = "") -> Any:
    asked = request.approval_requested
    event = new_event(
        session_id=request.session_id,
        command_id=request.command_id,
        identity=request.identity,
        resource=request.resource,
        source="approval",
        approval_granted=pb.ApprovalGranted(
            approval_id=asked.approval_id,
            approver="nobody",
            command_hash=forged_hash or asked.command_hash,
        ),
    )
    if key is not None:
        key.sign_event(event)
    return event


async def _still_held(stack: SecureStack, client: asyncio.Task[Any], account: int) -> None:
    await asyncio.sleep(1.0)
    assert not client.done(), client.result()
    assert await stack.balance(account) == account * 10


async def _approve(stack: SecureStack, request: pb.Event) -> None:
    aid = request.approval_requested.approval_id
    status, body = await api_call(
        stack.approval_listen, "POST", f"/approvals/{aid}/approve", APPROVER_TOKEN, {}
    )
    assert status == 200, body


async def test_no_credentials_no_bus(stack: SecureStack) -> None:
    with pytest.raises(Exception, match="Authorization Violation"):
        await stack.connect(None, [])


async def test_a_forged_grant_from_another_service_runs_nothing(stack: SecureStack) -> None:
    """A client with the masker's credentials (none of the approval service's) publishes a
    grant for a held UPDATE: the server refuses it, and the UPDATE waits for a real approver."""
    errors: list[str] = []
    forger = await stack.connect(busaccess.MASKER, errors)
    try:
        client, request = await stack.held(3)
        event = _grant(request)
        await forger.publish(codec.subject_for(event), codec.encode(event))
        await forger.jetstream().publish(codec.subject_for(event), codec.encode(event), timeout=1)
    except Exception:  # the acknowledged publish gets no answer: the server dropped it
        pass
    try:
        await eventually(_violation(errors, "approval_granted"), 5, "a permissions violation")
        await _still_held(stack, client, 3)
        await _approve(stack, request)
        done = await asyncio.wait_for(client, 20)
        assert "UPDATE 1" in done.stdout, done.stderr
        assert await stack.balance(3) == 0
    finally:
        await forger.close()


async def test_a_grant_the_proxy_cannot_verify_runs_nothing(stack: SecureStack) -> None:
    """Belt and braces: a grant that does reach the proxy (here published with the admin's
    rights) runs nothing unless the approval service's key signed it for that very command."""
    client, request = await stack.held(4)
    wrong_key = DecisionSigner.from_file(_other_key(stack))
    right_key = DecisionSigner.from_file(stack.approval_key)
    forged = [
        _grant(request),  # unsigned
        _grant(request, key=wrong_key),  # signed by someone else
        _grant(request, key=right_key, forged_hash="0" * 64),  # signed for another command
    ]
    publisher = bus.EventPublisher(stack.admin.jetstream(), stack.settings)
    for event in forged:
        await publisher.publish(event)
    await _still_held(stack, client, 4)
    log = stack.runners["proctor_ingress"].log_path.read_text()
    assert log.count("ignored an unverifiable approval_granted") >= 3, log
    await _approve(stack, request)
    done = await asyncio.wait_for(client, 20)
    assert "UPDATE 1" in done.stdout, done.stderr


def _other_key(stack: SecureStack) -> Path:
    path = stack.approval_key.with_name("other.pem")
    if not path.exists():
        path.write_bytes(new_signing_key()[0])
    return path


async def test_nobody_else_can_answer_for_the_classifier(stack: SecureStack) -> None:
    """Joining the classifier's queue group (to answer "allow") is refused, and so is sending a
    reply to the proxy's inbox: a blocked statement stays blocked."""
    errors: list[str] = []
    forger = await stack.connect(busaccess.MASKER, errors)
    answered = 0

    async def allow(msg: Any) -> None:
        nonlocal answered
        answered += 1
        await msg.respond(cpb.ClassifyResponse(action=pb.ACTION_ALLOW).SerializeToString())

    try:
        await forger.subscribe(subjects.CLASSIFY, queue=subjects.CLASSIFY_QUEUE, cb=allow)
        await forger.subscribe(subjects.CLASSIFY, cb=allow)
        await forger.publish("_INBOX.ingress.x.y", b"forged")
        await eventually(_violation(errors, subjects.CLASSIFY), 5, "a subscribe violation")
        await eventually(_violation(errors, "_INBOX.ingress"), 5, "a publish violation")
        for _ in range(3):
            out = await psql(libpq_of(stack.dsn), "-c", "DROP TABLE big")
            assert "ddl.drop" in out.stderr, out
        assert answered == 0
        assert await stack.balance(5) == 50
    finally:
        await forger.close()


async def test_the_proxy_asks_for_an_approvals_status_and_nobody_else_answers(
    stack: SecureStack,
) -> None:
    """The ingress user asks and the approval service answers; another service may neither
    ask nor join the approval service's queue group to answer in its place."""
    ingress = await stack.connect(busaccess.INGRESS, [])
    errors: list[str] = []
    forger = await stack.connect(busaccess.MASKER, errors)
    try:
        asked = await approval_status(ingress, "nope", pb.Identity(human="alice"), timeout=10)
        assert asked.state == apb.APPROVAL_STATE_UNKNOWN and asked.approval_id == "nope"
        await forger.subscribe(subjects.APPROVAL_STATUS, queue=subjects.APPROVAL_QUEUE)
        await eventually(_violation(errors, subjects.APPROVAL_STATUS), 5, "a subscribe violation")
        errors.clear()
        await forger.publish(subjects.APPROVAL_STATUS, b"")
        await eventually(_violation(errors, subjects.APPROVAL_STATUS), 5, "a publish violation")
    finally:
        await ingress.close()
        with contextlib.suppress(Exception):
            await forger.close()


async def test_only_the_siem_user_reads_the_event_stream(stack: SecureStack) -> None:
    errors: list[str] = []
    outsider = await stack.connect(busaccess.MASKER, errors)
    siem = await stack.connect(busaccess.SIEM, [])
    try:
        await outsider.subscribe(codec.subject_filter())
        await eventually(_violation(errors, "proctor.evt.>"), 5, "a subscribe violation")
        with pytest.raises(Exception):  # noqa: B017 - the API request is dropped or refused
            await outsider.jetstream().subscribe(codec.subject_filter(), stream="PROCTOR_EVENTS")

        # Something on the stream, whichever tests ran before.
        await bus.EventPublisher(stack.admin.jetstream(), stack.settings).publish(lifecycle()[0])
        received: asyncio.Queue[Any] = asyncio.Queue()
        js = siem.jetstream()
        await js.subscribe(
            codec.subject_filter(), stream="PROCTOR_EVENTS", ordered_consumer=True,
            cb=received.put,
        )  # fmt: skip
        first = await asyncio.wait_for(received.get(), 10)
        assert codec.decode(first.data).event_id
        # `proctor events tail` as the SIEM user, as docs/operations.md tells a SIEM to run it.
        env = {k: v for k, v in os.environ.items() if not k.startswith("PROCTOR_")}
        env |= {
            "PROCTOR_NATS_URL": stack.nats.url,
            "PROCTOR_NATS_USER": busaccess.SIEM,
            "PROCTOR_NATS_PASSWORD": stack.passwords[busaccess.SIEM],
            "PROCTOR_RUN_DIR": str(stack.settings.run_dir),
        }
        tail = await run_client(
            sys.executable, "-m", "proctor.cli.main", "events", "tail", "--all", "--count", "2",
            env=env,
        )  # fmt: skip
        assert tail.returncode == 0, tail.stderr
        assert '"stream_seq":1,' in tail.stdout and len(tail.stdout.splitlines()) >= 2
        # Read-only: it cannot publish an event, nor touch audit's consumer.
        siem_errors: list[str] = []
        writer = await stack.connect(busaccess.SIEM, siem_errors)
        try:
            await writer.publish("proctor.evt.approval_granted.x", b"forged")
            await eventually(_violation(siem_errors, "approval_granted"), 5, "a violation")
        finally:
            await writer.close()
    finally:
        with contextlib.suppress(Exception):
            await outsider.close()
        await siem.close()


async def _approvals_list(stack: SecureStack) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PROCTOR_", "PG"))}
    env |= {
        "PROCTOR_APPROVAL_HTTP_LISTEN": stack.approval_listen,
        "PROCTOR_RUN_DIR": str(stack.settings.run_dir),
        "PROCTOR_APPROVER_TOKEN": APPROVER_TOKEN,
    }
    out = await run_client(
        sys.executable, "-m", "proctor.cli.main", "approvals", "list", "--as", "bob", env=env
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


async def test_a_request_whose_client_left_is_withdrawn(stack: SecureStack) -> None:
    """The agent disconnects while its UPDATE waits: within 2 s approvers no longer see the
    request, it shows as withdrawn, and approving it afterwards runs nothing and says why."""
    conn = await asyncpg.connect(stack.dsn, ssl=False)
    held = asyncio.create_task(conn.execute(UPDATE.format(6)))
    request = await asyncio.wait_for(stack.requests.get(), 20)
    aid = request.approval_requested.approval_id
    assert aid in await _approvals_list(stack)
    conn.terminate()
    with contextlib.suppress(Exception):
        await held
    left = time.monotonic()

    async def gone() -> bool:  # what `proctor approvals list` shows, without its start-up
        _, listed = await api_call(stack.approval_listen, "GET", "/approvals", APPROVER_TOKEN)
        return aid not in {p["approval_id"] for p in listed["pending"]}

    await eventually(gone, 2.0, "the request leaving the pending list")
    assert time.monotonic() - left < 2.0
    assert aid not in await _approvals_list(stack)
    status, shown = await api_call(stack.approval_listen, "GET", f"/approvals/{aid}",
                                   APPROVER_TOKEN)  # fmt: skip
    assert (status, shown["status"]) == (200, "withdrawn"), shown
    status, body = await api_call(
        stack.approval_listen, "POST", f"/approvals/{aid}/approve", APPROVER_TOKEN, {}
    )
    assert status == 409 and body["code"] == "withdrawn", body
    assert "nobody waits" in body["error"]
    assert await stack.balance(6) == 60


async def _relay(target_port: int, seen: bytearray) -> tuple[asyncio.Server, int]:
    """A TCP relay to the proxy that keeps what the client sends."""

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, keep: bool) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                if keep:
                    seen.extend(data)
                writer.write(data)
                await writer.drain()
        writer.close()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", target_port)
        await asyncio.gather(pipe(reader, up_writer, True), pipe(up_reader, writer, False))

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def test_asyncpg_and_psycopg_prove_the_token_by_scram_without_sending_it(
    stack: SecureStack,
) -> None:
    import psycopg

    seen = bytearray()
    port = int(stack.dsn.rsplit(":", 1)[1].split("/")[0])
    relay, relay_port = await _relay(port, seen)
    dsn = f"postgresql://alice:{AGENT_TOKEN}@127.0.0.1:{relay_port}/target"
    try:
        conn = await asyncpg.connect(dsn, ssl=False)
        try:
            assert await conn.fetchval("SELECT count(*) FROM accounts") == 100
        finally:
            await conn.close()
        async with await psycopg.AsyncConnection.connect(dsn + "?sslmode=disable") as pconn:
            row = await (await pconn.execute("SELECT count(*) FROM accounts")).fetchone()
            assert row == (100,)
        assert b"SCRAM-SHA-256" in seen  # both clients answered the SASL exchange
        assert AGENT_TOKEN.encode() not in seen
        with pytest.raises(asyncpg.InvalidPasswordError):
            await asyncpg.connect(dsn.replace(AGENT_TOKEN, "prx_wrong_not_a_secret"), ssl=False)
    finally:
        relay.close()


async def test_cleartext_is_refused_off_loopback_unless_over_tls(stack: SecureStack) -> None:
    if "outside" not in stack.runners:
        pytest.skip("this machine has no address off loopback")
    listen = stack.runners["outside"].extra_env["PROCTOR_PG_LISTEN"]
    host, _, port = listen.rpartition(":")
    carol = f"host={host} port={port} user=carol password={CLEARTEXT_TOKEN} dbname=target"
    plain = await psql(carol + " sslmode=disable", "-c", "SELECT 1")
    assert "does not accept a cleartext password" in plain.stderr, plain
    tls = stack.runners["outside"].extra_env["PROCTOR_TLS_CERT"]
    ca = Path(tls).with_name("ca.pem")
    secure = await psql(f"{carol} sslmode=verify-full sslrootcert={ca}", "-A", "-t", "-c",
                        "SELECT 1")  # fmt: skip
    assert secure.stdout.strip() == "1", secure
    local = await psql(libpq_of(stack.dsn).replace(
        f"user=alice password={AGENT_TOKEN}", f"user=carol password={CLEARTEXT_TOKEN}"),
        "-A", "-t", "-c", "SELECT 1")  # fmt: skip
    assert local.stdout.strip() == "1", local  # loopback: cleartext is accepted
