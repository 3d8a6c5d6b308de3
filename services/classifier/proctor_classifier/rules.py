"""Which catalog rules a PostgreSQL text triggers: `classify_sql(text) -> list[Match]` (pure).

The text is parsed once by libpg_query's C parser into JSON (`parse_sql_json` and `json.loads`:
~6-9 µs for a short statement, against ~30-50 µs for pglast's Python AST from `parse_sql`).
Each statement is judged by its kind, then scanned for what can hide inside any statement:
data-modifying CTEs and dangerous functions.
Text that does not parse is `parse.error`, which always blocks: the gateway fails closed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from pglast.parser import ParseError, parse_sql_json

from proctor.rulecatalog import RULES, Rule, RuleClass
from proctor_classifier import literals, procedural
from proctor_classifier.catalog import References, collecting, function_called, relation_read
from proctor_classifier.hazards import function_hits, settings_row
from proctor_classifier.literals import consulted
from proctor_classifier.sqlnames import Node, defelem_args, name_of, unwrap
from proctor_classifier.statements import Hit, own


@dataclass(frozen=True, slots=True)
class Match:
    """A rule that matched; `statement` is its 1-based statement (0: the text as a whole)."""

    rule: Rule
    reason: str
    statement: int


@dataclass(frozen=True, slots=True)
class Analysis:
    """The matches of a text, and whether they hold for any text with its fingerprint;
    `references` are the functions it calls and relations it reads (judged by catalog.py),
    and `estimable` says whether it is one write the planner can estimate."""

    matches: list[Match]
    fingerprint_safe: bool
    references: References = field(default_factory=References)
    estimable: bool = False


def classify_sql(text: str) -> list[Match]:
    """Every rule the text triggers, in statement order, each (rule, reason) once."""
    return analyze_sql(text).matches


def analyze_sql(text: str) -> Analysis:
    """`classify_sql`, plus whether a literal or unfingerprinted name took part."""
    try:
        statements, scan = _parse(text)
    except ParseError as exc:
        return Analysis([_match("parse.error", _problem(exc), 0)], False)
    except RecursionError:
        return Analysis([_match("parse.error", "it nests too deeply to check", 0)], False)
    if not statements:
        return Analysis([_match("empty", "", 0)], True)
    with literals.tracking() as used, collecting() as refs:
        matches = _matches(statements, scan)
    estimable = len(statements) == 1 and unwrap(statements[0])[0] in _DATA_MODIFYING
    return Analysis(matches, not used[0], refs, estimable)


def match(rule_id: str, subject: str, statement: int = 0) -> Match:
    """A match of `rule_id`, its reason worded for `subject`."""
    return _match(rule_id, subject, statement)


def _matches(statements: list[Node], scan: bool) -> list[Match]:
    prefix = len(statements) > 1
    found: dict[tuple[str, str], Match] = {}
    for index, statement in enumerate(statements, 1):
        try:
            hits = judge(statement, scan)
        except RecursionError:
            consulted()  # unjudged text has no verdict to share with its fingerprint
            hits = [("parse.error", "it nests too deeply to check")]
        for rule_id, subject in hits:
            match = _match(rule_id, subject, index)
            if prefix:
                match = Match(match.rule, f"statement {index}: {match.reason}", index)
            found.setdefault((rule_id, match.reason), match)
    return list(found.values())


def _parse(text: str) -> tuple[list[Node], bool]:
    """The statements, and whether anything in them needs the nested scan at all."""
    raw = parse_sql_json(text)
    tree = json.loads(raw)
    # Walking the tree is most of the cost of a simple statement; a substring test on the JSON
    # skips it when no node it looks for exists (a false positive only costs the walk).
    scan = _SCANNED.search(raw) is not None
    return [s["stmt"] for s in tree.get("stmts", []) if "stmt" in s], scan


def _problem(exc: ParseError) -> str:
    message = str(exc.args[0]) if exc.args else "syntax error"
    location = exc.args[1] if len(exc.args) > 1 else None
    # 1-based like Postgres' own "at character N", so the agent can find the spot.
    return f"{message}, at character {location + 1}" if isinstance(location, int) else message


def _match(rule_id: str, subject: str, statement: int) -> Match:
    rule = RULES[rule_id]
    return Match(rule, rule.reason_for(subject), statement)


def judge(node: Node, scan: bool = True) -> list[Hit]:
    """The hits of one statement node: its own kind, then what is nested in it."""
    hits = _judge(node, scan)
    if any(RULES[rule_id].rule_class is not RuleClass.READ for rule_id, _ in hits):
        # A read rule only says "nothing else happens"; drop it when something else does.
        hits = [hit for hit in hits if RULES[hit[0]].rule_class is not RuleClass.READ]
    return hits


def _judge(node: Node, scan: bool) -> list[Hit]:
    kind, body = unwrap(node)
    if kind == "ExplainStmt":
        if _explain_runs(body):  # EXPLAIN ANALYZE executes the statement
            return _judge(body["query"], scan)
        return [("read.explain", _verb(body.get("query")))]
    if kind in {"PrepareStmt", "DeclareCursorStmt"}:
        return _judge(body["query"], scan)  # judged by what it will run
    if kind == "DoStmt":
        return _do(body)
    hits = own(kind, body)
    if scan and kind not in _DEFINES_CODE:
        hits += _nested(body, settings_row(kind, body))
    return hits


def judge_text(text: str) -> list[Hit]:
    """Hits of SQL found inside other code (a DO body); text that does not parse adds none."""
    try:
        statements, scan = _parse(text)
    except (ParseError, RecursionError):
        return []
    return [hit for statement in statements for hit in judge(statement, scan)]


def judge_catalog_text(text: str, language: str) -> tuple[list[Hit], References]:
    """What SQL or PL/pgSQL from the target's catalog (a view's query, a function's body)
    does beyond reading, and the names it refers to in turn."""
    hits: list[Hit] = []
    if language.startswith("plpgsql"):
        returns = language.partition(" ")[2] or "void"
        parsed = procedural.parsed_plpgsql(text, returns)
        if parsed is None:
            hits.append(("write.call_unknown", "PL/pgSQL the gateway cannot parse"))
        texts = parsed or []
    else:
        texts = [text]
    with collecting() as refs:
        for part in texts:
            try:
                statements, scan = _parse(part)
                hits += [hit for statement in statements for hit in judge(statement, scan)]
            except (ParseError, RecursionError):
                hits.append(("write.call_unknown", "code the gateway cannot parse"))
    return [h for h in hits if RULES[h[0]].rule_class is not RuleClass.READ], refs


# Their bodies run later, when called; the definition itself is the risk and is judged as such.
_DEFINES_CODE = {"CreateFunctionStmt", "RuleStmt"}
_DATA_MODIFYING = {"InsertStmt", "UpdateStmt", "DeleteStmt", "MergeStmt"}
_SCANNED = re.compile(r'"(?:FuncCall|InsertStmt|UpdateStmt|DeleteStmt|MergeStmt|relname)"')


def _nested(body: Any, setting: str | None = None) -> list[Hit]:
    """Data-modifying statements (CTEs, COPY (query)) and function calls anywhere below."""
    hits: list[Hit] = []
    stack = [body]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
            continue
        if not isinstance(item, dict):
            continue
        if "relname" in item:  # a RangeVar, wrapped or inline
            relation_read(str(item.get("schemaname", "")), str(item["relname"]))
        for key, value in item.items():
            if key in _DATA_MODIFYING:
                hits += own(key, value)
            elif key == "FuncCall":
                function_called([name_of(n) for n in value.get("funcname", [])])
                hits += function_hits(value, setting)
            if isinstance(value, dict | list):
                stack.append(value)
    return hits


def _explain_runs(body: Node) -> bool:
    options = defelem_args(body.get("options", []))
    if "analyze" not in options:
        return False
    kind, value = unwrap(options["analyze"])
    if kind:
        consulted()
    # Zero values are left out of the JSON: {"Integer": {}} is 0, {"Boolean": {}} is false.
    if kind == "String":
        return str(value.get("sval", "")).lower() not in {"off", "false", "no", "0", "f", "n"}
    if kind == "Integer":
        return bool(value.get("ival", 0))
    if kind == "Boolean":
        return bool(value.get("boolval", False))
    return True  # bare ANALYZE, or a form we do not know: assume it runs


_VERBS = {
    "SelectStmt": "SELECT", "InsertStmt": "INSERT", "UpdateStmt": "UPDATE",
    "DeleteStmt": "DELETE", "MergeStmt": "MERGE", "CreateTableAsStmt": "CREATE TABLE AS",
    "ExecuteStmt": "EXECUTE", "DeclareCursorStmt": "DECLARE CURSOR",
}  # fmt: skip


def _verb(node: Any) -> str:
    return _VERBS.get(unwrap(node)[0], "the statement")


def _do(body: Node) -> list[Hit]:
    consulted()  # the fingerprint leaves the body out: any two DO blocks look alike
    options = defelem_args(body.get("args", []))
    language = name_of(options.get("language")) or "plpgsql"
    hits: list[Hit] = [("code.do", f"LANGUAGE {language}")]
    if language.lower() == "plpgsql":
        for text in procedural.plpgsql_statements(name_of(options.get("as"))):
            hits += judge_text(text)
    return hits
