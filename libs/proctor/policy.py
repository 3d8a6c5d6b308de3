"""The policy model: which action each catalog rule gets, for whom and where (docs/policy.md).

A policy is YAML. It is validated as a whole at load time against the rule catalog, and every
problem is reported as `policy.yaml:LINE: what is wrong`, so a bad edit is rejected before it
can decide anything. Entries under `rules:` are ordered and the last one that applies wins, so a
file reads from general to specific.

Every entry may be limited to kinds of command (`match.kind`: sql, kube, shell, http, mcp);
an entry without it applies to every kind, and a rule of one kind never matches a command of
another, except that a shell command carries SQL and Kubernetes rules (psql, kubectl) and is
decided as a shell command.

MCP tool calls may also be matched by tool (`match.tool`, the namespaced `server.tool`, globs
allowed) and by argument values (`match.arguments`); an entry using them matches only MCP tool
calls.
"""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, NamedTuple, cast

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from proctor.errors import ConfigError
from proctor.mcpcall import ToolCall
from proctor.rulecatalog import (
    ALL_RULES,
    CLASS_DEFAULTS,
    FIXED_CLASSES,
    FLOOR_CLASSES,
    Action,
    CommandKind,
    RuleClass,
)

BUILTIN_VERSION = "builtin"
# Kinds of command a shell command can carry (psql -c, kubectl), judged as the shell's.
_CARRIED_BY_SHELL = frozenset({CommandKind.SQL, CommandKind.KUBE})
_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
# YAML scalars an argument value may be given as (strings are globs).
_VALUE_TAGS = {_STR, _INT, "tag:yaml.org,2002:float", "tag:yaml.org,2002:bool"}
_GLOB = frozenset("*?[")

#: A value `match.arguments` compares an argument with.
ArgumentValue = str | int | float | bool


class PolicyError(ConfigError):
    """A policy file is invalid; `line` is 1-based (0 when the file could not be read at all)."""

    def __init__(self, name: str, line: int, problem: str) -> None:
        where = f"{name}:{line}" if line else name
        super().__init__(f"{where}: {problem}")
        self.name = name
        self.line = line
        self.problem = problem


class Decision(NamedTuple):
    """An action and what set it: `policy.yaml:LINE`, or `default` for the catalog's default."""

    action: Action
    decided_by: str


@dataclass(frozen=True, slots=True)
class _Setting:
    action: Action
    line: int


@dataclass(frozen=True, slots=True)
class Scope:
    """What an entry's `match:` names. None means the key was absent: anything matches."""

    resources: tuple[str, ...] | None = None
    groups: frozenset[str] | None = None
    rules: frozenset[str] | None = None  # rule ids or classes (approvals and limits)
    kinds: frozenset[str] | None = None
    tools: tuple[str, ...] | None = None  # namespaced MCP tool names or globs
    arguments: tuple[tuple[str, tuple[ArgumentValue, ...]], ...] | None = None

    def applies(
        self,
        groups: frozenset[str],
        resource: str,
        kind: str,
        rules: frozenset[str] | None = None,
        call: ToolCall | None = None,
    ) -> bool:
        """Whether a command of `kind` on `resource` for a human in `groups` is in scope;
        `rules` (ids and classes) for an entry that matches on them, None where none does;
        `call` for an MCP tool call (an entry naming tools or arguments matches nothing else)."""
        if self.kinds is not None and kind not in self.kinds:
            return False
        if self.rules is not None and rules is not None and not self.rules & rules:
            return False
        if (self.tools is not None or self.arguments is not None) and not self.calls(call):
            return False
        if self.groups is not None and not self.groups & groups:
            return False
        return self.resources is None or any(fnmatchcase(resource, p) for p in self.resources)

    def calls(self, call: ToolCall | None) -> bool:
        """Whether the call is of one of `tools` and has every argument of `arguments`, each
        equal to one of its values."""
        if call is None:
            return False
        if self.tools is not None and not any(fnmatchcase(call.tool, p) for p in self.tools):
            return False
        for name, values in self.arguments or ():
            if name not in call.arguments:
                return False
            if not any(_same_value(v, call.arguments[name]) for v in values):
                return False
        return True


