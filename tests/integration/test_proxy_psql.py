"""psql through the gateway: what an agent driving the stock client sees for reads, blocks,
reviews, transactions, COPY, notices and notifications, and connection failures.

Every refused statement is followed by a direct look at the target: nothing of it ran.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import (
    RunningGateway,
    next_request,
    psql,
    target_state,
)

pytestmark = pytest.mark.integration


async def test_read_prints_rows(gateway: RunningGateway) -> None:
    run = await psql(gateway.libpq(), "-c", "SELECT id, owner FROM accounts ORDER BY id LIMIT 3")
    assert run.returncode == 0, run.stderr
    assert run.stderr == ""
    lines = [line.split("|") for line in run.stdout.splitlines()[2:5]]
    assert [[cell.strip() for cell in line] for line in lines] == [
        ["1", "owner1"],
        ["2", "owner2"],
        ["3", "owner3"],
    ]
    assert "(3 rows)" in run.stdout


@pytest.mark.parametrize(
    ("statement", "rule"),
    [
        ("DROP TABLE accounts", "ddl.drop"),
        ("TRUNCATE big", "dml.truncate"),
        ("DELETE FROM accounts", "dml.delete_all"),
        ("UPDATE accounts SET balance = 0", "dml.update_all"),
        ("ALTER TABLE accounts DROP COLUMN owner", "ddl.alter_drop"),
    ],
)
async def test_destructive_statement_is_blocked_with_rule_and_hint(
    gateway: RunningGateway, statement: str, rule: str
) -> None:
    before = await target_state(gateway)
    run = await psql(gateway.libpq(), "-c", statement)
    assert run.returncode == 1
    assert run.stdout == ""
    assert run.stderr.startswith("ERROR:  Proctor blocked this statement (rule " + rule), run.stderr
    assert "Nothing was run." in run.stderr
    assert f"DETAIL:  Policy builtin: {rule} -> block (default)." in run.stderr
    assert "\nHINT:  " in run.stderr
    assert "PROCTOR_REFUSED" not in run.stderr  # the target's own error never shows through
    assert await target_state(gateway) == before


async def test_review_held_until_granted(
    gateway: RunningGateway, approval_requests: asyncio.Queue[Any]
) -> None:
    update = asyncio.create_task(
        psql(gateway.libpq(), "-c", "UPDATE accounts SET balance = 0 WHERE id = 1")
    )
    request = await next_request(approval_requests)
    assert request.approval_requested.command_text == (
        "UPDATE accounts SET balance = 0 WHERE id = 1"
    )
    assert list(request.approval_requested.rule_ids) == ["write.update"]
    await asyncio.sleep(0.3)
    assert not update.done()  # psql waits while a human looks
    assert await gateway.target_rows("SELECT balance FROM accounts WHERE id = 1") == [
        {"balance": 10}
    ]
    await gateway.decide(request.session_id, request.approval_requested.approval_id, True)
    run = await asyncio.wait_for(update, 10)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "UPDATE 1"
    assert await gateway.target_rows("SELECT balance FROM accounts WHERE id = 1") == [
        {"balance": 0}
    ]


async def test_denial_shows_the_note(
    gateway: RunningGateway, approval_requests: asyncio.Queue[Any]
) -> None:
    before = await target_state(gateway)
    update = asyncio.create_task(psql(gateway.libpq(), "-c", "DELETE FROM accounts WHERE id = 2"))
    request = await next_request(approval_requests)
    approval_id = request.approval_requested.approval_id
    await gateway.decide(request.session_id, approval_id, False, "keep account 2, it is audited")
    run = await asyncio.wait_for(update, 10)
    assert run.returncode == 1
    assert run.stderr.startswith(
        f'ERROR:  Proctor: approval {approval_id} was denied by bob: "keep account 2, it is '
        'audited". The statement was not run.'
    ), run.stderr
    assert "HINT:  Change the statement as the note asks" in run.stderr
    assert await target_state(gateway) == before


async def test_multi_statement_string_is_refused_as_a_whole(
    gateway: RunningGateway, approval_requests: asyncio.Queue[Any]
) -> None:
    before = await target_state(gateway)
    # One Query message: a read, a write that alone would wait for review, and a DROP.
    run = await psql(
        gateway.libpq(),
        "-c",
        "SELECT count(*) FROM accounts; UPDATE accounts SET balance = 0 WHERE id = 3; "
        "DROP TABLE big",
    )
    assert run.returncode == 1
    assert run.stdout == ""  # not even the leading SELECT ran
    assert "ERROR:  Proctor blocked this statement (rule ddl.drop: statement 3:" in run.stderr
    assert approval_requests.empty()  # blocked outright; nobody is asked about the UPDATE
    assert await target_state(gateway) == before


async def test_blocked_statement_aborts_the_transaction_like_postgres(
    gateway: RunningGateway,
) -> None:
    before = await target_state(gateway)
    script = "\n".join(
        [
            "BEGIN;",
            "SELECT count(*) AS inside FROM accounts;",
            "TRUNCATE accounts;",
            "SELECT 1 AS after_block;",
            "ROLLBACK;",
            "SELECT count(*) AS after_rollback FROM accounts;",
        ]
    )
    run = await psql(gateway.libpq(), "-f", "-", stdin=script)
    assert run.returncode == 0, run.stderr
    errors = [line for line in run.stderr.splitlines() if "ERROR" in line]
    assert errors == [
        "psql:<stdin>:3: ERROR:  Proctor blocked this statement (rule dml.truncate: "
        "TRUNCATE accounts removes every row). Nothing was run.",
        "psql:<stdin>:4: ERROR:  current transaction is aborted, commands ignored until end "
        "of transaction block",
    ]
    assert "after_block" not in run.stdout
    assert run.stdout.count(" 100\n") == 2  # inside, and after the ROLLBACK
    assert "ROLLBACK" in run.stdout
    assert await target_state(gateway) == before


async def test_copy_out_and_backslash_copy_to_a_local_file(
    gateway: RunningGateway, tmp_path: Path
) -> None:
    run = await psql(gateway.libpq(), "-c", "COPY (SELECT * FROM accounts ORDER BY id) TO STDOUT")
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert len(lines) == 100
    assert lines[0] == "1\towner1\t10"

    out = tmp_path / "accounts.csv"
    run = await psql(gateway.libpq(), "-c", f"\\copy accounts TO '{out}' WITH (FORMAT csv)")
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "COPY 100"
    assert sorted(out.read_text().splitlines(), key=lambda r: int(r.split(",")[0]))[99] == (
        "100,owner100,1000"
    )


async def test_copy_in_runs_only_once_approved(
    gateway: RunningGateway, approval_requests: asyncio.Queue[Any], tmp_path: Path
) -> None:
    # The table is made by a human on the target; loading it is the agent's write.
    await gateway.target_rows("CREATE TABLE imports (id integer, note text)")
    data = tmp_path / "imports.csv"
    data.write_text("".join(f"{i},row {i}\n" for i in range(1, 51)))
    copy = f"\\copy imports FROM '{data}' WITH (FORMAT csv)"

    denied = asyncio.create_task(psql(gateway.libpq(), "-c", copy))
    request = await next_request(approval_requests)
    # psql's own spelling of \copy, judged as the write it is.
    assert " ".join(request.approval_requested.command_text.split()) == (
        "COPY imports FROM STDIN WITH (FORMAT csv)"
    )
    assert list(request.approval_requested.rule_ids) == ["write.copy_from_client"]
    await gateway.decide(request.session_id, request.approval_requested.approval_id, False, "no")
    run = await asyncio.wait_for(denied, 10)
    assert run.returncode == 1
    assert "was denied by bob" in run.stderr
    assert await gateway.target_rows("SELECT count(*) AS n FROM imports") == [{"n": 0}]

    granted = asyncio.create_task(psql(gateway.libpq(), "-c", copy))
    request = await next_request(approval_requests)
    await gateway.decide(request.session_id, request.approval_requested.approval_id, True)
    run = await asyncio.wait_for(granted, 10)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "COPY 50"
    assert await gateway.target_rows("SELECT count(*) AS n, max(note) AS top FROM imports") == [
        {"n": 50, "top": "row 9"}
    ]


async def test_notices_and_warnings_reach_the_client(gateway: RunningGateway) -> None:
    # A function a human deployed on the target raises a NOTICE when an agent reads through it
    # (STABLE: a VOLATILE one could change data, and would wait for a human).
    await gateway.target_rows(
        "CREATE FUNCTION audited_count() RETURNS bigint LANGUAGE plpgsql STABLE AS $$ BEGIN "
        "RAISE NOTICE 'counting accounts for %', current_user; "
        "RETURN (SELECT count(*) FROM accounts); END $$"
    )
    run = await psql(gateway.libpq(), "-c", "SELECT audited_count()")
    assert run.returncode == 0, run.stderr
    assert "NOTICE:  counting accounts for postgres" in run.stderr
    assert " 100\n" in run.stdout

    run = await psql(gateway.libpq(), "-c", "COMMIT")
    assert run.returncode == 0, run.stderr
    assert "WARNING:  there is no transaction in progress" in run.stderr


async def test_listen_is_allowed_and_notify_waits_for_review(
    gateway: RunningGateway, approval_requests: asyncio.Queue[Any]
) -> None:
    script = "LISTEN deploys;\nNOTIFY deploys, 'v42 is out';\nSELECT 'done' AS status;\n"
    session = asyncio.create_task(psql(gateway.libpq(), "-f", "-", stdin=script))
    request = await next_request(approval_requests)
    assert request.approval_requested.command_text == "NOTIFY deploys, 'v42 is out';"
    await gateway.decide(request.session_id, request.approval_requested.approval_id, True)
    run = await asyncio.wait_for(session, 10)
    assert run.returncode == 0, run.stderr
    assert 'Asynchronous notification "deploys" with payload "v42 is out" received' in (run.stdout)
    assert run.stdout.splitlines()[:2] == ["LISTEN", "NOTIFY"]


async def test_bad_token_fails_authentication(gateway: RunningGateway) -> None:
    run = await psql(gateway.libpq(token="not-the-token"), "-c", "SELECT 1")
    assert run.returncode == 2
    assert 'FATAL:  password authentication failed for user "alice"' in run.stderr
    assert "HINT:  The password is your Proctor access token." in run.stderr

    run = await psql(gateway.libpq(user="mallory"), "-c", "SELECT 1")
    assert run.returncode == 2
    assert 'FATAL:  password authentication failed for user "mallory"' in run.stderr


async def test_unknown_resource_names_the_configured_ones(gateway: RunningGateway) -> None:
    run = await psql(gateway.libpq(db="prod"), "-c", "SELECT 1")
    assert run.returncode == 2
    assert 'FATAL:  resource "prod" is not configured in Proctor' in run.stderr
    assert "HINT:  Configured resources: target." in run.stderr


async def test_ssl_prefer_falls_back_and_require_fails_without_a_certificate(
    gateway: RunningGateway,
) -> None:
    base = gateway.libpq().replace("sslmode=disable", "")
    run = await psql(base + "sslmode=prefer", "-c", "SELECT 'plain' AS transport")
    assert run.returncode == 0, run.stderr
    assert " plain\n" in run.stdout

    run = await psql(base + "sslmode=require", "-c", "SELECT 1")
    assert run.returncode == 2
    assert "server does not support SSL, but SSL was required" in run.stderr

    # The gateway is unharmed by either.
    run = await psql(gateway.libpq(), "-c", "SELECT 1")
    assert run.returncode == 0, run.stderr
