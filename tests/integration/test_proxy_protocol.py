"""The wire protocol at its edges: large results, clients that vanish or cancel, malformed
input, SQL-level PREPARE/EXECUTE, and pgbench's three query modes through the gateway.

Raw-socket clients here speak the protocol byte by byte (framed with proctor.pgwire), for what
no well-behaved driver sends.
"""

from __future__ import annotations

import asyncio
import re
import struct
import time
from typing import Any

import asyncpg
import psycopg
import pytest
from psycopg import errors
from scramp import ScramClient

from proctor import pgwire
from tests.integration.conftest import (
    AGENT_TOKEN,
    RunningGateway,
    client_env,
    eventually,
    libpq_of,
    next_request,
    psql,
    run_client,
    target_backends,
    target_state,
)

pytestmark = pytest.mark.integration

BIG_QUERY = "SELECT b.id, b.payload FROM big b, generate_series(1, 20) g"  # 1M rows, ~110 MB


class RawClient:
    """A Postgres frontend on a bare socket."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.buf = pgwire.MessageBuffer()

    @classmethod
    async def connect(cls, gateway: RunningGateway) -> RawClient:
        reader, writer = await asyncio.open_connection(gateway.host, gateway.port)
        return cls(reader, writer)

    @classmethod
    async def login(cls, gateway: RunningGateway) -> RawClient:
        """Connected, authenticated, and past the first ReadyForQuery."""
        client = await cls.connect(gateway)
        client.send(pgwire.startup_message({"user": "alice", "database": "target"}))
        auth = await client.read()
        # SCRAM-SHA-256, as the gateway offers an identity with a verifier.
        assert (auth.type, auth.body) == (b"R", struct.pack("!i", 10) + b"SCRAM-SHA-256\0\0")
        scram = ScramClient(["SCRAM-SHA-256"], "alice", AGENT_TOKEN)
        first = scram.get_client_first().encode()
        client.send(pgwire.frame(b"p", b"SCRAM-SHA-256\0" + struct.pack("!i", len(first)) + first))
        server_first = await client.read()
        assert struct.unpack_from("!i", server_first.body)[0] == 11
        scram.set_server_first(server_first.body[4:].decode())
        client.send(pgwire.frame(b"p", scram.get_client_final().encode()))
        server_final = await client.read()
        assert struct.unpack_from("!i", server_final.body)[0] == 12
        scram.set_server_final(server_final.body[4:].decode())
        await client.until(b"Z")
        return client

    def send(self, data: bytes) -> None:
        self.writer.write(data)

    async def read(self, timeout: float = 10.0) -> pgwire.Message:
        while True:
            for msg in self.buf.messages():
                return msg
            data = await asyncio.wait_for(self.reader.read(65536), timeout)
            if not data:
                raise ConnectionError("the proxy closed the connection")
            self.buf.feed(data)

    async def until(self, kind: bytes, timeout: float = 10.0) -> list[pgwire.Message]:
        """Messages up to and including the first of type `kind`."""
        seen = [await self.read(timeout)]
        while seen[-1].type != kind:
            seen.append(await self.read(timeout))
        return seen

    async def closed_by_peer(self, timeout: float = 5.0) -> list[pgwire.Message]:
        """Everything the proxy still says before it closes the connection (it must)."""
        said: list[pgwire.Message] = []
        deadline = time.monotonic() + timeout
        while True:
            said.extend(self.buf.messages())
            try:
                data = await asyncio.wait_for(self.reader.read(65536), deadline - time.monotonic())
            except ConnectionError:
                data = b""
            if not data:
                return said
            self.buf.feed(data)

    def close(self) -> None:
        self.writer.close()


def errors_in(messages: list[pgwire.Message]) -> list[dict[str, str]]:
    return [pgwire.error_fields(m.body) for m in messages if m.type == b"E"]


def bind(statement: str, *params: str) -> bytes:
    values = b"".join(struct.pack("!i", len(p.encode())) + p.encode() for p in params)
    body = (
        b"\0" + statement.encode() + b"\0" + struct.pack("!hh", 0, len(params)) + values
        + struct.pack("!h", 0)
    )  # fmt: skip
    return pgwire.frame(b"B", body)


EXECUTE_SYNC = pgwire.frame(b"E", b"\0" + struct.pack("!i", 0)) + pgwire.frame(b"S")


async def no_backend_runs(gateway: RunningGateway, fragment: str, timeout: float = 5.0) -> None:
    async def gone() -> bool:
        return not [
            b for b in await target_backends(gateway)
            if fragment in b["query"] and b["state"] == "active"
        ]  # fmt: skip

    await eventually(gone, timeout, f"the target backend running {fragment!r} ending")


def proxy_log(gateway: RunningGateway) -> str:
    return gateway.proxy.log_path.read_text(errors="replace")


# ---- (a) large results ------------------------------------------------------------------------


async def test_large_results_through_asyncpg_cursor_fetch_and_psql(
    gateway: RunningGateway,
) -> None:
    conn = await asyncpg.connect(gateway.dsn(), ssl=False)
    try:
        async with conn.transaction():
            count = total = 0
            async for record in conn.cursor("SELECT id, payload FROM big ORDER BY id"):
                count += 1
                total += record["id"]
        assert (count, total) == (50_000, 50_000 * 50_001 // 2)
        rows = await conn.fetch("SELECT * FROM big")
        assert len(rows) == 50_000
    finally:
        await conn.close()

    run = await psql(gateway.libpq(), "-At", "-c", "SELECT id, payload FROM big ORDER BY id")
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert len(lines) == 50_000
    assert lines[-1] == "50000|" + "x" * 100


# ---- (b) clients that vanish --------------------------------------------------------------------


async def test_raw_client_vanishing_mid_result(gateway: RunningGateway) -> None:
    client = await RawClient.login(gateway)
    client.send(pgwire.frame(b"Q", BIG_QUERY.encode() + b"\0"))
    first = await client.read()
    assert first.type == b"T"  # RowDescription, then rows stream
    received = 0
    while received < 1 << 20:
        received += len(await client.reader.read(65536))
    client.writer.transport.abort()  # a reset, not a goodbye

    await no_backend_runs(gateway, "generate_series(1, 20)")
    conn = await asyncpg.connect(gateway.dsn(), ssl=False)
    try:
        assert await conn.fetchval("SELECT count(*) FROM accounts") == 100
    finally:
        await conn.close()


async def test_asyncpg_terminated_while_iterating_a_cursor(gateway: RunningGateway) -> None:
    conn = await asyncpg.connect(gateway.dsn(), ssl=False)
    await conn.transaction().start()  # a cursor needs one; it is never finished
    seen = 0
    async for _ in conn.cursor(BIG_QUERY, prefetch=1000):
        seen += 1
        if seen == 5000:
            conn.terminate()
            break
    # The session ends inside a transaction with a portal open: the target must not keep it.
    await eventually(
        lambda: _no_backends(gateway), 5, "the dead session's target backend going away"
    )
    conn = await asyncpg.connect(gateway.dsn(), ssl=False)
    try:
        assert await conn.fetchval("SELECT 1") == 1
    finally:
        await conn.close()


async def _no_backends(gateway: RunningGateway) -> bool:
    return await target_backends(gateway) == []


async def test_client_vanishing_during_a_long_statement_stops_it_on_the_target(
    gateway: RunningGateway,
) -> None:
    conn = await asyncpg.connect(gateway.dsn(), ssl=False)
    sleeper = asyncio.create_task(conn.fetchval("SELECT pg_sleep(30)"))
    await eventually(lambda: _runs(gateway, "pg_sleep(30)"), 5, "pg_sleep running on the target")
    conn.terminate()
    with pytest.raises(asyncpg.ConnectionDoesNotExistError):
        await sleeper
    # A backend that sleeps does not notice a closed socket: the proxy must cancel it.
    await no_backend_runs(gateway, "pg_sleep(30)", timeout=3)
    await eventually(lambda: _no_backends(gateway), 5, "the target backend going away")


async def _runs(gateway: RunningGateway, fragment: str) -> bool:
    return any(
        fragment in b["query"] and b["state"] == "active" for b in await target_backends(gateway)
    )


async def test_client_vanishing_while_its_write_awaits_approval(
    gateway: RunningGateway, approval_requests: asyncio.Queue[Any]
) -> None:
    conn = await asyncpg.connect(gateway.dsn(), ssl=False)
    update = asyncio.create_task(conn.execute("UPDATE accounts SET balance = -1 WHERE id = 9"))
    request = await next_request(approval_requests)
    conn.terminate()
    with pytest.raises(asyncpg.ConnectionDoesNotExistError):
        await update
    await asyncio.sleep(0.3)
    # The approver, unaware, grants: the write must not run for a client that is gone.
    await gateway.decide(request.session_id, request.approval_requested.approval_id, True)
    await asyncio.sleep(1.0)
    assert await gateway.target_rows("SELECT balance FROM accounts WHERE id = 9") == [
        {"balance": 90}
    ]
    await eventually(lambda: _no_backends(gateway), 5, "the target backend going away")
    assert f"client left while approval {request.approval_requested.approval_id}" in (
        proxy_log(gateway)
    )


# ---- (c) cancel ---------------------------------------------------------------------------------


async def test_asyncpg_timeout_cancels_the_statement_on_the_target(
    gateway: RunningGateway,
) -> None:
    conn = await asyncpg.connect(gateway.dsn(), ssl=False)
    try:
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            await conn.fetchval("SELECT pg_sleep(30)", timeout=1)  # asyncpg sends a cancel
        assert time.monotonic() - started < 3
        await no_backend_runs(gateway, "pg_sleep(30)", timeout=3)
        assert await conn.fetchval("SELECT count(*) FROM accounts") == 100
    finally:
        await conn.close()


async def test_psycopg_cancel_stops_the_statement_with_57014(gateway: RunningGateway) -> None:
    async with await psycopg.AsyncConnection.connect(
        gateway.dsn(), sslmode="disable", autocommit=True, connect_timeout=10
    ) as conn:
        sleeper = asyncio.create_task(conn.execute("SELECT pg_sleep(30)"))
        await eventually(
            lambda: _runs(gateway, "pg_sleep(30)"), 5, "pg_sleep running on the target"
        )
        started = time.monotonic()
        await conn.cancel_safe(timeout=5)
        with pytest.raises(errors.QueryCanceled) as cancelled:
            await asyncio.wait_for(sleeper, 5)
        assert time.monotonic() - started < 3
        assert cancelled.value.sqlstate == "57014"
        assert "canceling statement due to user request" in str(cancelled.value)
        cur = await conn.execute("SELECT count(*) FROM accounts")
        assert await cur.fetchone() == (100,)


async def test_cancel_withdraws_a_statement_awaiting_approval(
    gateway: RunningGateway, approval_requests: asyncio.Queue[Any]
) -> None:
    async with await psycopg.AsyncConnection.connect(
        gateway.dsn(), sslmode="disable", autocommit=True, connect_timeout=10
    ) as conn:
        update = asyncio.create_task(
            conn.execute("UPDATE accounts SET balance = -1 WHERE id = %s", (8,))
        )
        request = await next_request(approval_requests)
        approval_id = request.approval_requested.approval_id
        await conn.cancel_safe(timeout=5)
        with pytest.raises(errors.QueryCanceled, match=f"awaited approval {approval_id}"):
            await asyncio.wait_for(update, 5)
        # A grant that comes late finds nothing to run.
        await gateway.decide(request.session_id, approval_id, True)
        cur = await conn.execute("SELECT balance FROM accounts WHERE id = 8")
        assert await cur.fetchone() == (80,)
        await asyncio.sleep(0.5)
        assert await gateway.target_rows("SELECT balance FROM accounts WHERE id = 8") == [
            {"balance": 80}
        ]


# ---- shutdown -----------------------------------------------------------------------------------


async def test_gateway_shutdown_ends_sessions_as_postgres_would(
    gateway: RunningGateway, approval_requests: asyncio.Queue[Any]
) -> None:
    idle = await asyncpg.connect(gateway.dsn(), ssl=False)
    busy = await psycopg.AsyncConnection.connect(
        gateway.dsn(), sslmode="disable", autocommit=True, connect_timeout=10
    )
    held = await psycopg.AsyncConnection.connect(
        gateway.dsn(), sslmode="disable", autocommit=True, connect_timeout=10
    )
    try:
        sleeper = asyncio.create_task(busy.execute("SELECT pg_sleep(30)"))
        update = asyncio.create_task(held.execute("UPDATE accounts SET balance = 0 WHERE id = 6"))
        await next_request(approval_requests)
        await eventually(
            lambda: _runs(gateway, "pg_sleep(30)"), 5, "pg_sleep running on the target"
        )
        started = time.monotonic()
        assert await asyncio.to_thread(gateway.proxy.stop) == 0
        assert time.monotonic() - started < 5

        for running in (sleeper, update):
            with pytest.raises(errors.AdminShutdown, match="gateway is shutting down"):
                await asyncio.wait_for(running, 5)

        async def idle_told() -> bool:
            return idle.is_closed()

        await eventually(idle_told, 5, "the idle asyncpg connection seeing the shutdown")
        await eventually(lambda: _no_backends(gateway), 5, "the target backends going away")
        assert await gateway.target_rows("SELECT balance FROM accounts WHERE id = 6") == [
            {"balance": 60}
        ]
        log = proxy_log(gateway)
        assert log.count("closed: gateway shutdown") == 3
        assert "Traceback" not in log
    finally:
        idle.terminate()
        await busy.close()
        await held.close()


# ---- (d) malformed input -----------------------------------------------------------------------


async def test_malformed_input_is_refused_and_the_proxy_serves_on(
    gateway: RunningGateway,
) -> None:
    healthy = await asyncpg.connect(gateway.dsn(), ssl=False)
    try:
        # Not Postgres at all: an HTTP request, and a TLS ClientHello without SSLRequest.
        for garbage in (b"GET / HTTP/1.1\r\nHost: proctor\r\n\r\n", b"\x16\x03\x01\x02\x00\x01"):
            client = await RawClient.connect(gateway)
            client.send(garbage)
            assert errors_in(await client.closed_by_peer()) == []
            client.close()

        # A protocol this proxy does not speak.
        client = await RawClient.connect(gateway)
        client.send(struct.pack("!ii", 8, 2 << 16))
        [error] = errors_in(await client.closed_by_peer())
        assert (error["S"], error["C"]) == ("FATAL", "0A000")
        client.close()

        # A startup without a user.
        client = await RawClient.connect(gateway)
        client.send(pgwire.startup_message({"database": "target"}))
        [error] = errors_in(await client.closed_by_peer())
        assert (error["S"], error["C"]) == ("FATAL", "28000")
        assert "no user name given" in error["M"]
        client.close()

        # A startup whose parameter never ends is a protocol violation; one cut short before
        # its length just ends (the client is gone, there is nobody to tell).
        for packet, expected in (
            (struct.pack("!ii", 18, pgwire.PROTOCOL_3_0) + b"user\0alice", ["08P01"]),
            (struct.pack("!ii", 64, pgwire.PROTOCOL_3_0) + b"user\0al", []),
        ):
            client = await RawClient.connect(gateway)
            client.send(packet)
            client.writer.write_eof()
            said = errors_in(await client.closed_by_peer())
            assert [e["C"] for e in said] == expected
            assert all(e["S"] == "FATAL" for e in said)
            client.close()

        # After login: a message with an impossible length, and one cut short.
        for broken, expected in (
            (b"Q" + struct.pack("!i", 2), ["08P01"]),
            (b"Q" + struct.pack("!i", 1000) + b"SELEC", []),
            (pgwire.frame(b"B", b"portal-without-end"), ["08P01"]),
        ):
            client = await RawClient.login(gateway)
            client.send(broken)
            client.writer.write_eof()
            said = errors_in(await client.closed_by_peer())
            assert [e["C"] for e in said] == expected
            client.close()

        assert await healthy.fetchval("SELECT count(*) FROM accounts") == 100
        fresh = await asyncpg.connect(gateway.dsn(), ssl=False)
        try:
            assert await fresh.fetchval("SELECT 1") == 1
        finally:
            await fresh.close()

        async def only_the_healthy_ones_left() -> bool:
            return len(await target_backends(gateway)) == 1

        await eventually(only_the_healthy_ones_left, 5, "broken sessions' backends going away")
    finally:
        await healthy.close()
    assert gateway.proxy.proc is not None and gateway.proxy.proc.poll() is None
    assert "Traceback" not in proxy_log(gateway)


# ---- (e) SQL-level PREPARE / EXECUTE ----------------------------------------------------------


async def test_prepare_is_judged_and_execute_by_what_it_runs(gateway: RunningGateway) -> None:
    before = await target_state(gateway)
    script = (
        "PREPARE wipe AS DELETE FROM accounts;\n"
        "PREPARE owner_of(int) AS SELECT owner FROM accounts WHERE id = $1;\n"
        "EXECUTE owner_of(3);\n"
        "SELECT count(*) AS prepared FROM pg_prepared_statements WHERE name = 'wipe';\n"
    )
    run = await psql(gateway.libpq(), "-f", "-", stdin=script)
    assert run.returncode == 0, run.stderr
    assert "psql:<stdin>:1: ERROR:  Proctor blocked this statement (rule dml.delete_all:" in (
        run.stderr
    )
    assert run.stderr.count("ERROR") == 1
    assert " owner3\n" in run.stdout
    assert re.search(r"prepared\s*\n-+\s*\n\s*0\n", run.stdout), run.stdout
    assert await target_state(gateway) == before

    # The same through the extended protocol: asyncpg parses the EXECUTE as a statement.
    conn = await asyncpg.connect(gateway.dsn(), ssl=False)
    try:
        await conn.execute("PREPARE owner_of(int) AS SELECT owner FROM accounts WHERE id = $1")
        assert await conn.fetchval("EXECUTE owner_of(5)") == "owner5"
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match=r"dml\.delete_all"):
            await conn.execute("PREPARE wipe AS DELETE FROM accounts")
    finally:
        await conn.close()
    assert await target_state(gateway) == before


async def test_execute_of_a_prepared_write_is_reviewed_every_time(
    gateway: RunningGateway, approval_requests: asyncio.Queue[Any]
) -> None:
    conn = await asyncpg.connect(gateway.dsn(), ssl=False)

    async def decide(text: str, grant: bool) -> None:
        request = await next_request(approval_requests)
        assert request.approval_requested.command_text == text
        assert list(request.approval_requested.rule_ids) == ["write.update"]
        await gateway.decide(request.session_id, request.approval_requested.approval_id, grant)

    async def balance() -> Any:
        return (await gateway.target_rows("SELECT balance FROM accounts WHERE id = 1"))[0][
            "balance"
        ]

    try:
        bump = "PREPARE bump AS UPDATE accounts SET balance = balance + 1 WHERE id = 1"
        prepare = asyncio.create_task(conn.execute(bump))
        await decide(bump, True)
        assert await asyncio.wait_for(prepare, 10) == "PREPARE"
        assert await balance() == 10

        first = asyncio.create_task(conn.execute("EXECUTE bump"))
        await decide("EXECUTE bump", True)
        assert await asyncio.wait_for(first, 10) == "UPDATE 1"
        assert await balance() == 11

        second = asyncio.create_task(conn.execute("EXECUTE bump"))
        await decide("EXECUTE bump", False)
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="denied"):
            await asyncio.wait_for(second, 10)
        assert await balance() == 11

        # Re-preparing the name as a read fails on the target (the name is taken), so the
        # proxy must not believe it: EXECUTE still runs the UPDATE and is still reviewed.
        with pytest.raises(asyncpg.DuplicatePreparedStatementError):
            await conn.execute("PREPARE bump AS SELECT 1")
        third = asyncio.create_task(conn.execute("EXECUTE bump"))
        await decide("EXECUTE bump", False)
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="denied"):
            await asyncio.wait_for(third, 10)
        assert await balance() == 11

        # Several statements in one string can redefine it unseen: also reviewed after.
        redefine = "DEALLOCATE bump; PREPARE bump AS UPDATE accounts SET balance = 0 WHERE id = 1"
        task = asyncio.create_task(conn.execute(redefine))
        await decide(redefine, True)
        await asyncio.wait_for(task, 10)
        fourth = asyncio.create_task(conn.execute("EXECUTE bump"))
        request = await next_request(approval_requests)
        assert list(request.approval_requested.rule_ids) == ["write.execute"]
        await gateway.decide(request.session_id, request.approval_requested.approval_id, False)
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="denied"):
            await asyncio.wait_for(fourth, 10)
        assert await balance() == 11
    finally:
        await conn.close()


async def test_refused_parse_under_a_name_in_use_keeps_that_statement_reviewed(
    gateway: RunningGateway, approval_requests: asyncio.Queue[Any]
) -> None:
    client = await RawClient.login(gateway)
    try:
        update = "UPDATE accounts SET balance = balance + 1 WHERE id = $1"
        # The Parse runs nothing: it passes, and the execution is reviewed at its Bind.
        client.send(pgwire.build_parse("s", update) + pgwire.frame(b"S"))
        assert [m.type for m in await client.until(b"Z")] == [b"1", b"Z"]
        client.send(bind("s", "1") + EXECUTE_SYNC)
        request = await next_request(approval_requests)
        assert list(request.approval_requested.parameters) == ["1"]
        await gateway.decide(request.session_id, request.approval_requested.approval_id, True)
        assert [m.type for m in await client.until(b"Z")] == [b"2", b"C", b"Z"]

        # A DROP parsed under the same name is refused; the target keeps the UPDATE as "s".
        client.send(pgwire.build_parse("s", "DROP TABLE accounts") + pgwire.frame(b"S"))
        [error] = errors_in(await client.until(b"Z"))
        assert "rule ddl.drop" in error["M"]

        # Executing "s" again runs the UPDATE: it needs its own approval.
        client.send(bind("s", "1") + EXECUTE_SYNC)
        request = await next_request(approval_requests)
        assert request.approval_requested.command_text == update
        await gateway.decide(request.session_id, request.approval_requested.approval_id, False)
        [error] = errors_in(await client.until(b"Z"))
        assert "was denied" in error["M"]
        assert await gateway.target_rows("SELECT balance FROM accounts WHERE id = 1") == [
            {"balance": 11}
        ]
    finally:
        client.close()


# ---- (f) pgbench ------------------------------------------------------------------------------


async def _pgbench_tables(gateway: RunningGateway) -> None:
    # `pgbench -i` drops and creates tables, which the gateway blocks: a human sets them up.
    init = await run_client("pgbench", "-i", "-s", "1", "-q", libpq_of(gateway.target_url))
    assert init.returncode == 0, init.stderr


def _pgbench(gateway: RunningGateway, *args: str) -> tuple[str, ...]:
    return ("pgbench", *args, "-h", gateway.host, "-p", str(gateway.port), "-U", "alice", "target")


def _assert_clean_run(run: Any) -> None:
    assert run.returncode == 0, run.stderr
    assert "number of failed transactions: 0 (0.000%)" in run.stdout, run.stdout
    processed = re.search(r"number of transactions actually processed: (\d+)", run.stdout)
    assert processed is not None and int(processed.group(1)) > 0
    assert re.search(r"^tps = [0-9.]+ ", run.stdout, re.M), run.stdout


async def test_pgbench_select_only_with_its_setup_reviewed_and_blocked(
    gateway: RunningGateway, approval_requests: asyncio.Queue[Any]
) -> None:
    await _pgbench_tables(gateway)
    env = client_env(PGPASSWORD=AGENT_TOKEN)
    # Without -n pgbench first vacuums (a write: reviewed, here denied) and truncates
    # pgbench_history (destructive: blocked); it tolerates both and runs the benchmark.
    bench = asyncio.create_task(run_client(*_pgbench(gateway, "-S", "-T", "3", "-c", "2"), env=env))
    for table in ("pgbench_branches", "pgbench_tellers"):
        request = await next_request(approval_requests)
        assert request.approval_requested.command_text == f"vacuum {table}"
        await gateway.decide(
            request.session_id, request.approval_requested.approval_id, False, "not now"
        )
    run = await asyncio.wait_for(bench, 30)
    _assert_clean_run(run)
    assert "Proctor blocked this statement (rule dml.truncate" in run.stderr
    assert await gateway.target_rows("SELECT count(*) AS n FROM pgbench_accounts") == [
        {"n": 100_000}
    ]


@pytest.mark.parametrize("mode", ["extended", "prepared"])
async def test_pgbench_select_only_extended_and_prepared(
    gateway: RunningGateway, mode: str
) -> None:
    await _pgbench_tables(gateway)
    run = await run_client(
        *_pgbench(gateway, "-n", "-S", "-M", mode, "-T", "2", "-c", "2"),
        env=client_env(PGPASSWORD=AGENT_TOKEN),
    )
    _assert_clean_run(run)
