"""The SQL rule matcher: every catalog rule fires on what it names and not on its near misses,
and destructive statements stay blocked however they are spelled."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pglast.parser import fingerprint

from proctor.classifier.v1 import classifier_pb2 as cpb
from proctor.events.v1 import events_pb2 as pb
from proctor.policy import Policy
from proctor.rulecatalog import RULES, RuleClass
from proctor_classifier import rules
from proctor_classifier.core import classify
from tests.unit.catalog_facts import plain_catalog_verdict

# rule id -> (statements that must trigger it, near misses that must not)
CASES: dict[str, tuple[list[str], list[str]]] = {
    "read.select": (
        ["SELECT 1", "SELECT * FROM t WHERE id = 1", "TABLE t", "VALUES (1), (2)",
         "SELECT a FROM t UNION SELECT b FROM u", "SELECT 'DROP TABLE x'",
         "SELECT drop_reason, truncate_at FROM t", "-- DROP TABLE x\nSELECT 1",
         "/* DELETE FROM t */ SELECT 1", "SELECT set_config('search_path', 'app', false)",
         'SELECT * FROM "DROP TABLE x"', "DECLARE c CURSOR FOR SELECT * FROM t"],
        ["SELECT * INTO t2 FROM t", "SELECT * FROM t FOR UPDATE",
         "WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d"],
    ),
    "read.select_locking": (
        ["SELECT * FROM t WHERE id = 1 FOR UPDATE", "SELECT * FROM t FOR SHARE SKIP LOCKED",
         "SELECT * FROM t FOR NO KEY UPDATE NOWAIT"],
        ["SELECT * FROM t", "SELECT 'FOR UPDATE'"],
    ),
    "read.explain": (
        ["EXPLAIN SELECT 1", "EXPLAIN DELETE FROM t", "EXPLAIN (ANALYZE off) DELETE FROM t",
         "EXPLAIN (ANALYZE false, COSTS) UPDATE t SET a = 1", "EXPLAIN (ANALYZE 0) DELETE FROM t",
         "EXPLAIN SELECT pg_terminate_backend(1)"],
        ["EXPLAIN ANALYZE SELECT 1", "EXPLAIN (ANALYZE) DELETE FROM t WHERE id = 1",
         "EXPLAIN (ANALYZE on) SELECT 1"],
    ),
    "read.copy_to_client": (
        ["COPY t TO STDOUT", "COPY (SELECT * FROM t) TO STDOUT WITH CSV",
         "COPY t (a, b) TO STDOUT"],
        ["COPY t FROM STDIN", "COPY t TO '/tmp/t.csv'",
         "COPY (DELETE FROM t RETURNING *) TO STDOUT"],
    ),
    "write.insert": (
        ["INSERT INTO t VALUES (1)", "INSERT INTO t SELECT * FROM u",
         "INSERT INTO t VALUES (1) ON CONFLICT (id) DO UPDATE SET a = 2",
         "WITH i AS (INSERT INTO t VALUES (1) RETURNING id) SELECT * FROM i"],
        ["SELECT 'INSERT INTO t VALUES (1)'", "SELECT insert_time FROM t"],
    ),
    "write.update": (
        ["UPDATE t SET a = 1 WHERE id = 1", "UPDATE t SET a = 1 WHERE id = 1 OR id = 2",
         "UPDATE t SET a = u.a FROM u WHERE t.id = u.id", "UPDATE t SET a = 1 WHERE false",
         "EXPLAIN ANALYZE UPDATE t SET a = 1 WHERE id = 2"],
        ["UPDATE t SET a = 1", "UPDATE t SET a = 1 WHERE true",
         "EXPLAIN UPDATE t SET a = 1 WHERE id = 1"],
    ),
    "write.delete": (
        ["DELETE FROM t WHERE id = 1", "DELETE FROM t WHERE id IN (1, 2)",
         "DELETE FROM t WHERE 1 = 1 AND id = 3", "DELETE FROM t USING u WHERE t.id = u.id",
         "WITH d AS (DELETE FROM t WHERE id = 1 RETURNING *) SELECT * FROM d"],
        ["DELETE FROM t", "DELETE FROM t WHERE 1 = 1", "SELECT 'DELETE FROM t WHERE id = 1'"],
    ),
    "write.merge": (
        ["MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN UPDATE SET a = s.a",
         "MERGE INTO t USING s ON t.id = s.id WHEN NOT MATCHED THEN INSERT VALUES (s.id)"],
        ["SELECT 'MERGE INTO t'"],
    ),
    "write.copy_from_client": (["COPY t FROM STDIN", "COPY t (a) FROM STDIN WITH (FORMAT csv)"],
                               ["COPY t TO STDOUT", "COPY t FROM '/tmp/x'"]),
    "write.call": (["CALL refresh_totals()", "CALL app.p(1, 'x')"], ["SELECT refresh_totals()"]),
    "write.execute": (["EXECUTE p", "EXECUTE p(1, 'x')"],
                      ["PREPARE p AS SELECT 1", "DEALLOCATE p"]),
    "read.lock_shared": (["LOCK TABLE public.t IN ACCESS SHARE MODE",
                          "LOCK TABLE a, b IN ACCESS SHARE MODE"],
                         ["LOCK TABLE t", "LOCK TABLE t IN ROW SHARE MODE"]),
    "write.sequence": (["SELECT nextval('s')", "SELECT pg_catalog.setval('s', 1)",
                        "INSERT INTO t VALUES (nextval('s'))", "SELECT * FROM t WHERE "
                        "id = nextval('s')"],
                       ["SELECT currval('s')", "SELECT last_value FROM s"]),
    "write.large_object": (["SELECT lo_create(0)", "SELECT lo_from_bytea(0, 'x')",
                            "SELECT lowrite(3, 'x')"],
                           ["SELECT lo_get(1)", "SELECT loread(3, 10)"]),
    "session.sleep": (["SELECT pg_sleep(1)", "SELECT pg_sleep_for('1 second')"],
                      ["SELECT sleep_time FROM t"]),
    "session.advisory_lock": (["SELECT pg_advisory_lock(1)", "SELECT pg_try_advisory_xact_lock(2)",
                               "SELECT pg_advisory_unlock_all()"],
                              ["SELECT * FROM pg_locks"]),
    "write.lock": (["LOCK TABLE t", "LOCK TABLE t IN ACCESS EXCLUSIVE MODE"],
                   ["SELECT * FROM lock"]),
    "write.maintenance": (
        ["VACUUM t", "VACUUM FULL", "ANALYZE t", "CLUSTER t USING i", "REINDEX TABLE t",
         "CHECKPOINT", "REFRESH MATERIALIZED VIEW mv"],
        ["SELECT * FROM pg_stat_user_tables", "EXPLAIN SELECT 1"],
    ),
    "write.two_phase": (["PREPARE TRANSACTION 'x'", "COMMIT PREPARED 'x'", "ROLLBACK PREPARED 'x'"],
                        ["COMMIT", "ROLLBACK", "PREPARE p AS SELECT 1"]),
    "write.other": (["NOTIFY jobs", "NOTIFY jobs, 'payload'"], ["LISTEN jobs", "SELECT 1"]),
    "ddl.create": (
        ["CREATE TABLE t (id int)", "CREATE INDEX ON t (a)", "CREATE VIEW v AS SELECT 1",
         "CREATE SCHEMA s", "CREATE SEQUENCE s", "CREATE TABLE t2 AS SELECT * FROM t",
         "SELECT * INTO t2 FROM t", "CREATE MATERIALIZED VIEW mv AS SELECT 1",
         "CREATE TYPE mood AS ENUM ('ok')", "CREATE DOMAIN d int", "CREATE DATABASE d"],
        ["SELECT 'CREATE TABLE t (id int)'", "SELECT created_at FROM t"],
    ),
    "ddl.alter": (
        ["ALTER TABLE t ADD COLUMN c int", "ALTER TABLE t RENAME TO u",
         "ALTER TABLE t ALTER COLUMN c TYPE bigint", "COMMENT ON TABLE t IS 'x'",
         "ALTER SEQUENCE s RESTART", "ALTER TABLE t DROP CONSTRAINT c, ADD COLUMN d int"],
        ["ALTER TABLE t DROP COLUMN c", "ALTER TABLE t OWNER TO bob", "SELECT 'ALTER TABLE t'"],
    ),
    "ddl.drop": (
        ["DROP TABLE t", "DROP TABLE IF EXISTS a.b, c CASCADE", "DROP SCHEMA s CASCADE",
         "DROP DATABASE d", "DROP INDEX i", "DROP VIEW v", "DROP FUNCTION f(int)",
         "DROP OWNED BY r", "DROP ROLE r", "DROP TYPE ty", "DROP EXTENSION e",
         "DROP TABLESPACE ts", "SELECT 1; DROP TABLE t"],
        ["SELECT 'DROP TABLE x'", "SELECT drop_reason FROM t", "-- DROP TABLE x\nSELECT 1",
         "/* DROP TABLE x */ SELECT 1", "ALTER TABLE t DROP COLUMN c", 'SELECT * FROM "drop"'],
    ),
    "ddl.alter_drop": (
        ["ALTER TABLE t DROP COLUMN c", "ALTER TABLE t DROP COLUMN IF EXISTS c CASCADE",
         "ALTER TABLE t DROP CONSTRAINT t_pkey", "ALTER TABLE t ADD d int, DROP COLUMN c",
         "ALTER DOMAIN d DROP CONSTRAINT c", "ALTER TYPE ty DROP ATTRIBUTE a"],
        ["ALTER TABLE t ADD COLUMN drop_reason text", "ALTER TABLE t ALTER COLUMN c DROP DEFAULT",
         "ALTER TABLE t RENAME COLUMN drop_me TO kept"],
    ),
    "dml.truncate": (["TRUNCATE t", "TRUNCATE TABLE a, b RESTART IDENTITY CASCADE", "truncate t"],
                     ["SELECT truncate_at FROM t", "SELECT 'TRUNCATE t'",
                      "DELETE FROM t WHERE id = 1"]),
    "dml.delete_all": (
        ["DELETE FROM t", "DELETE FROM t WHERE true", "DELETE FROM t WHERE 1=1",
         "DELETE FROM t WHERE 'a'='a'", "DELETE FROM t WHERE id = 5 OR true",
         "DELETE FROM t WHERE id = 5 OR 1 = 1", "DELETE FROM t WHERE NOT false",
         "DELETE FROM t WHERE 1 <> 0", "DELETE FROM t WHERE 't'::boolean",
         "DELETE FROM t WHERE 2 > 1", "DELETE FROM t WHERE 1 = '1'",
         "DELETE FROM t WHERE (1 = 1)", "DELETE FROM t WHERE true IS TRUE",
         "DELETE FROM t WHERE NULL IS NULL", "DELETE FROM t WHERE EXISTS (SELECT 1)",
         "DELETE FROM t WHERE 1 IN (1, 2)", "DELETE FROM t USING u",
         "WITH d AS (DELETE FROM t RETURNING *) SELECT count(*) FROM d",
         "EXPLAIN ANALYZE DELETE FROM t", "PREPARE p AS DELETE FROM t",
         "COPY (DELETE FROM t RETURNING *) TO STDOUT", "DO $$ BEGIN DELETE FROM t; END $$"],
        ["DELETE FROM t WHERE id = 1", "DELETE FROM t WHERE false", "DELETE FROM t WHERE 1 = 0",
         "DELETE FROM t WHERE id = id", "DELETE FROM t WHERE 1 = 1 AND id = 2",
         "DELETE FROM t WHERE NULL", "EXPLAIN DELETE FROM t", "SELECT 'DELETE FROM t'"],
    ),
    "dml.update_all": (
        ["UPDATE t SET a = 1", "UPDATE t SET a = 1 WHERE true", "UPDATE t SET a = 1 WHERE 1=1",
         "UPDATE t SET a = 1 WHERE 'x' = 'x' OR id = 2", "UPDATE t SET a = u.a FROM u",
         "WITH x AS (UPDATE t SET a = 1 RETURNING *) SELECT * FROM x",
         "EXPLAIN (ANALYZE, BUFFERS) UPDATE t SET a = 1"],
        ["UPDATE t SET a = 1 WHERE id = 1", "UPDATE t SET a = 1 WHERE 'a' = 'b'",
         "EXPLAIN UPDATE t SET a = 1"],
    ),
    "admin.alter_system": (["ALTER SYSTEM SET work_mem = '1GB'", "ALTER SYSTEM RESET ALL",
                            "ALTER DATABASE app SET log_statement = 'none'",
                            "ALTER DATABASE app WITH ALLOW_CONNECTIONS false"],
                           ["SET work_mem = '1GB'", "SHOW work_mem"]),
    "admin.grant": (["GRANT SELECT ON t TO bob", "REVOKE ALL ON t FROM bob", "GRANT admin TO bob",
                     "ALTER TABLE t OWNER TO bob",
                     "ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO bob",
                     "REASSIGN OWNED BY a TO b", "ALTER SCHEMA s OWNER TO bob",
                     "CREATE POLICY p ON t USING (true)",
                     "ALTER TABLE t DISABLE ROW LEVEL SECURITY"],
                    ["SELECT * FROM grants", "SELECT has_table_privilege('t', 'select')"]),
    "admin.role": (["CREATE ROLE r", "CREATE USER u WITH PASSWORD 'x'", "ALTER ROLE r SUPERUSER",
                    "ALTER USER u RENAME TO v", "DROP ROLE r", "DROP USER IF EXISTS u",
                    "ALTER ROLE r SET search_path = app"],
                   ["SELECT * FROM pg_roles", "SET ROLE NONE", "RESET ROLE"]),
    "admin.copy_program": (["COPY t FROM PROGRAM 'curl http://x'",
                            "COPY t TO PROGRAM 'gzip > /tmp/x'",
                            "COPY (SELECT 1) TO PROGRAM 'cat'"],
                           ["COPY t TO STDOUT", "COPY t FROM '/tmp/x'"]),
    "admin.copy_file": (["COPY t TO '/tmp/t.csv'", "COPY t FROM '/etc/passwd'",
                         "COPY (SELECT * FROM t) TO '/tmp/x' WITH CSV"],
                        ["COPY t TO STDOUT", "COPY t FROM STDIN", "COPY t FROM PROGRAM 'ls'"]),
    "admin.dangerous_function": (
        ["SELECT pg_terminate_backend(pid) FROM pg_stat_activity", "SELECT pg_cancel_backend(42)",
         "SELECT pg_catalog.pg_terminate_backend(42)", "SELECT PG_TERMINATE_BACKEND(42)",
         "SELECT pg_read_file('/etc/passwd')", "SELECT pg_read_binary_file('x')",
         "SELECT * FROM pg_ls_dir('/')", "SELECT lo_import('/etc/passwd')",
         "SELECT lo_export(1, '/tmp/x')", "SELECT dblink('c', 'SELECT 1')",
         "SELECT dblink_exec('c', 'DROP TABLE t')", "SELECT pg_reload_conf()",
         "SELECT * FROM t WHERE pg_terminate_backend(1)",
         "CREATE VIEW v AS SELECT pg_read_file('x')",
         "INSERT INTO t VALUES (pg_read_file('x'))", "EXPLAIN ANALYZE SELECT pg_cancel_backend(1)",
         "DO $$ BEGIN PERFORM pg_terminate_backend(1); END $$",
         "SELECT query_to_xml('DELETE FROM t', true, false, '')"],
        ["SELECT 'pg_terminate_backend(1)'", "SELECT pg_backend_pid()", "SELECT now()",
         "SELECT pg_terminate_backend_count FROM t", "EXPLAIN SELECT pg_terminate_backend(1)"],
    ),
    "admin.set_sensitive": (
        ["SET ROLE postgres", "SET SESSION AUTHORIZATION bob", "SET LOCAL role TO admin",
         "SET session_replication_role = replica", "SET log_statement = 'none'",
         "SELECT set_config('role', 'postgres', false)",
         "SELECT set_config('session_authorization', 'x', true)",
         "SELECT set_config(name, 'x', false) FROM settings_to_apply"],
        ["SET search_path TO app", "SET work_mem = '64MB'", "RESET ROLE", "SET ROLE NONE",
         "SET row_security = off",
         "SELECT set_config('search_path', 'app', false)", "SHOW role",
         "SELECT current_setting('role')"],
    ),
    "admin.extension": (["CREATE EXTENSION dblink", "CREATE EXTENSION IF NOT EXISTS pg_trgm",
                         "ALTER EXTENSION e UPDATE", "LOAD 'auto_explain'",
                         "CREATE LANGUAGE plpython3u"],
                        ["SELECT * FROM pg_extension"]),
    "admin.remote": (["CREATE SERVER s FOREIGN DATA WRAPPER postgres_fdw",
                      "CREATE USER MAPPING FOR bob SERVER s OPTIONS (user 'x')",
                      "IMPORT FOREIGN SCHEMA public FROM SERVER s INTO local",
                      "CREATE FOREIGN DATA WRAPPER w", "CREATE PUBLICATION p FOR ALL TABLES",
                      "CREATE SUBSCRIPTION s CONNECTION 'host=x' PUBLICATION p"],
                     ["SELECT * FROM pg_foreign_server"]),
    "code.do": (["DO $$ BEGIN NULL; END $$", "DO LANGUAGE plpython3u $$ import os $$",
                 "do $x$ begin raise notice 'hi'; end $x$"],
                ["SELECT 'DO $$ BEGIN END $$'",
                 "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1'"]),
    "code.function": (["CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1'",
                       "CREATE OR REPLACE FUNCTION f() RETURNS void LANGUAGE plpgsql "
                       "AS $$ BEGIN END $$",
                       "CREATE PROCEDURE p() LANGUAGE sql BEGIN ATOMIC DELETE FROM t; END",
                       "ALTER FUNCTION f() SECURITY DEFINER"],
                      ["SELECT f()", "DROP FUNCTION f()", "CALL p()"]),
    "code.trigger": (["CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION f()",
                      "CREATE EVENT TRIGGER et ON ddl_command_start EXECUTE FUNCTION f()",
                      "CREATE RULE r AS ON INSERT TO t DO INSTEAD NOTHING"],
                     ["SELECT * FROM pg_trigger", "DROP TRIGGER tr ON t"]),
    "session.set": (["SET search_path TO app", "SET TIME ZONE 'UTC'",
                     "SET LOCAL statement_timeout = 0", "RESET ALL", "RESET ROLE", "SET ROLE NONE",
                     "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE",
                     "SET application_name = 'agent'"],
                    ["SET ROLE postgres", "SHOW search_path"]),
    "session.show": (["SHOW work_mem", "SHOW ALL", "SHOW search_path"], ["SET work_mem = '1MB'"]),
    "session.other": (["DEALLOCATE p", "DEALLOCATE ALL", "DISCARD ALL", "LISTEN jobs", "UNLISTEN *",
                       "FETCH 10 FROM c", "CLOSE c", "SET CONSTRAINTS ALL DEFERRED"],
                      ["NOTIFY jobs", "SELECT 1"]),
    "transaction.control": (["BEGIN", "BEGIN ISOLATION LEVEL SERIALIZABLE", "START TRANSACTION",
                             "COMMIT", "ROLLBACK", "END", "SAVEPOINT a", "RELEASE SAVEPOINT a",
                             "ROLLBACK TO SAVEPOINT a", "ABORT"],
                            ["PREPARE TRANSACTION 'x'", "COMMIT PREPARED 'x'"]),
    "empty": (["", "   ", "\n\t", ";", "-- DROP TABLE x", "/* DROP TABLE x */", "-- a\n-- b\n"],
              ["SELECT 1", "-- x\nSELECT 1"]),
    "parse.error": (["DROP TABL x", "SELEC 1", "DELETE t", "SELECT 'unterminated",
                     "SELECT 1; DRP TABLE t", "/* unterminated comment"],
                    ["SELECT 1", "", "SELECT 'a;b'"]),
}  # fmt: skip


def ids(text: str) -> list[str]:
    return [m.rule.id for m in rules.classify_sql(text)]


def verdict(text: str, policy: Policy | None = None) -> cpb.ClassifyResponse:
    """The verdict with a target whose every relation is a table and every function a
    built-in STABLE one: the text's own rules alone (test_catalog_rules judges the rest)."""
    return plain_catalog_verdict(text, policy or Policy.builtin())


