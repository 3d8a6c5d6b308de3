"""Whether a WHERE clause is true for every row, so a DELETE or UPDATE under it touches them all.

Only expressions built from constants are evaluated (`true`, `1 = 1`, `'a' = 'a'`, `x OR true`,
`NOT false`, `EXISTS (SELECT 1)`); anything that reads a column is unknown and counts as a real
filter. Unknown is never treated as true, and true is never missed for these forms.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from proctor_classifier.literals import consulted
from proctor_classifier.sqlnames import Node, unwrap

_UNKNOWN = object()
_TRUE_TEXT = {"t", "true", "y", "yes", "on", "1"}
_FALSE_TEXT = {"f", "false", "n", "no", "off", "0"}
_BOOL_TYPES = {"bool", "boolean"}
_BOOL_TESTS = {"IS_TRUE", "IS_NOT_FALSE", "IS_FALSE", "IS_NOT_TRUE"}


def always_true(where: Node | None) -> bool:
    """True if `where` is absent or holds for every row."""
    return where is None or _truth(where) is True


def _truth(node: Any) -> bool | None:
    """True / False when the expression is a constant condition, None when it depends on rows."""
    kind, body = unwrap(node)
    if kind == "BoolExpr":
        values = [_truth(arg) for arg in body.get("args", [])]
        op = body.get("boolop")
        if op == "NOT_EXPR":
            return None if values[0] is None else not values[0]
        if op == "OR_EXPR":
            return True if True in values else (False if all(v is False for v in values) else None)
        if op == "AND_EXPR":
            return False if False in values else (True if all(v is True for v in values) else None)
        return None
    if kind == "A_Expr":
        return _compare(body)
    if kind == "NullTest":
        value = _constant(body.get("arg"))
        if value is _UNKNOWN:
            return None
        is_null = value is None
        return is_null if body.get("nulltesttype") == "IS_NULL" else not is_null
    if kind == "BooleanTest":
        inner = _truth(body.get("arg"))
        test = body.get("booltesttype", "")
        if inner is None or test not in _BOOL_TESTS:
            return None
        return inner if test in {"IS_TRUE", "IS_NOT_FALSE"} else not inner
    if kind == "SubLink":
        return _sublink(body)
    return _as_bool(_constant(node))


def _sublink(body: Node) -> bool | None:
    kind, select = unwrap(body.get("subselect"))
    if kind != "SelectStmt" or any(
        select.get(key) for key in ("fromClause", "whereClause", "havingClause", "limitCount")
    ):
        return None
    # Without FROM or WHERE the subquery yields exactly one row.
    if body.get("subLinkType") == "EXISTS_SUBLINK":
        return True
    if body.get("subLinkType") == "EXPR_SUBLINK" and len(select.get("targetList", [])) == 1:
        _, target = unwrap(select["targetList"][0])
        return _truth(target.get("val"))
    return None


def _constant(node: Any) -> Any:
    """The Python value of a constant (None for SQL NULL), or _UNKNOWN."""
    kind, body = unwrap(node)
    if kind == "A_Const":
        consulted()  # the fingerprint ignores constants: `1 = 1` and `1 = 0` look alike
        if body.get("isnull"):
            return None
        # The JSON form leaves out zero values: {"ival": {}} is 0, {"boolval": {}} is false.
        if "ival" in body:
            return Decimal(body["ival"].get("ival", 0))
        if "fval" in body:
            return _decimal(body["fval"].get("fval", "0"))
        if "boolval" in body:
            return bool(body["boolval"].get("boolval", False))
        if "sval" in body:
            return str(body["sval"].get("sval", ""))
        return _UNKNOWN
    if kind == "TypeCast":
        value = _constant(body.get("arg"))
        names = body.get("typeName", {}).get("names", [])
        type_name = names[-1].get("String", {}).get("sval", "") if names else ""
        if type_name in _BOOL_TYPES:
            as_bool = _as_bool(value)
            return _UNKNOWN if as_bool is None and value is not None else as_bool
        return value
    return _UNKNOWN


def _decimal(text: str) -> Any:
    try:
        return Decimal(text)
    except InvalidOperation:
        return _UNKNOWN


def _as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, Decimal):  # only through a cast: 1::boolean
        return value != 0
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE_TEXT:
            return True
        if text in _FALSE_TEXT:
            return False
    return None


_OPS = {
    "=": lambda a, b: a == b,
    "<>": lambda a, b: a != b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    ">": lambda a, b: a > b,
    "<=": lambda a, b: a <= b,
    ">=": lambda a, b: a >= b,
}


def _compare(body: Node) -> bool | None:
    left = _constant(body.get("lexpr"))
    if left is _UNKNOWN or left is None:
        return None
    if body.get("kind") == "AEXPR_IN":
        _, items = unwrap(body.get("rexpr"))
        for item in (items or {}).get("items", []):
            pair = _coerce(left, _constant(item))
            if pair is not None and pair[0] == pair[1]:
                return True
        return None
    names = body.get("name", [])
    op = names[-1].get("String", {}).get("sval", "") if len(names) == 1 else ""
    pair = _coerce(left, _constant(body.get("rexpr")))
    if body.get("kind") != "AEXPR_OP" or op not in _OPS or pair is None:
        return None
    if isinstance(pair[0], str) and op not in {"=", "<>", "!="}:
        return None  # text order depends on the collation
    return bool(_OPS[op](*pair))


def _coerce(left: Any, right: Any) -> tuple[Any, Any] | None:
    """Both constants as one type, as Postgres types an untyped literal beside a typed one
    ('1' = 1 is true); None when they do not compare (NULL, or unknown)."""
    if left is _UNKNOWN or right is _UNKNOWN or left is None or right is None:
        return None
    if type(left) is type(right):
        return left, right
    if isinstance(left, str):
        pair = _coerce(right, left)
        return None if pair is None else (pair[1], pair[0])
    if isinstance(right, str):
        coerced = _as_bool(right) if isinstance(left, bool) else _decimal(right)
        return None if coerced is None or coerced is _UNKNOWN else (left, coerced)
    return None  # boolean beside a number: Postgres refuses to compare them
