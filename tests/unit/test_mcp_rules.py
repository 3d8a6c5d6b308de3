"""The MCP rules (the classifier's pure core): defaults by the tool's declared hints, changed
definitions that no policy lets through unseen, arguments that fail closed, the policy's
`tool` and `arguments` match keys, the key verdicts are shared under, and `explain`."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from proctor.cachekeys import shape
from proctor.classifier.v1 import classifier_pb2 as cpb
from proctor.events.v1 import events_pb2 as pb
from proctor.mcpcall import MalformedCall, parse_arguments, verdict_key
from proctor.policy import Policy, parse_policy
from proctor.rulecatalog import MCP_RULES, RuleClass
from proctor_classifier.__main__ import main
from proctor_classifier.core import ANALYZERS, classify
from proctor_classifier.explain import render_text

ALLOW, REVIEW, BLOCK = pb.ACTION_ALLOW, pb.ACTION_REVIEW, pb.ACTION_BLOCK
ROOT = Path(__file__).resolve().parents[2]


def call(
    tool: str = "github.create_issue",
    arguments: str = "{}",
    *,
    read_only: bool = False,
    destructive: bool = False,
    changed: bool = False,
    sha: str = "",
) -> pb.McpDetail:
    server, _, name = tool.partition(".")
    return pb.McpDetail(server=server, tool=name, arguments=arguments, read_only=read_only,
                        destructive=destructive, definition_changed=changed,
                        definition_sha256=sha)  # fmt: skip


def request_for(detail: pb.McpDetail, groups: tuple[str, ...] = ()) -> cpb.ClassifyRequest:
    return cpb.ClassifyRequest(
        kind=cpb.COMMAND_KIND_MCP,
        text=f"{detail.server}.{detail.tool} {detail.arguments}",
        identity=pb.Identity(human="alice@example.com", groups=groups),
        resource=pb.Resource(name=detail.server),
        detail=pb.CommandDetail(mcp=detail),
    )


def judge(
    detail: pb.McpDetail, policy: Policy | None = None, groups: tuple[str, ...] = ()
) -> cpb.ClassifyResponse:
    return classify(request_for(detail, groups), policy or Policy.builtin())


def rules_of(response: cpb.ClassifyResponse) -> list[tuple[str, int]]:
    assert not response.error and response.action == response.matches[0].action
    return [(m.rule_id, m.action) for m in response.matches]


# --- defaults -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("read_only", "destructive", "rule_id", "action"),
    [
        (False, False, "mcp.write", REVIEW),
        (True, False, "mcp.read", ALLOW),
        (False, True, "mcp.destructive", BLOCK),
        (True, True, "mcp.destructive", BLOCK),  # a contradiction: the cautious hint wins
    ],
)
def test_a_call_is_judged_by_the_hints_its_tool_declares(
    read_only: bool, destructive: bool, rule_id: str, action: int
) -> None:
    response = judge(call(read_only=read_only, destructive=destructive))
    assert rules_of(response) == [(rule_id, action)]
    assert "github.create_issue" in response.matches[0].reason
    assert response.matches[0].hint and response.matches[0].decided_by == "default"


def test_reasons_are_written_for_the_agent() -> None:
    (write,) = judge(call()).matches
    assert (
        write.reason
        == "tool github.create_issue is not declared read-only, so it may change things"
    )
    assert write.hint.startswith("An approver reviews it")
    changed = judge(call(read_only=True, changed=True))
    assert rules_of(changed) == [("mcp.definition_changed", REVIEW), ("mcp.read", ALLOW)]
    assert changed.matches[0].reason == (
        "the definition of github.create_issue changed since the gateway first saw it "
        "(description or input schema); a human reviews the new definition before the tool is "
        "called again"
    )


def test_the_rules_belong_to_mcp_and_the_kind_has_its_analyzer() -> None:
    assert cpb.COMMAND_KIND_MCP in ANALYZERS
    assert {r.kind.value for r in MCP_RULES.values() if r.kind} == {"mcp"}
    assert MCP_RULES["mcp.definition_changed"].rule_class is RuleClass.DEFINITION


def test_a_changed_definition_is_reviewed_whatever_relaxes_the_rest() -> None:
    relaxed = parse_policy(
        "version: 1\ndefaults: {write: allow, read: allow, destructive: allow}\n"
        "rules:\n  - match: {tool: '*'}\n    actions: {write: allow, read: allow}\n"
    )
    assert judge(call(), relaxed).action == ALLOW
    response = judge(call(changed=True), relaxed)
    assert response.action == REVIEW
    assert rules_of(response)[0] == ("mcp.definition_changed", REVIEW)
    assert response.approval_decided_by == "default"
    stricter = parse_policy(
        "version: 1\nrules:\n  - match: {tool: 'github.*'}\n    actions: {definition: block}\n"
    )
    assert judge(call(read_only=True, changed=True), stricter).action == BLOCK
    assert judge(call("slack.post", read_only=True, changed=True), stricter).action == REVIEW


# --- malformed calls ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("detail", "why"),
    [
        (call(arguments="[1, 2]"), "a JSON array, not an object"),
        (call(arguments='"repo"'), "a JSON string, not an object"),
        (call(arguments="null"), "a JSON null, not an object"),
        (call(arguments="{"), "not valid JSON"),
        (call(arguments='{"repo": "a", "repo": "b"}'), "give 'repo' twice"),
        (call(arguments='{"a": {"b": 1, "b": 2}}'), "give 'b' twice"),
        (call(arguments='{"n": NaN}'), "NaN, which is not JSON"),
        (call(arguments="[" * 100_000), "nest too deeply"),
        (pb.McpDetail(tool="create_issue", arguments="{}"), "names no MCP server"),
        (pb.McpDetail(server="github", arguments="{}"), "names no tool"),
    ],
)
def test_a_call_that_cannot_be_read_fails_closed(detail: pb.McpDetail, why: str) -> None:
    everything = parse_policy(
        "version: 1\nrules:\n  - match: {kind: mcp}\n"
        "    actions: {write: allow, read: allow, destructive: allow}\n"
    )
    response = judge(detail, everything)
    assert rules_of(response) == [("mcp.malformed", BLOCK)]
    assert why in response.matches[0].reason and response.cache_key == ""
    assert verdict_key(detail) is None
    assert shape(cpb.COMMAND_KIND_MCP, "", pb.CommandDetail(mcp=detail)) is None


def test_an_mcp_request_without_its_detail_fails_closed() -> None:
    response = classify(cpb.ClassifyRequest(kind=cpb.COMMAND_KIND_MCP), Policy.builtin())
    assert rules_of(response) == [("mcp.malformed", BLOCK)]
    assert "no MCP detail" in response.matches[0].reason


def test_no_arguments_at_all_are_no_arguments() -> None:
    assert parse_arguments("") == {}
    assert rules_of(judge(call(arguments=""))) == [("mcp.write", REVIEW)]
    with pytest.raises(MalformedCall):
        parse_arguments(" ")


# --- the policy's tool and arguments ------------------------------------------------------------


def docs_example() -> Policy:
    docs = (ROOT / "docs" / "policy.md").read_text()
    section = docs.split("## MCP rules", 1)[1]
    example = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    return parse_policy("version: 1\n" + example)


def test_the_docs_example_decides_by_tool_and_argument() -> None:
    policy = docs_example()  # its lines are 1 further down than in the docs
    sandbox = judge(call(arguments='{"repo": "acme/sandbox-7", "title": "t"}'), policy)
    assert (sandbox.action, sandbox.matches[0].decided_by) == (ALLOW, "policy.yaml:8")
    app = judge(call(arguments='{"repo": "acme/app"}'), policy)
    assert (app.action, app.matches[0].decided_by) == (REVIEW, "policy.yaml:4")
    assert judge(call(arguments='{"title": "no repo"}'), policy).action == REVIEW
    assert judge(call(arguments='{"repo": ["acme/sandbox-7"]}'), policy).action == REVIEW
    deleting = judge(call("github.delete_branch"), policy)
    assert (deleting.action, deleting.matches[0].decided_by) == (BLOCK, "policy.yaml:6")
    assert judge(call("github.delete_repo", destructive=True), policy).action == BLOCK
    elsewhere = judge(call("gitlab.delete_branch"), policy)
    assert (elsewhere.action, elsewhere.matches[0].decided_by) == (REVIEW, "default")
    # Listed with arguments {}: a tool blocked only for some arguments is not blocked there.
    assert judge(call("github.create_issue"), policy).action == REVIEW


VALUES = """\
version: 1
rules:
  - match: {tool: "fs.*", arguments: {path: ["/tmp/*", /srv/shared], depth: 1, force: false}}
    actions: {write: allow}