# Judged from the target's catalog (test_catalog_rules.py), not from the text alone.
CATALOG_RULES = {"write.call_function", "write.call_unknown", "limit.max_rows"}


def test_every_catalog_rule_has_cases() -> None:
    assert set(CASES) | CATALOG_RULES == set(RULES)


@pytest.mark.parametrize(
    ("rule_id", "text"), [(r, t) for r, (hits, _) in CASES.items() for t in hits]
)
def test_rule_fires(rule_id: str, text: str) -> None:
    assert rule_id in ids(text)


@pytest.mark.parametrize(
    ("rule_id", "text"), [(r, t) for r, (_, misses) in CASES.items() for t in misses]
)
def test_rule_does_not_fire_on_near_miss(rule_id: str, text: str) -> None:
    assert rule_id not in ids(text)


def test_the_default_actions_follow_the_class() -> None:
    assert verdict("SELECT 1").action == pb.ACTION_ALLOW
    assert verdict("UPDATE t SET a = 1 WHERE id = 1").action == pb.ACTION_REVIEW
    assert verdict("DROP TABLE t").action == pb.ACTION_BLOCK
    assert verdict("SELECT pg_terminate_backend(1)").action == pb.ACTION_BLOCK
    assert verdict("BEGIN").action == pb.ACTION_ALLOW
    assert verdict("SET search_path TO app").action == pb.ACTION_ALLOW
    assert verdict("EXECUTE p").action == pb.ACTION_REVIEW
    assert verdict("DROP TABL x").action == pb.ACTION_BLOCK
    assert verdict("  -- nothing\n").action == pb.ACTION_ALLOW
    assert verdict("SELECT * FROM t FOR UPDATE").action == pb.ACTION_ALLOW


