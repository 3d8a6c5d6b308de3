"""The policy model: decisions and the lines that made them, and invalid files rejected at the
line that is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from proctor.policy import BUILTIN_VERSION, Policy, PolicyError, load_policy, parse_policy
from proctor.rulecatalog import ALL_RULES, CLASS_DEFAULTS, RULES, Action, RuleClass
from proctor_classifier.service import PolicySource

POLICY = """\
version: 1
# Teams relax what they own; the catalog's defaults cover everyone else.
defaults:
  write: review
  read: allow
rules:
  - match: {groups: [sre]}
    actions: {write: allow}
  - match: {resource: demo, groups: [sre, dba]}
    actions:
      ddl.drop: review
      destructive: review
  - match:
      resource: ["prod-*", billing]
    actions: {read: review}
  - actions: {write.execute: block}
"""


@pytest.fixture
def policy() -> Policy:
    return parse_policy(POLICY)


def decide(policy: Policy, rule_id: str, groups: list[str], resource: str) -> tuple[str, str]:
    action, decided_by = policy.decide(rule_id, RULES[rule_id].rule_class, groups, resource)
    return action.value, decided_by


def test_a_matching_entry_decides_and_names_its_line(policy: Policy) -> None:
    assert decide(policy, "write.update", ["sre"], "demo") == ("allow", "policy.yaml:8")
    assert decide(policy, "write.update", ["sre"], "other") == ("allow", "policy.yaml:8")
    assert decide(policy, "ddl.drop", ["dba"], "demo") == ("review", "policy.yaml:11")


def test_a_rule_id_beats_its_class_within_one_entry(policy: Policy) -> None:
    assert decide(policy, "ddl.drop", ["sre"], "demo") == ("review", "policy.yaml:11")
    assert decide(policy, "dml.truncate", ["sre"], "demo") == ("review", "policy.yaml:12")


def test_the_last_matching_entry_wins(policy: Policy) -> None:
    # Line 8 allows writes for sre, but the last entry blocks EXECUTE for everyone.
    assert decide(policy, "write.execute", ["sre"], "demo") == ("block", "policy.yaml:16")


def test_unmatched_falls_back_to_defaults_then_the_catalog(policy: Policy) -> None:
    assert decide(policy, "write.update", ["dev"], "demo") == ("review", "policy.yaml:4")
    assert decide(policy, "read.select", [], "demo") == ("allow", "policy.yaml:5")
    assert decide(policy, "ddl.drop", ["dev"], "demo") == ("block", "default")
    assert decide(policy, "ddl.drop", ["sre"], "elsewhere") == ("block", "default")
    assert decide(policy, "session.set", [], "demo") == ("allow", "default")


def test_resource_patterns_and_lists(policy: Policy) -> None:
    assert decide(policy, "read.select", [], "prod-eu") == ("review", "policy.yaml:15")
    assert decide(policy, "read.select", [], "billing") == ("review", "policy.yaml:15")
    assert decide(policy, "read.select", [], "production") == ("allow", "policy.yaml:5")


def test_unparseable_text_always_blocks(policy: Policy) -> None:
    relaxed = parse_policy("version: 1\ndefaults: {destructive: allow, privileged: allow}\n")
    for p in (policy, relaxed):
        assert decide(p, "parse.error", ["sre"], "demo") == ("block", "default")


def test_builtin_policy_is_the_catalog_defaults() -> None:
    builtin = Policy.builtin()
    assert builtin.version == BUILTIN_VERSION
    for rule in RULES.values():
        decision = builtin.decide(rule.id, rule.rule_class, ["sre"], "demo")
        assert decision == (CLASS_DEFAULTS[rule.rule_class], "default")
    assert CLASS_DEFAULTS[RuleClass.DESTRUCTIVE] is Action.BLOCK
    assert CLASS_DEFAULTS[RuleClass.PRIVILEGED] is Action.BLOCK
    assert CLASS_DEFAULTS[RuleClass.WRITE] is Action.REVIEW


def test_version_follows_the_content() -> None:
    first = parse_policy(POLICY)
    assert first.version == parse_policy(POLICY).version
    assert len(first.version) == 12
    assert parse_policy(POLICY + "# a comment\n").version != first.version
    edited = POLICY.replace("write: allow", "write: review")
    assert parse_policy(edited).version != first.version


def test_load_policy_names_decisions_after_the_file(tmp_path: Path) -> None:
    path = tmp_path / "team-policy.yaml"
    path.write_text(POLICY)
    loaded = load_policy(path)
    assert loaded.decide("write.update", "write", ["sre"], "demo").decided_by == (
        "team-policy.yaml:8"
    )
    with pytest.raises(PolicyError, match="cannot read the policy file"):
        load_policy(tmp_path / "missing.yaml")


INVALID = [
    ("", 1, "the policy is empty"),
    ("# only a comment\n", 1, "the policy is empty"),
    ("defaults: {write: allow}\n", 1, "`version: 1` is missing"),
    ("version: 2\n", 1, "`version` must be 1"),
    ("version: '1'\n", 1, "`version` must be 1"),
    ("version: 1\nrules:\n  - actions: {ddl.dorp: review}\n", 3,
     "unknown rule id or class 'ddl.dorp' (did you mean 'ddl.drop'?)"),
    ("version: 1\nrules:\n  - match: {groups: [sre]}\n    actions:\n      write: alow\n", 5,
     "write: 'alow' is not an action; use one of allow, review, block"),
    ("version: 1\ndefaults:\n  write: allow\n  destructiv: review\n", 4,
     "'destructiv' is not one (did you mean 'destructive'?)"),
    ("version: 1\ndefaults:\n  ddl.drop: review\n", 3, "rule ids go under rules[].actions"),
    ("version: 1\nrule:\n  - actions: {write: allow}\n", 2, "unknown key 'rule' in the policy"),
    ("version: 1\nrules:\n  - match: {resource: demo}\n", 3, "has no `actions:`"),
    ("version: 1\nrules:\n  - match: {groups: []}\n    actions: {write: allow}\n", 3,
     "match.groups must be a string or a non-empty list"),
    ("version: 1\nrules:\n  - match: {group: [sre]}\n    actions: {write: allow}\n", 3,
     "unknown key 'group' in match (did you mean 'groups'?)"),
    ("version: 1\nrules:\n  - match: {resource: demo}\n    actions: {}\n", 4, "actions is empty"),
    ("version: 1\nrules: {write: allow}\n", 2, "rules must be a list"),
    ("version: 1\nrules:\n  - actions: {write: allow, write: block}\n", 3, "given twice"),
    ("version: 1\nrules:\n  - actions: {write: [allow]}\n", 3, "is not an action"),
    ("version: 1\nrules:\n  - actions:\n      parse.error: allow\n", 4, "cannot be allow"),
    ("version: 1\ndefaults:\n  unparseable: review\n", 3, "cannot be review"),
    ("version: 1\nrules:\n  - actions: {write: allow\n", 4, "not valid YAML"),
    ("version: 1\n---\nversion: 1\n", 2, "not valid YAML"),
    ("version: 1\napprovals:\n  - match: {resource: demo}\n", 3, "sets neither"),
    ("version: 1\napprovals:\n  - mode: later\n", 3, "mode must be `wait`"),
    ("version: 1\napprovals:\n  - match: {rule: write.updat}\n    mode: async\n", 3,
     "unknown rule id or class 'write.updat' (did you mean 'write.update'?)"),
    ("version: 1\napprovals:\n  - approvers: []\n", 3, "approvers must be a string"),
    ("version: 1\napprovals: {mode: async}\n", 2, "approvals must be a list"),
    ("version: 1\napprovals:\n  - mode: async\n    approver: [sre]\n", 4,
     "unknown key 'approver' in an approvals entry (did you mean 'approvers'?)"),
]  # fmt: skip


APPROVALS = """\
version: 1
approvals:
  - approvers: [sre]
  - match: {resource: "prod-*"}
    mode: async
  - match: {rule: ddl.drop}
    approvers: [dba, sre]
  - match: {resource: prod-billing, groups: [contractors]}
    approvers: finance