"""


@pytest.mark.parametrize(
    ("arguments", "action"),
    [
        ({"path": "/tmp/x/y", "depth": 1, "force": False}, ALLOW),
        ({"path": "/srv/shared", "depth": 1.0, "force": False, "other": [1]}, ALLOW),
        ({"path": "/srv/shared/x", "depth": 1, "force": False}, REVIEW),  # no glob there
        ({"path": "/tmp/x", "depth": 1}, REVIEW),  # an absent argument does not match
        ({"path": "/tmp/x", "depth": True, "force": False}, REVIEW),  # true is not 1
        ({"path": "/tmp/x", "depth": "1", "force": False}, REVIEW),  # "1" is not 1
        ({"path": "/tmp/x", "depth": 1, "force": 0}, REVIEW),  # 0 is not false
        ({"path": {"p": "/tmp/x"}, "depth": 1, "force": False}, REVIEW),
        ({"path": "/TMP/x", "depth": 1, "force": False}, REVIEW),  # globs are case-sensitive
    ],
)
def test_argument_values_match_by_type(arguments: dict[str, object], action: int) -> None:
    response = judge(call("fs.write_file", json.dumps(arguments)), parse_policy(VALUES))
    assert response.action == action


def test_an_entry_with_a_tool_matches_only_mcp_calls() -> None:
    policy = parse_policy(
        "version: 1\nrules:\n  - match: {tool: '*'}\n    actions: {write: allow}\n"
    )
    assert judge(call(), policy).action == ALLOW
    assert policy.decide("write.update", "write", [], "github", "sql").action == "review"
    assert policy.decide("shell.write", "write", [], "github", "shell").action == "review"
    both = parse_policy(
        "version: 1\nrules:\n  - match: {kind: [sql, mcp], tool: 'github.*'}\n"
        "    actions: {write: allow}\n"
    )
    assert judge(call(), both).action == ALLOW
    assert both.decide("write.update", "write", [], "github", "sql").action == "review"


def test_approvals_route_by_tool_and_argument() -> None:
    policy = parse_policy(
        "version: 1\napprovals:\n  - match: {tool: 'github.*'}\n    approvers: [platform]\n"
        "  - match: {tool: github.merge_pr, arguments: {base: main}}\n"
        "    approvers: [release]\n    mode: async\n"
    )
    issue = judge(call(), policy)
    assert list(issue.approver_groups) == ["platform"]
    assert issue.approval_decided_by == "policy.yaml:3"
    merge = judge(call("github.merge_pr", '{"base": "main"}'), policy)
    assert (list(merge.approver_groups), merge.approval_mode) == (
        ["release"], pb.APPROVAL_MODE_ASYNC)  # fmt: skip
    assert list(judge(call("slack.post"), policy).approver_groups) == []


# --- shared verdicts ----------------------------------------------------------------------------


def test_the_cache_key_is_the_ingress_shape_and_covers_every_field() -> None:
    base = call(arguments='{"b": 1, "a": "x"}', sha="ab" * 32)
    response = judge(base)
    assert response.cache_key == shape(cpb.COMMAND_KIND_MCP, "ignored",
                                       pb.CommandDetail(mcp=base))  # fmt: skip
    assert response.cache_key.startswith("mcp:")
    # Layout and key order are not part of the call.
    same = call(arguments='{ "a" : "x",\n "b" : 1 }', sha="ab" * 32)
    assert verdict_key(same) == verdict_key(base)
    variants = [
        call("gitlab.create_issue", '{"b": 1, "a": "x"}', sha="ab" * 32),
        call("github.close_issue", '{"b": 1, "a": "x"}', sha="ab" * 32),
        call(arguments='{"b": 2, "a": "x"}', sha="ab" * 32),
        call(arguments='{"b": 1, "a": "x", "c": null}', sha="ab" * 32),
        call(arguments='{"b": 1, "a": "x"}', sha="ab" * 32, read_only=True),
        call(arguments='{"b": 1, "a": "x"}', sha="ab" * 32, destructive=True),
        call(arguments='{"b": 1, "a": "x"}', sha="cd" * 32),
        call(arguments='{"b": 1, "a": "x"}', sha="ab" * 32, changed=True),
        pb.McpDetail(server="github.create", tool="issue", arguments='{"b": 1, "a": "x"}',
                     definition_sha256="ab" * 32),
    ]  # fmt: skip
    keys = {verdict_key(v) for v in variants}
    assert len(keys) == len(variants) and verdict_key(base) not in keys


_SCALARS = st.one_of(st.sampled_from(["acme/sandbox-1", "acme/app", "main", ""]),
                     st.integers(-1, 2), st.booleans(), st.none())  # fmt: skip
_ARGUMENTS = st.dictionaries(st.sampled_from(["repo", "base", "n"]), _SCALARS, max_size=3)
_CALLS = st.builds(
    lambda tool, args, read_only, destructive, changed: call(
        tool, json.dumps(args), read_only=read_only, destructive=destructive, changed=changed),
    st.sampled_from(["github.create_issue", "github.merge_pr", "github.delete_x", "fs.read"]),
    _ARGUMENTS, st.booleans(), st.booleans(), st.booleans(),
)  # fmt: skip
_SHARING = parse_policy("""\
version: 1
rules:
  - match: {tool: "github.*"}
    actions: {write: allow, read: review}
  - match: {tool: "github.delete_*", arguments: {n: [1, true]}}
    actions: {write: block, destructive: review}
  - match: {arguments: {repo: "acme/sandbox*", base: ["main", 0]}}
    actions: {write: allow, definition: block}