def test_multi_statement_reports_all_and_the_most_severe_wins() -> None:
    response = verdict("SELECT 1; UPDATE t SET a = 1 WHERE id = 1; TRUNCATE t")
    assert response.action == pb.ACTION_BLOCK
    assert [m.rule_id for m in response.matches] == ["dml.truncate", "write.update", "read.select"]
    assert response.matches[0].reason.startswith("statement 3: TRUNCATE t")
    assert [m.action for m in response.matches] == [
        pb.ACTION_BLOCK, pb.ACTION_REVIEW, pb.ACTION_ALLOW
    ]  # fmt: skip


def test_a_read_rule_is_dropped_when_the_statement_does_more() -> None:
    assert ids("WITH d AS (DELETE FROM t WHERE id = 1 RETURNING *) SELECT * FROM d") == [
        "write.delete"
    ]
    assert ids("SELECT pg_cancel_backend(1)") == ["admin.dangerous_function"]


def test_data_modifying_cte_is_classified_by_what_it_modifies() -> None:
    response = verdict("WITH d AS (DELETE FROM orders RETURNING *) SELECT count(*) FROM d")
    assert response.action == pb.ACTION_BLOCK
    assert response.matches[0].rule_id == "dml.delete_all"
    assert "orders" in response.matches[0].reason