"""


def test_approvals_route_each_review_to_its_approvers_and_mode() -> None:
    policy = parse_policy(APPROVALS)
    builtin = Policy.builtin().approval_route(["write.update"], ["engineering"], "demo")
    assert builtin == (((), "wait", "default"))
    route = policy.approval_route(["write.update"], ["engineering"], "demo")
    assert route == (("sre",), "wait", "policy.yaml:3")
    route = policy.approval_route(["write.update"], ["engineering"], "prod-eu")
    assert route == (("sre",), "async", "policy.yaml:3, policy.yaml:4")
    # By rule id or class; the last entry that matches sets each of approvers and mode.
    assert policy.approval_route(["ddl.drop"], [], "prod-eu").approvers == ("dba", "sre")
    assert policy.approval_route(["write.update"], ["contractors"], "prod-billing")[:2] == (
        ("finance",),
        "async",
    )
    assert policy.approval_route(["write.update"], ["contractors"], "demo").approvers == ("sre",)


@pytest.mark.parametrize(("text", "line", "problem"), INVALID)
def test_invalid_policy_is_rejected_at_its_line(text: str, line: int, problem: str) -> None:
    with pytest.raises(PolicyError) as caught:
        parse_policy(text)
    assert caught.value.line == line, str(caught.value)
    assert str(caught.value).startswith(f"policy.yaml:{line}: "), str(caught.value)
    assert problem in str(caught.value)


def test_every_rule_id_and_class_is_accepted() -> None:
    keys = [*RULES, *(c.value for c in RuleClass if c is not RuleClass.UNPARSEABLE)]
    body = "".join(f"      {key}: review\n" for key in keys if key != "parse.error")
    policy = parse_policy(f"version: 1\nrules:\n  - actions:\n{body}")
    assert len(policy.entries[0].actions) == len(keys) - 1


ROOT = Path(__file__).resolve().parents[2]


def test_the_shipped_policies_are_valid() -> None:
    load_policy(ROOT / "deploy" / "compose" / "policy" / "policy.yaml")
    manifests = yaml.safe_load_all((ROOT / "deploy" / "k8s" / "classifier.yaml").read_text())
    (configmap,) = [m for m in manifests if m["kind"] == "ConfigMap"]
    parse_policy(configmap["data"]["policy.yaml"])


def test_docs_show_a_valid_policy_and_every_rule() -> None:
    docs = (ROOT / "docs" / "policy.md").read_text()
    example = docs.split("```yaml\n", 1)[1].split("```", 1)[0]
    parse_policy(example)
    for rule in RULES.values():
        assert f"| `{rule.id}` | {rule.rule_class.value} | {rule.default.value} |" in docs


def test_policy_source_swaps_valid_edits_and_keeps_the_old_policy_on_bad_ones(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY)
    source = PolicySource(path)
    first = source.policy.version
    assert source.reload() is None  # unchanged

    path.write_text(POLICY.replace("write: allow", "write: block"))
    changed = source.reload()
    assert changed is not None and changed.version != first and source.policy is changed

    path.write_text(POLICY.replace("write: allow", "write: nope"))
    assert source.reload() is None and source.reload() is None
    assert source.policy is changed
    rejected = [r.getMessage() for r in caplog.records if "rejected policy edit" in r.getMessage()]
    assert len(rejected) == 1 and "policy.yaml:8: write: 'nope' is not an action" in rejected[0]

    path.unlink()
    assert source.reload() is None and source.policy is changed
    assert PolicySource(None).policy.version == BUILTIN_VERSION


KINDS = """\
version: 1
rules:
  - match: {groups: [sre]}
    actions: {write: allow}
  - match: {kind: kube, groups: [oncall]}
    actions: {k8s.delete: allow}
  - match: {kind: [sql, kube], resource: "prod-*"}
    actions: {read: review}
  - match: {kind: sql}
    actions: {destructive: review}