def _same_value(wanted: ArgumentValue, value: Any) -> bool:
    """Strings as globs of strings; numbers by equality with numbers; booleans with booleans
    only (in Python `True == 1`, in JSON they differ)."""
    if isinstance(wanted, bool) or isinstance(value, bool):
        return isinstance(wanted, bool) and isinstance(value, bool) and wanted == value
    if isinstance(wanted, str):
        return isinstance(value, str) and fnmatchcase(value, wanted)
    return isinstance(value, int | float) and value == wanted


@dataclass(frozen=True, slots=True)
class PolicyEntry:
    """One item of `rules:`."""

    line: int
    scope: Scope
    actions: dict[str, _Setting]


class ApprovalMode(StrEnum):
    """How an agent waits for a review: held until the decision, or told at once that it is
    pending and expected to re-submit the same command once it is approved."""

    WAIT = "wait"
    ASYNC = "async"


class ApprovalRoute(NamedTuple):
    """Who decides a reviewed command and how the agent waits; `approvers` empty means the
    approval service's default approver groups."""

    approvers: tuple[str, ...]
    mode: ApprovalMode
    decided_by: str


@dataclass(frozen=True, slots=True)
class ApprovalEntry:
    """One item of `approvals:`; None: the key was absent."""

    line: int
    scope: Scope
    approvers: tuple[str, ...] | None
    mode: ApprovalMode | None


@dataclass(frozen=True, slots=True)
class LimitEntry:
    """One item of `limits:`: the most rows a reviewed write may touch by the planner's
    estimate."""

    line: int
    scope: Scope
    max_rows: int


class RowLimit(NamedTuple):
    """The most rows a write may touch, and the `limits:` line that says so."""

    max_rows: int
    decided_by: str


@dataclass(frozen=True, slots=True)
class Policy:
    """A loaded, valid policy. `name` is the file name that `decided_by` cites."""

    name: str
    version: str
    defaults: dict[RuleClass, _Setting]
    entries: tuple[PolicyEntry, ...]
    approvals: tuple[ApprovalEntry, ...] = ()
    limits: tuple[LimitEntry, ...] = ()

    @classmethod
    def builtin(cls) -> Policy:
        """The catalog's defaults alone: reads allow, writes review, destructive block."""
        return cls(name="builtin", version=BUILTIN_VERSION, defaults={}, entries=())

    def row_limit(
        self,
        rule_ids: Iterable[str],
        identity_groups: Iterable[str],
        resource: str,
        kind: str | None = None,
    ) -> RowLimit | None:
        """The `limits:` entry for a write these rules sent to review (the last that
        matches), or None when no limit applies. `kind`: the command's (None: the rules')."""
        rule_ids = list(rule_ids)
        kind = kind or _kind_of(rule_ids)
        wanted, groups = _rules_and_classes(rule_ids), frozenset(identity_groups)
        for entry in reversed(self.limits):
            if entry.scope.applies(groups, resource, kind, wanted):
                return RowLimit(entry.max_rows, f"{self.name}:{entry.line}")
        return None

    def approval_route(
        self,
        rule_ids: Iterable[str],
        identity_groups: Iterable[str],
        resource: str,
        kind: str | None = None,
        call: ToolCall | None = None,
    ) -> ApprovalRoute:
        """Who decides a command that these rules sent to review, and whether the agent waits.

        Like `rules:`, the last entry of `approvals:` that matches decides each of `approvers`
        and `mode` (an entry may set one and leave the other to the entries above it).
        `kind` is the command's (None: the kind the rules belong to); `call` the MCP tool call
        it is."""
        rule_ids = list(rule_ids)
        kind = kind or _kind_of(rule_ids)
        wanted, groups = _rules_and_classes(rule_ids), frozenset(identity_groups)
        approvers: tuple[str, ...] | None = None
        mode: ApprovalMode | None = None
        lines: list[int] = []
        for entry in reversed(self.approvals):
            if not entry.scope.applies(groups, resource, kind, wanted, call):
                continue
            if approvers is None and entry.approvers is not None:
                approvers = entry.approvers
                lines.append(entry.line)
            if mode is None and entry.mode is not None:
                mode = entry.mode
                lines.append(entry.line)
            if approvers is not None and mode is not None:
                break
        decided = ", ".join(f"{self.name}:{n}" for n in sorted(set(lines))) or "default"
        return ApprovalRoute(approvers or (), mode or ApprovalMode.WAIT, decided)

    def decide(
        self,
        rule_id: str,
        rule_class: RuleClass | str,
        identity_groups: Iterable[str],
        resource: str,
        kind: str | None = None,
        call: ToolCall | None = None,
    ) -> Decision:
        """The action for one matched rule, for a human in `identity_groups`, on `resource`,
        judging a command of `kind` (None: the kind the rule belongs to); `call` is the MCP
        tool call the command is, for entries that match tools and arguments."""
        rule_class = RuleClass(rule_class)
        if rule_class in FIXED_CLASSES:
            return Decision(FIXED_CLASSES[rule_class], "default")
        kind = kind or _kind_of([rule_id])
        groups = frozenset(identity_groups)
        for entry in reversed(self.entries):
            setting = entry.actions.get(rule_id) or entry.actions.get(rule_class.value)
            if setting is not None and entry.scope.applies(groups, resource, kind, None, call):
                return Decision(setting.action, f"{self.name}:{setting.line}")
        default = self.defaults.get(rule_class)
        if default is not None:
            return Decision(default.action, f"{self.name}:{default.line}")
        known = ALL_RULES.get(rule_id)
        return Decision(known.default if known else CLASS_DEFAULTS[rule_class], "default")