def test_reasons_name_what_was_judged_and_carry_hints() -> None:
    (match,) = verdict("DROP TABLE public.customers").matches
    assert match.reason == "DROP TABLE public.customers destroys it and everything it holds"
    assert match.hint and match.decided_by == "default"
    (match,) = verdict("SELECT pg_terminate_backend(7)").matches
    assert "pg_terminate_backend()" in match.reason and "session" in match.reason


def test_parse_error_names_the_problem() -> None:
    (match,) = rules.classify_sql("DROP TABL x")
    assert match.rule.id == "parse.error"
    assert 'syntax error at or near "TABL"' in match.reason


def test_deep_nesting_fails_closed_without_crashing() -> None:
    for depth in (2000, 20000):
        response = verdict("SELECT " + "abs(" * depth + "1" + ")" * depth)
        assert response.action == pb.ACTION_BLOCK
        assert response.matches[0].rule_id == "parse.error"


def test_unknown_command_kind_is_refused() -> None:
    request = cpb.ClassifyRequest(text="SELECT 1", kind=7)  # type: ignore[arg-type]
    response = classify(request, Policy.builtin())
    assert response.error and response.action == pb.ACTION_BLOCK


def test_every_rule_reason_formats() -> None:
    for rule in RULES.values():
        assert "{" not in rule.reason_for("X"), rule.id
        assert rule.hint.endswith("."), rule.id