approvals:
  - match: {kind: kube}
    approvers: [platform]
limits:
  - match: {kind: sql, rule: write}
    max_rows: 10
"""


def test_match_kind_limits_an_entry_to_commands_of_that_kind() -> None:
    policy = parse_policy(KINDS)
    assert policy.decide("k8s.delete", "write", ["oncall"], "demo") == ("allow", "policy.yaml:6")
    assert policy.decide("k8s.delete", "write", ["dev"], "demo") == ("review", "default")
    # An entry without `kind` applies to every kind; one with it, to that kind only.
    assert policy.decide("k8s.write", "write", ["sre"], "demo") == ("allow", "policy.yaml:4")
    assert policy.decide("k8s.read", "read", [], "prod-eu") == ("review", "policy.yaml:8")
    assert policy.decide("ddl.drop", "destructive", [], "x") == ("review", "policy.yaml:10")
    assert policy.decide("k8s.deletecollection", "destructive", [], "x") == ("block", "default")
    # The command's kind decides when it is given: a class entry for sql never reaches kube.
    assert policy.decide("ddl.drop", "destructive", [], "x", "kube") == ("block", "default")
    assert policy.approval_route(["k8s.write"], [], "x").approvers == ("platform",)
    assert policy.approval_route(["write.update"], [], "x").approvers == ()
    assert policy.row_limit(["write.update"], [], "x") == (10, "policy.yaml:15")
    assert policy.row_limit(["k8s.write"], [], "x") is None


INVALID_KINDS = [
    ("version: 1\nrules:\n  - match: {kind: k8s}\n    actions: {write: allow}\n", 3,
     "match.kind: 'k8s' is not a kind of command; use one of sql, kube, shell, http, mcp"),
    ("version: 1\nrules:\n  - match: {kind: [sql, kubе]}\n    actions: {write: allow}\n", 3,
     "is not a kind of command"),
    ("version: 1\nrules:\n  - match: {kind: []}\n    actions: {write: allow}\n", 3,
     "match.kind must be a string or a non-empty list"),
    ("version: 1\nrules:\n  - match: {kind: sql}\n    actions:\n      k8s.delete: allow\n", 5,
     "k8s.delete is a rule for kube commands, but this entry matches only kind sql"),
    ("version: 1\nrules:\n  - match: {kind: kube}\n    actions: {ddl.drop: review}\n", 4,
     "ddl.drop is a rule for sql commands"),
    ("version: 1\nrules:\n  - actions: {k8s.dletee: allow}\n", 3,
     "unknown rule id or class 'k8s.dletee' (did you mean 'k8s.delete'?)"),
    ("version: 1\nrules:\n  - actions: {k8s.malformed: allow}\n", 3, "cannot be allow"),
    ("version: 1\nrules:\n  - actions: {gateway.unknown_kind: review}\n", 3, "cannot be review"),
    ("version: 1\napprovals:\n  - match: {kind: sql, rule: k8s.exec}\n    mode: async\n", 3,
     "k8s.exec is a rule for kube commands"),
    ("version: 1\nlimits:\n  - match: {kinds: sql}\n    max_rows: 1\n", 3,
     "unknown key 'kinds' in match (did you mean 'kind'?)"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "line", "problem"), INVALID_KINDS)
def test_invalid_kinds_are_rejected_at_their_line(text: str, line: int, problem: str) -> None:
    with pytest.raises(PolicyError) as caught:
        parse_policy(text)
    assert caught.value.line == line, str(caught.value)
    assert problem in str(caught.value)


def test_every_rule_of_every_kind_is_accepted_and_documented() -> None:
    fixed = {r.id for r in ALL_RULES.values() if r.rule_class is RuleClass.UNPARSEABLE}
    body = "".join(f"      {key}: review\n" for key in ALL_RULES if key not in fixed)
    parse_policy(f"version: 1\nrules:\n  - actions:\n{body}")
    docs = (ROOT / "docs" / "policy.md").read_text()
    for rule in ALL_RULES.values():
        assert f"| `{rule.id}` | {rule.rule_class.value} | {rule.default.value} |" in docs


INVALID_MCP = [
    ("version: 1\nrules:\n  - match: {kind: sql, tool: 'github.*'}\n    actions: {write: allow}\n",
     3, "match.tool matches MCP tool calls, but this entry matches only kind sql: it would "
     "never apply; use kind: mcp or leave kind out"),
    ("version: 1\nrules:\n  - match:\n      kind: [sql, kube]\n      arguments: {repo: x}\n"
     "    actions: {write: allow}\n", 5, "match.arguments matches MCP tool calls, but this entry "
     "matches only kind kube, sql"),
    ("version: 1\nrules:\n  - match: {tool: 'github.*'}\n    actions: {ddl.drop: review}\n", 4,
     "ddl.drop is a rule for sql commands, but this entry matches only kind mcp"),
    ("version: 1\napprovals:\n  - match: {tool: x.y, rule: k8s.exec}\n    mode: async\n", 3,
     "k8s.exec is a rule for kube commands, but this entry matches only kind mcp"),
    ("version: 1\nrules:\n  - match: {tool: github}\n    actions: {write: allow}\n", 3,
     "match.tool: 'github' names no tool; tools are named server.tool (github.* for every tool"),
    ("version: 1\nrules:\n  - match: {tool: []}\n    actions: {write: allow}\n", 3,
     "match.tool must be a string or a non-empty list"),
    ("version: 1\nrules:\n  - match: {tool: x.y, arguments: {}}\n    actions: {write: allow}\n",
     3, "match.arguments is empty"),
    ("version: 1\nrules:\n  - match: {tool: x.y, arguments: [repo]}\n"
     "    actions: {write: allow}\n", 3, "match.arguments must be a mapping"),
    ("version: 1\nrules:\n  - match:\n      tool: x.y\n      arguments:\n        repo: null\n"
     "    actions: {write: allow}\n", 6, "match.arguments.repo must be a string (a glob), a "
     "number or a boolean"),
    ("version: 1\nrules:\n  - match:\n      tool: x.y\n      arguments:\n        repo: {a: 1}\n"
     "    actions: {write: allow}\n", 6, "match.arguments.repo must be a string"),
    ("version: 1\nrules:\n  - match:\n      tool: x.y\n      arguments:\n        repo: []\n"
     "    actions: {write: allow}\n", 6, "match.arguments.repo is an empty list"),
    ("version: 1\nrules:\n  - match:\n      tool: x.y\n      arguments:\n        repo: [a, [b]]\n"
     "    actions: {write: allow}\n", 6, "match.arguments.repo must be a string"),
    ("version: 1\nrules:\n  - match: {tool: x.y}\n    actions: {tools: allow}\n", 4,
     "unknown rule id or class 'tools'"),
    ("version: 1\nlimits:\n  - match: {rule: write, tool: x.y}\n    max_rows: 1\n", 3,
     "match.tool has no place in limits"),
    ("version: 1\nrules:\n  - match: {kind: mcp}\n    actions:\n      mcp.definition_changed: "
     "allow\n", 5, "mcp.definition_changed cannot be allow, only review, block: a human sees a "
     "changed tool definition before the tool runs again"),
    ("version: 1\nrules:\n  - actions: {definition: allow}\n", 3, "definition cannot be allow"),
    ("version: 1\ndefaults:\n  read: allow\n  definition: allow\n", 4,
     "definition cannot be allow"),
    ("version: 1\nrules:\n  - actions: {mcp.malformed: review}\n", 3, "cannot be review"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "line", "problem"), INVALID_MCP)
def test_invalid_mcp_entries_are_rejected_at_their_line(text: str, line: int, problem: str) -> None:
    with pytest.raises(PolicyError) as caught:
        parse_policy(text)
    assert caught.value.line == line, str(caught.value)
    assert problem in str(caught.value)


def test_tool_and_arguments_make_an_mcp_entry() -> None:
    policy = parse_policy("""\
version: 1
defaults: {definition: block}
rules:
  - match: {tool: ["github.*", "fs.read_*"], arguments: {n: [1, 2.5, true], path: "/tmp/*"}}
    actions: {write: allow, mcp.definition_changed: review}
approvals:
  - match: {kind: [mcp, sql], tool: "*", arguments: {force: yes}}
    approvers: [sre]
""")
    (entry,) = policy.entries
    assert entry.scope.kinds == {"mcp"}
    assert entry.scope.tools == ("github.*", "fs.read_*")
    assert entry.scope.arguments == (("n", (1, 2.5, True)), ("path", ("/tmp/*",)))
    # YAML 1.1, as PyYAML reads it: `yes` is the boolean true.
    assert policy.approvals[0].scope.arguments == (("force", (True,)),)
    assert policy.decide("mcp.definition_changed", "definition", [], "x") == (
        "block", "policy.yaml:2")  # fmt: skip
