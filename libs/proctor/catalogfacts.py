"""Looking up, on a target Postgres, the catalog facts the classifier judges calls and views by:
what each function name can mean (volatility, language, built in or not, the body of a
non-volatile SQL or PL/pgSQL function), what each relation name can mean (a view's query, the
expressions of row-level security policies), and the planner's row estimate of a write.

A name is looked up in every schema, not along one search_path: a session may change its
search_path at any time, so every function or relation the name could resolve to is judged,
and the most severe meaning decides. The ingress (which alone talks to targets) and
`proctor policy explain` use this module; the classifier only reads the facts.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from proctor.classifier.v1 import classifier_pb2 as cpb

#: Object ids below this come with the server (FirstNormalObjectId in transam.h).
FIRST_USER_OID = 16384

_FUNCTIONS_SQL = f"""
SELECT p.proname, n.nspname, p.provolatile::text, l.lanname, p.oid < {FIRST_USER_OID},
       p.prokind::text, pg_catalog.pg_get_function_result(p.oid),
       CASE WHEN p.oid >= {FIRST_USER_OID} AND p.provolatile <> 'v'
                 AND l.lanname IN ('sql', 'plpgsql') THEN p.prosrc END
  FROM pg_catalog.pg_proc p
  JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
  JOIN pg_catalog.pg_language l ON l.oid = p.prolang
 WHERE p.proname = ANY($1::text[])
 ORDER BY n.nspname, p.oid
"""

_RELATIONS_SQL = f"""
SELECT c.relname, n.nspname, c.relkind::text, c.oid < {FIRST_USER_OID},
       CASE WHEN c.relkind = 'v' AND c.oid >= {FIRST_USER_OID}
            THEN pg_catalog.pg_get_viewdef(c.oid) END,
       CASE WHEN c.oid >= {FIRST_USER_OID} THEN ARRAY(
         SELECT e FROM pg_catalog.pg_policy pol,
                LATERAL (VALUES (pg_catalog.pg_get_expr(pol.polqual, pol.polrelid)),
                                (pg_catalog.pg_get_expr(pol.polwithcheck, pol.polrelid))) x(e)
          WHERE pol.polrelid = c.oid AND e IS NOT NULL) END
  FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relname = ANY($1::text[])
 ORDER BY n.nspname, c.oid
"""


def split_name(name: str) -> tuple[str, str]:
    """("schema", "f") for "schema.f"; ("", "f") for an unqualified name."""
    schema, _, short = name.rpartition(".")
    return schema, short


async def lookup_functions(conn: Any, names: Iterable[str]) -> list[cpb.FunctionFacts]:
    """Facts for each function name (one query for all of them)."""
    wanted = sorted(set(names))
    rows = await conn.fetch(_FUNCTIONS_SQL, sorted({split_name(n)[1] for n in wanted}))
    by_name: dict[str, list[cpb.FunctionDefinition]] = defaultdict(list)
    for proname, schema, volatility, language, builtin, kind, returns, body in rows:
        by_name[proname].append(
            cpb.FunctionDefinition(
                schema=schema,
                volatility=volatility,
                language=language,
                builtin=builtin,
                body=body or "",
                kind=kind,
                returns=returns or "",
            )
        )
    return [cpb.FunctionFacts(name=name, definitions=_meanings(name, by_name)) for name in wanted]


async def lookup_relations(conn: Any, names: Iterable[str]) -> list[cpb.RelationFacts]:
    """Facts for each relation name (one query for all of them)."""
    wanted = sorted(set(names))
    rows = await conn.fetch(_RELATIONS_SQL, sorted({split_name(n)[1] for n in wanted}))
    by_name: dict[str, list[cpb.RelationDefinition]] = defaultdict(list)
    for relname, schema, kind, builtin, view, policies in rows:
        by_name[relname].append(
            cpb.RelationDefinition(
                schema=schema,
                kind=kind,
                builtin=builtin,
                view_definition=view or "",
                policy_expressions=list(policies or []),
            )
        )
    return [cpb.RelationFacts(name=name, definitions=_meanings(name, by_name)) for name in wanted]


def _meanings(name: str, by_name: dict[str, list[Any]]) -> list[Any]:
    """What `name` can mean: every object of its unqualified name, in its schema if given."""
    schema, short = split_name(name)
    return [d for d in by_name.get(short, []) if not schema or d.schema == schema]


async def estimate_rows(conn: Any, text: str) -> int:
    """The planner's estimate of the rows a write touches: EXPLAIN without ANALYZE, so the
    statement itself never runs. A statement with $1, $2, ... is planned generically (its
    values are not known to the plan). Raises what the target raises."""
    options = "FORMAT JSON, GENERIC_PLAN" if "$" in text else "FORMAT JSON"
    raw = await conn.fetchval(f"EXPLAIN ({options}) {text}")
    plan = (json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]
    if plan.get("Node Type") == "ModifyTable" and plan.get("Plans"):
        # The write node itself reports 0 rows without RETURNING; what it is fed is the count.
        plan = plan["Plans"][0]
    return int(plan.get("Plan Rows", 0))