# --- spelled any way, destructive statements stay blocked ----------------------------------

_SPACE = st.sampled_from([" ", "  ", "\t", "\n", "\r\n", " \n\t "])
_COMMENT = st.sampled_from(
    ["/* x */", "/**/", "/* DROP TABLE y; */", "/* a /* nested */ b */", "-- c\n", "--\n",
     "-- SELECT 1;\n"]
)  # fmt: skip
_GAP = st.lists(st.one_of(_SPACE, _COMMENT), min_size=1, max_size=3).map("".join)
_TABLE = st.sampled_from(
    ["orders", '"orders"', "public.orders", 'public."Orders"', '"my table"', "ORDERS",
     '"Public"."Drop"', "t"]
)  # fmt: skip
_ALWAYS = st.sampled_from(
    ["", "WHERE true", "WHERE 1=1", "WHERE 1 = 1", "WHERE 'a'='a'", "WHERE TRUE",
     "WHERE id = 3 OR true", "WHERE (1 = 1)", "WHERE NOT false", "where 2 > 1"]
)  # fmt: skip


@st.composite
def _keyword(draw: st.DrawFn, word: str) -> str:
    flips = draw(st.lists(st.booleans(), min_size=len(word), max_size=len(word)))
    return "".join(c.upper() if up else c.lower() for c, up in zip(word, flips, strict=True))