approvals:
  - match: {arguments: {n: 2}}
    approvers: [two]
""")


@given(_CALLS, st.data())
def test_calls_that_share_a_key_share_a_verdict(one: pb.McpDetail, data: st.DataObject) -> None:
    # A twin of the call: its arguments in another layout and order, perhaps one value or one
    # hint or the definition's state changed.
    arguments = json.loads(one.arguments)
    if data.draw(st.booleans()):
        arguments[data.draw(st.sampled_from(["repo", "base", "n"]))] = data.draw(_SCALARS)
    two = pb.McpDetail()
    two.CopyFrom(one)
    two.arguments = json.dumps(dict(reversed(arguments.items())), indent=data.draw(
        st.sampled_from([None, 1])))  # fmt: skip
    flag = data.draw(st.sampled_from([None, "read_only", "destructive", "definition_changed"]))
    if flag is not None:
        setattr(two, flag, not getattr(two, flag))
    first, second = judge(one, _SHARING), judge(two, _SHARING)
    assert first.cache_key == verdict_key(one) != ""
    if first.cache_key == second.cache_key:
        assert first == second


# --- explain ------------------------------------------------------------------------------------


def test_explain_shows_the_call_and_what_the_tool_declares() -> None:
    detail = call(arguments='{"repo": "acme/app"}', read_only=True, changed=True)
    request = request_for(detail)
    text = render_text(request, classify(request, Policy.builtin()), Policy.builtin())
    assert text.startswith('verdict: REVIEW\n  tool call: github.create_issue {"repo": "acme/app"}')
    assert "the tool declares: read-only" in text
    assert "its definition changed and is not approved yet" in text
    assert re.search(r"review\s+mcp\.definition_changed\s+decided by default", text)
    long = request_for(call(arguments=json.dumps({"body": "x" * 1000})))
    shown = render_text(long, classify(long, Policy.builtin()), Policy.builtin())
    assert "… (1012 characters)" in shown and "x" * 400 not in shown


def run_explain(
    args: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> tuple[int, str, str]:
    monkeypatch.delenv("PROCTOR_POLICY_FILE", raising=False)
    monkeypatch.delenv("PROCTOR_CONFIG", raising=False)
    code = main(["explain", "--as", "alice@example.com", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_explain_cli_takes_a_tool_call(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("version: 1\nrules:\n  - match: {resource: github, groups: [sre]}\n"
                      "    actions: {destructive: review}\n")  # fmt: skip
    code, out, _ = run_explain(
        ["--groups", "sre", "--policy", str(policy), "--mcp", "github.delete_repo",
         "--arguments", '{"repo": "acme/app"}', "--destructive"], capsys, monkeypatch,
    )  # fmt: skip
    assert code == 0
    assert out.startswith("verdict: REVIEW") and "on resource github" in out
    assert re.search(r"review\s+mcp\.destructive\s+decided by policy\.yaml:4", out), out

    code, out, _ = run_explain(["--mcp", "fs.read", "--read-only", "--changed", "--json"],
                               capsys, monkeypatch)  # fmt: skip
    shown = json.loads(out)
    assert code == 0 and shown["request"]["detail"]["mcp"]["definition_changed"] is True
    assert [m["rule_id"] for m in shown["response"]["matches"]] == [
        "mcp.definition_changed", "mcp.read"]  # fmt: skip

    code, out, _ = run_explain(["--mcp", "fs.read", "--arguments", "[]", "--resource", "files"],
                               capsys, monkeypatch)  # fmt: skip
    assert code == 0 and out.startswith("verdict: BLOCK") and "on resource files" in out

    code, _, err = run_explain(["--mcp", "github"], capsys, monkeypatch)
    assert code == 1 and "name the tool as SERVER.TOOL" in err

    with pytest.raises(SystemExit) as missing:
        run_explain(["SELECT 1"], capsys, monkeypatch)
    assert missing.value.code == 2
    assert "--resource is required" in capsys.readouterr().err
