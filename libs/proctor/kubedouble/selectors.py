"""Label and field selectors, as `?labelSelector=` and `?fieldSelector=` spell them.

Label selectors: `a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x)`, `a`, `!a`, joined by commas.
Field selectors: `path=value`, `path==value`, `path!=value` on any dotted field of the object
(`metadata.name`, `involvedObject.uid`, `status.phase`), joined by commas.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from proctor.kubedouble.errors import bad_request

Selector = Callable[[dict[str, Any]], bool]

_SET = re.compile(r"^\s*(!?)\s*([A-Za-z0-9_./-]+)\s*(?:(notin|in)\s*\(([^)]*)\))?\s*$")
_OP = re.compile(r"^\s*([A-Za-z0-9_./-]+)\s*(==|!=|=)\s*(.*?)\s*$")


def _terms(text: str) -> list[str]:
    """Split on the commas that are not inside `( )`."""
    terms, depth, current = [], 0, ""
    for char in text:
        if char == "," and depth == 0:
            terms.append(current)
            current = ""
            continue
        depth += {"(": 1, ")": -1}.get(char, 0)
        current += char
    terms.append(current)
    return [t for t in terms if t.strip()]


def _label_term(term: str) -> Callable[[Mapping[str, str]], bool]:
    if m := _OP.match(term):
        key, op, value = m.groups()
        if op == "!=":
            return lambda labels: labels.get(key) != value
        return lambda labels: labels.get(key) == value
    if m := _SET.match(term):
        negate, key, op, values = m.groups()
        if op:
            wanted = {v.strip() for v in values.split(",") if v.strip()}
            if op == "in":
                return lambda labels: labels.get(key) in wanted
            return lambda labels: labels.get(key) not in wanted
        if negate:
            return lambda labels: key not in labels
        return lambda labels: key in labels
    raise bad_request(f"unable to parse requirement: {term!r}")


def label_selector(text: str | None) -> Selector:
    """A predicate on an object's `metadata.labels`; everything matches an empty selector."""
    terms = [_label_term(t) for t in _terms(text or "")]

    def matches(obj: dict[str, Any]) -> bool:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        return all(term(labels) for term in terms)

    return matches


def field_value(obj: Mapping[str, Any], path: str) -> str:
    """The field at a dotted path as a selector compares it (absent is the empty string)."""
    value: Any = obj
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return ""
        value = value.get(part)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def field_selector(text: str | None) -> Selector:
    """A predicate on fields of an object; everything matches an empty selector."""
    terms: list[tuple[str, bool, str]] = []
    for term in _terms(text or ""):
        m = _OP.match(term)
        if not m:
            raise bad_request(f"invalid field selector: {term!r}")
        path, op, value = m.groups()
        terms.append((path, op != "!=", value))

    def matches(obj: dict[str, Any]) -> bool:
        return all((field_value(obj, p) == v) == equal for p, equal, v in terms)

    return matches


def match_labels_selector(selector: Mapping[str, Any] | None) -> Selector:
    """A predicate from a LabelSelector object (`matchLabels` and `matchExpressions`)."""
    selector = selector or {}
    terms = [f"{k}={v}" for k, v in (selector.get("matchLabels") or {}).items()]
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key", ""), expr.get("operator", ""), expr.get("values") or []
        if op == "In":
            terms.append(f"{key} in ({','.join(values)})")
        elif op == "NotIn":
            terms.append(f"{key} notin ({','.join(values)})")
        elif op == "Exists":
            terms.append(key)
        elif op == "DoesNotExist":
            terms.append(f"!{key}")
    return label_selector(",".join(terms))


def selector_string(selector: Mapping[str, Any] | None) -> str:
    """`app=checkout`: a LabelSelector's matchLabels written as a label selector query."""
    labels = (selector or {}).get("matchLabels") or {}
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