@st.composite
def destructive(draw: st.DrawFn) -> tuple[str, str]:
    table = draw(_TABLE)
    kind = draw(st.sampled_from(["drop", "truncate", "delete", "update"]))
    if kind == "drop":
        words = ["DROP", "TABLE", *draw(st.sampled_from([[], ["IF", "EXISTS"]])), table]
        words += draw(st.sampled_from([[], ["CASCADE"], ["RESTRICT"]]))
        rule_id = "ddl.drop"
    elif kind == "truncate":
        words = ["TRUNCATE", *draw(st.sampled_from([[], ["TABLE"], ["ONLY"]])), table]
        rule_id = "dml.truncate"
    elif kind == "delete":
        words = ["DELETE", "FROM", table, *draw(_ALWAYS).split()]
        rule_id = "dml.delete_all"
    else:
        words = ["UPDATE", table, "SET", "a", "=", "1", *draw(_ALWAYS).split()]
        rule_id = "dml.update_all"
    keywords = {
        "DROP",
        "TABLE",
        "IF",
        "EXISTS",
        "CASCADE",
        "RESTRICT",
        "TRUNCATE",
        "ONLY",
        "DELETE",
        "FROM",
        "UPDATE",
        "SET",
        "WHERE",
        "TRUE",
        "OR",
        "NOT",
        "FALSE",
    }
    parts = [draw(st.one_of(st.just(""), _GAP))]
    for word in words:
        parts += [draw(_keyword(word)) if word.upper() in keywords else word, draw(_GAP)]
    parts.append(draw(st.sampled_from(["", ";", "; ", ";\n-- done\n"])))
    return "".join(parts), rule_id


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(destructive())
def test_destructive_statements_are_blocked_however_spelled(case: tuple[str, str]) -> None:
    text, rule_id = case
    response = verdict(text)
    assert response.action == pb.ACTION_BLOCK, text
    assert rule_id in [m.rule_id for m in response.matches], text