def _kind_of(rule_ids: Iterable[str]) -> str:
    """The kind of command these rules judge: that of the first that has one, else sql."""
    for rule_id in rule_ids:
        known = ALL_RULES.get(rule_id)
        if known is not None and known.kind is not None:
            return known.kind.value
    return CommandKind.SQL.value


def _rules_and_classes(rule_ids: Iterable[str]) -> frozenset[str]:
    """The rule ids and the classes they belong to, as `match.rule` names either."""
    names: set[str] = set()
    for rule_id in rule_ids:
        names.add(rule_id)
        known = ALL_RULES.get(rule_id)
        if known is not None:
            names.add(known.rule_class.value)
    return frozenset(names)


def policy_version(text: str) -> str:
    """A short hash of the file content: equal files give equal versions on every replica."""
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def load_policy(path: Path) -> Policy:
    """Read and validate a policy file; PolicyError says which line is wrong and why."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(str(path), 0, f"cannot read the policy file: {exc}") from exc
    return parse_policy(text, path.name)


def parse_policy(text: str, name: str = "policy.yaml") -> Policy:
    """Validate policy YAML; `name` is what errors and `decided_by` call the file."""
    return _Parser(name).policy(text)


_RULE_MATCH = {"resource", "groups", "rule", "kind"}  # match keys of limits
_CALL_MATCH = {"tool", "arguments"}  # match keys of MCP tool calls (rules and approvals)


class _Parser:
    def __init__(self, name: str) -> None:
        self.name = name

    def fail(self, node: Node | None, problem: str) -> PolicyError:
        return PolicyError(self.name, node.start_mark.line + 1 if node else 1, problem)

    def policy(self, text: str) -> Policy:
        try:
            root = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = mark.line + 1 if mark else 1
            raise PolicyError(self.name, line, f"not valid YAML: {exc.problem}") from exc
        except yaml.YAMLError as exc:
            raise PolicyError(self.name, 1, f"not valid YAML: {exc}") from exc
        if root is None:
            raise PolicyError(self.name, 1, "the policy is empty; it needs at least `version: 1`")
        top = self.mapping(
            root, "the policy", {"version", "defaults", "rules", "approvals", "limits"}
        )
        if "version" not in top:
            raise self.fail(root, "`version: 1` is missing (the policy format version)")
        version = top["version"][1]
        if not (isinstance(version, ScalarNode) and version.tag == _INT and version.value == "1"):
            raise self.fail(version, "`version` must be 1, the only policy format there is")
        defaults = self.defaults(top["defaults"][1]) if "defaults" in top else {}
        entries = self.entries(top["rules"][1]) if "rules" in top else ()
        approvals = self.approvals(top["approvals"][1]) if "approvals" in top else ()
        limits = self.limits(top["limits"][1]) if "limits" in top else ()
        return Policy(self.name, policy_version(text), defaults, entries, approvals, limits)

    def mapping(self, node: Node, what: str, keys: set[str]) -> dict[str, tuple[Node, Node]]:
        """A mapping's items by key, rejecting unknown and duplicated keys."""
        if not isinstance(node, MappingNode):
            raise self.fail(node, f"{what} must be a mapping of key: value")
        items: dict[str, tuple[Node, Node]] = {}
        for key, value in node.value:
            name = self.string(key, f"a key of {what}")
            if name in items:
                first = items[name][0].start_mark.line + 1
                raise self.fail(key, f"{name!r} is given twice in {what} (first on line {first})")
            if keys and name not in keys:
                raise self.fail(key, f"unknown key {name!r} in {what}{_suggest(name, keys)}")
            items[name] = (key, value)
        return items

    def string(self, node: Node, what: str) -> str:
        if not (isinstance(node, ScalarNode) and node.tag == _STR and node.value):
            raise self.fail(node, f"{what} must be a non-empty string")
        return str(node.value)

    def strings(self, node: Node, what: str) -> tuple[str, ...]:
        """A string or a non-empty list of strings."""
        if isinstance(node, ScalarNode):
            return (self.string(node, what),)
        if not isinstance(node, SequenceNode) or not node.value:
            raise self.fail(node, f"{what} must be a string or a non-empty list of strings "
                                  "(leave the key out to match any)")  # fmt: skip
        return tuple(self.string(item, f"each of {what}") for item in node.value)

    def action(self, node: Node, key: str) -> Action:
        choices = ", ".join(a.value for a in Action)
        value = str(node.value) if isinstance(node, ScalarNode) and node.tag == _STR else None
        if value not in {a.value for a in Action}:
            shown = repr(value) if value is not None else "this"
            raise self.fail(node, f"{key}: {shown} is not an action; use one of {choices}")
        action = Action(value)
        rule_class = ALL_RULES[key].rule_class if key in ALL_RULES else RuleClass(key)
        fixed = FIXED_CLASSES.get(rule_class)
        if fixed is not None and action != fixed:
            raise self.fail(node, f"{key} cannot be {action.value}: the gateway never runs text "
                                  "it cannot parse (it fails closed)")  # fmt: skip
        floor = FLOOR_CLASSES.get(rule_class)
        if floor is not None and action.severity < floor.severity:
            allowed = ", ".join(a.value for a in Action if a.severity >= floor.severity)
            raise self.fail(node, f"{key} cannot be {action.value}, only {allowed}: a human "
                                  "sees a changed tool definition before the tool runs "
                                  "again")  # fmt: skip
        return action

    def defaults(self, node: Node) -> dict[RuleClass, _Setting]:
        classes = {c.value for c in RuleClass}
        out: dict[RuleClass, _Setting] = {}
        for key, (key_node, value) in self.mapping(node, "defaults", set()).items():
            if key not in classes:
                extra = " (rule ids go under rules[].actions)" if key in ALL_RULES else ""
                raise self.fail(key_node, f"defaults takes rule classes; {key!r} is not one"
                                          f"{extra}{_suggest(key, classes)}")  # fmt: skip
            out[RuleClass(key)] = _Setting(self.action(value, key), key_node.start_mark.line + 1)
        return out

    def entries(self, node: Node) -> tuple[PolicyEntry, ...]:
        if not isinstance(node, SequenceNode):
            raise self.fail(
                node, "rules must be a list of entries, each `- match: ... actions: ...`"
            )
        return tuple(self.entry(item) for item in node.value)

    def entry(self, node: Node) -> PolicyEntry:
        items = self.mapping(node, "a rules entry", {"match", "actions"})
        if "actions" not in items:
            raise self.fail(node, "this rules entry has no `actions:`, so it would change nothing")
        scope = self.scope(items, {"resource", "groups", "kind", *_CALL_MATCH})
        names = set(ALL_RULES) | {c.value for c in RuleClass}
        actions: dict[str, _Setting] = {}
        for key, (key_node, value) in self.mapping(items["actions"][1], "actions", set()).items():
            if key not in names:
                raise self.fail(key_node, f"unknown rule id or class {key!r}"
                                          f"{_suggest(key, names)}; the catalog is in "
                                          "docs/policy.md")  # fmt: skip
            self.same_kind(key_node, key, scope.kinds)
            actions[key] = _Setting(self.action(value, key), key_node.start_mark.line + 1)
        if not actions:
            raise self.fail(items["actions"][1], "actions is empty, so this entry changes nothing")
        return PolicyEntry(node.start_mark.line + 1, scope, actions)

    def kinds(self, match: dict[str, tuple[Node, Node]]) -> frozenset[str] | None:
        """`match.kind`: one kind of command or a list of them; None when absent (any)."""
        if "kind" not in match:
            return None
        node = match["kind"][1]
        kinds = self.strings(node, "match.kind")
        choices = [k.value for k in CommandKind]
        for kind in kinds:
            if kind not in choices:
                listed = ", ".join(choices)
                raise self.fail(node, f"match.kind: {kind!r} is not a kind of command; use "
                                      f"one of {listed}{_suggest(kind, choices)}")  # fmt: skip
        return frozenset(kinds)

    def same_kind(self, node: Node, name: str, kinds: frozenset[str] | None) -> None:
        """A rule id of another kind than the entry matches could never apply: say so. Shell
        commands carry SQL (psql) and Kubernetes requests (kubectl), judged by those rules."""
        known = ALL_RULES.get(name)
        if kinds is None or known is None or known.kind is None or known.kind.value in kinds:
            return
        if CommandKind.SHELL.value in kinds and known.kind in _CARRIED_BY_SHELL:
            return
        only = ", ".join(sorted(kinds))
        raise self.fail(node, f"{name} is a rule for {known.kind.value} commands, but this "
                              f"entry matches only kind {only}: it would never apply")  # fmt: skip

    def approvals(self, node: Node) -> tuple[ApprovalEntry, ...]:
        if not isinstance(node, SequenceNode):
            raise self.fail(node, "approvals must be a list of entries, each "
                                  "`- match: ... approvers: ... mode: ...`")  # fmt: skip
        return tuple(self.approval(item) for item in node.value)

    def approval(self, node: Node) -> ApprovalEntry:
        items = self.mapping(node, "an approvals entry", {"match", "approvers", "mode"})
        if "approvers" not in items and "mode" not in items:
            raise self.fail(node, "this approvals entry sets neither `approvers:` nor `mode:`, "
                                  "so it would change nothing")  # fmt: skip
        scope = self.scope(items, _RULE_MATCH | _CALL_MATCH)
        approvers = (
            self.strings(items["approvers"][1], "approvers") if "approvers" in items else None
        )
        mode: ApprovalMode | None = None
        if "mode" in items:
            mode_node = items["mode"][1]
            value = mode_node.value if isinstance(mode_node, ScalarNode) else None
            if value not in {m.value for m in ApprovalMode}:
                raise self.fail(
                    mode_node,
                    "mode must be `wait` (the statement is held until the decision) "
                    "or `async` (the agent re-submits)",
                )
            mode = ApprovalMode(value)
        return ApprovalEntry(node.start_mark.line + 1, scope, approvers, mode)

    def scope(self, items: dict[str, tuple[Node, Node]], keys: set[str]) -> Scope:
        """An entry's `match:` of resource, groups, kind, and where `keys` allow them, rule
        (ids or classes), tool and arguments; an absent key matches anything."""
        if "match" not in items:
            return Scope()
        match_node = items["match"][1]
        if isinstance(match_node, MappingNode) and not keys >= _CALL_MATCH:
            for key, _ in match_node.value:
                if isinstance(key, ScalarNode) and key.value in _CALL_MATCH:
                    raise self.fail(key, f"match.{key.value} has no place in limits: limits "
                                         "bound the rows of SQL writes, and tool and arguments "
                                         "match MCP tool calls")  # fmt: skip
        match = self.mapping(match_node, "match", keys)
        resources = self.strings(match["resource"][1], "match.resource") if (
            "resource" in match) else None  # fmt: skip
        groups = frozenset(self.strings(match["groups"][1], "match.groups")) if (
            "groups" in match) else None  # fmt: skip
        kinds = self.kinds(match)
        tools = self.tools(match["tool"][1]) if "tool" in match else None
        arguments = self.arguments(match["arguments"][1]) if "arguments" in match else None
        if tools is not None or arguments is not None:
            key = match["tool" if "tool" in match else "arguments"][0]
            if kinds is None:
                kinds = frozenset({CommandKind.MCP.value})  # tools are MCP's alone
            elif CommandKind.MCP.value not in kinds:
                only = ", ".join(sorted(kinds))
                raise self.fail(key, f"match.{key.value} matches MCP tool calls, but this entry "
                                     f"matches only kind {only}: it would never apply; use "
                                     "kind: mcp or leave kind out")  # fmt: skip
        rules: frozenset[str] | None = None
        if "rule" in match:
            names = set(ALL_RULES) | {c.value for c in RuleClass}
            rule_node = match["rule"][1]
            rules = frozenset(self.strings(rule_node, "match.rule"))
            for name in sorted(rules - names):
                raise self.fail(rule_node, f"unknown rule id or class {name!r}"
                                           f"{_suggest(name, names)}")  # fmt: skip
            for name in sorted(rules):
                self.same_kind(rule_node, name, kinds)
        return Scope(resources, groups, rules, kinds, tools, arguments)

    def tools(self, node: Node) -> tuple[str, ...]:
        """`match.tool`: namespaced tool names (`github.create_issue`) or globs of them."""
        tools = self.strings(node, "match.tool")
        for tool in tools:
            if "." not in tool and not _GLOB & set(tool):
                raise self.fail(node, f"match.tool: {tool!r} names no tool; tools are named "
                                      f"server.tool ({tool}.* for every tool of a server "
                                      f"{tool!r})")  # fmt: skip
        return tools

    def arguments(self, node: Node) -> tuple[tuple[str, tuple[ArgumentValue, ...]], ...]:
        """`match.arguments`: argument name to a value or a non-empty list of values."""
        items = self.mapping(node, "match.arguments", set())
        if not items:
            raise self.fail(node, "match.arguments is empty; name at least one argument "
                                  "(leave the key out to match any)")  # fmt: skip
        out: list[tuple[str, tuple[ArgumentValue, ...]]] = []
        for name, (_, value) in items.items():
            what = f"match.arguments.{name}"
            if isinstance(value, SequenceNode):
                if not value.value:
                    raise self.fail(value, f"{what} is an empty list, so it would match nothing")
                values = tuple(self.argument_value(item, what) for item in value.value)
            else:
                values = (self.argument_value(value, what),)
            out.append((name, values))
        return tuple(out)

    def argument_value(self, node: Node, what: str) -> ArgumentValue:
        if not (isinstance(node, ScalarNode) and node.tag in _VALUE_TAGS):
            raise self.fail(node, f"{what} must be a string (a glob), a number or a boolean, "
                                  "or a list of them")  # fmt: skip
        # The tag says which of str, int, float and bool it is.
        return cast(ArgumentValue, SafeConstructor().construct_object(node))

    def limits(self, node: Node) -> tuple[LimitEntry, ...]:
        if not isinstance(node, SequenceNode):
            raise self.fail(node, "limits must be a list of entries, each "
                                  "`- match: ... max_rows: N`")  # fmt: skip
        return tuple(self.limit(item) for item in node.value)

    def limit(self, node: Node) -> LimitEntry:
        items = self.mapping(node, "a limits entry", {"match", "max_rows"})
        if "max_rows" not in items:
            raise self.fail(node, "this limits entry has no `max_rows:`")
        value = items["max_rows"][1]
        if not (isinstance(value, ScalarNode) and value.tag == _INT and int(value.value) >= 0):
            raise self.fail(value, "max_rows must be a whole number of rows, 0 or more")
        scope = self.scope(items, _RULE_MATCH)
        return LimitEntry(node.start_mark.line + 1, scope, int(value.value))


def _suggest(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, sorted(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
