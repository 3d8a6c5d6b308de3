"""Readable names for parse-tree pieces, so a reason says `TABLE public.orders`, not a node dump.

The tree is libpg_query's JSON form: a node is a one-key dict (`{"RangeVar": {...}}`), though
some fields hold the inner dict directly (`"relation": {"relname": ...}`).
"""

from __future__ import annotations

import re
from typing import Any

Node = dict[str, Any]

_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")
_OBJECT_WORDS = {"MATVIEW": "MATERIALIZED VIEW", "FDW": "FOREIGN DATA WRAPPER"}


def unwrap(node: Any) -> tuple[str, Any]:
    """(kind, body) of a one-key node dict; ("", None) for anything else."""
    if isinstance(node, dict) and len(node) == 1:
        ((kind, body),) = node.items()
        if kind[:1].isupper():
            return kind, body
    return "", None


def name_of(value: Any) -> str:
    """The best short name of a string, node or list of them ('' when there is none)."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return ", ".join(n for n in (name_of(item) for item in value) if n)
    if not isinstance(value, dict):
        return ""
    if "relname" in value:  # a RangeVar given inline
        parts = (value.get("catalogname"), value.get("schemaname"), value.get("relname"))
        return ".".join(p for p in parts if p)
    if "roletype" in value:  # a RoleSpec given inline
        return str(value.get("rolename") or value["roletype"].removeprefix("ROLESPEC_"))
    if "funcname" in value:  # a FuncCall given inline
        return dotted(value["funcname"]) + "()"
    if "objname" in value:  # an ObjectWithArgs given inline
        return dotted(value["objname"]) + "()"
    kind, body = unwrap(value)
    if kind == "String":
        return str(body.get("sval", ""))
    if kind == "List":
        return ".".join(name_of(item) for item in body.get("items", []))
    if kind == "TypeName":
        return ".".join(name_of(item) for item in body.get("names", []))
    if kind in {"RangeVar", "RoleSpec", "FuncCall", "ObjectWithArgs"}:
        return name_of(body)
    if kind == "AccessPriv":
        return str(body.get("priv_name", ""))
    if kind == "VacuumRelation":
        return name_of(body.get("relation"))
    return ""


def dotted(names: list[Any]) -> str:
    """`schema.name` from a list of String nodes (function and type names)."""
    return ".".join(name_of(item) for item in names)


def object_word(objtype: str) -> str:
    """`OBJECT_MATVIEW` -> `MATERIALIZED VIEW`, `OBJECT_TABLE` -> `TABLE`."""
    word = objtype.removeprefix("OBJECT_")
    return _OBJECT_WORDS.get(word, word.replace("_", " "))


def kind_words(kind: str) -> str:
    """`CreateDomainStmt` -> `CREATE DOMAIN`: a fallback label for statements without one."""
    return _CAMEL.sub(" ", kind.removesuffix("Stmt")).upper()


def last_name(names: list[Any]) -> str:
    """The unqualified name: `pg_catalog.pg_read_file` -> `pg_read_file`."""
    return name_of(names[-1]) if names else ""


def constant_text(node: Any) -> str | None:
    """The value of a string constant (`'role'`), or None when it is not one."""
    kind, body = unwrap(node)
    if kind == "A_Const" and "sval" in body:
        return str(body["sval"].get("sval", ""))
    if kind == "TypeCast":
        return constant_text(body.get("arg"))
    return None


def defelem_args(options: list[Any]) -> dict[str, Any]:
    """A list of DefElem nodes as {name: argument node (None when bare)}."""
    out: dict[str, Any] = {}
    for option in options:
        kind, body = unwrap(option)
        if kind == "DefElem":
            out[str(body.get("defname", ""))] = body.get("arg")
    return out