@settings(max_examples=150, deadline=None)
@given(_GAP, _GAP, st.sampled_from(["SELECT id FROM t WHERE id = 1", "SELECT 'DROP TABLE t'"]))
def test_comments_about_destruction_do_not_block_a_read(before: str, after: str, sql: str) -> None:
    response = verdict(f"{before}{sql}{after}")
    assert response.action == pb.ACTION_ALLOW


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_any_text_gets_a_verdict(text: str) -> None:
    matches = rules.classify_sql(text)
    assert matches
    assert all(m.rule.rule_class in RuleClass for m in matches)


# --- fingerprint safety: a verdict marked safe holds for every text with its fingerprint -----

_TEMPLATES = [
    "DELETE FROM t WHERE {n} = {m}", "DELETE FROM t WHERE id = {n}", "DELETE FROM t WHERE NOT {b}",
    "UPDATE t SET x = {n} WHERE {n} {op} {m}", "UPDATE t SET x = {s} WHERE y = {s}",
    "DELETE FROM t WHERE {s} = {s2}", "DELETE FROM t WHERE {b} OR id = {n}",
    "SELECT * FROM t WHERE id IN ({n}, {m}) LIMIT {m}", "SELECT set_config({s}, {s2}, {b})",
    "SET ROLE {r}", "SET search_path = {s}", "EXPLAIN (ANALYZE {b}) DELETE FROM t",
    "EXECUTE {name}", "CREATE ROLE {name}", "DEALLOCATE {name}", "LISTEN {name}",
    "ALTER TABLE t OWNER TO {name}", "DO $$ BEGIN {body}; END $$", "COPY t TO {s}",
    "SELECT {n}; DELETE FROM t WHERE {n} = {m}",
]  # fmt: skip
_FILL = {
    "n": st.sampled_from(["0", "1", "2", "-1", "1.0", "'1'"]),
    "m": st.sampled_from(["0", "1", "2", "'1'"]),
    "b": st.sampled_from(["true", "false", "'t'", "'off'"]),
    "s": st.sampled_from(["'a'", "'b'", "'role'", "'search_path'", "'/tmp/x'"]),
    "s2": st.sampled_from(["'a'", "'b'"]),
    "op": st.sampled_from(["=", "<>", "<"]),
    "r": st.sampled_from(["none", "NONE", "postgres", "admin"]),
    "name": st.sampled_from(["a", "b"]),
    "body": st.sampled_from(["NULL", "DELETE FROM t", "DROP TABLE t"]),
}


