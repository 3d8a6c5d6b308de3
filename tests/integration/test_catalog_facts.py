"""The catalog facts the ingress looks up, read from a real Postgres: every built-in VOLATILE
function of the server's version is either on the harmless list or judged by a rule of its
own, and the lookups describe functions, views and policies as the classifier expects."""

from __future__ import annotations

from typing import Any

import asyncpg

from proctor.catalogfacts import estimate_rows, lookup_functions, lookup_relations
from proctor_classifier.catalog import judged_by_name

SETUP = """
CREATE FUNCTION purge() RETURNS integer LANGUAGE sql VOLATILE AS $$ SELECT 1 $$;
CREATE SCHEMA app;
CREATE FUNCTION app.purge(integer) RETURNS integer LANGUAGE plpgsql STABLE
  AS $$ BEGIN RETURN $1; END $$;
CREATE TABLE t (id integer PRIMARY KEY, owner text);
INSERT INTO t SELECT g, 'o' || g FROM generate_series(1, 200) g;
ANALYZE t;
CREATE VIEW v AS SELECT purge() AS n;
ALTER TABLE t ENABLE ROW LEVEL SECURITY;
CREATE POLICY mine ON t USING (owner = current_user);
"""


async def test_every_builtin_volatile_function_is_listed_or_judged(postgres: Any) -> None:
    conn = await asyncpg.connect(postgres.admin_url)
    try:
        rows = await conn.fetch(
            "SELECT DISTINCT proname FROM pg_proc WHERE provolatile = 'v' AND oid < 16384"
        )
        names = [r[0] for r in rows]
    finally:
        await conn.close()
    assert len(names) > 100
    unjudged = sorted(n for n in names if not judged_by_name(n))
    assert unjudged == []


async def test_lookups_describe_functions_views_and_policies(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(SETUP)
        functions = {f.name: f for f in await lookup_functions(
            conn, ["purge", "app.purge", "public.purge", "nope", "upper"])}  # fmt: skip
        relations = {r.name: r for r in await lookup_relations(conn, ["v", "t", "pg_class"])}
        assert await estimate_rows(conn, "UPDATE t SET owner = 'x' WHERE id <= 20") in range(15, 26)
    finally:
        await conn.close()
    both = functions["purge"].definitions
    assert sorted((d.schema, d.volatility, d.language) for d in both) == [
        ("app", "s", "plpgsql"), ("public", "v", "sql")]  # fmt: skip
    (stable,) = functions["app.purge"].definitions
    assert "RETURN $1" in stable.body and stable.returns == "integer" and not stable.builtin
    (volatile,) = functions["public.purge"].definitions
    assert volatile.body == ""  # volatile ones are judged as such, their body is not needed
    assert list(functions["nope"].definitions) == []
    assert all(d.builtin and d.volatility == "i" for d in functions["upper"].definitions)
    (view,) = relations["v"].definitions
    assert view.kind == "v" and "purge()" in view.view_definition
    (table,) = relations["t"].definitions
    assert list(table.policy_expressions) == ["(owner = CURRENT_USER)"]
    (system,) = relations["pg_class"].definitions
    assert system.builtin and system.view_definition == ""
