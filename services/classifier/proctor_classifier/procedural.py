"""The SQL inside a PL/pgSQL DO block, so what the block would run is judged like plain SQL.

The DO statement holds its body as opaque text. Wrapped in a CREATE FUNCTION, libpg_query's
PL/pgSQL parser turns it into a tree whose PLpgSQL_expr nodes carry each embedded statement
and expression. SQL built at run time (`EXECUTE 'DROP ' || name`) stays invisible: that is why
a DO block is a rule of its own and not merely the sum of its statements.
"""

from __future__ import annotations

import json
from typing import Any

from pglast.parser import ParseError, parse_plpgsql_json

# libpg_query's RawParseMode values for PLpgSQL_expr.parseMode.
_STATEMENT = 0
_EXPRESSION = 2
_ASSIGNMENTS = {3, 4, 5}


def plpgsql_statements(code: str, returns: str = "void") -> list[str]:
    """Every SQL statement and expression of a PL/pgSQL body as runnable SQL text; [] when the
    body does not parse (the DO block is then judged by its own rule alone)."""
    return parsed_plpgsql(code, returns) or []


def parsed_plpgsql(code: str, returns: str = "void") -> list[str] | None:
    """`plpgsql_statements` of a function returning `returns`; None when it does not parse."""
    tag = "$proctor$"
    while tag in code:
        tag = tag[:-1] + "_$"
    wrapped = f"CREATE FUNCTION proctor_do() RETURNS {returns} LANGUAGE plpgsql AS {tag}{code}{tag}"
    try:
        tree = json.loads(parse_plpgsql_json(wrapped))
    except (ParseError, RecursionError, ValueError):
        return None
    out: list[str] = []
    stack: list[Any] = [tree]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(reversed(item))
        elif isinstance(item, dict):
            expr = item.get("PLpgSQL_expr")
            if isinstance(expr, dict) and expr.get("query"):
                out.append(_as_sql(str(expr["query"]), int(expr.get("parseMode", _STATEMENT))))
            stack.extend(reversed(list(item.values())))
    return [text for text in out if text]


def _as_sql(query: str, mode: int) -> str:
    if mode == _STATEMENT:
        return query
    if mode == _EXPRESSION:
        return f"SELECT {query}"
    if mode in _ASSIGNMENTS:  # "target := expression"
        _, sep, expression = query.partition(":=")
        if not sep:
            _, _, expression = query.partition("=")
        return f"SELECT {expression}"
    return ""