@st.composite
def _filled(draw: st.DrawFn, template: str) -> str:
    return template.format(**{key: draw(value) for key, value in _FILL.items()})


def _shared(text: str) -> tuple[object, ...]:
    response = verdict(text)
    return (response.action, tuple((m.rule_id, m.reason, m.action) for m in response.matches))


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(_TEMPLATES).flatmap(lambda t: st.tuples(_filled(t), _filled(t))))
def test_fingerprint_safe_verdicts_hold_for_the_whole_fingerprint(pair: tuple[str, str]) -> None:
    first, second = pair
    if fingerprint(first) != fingerprint(second):
        return
    if verdict(first).fingerprint_safe and verdict(second).fingerprint_safe:
        assert _shared(first) == _shared(second), pair


def test_plain_statements_are_fingerprint_safe() -> None:
    for text in ("SELECT * FROM t WHERE id = 1", "DELETE FROM t WHERE id = 1", "DELETE FROM t",
                 "UPDATE t SET a = 'x' WHERE b = 2", "DROP TABLE t", "SET work_mem = '1GB'",
                 "SELECT pg_terminate_backend(pid) FROM pg_stat_activity", ""):  # fmt: skip
        assert verdict(text).fingerprint_safe, text
    for text in ("DELETE FROM t WHERE 1 = 1", "SET ROLE x", "DO $$ BEGIN END $$", "EXECUTE p",
                 "SELECT set_config('role', 'x', false)", "DROP TABL x"):  # fmt: skip
        assert not verdict(text).fingerprint_safe, text
