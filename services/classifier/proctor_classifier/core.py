"""The classifier's pure core: `classify(request, policy) -> ClassifyResponse`, no I/O.

Each kind of command has its analyzer (`ANALYZERS`: SQL, Kubernetes, shell, MCP). Every rule it
matched is put through the policy for the request's identity, resource and kind (and for an MCP
tool call, its tool and arguments); the verdict is the most severe of those actions. A kind with
no analyzer yet (HTTP) is blocked by the rule
`gateway.unknown_kind`, which no policy relaxes, so the agent is told why. A request that cannot
be judged at all (a kind number the contract does not define) gets an `error` and a block, so
even a caller that ignores `error` fails closed.
"""

from __future__ import annotations

from collections.abc import Callable

from proctor.cachekeys import sql_shape
from proctor.classifier.v1 import classifier_pb2 as cpb
from proctor.events.v1 import events_pb2 as pb
from proctor.mcpcall import ToolCall
from proctor.policy import ApprovalMode, Policy
from proctor.rulecatalog import ALL_RULES, Action, CommandKind, RuleClass
from proctor_classifier.catalog import Judgement, judge_references
from proctor_classifier.kube import KubeAnalysis, analyze_kube, kube_match
from proctor_classifier.mcp import McpAnalysis, analyze_mcp, mcp_match
from proctor_classifier.rules import Match, analyze_sql, judge_catalog_text, match
from proctor_classifier.shell import ShellAnalysis, analyze_shell, shell_match

ACTIONS: dict[Action, pb.Action] = {
    Action.ALLOW: pb.ACTION_ALLOW,
    Action.REVIEW: pb.ACTION_REVIEW,
    Action.BLOCK: pb.ACTION_BLOCK,
}
_MODES = {ApprovalMode.WAIT: pb.APPROVAL_MODE_WAIT, ApprovalMode.ASYNC: pb.APPROVAL_MODE_ASYNC}
_SEVERITY = {ACTIONS[a]: a.severity for a in Action}
# Rules of statements after which what the ingress looked up about the target may be stale.
_CATALOG_CHANGING = ("ddl.", "code.", "admin.extension", "admin.grant")


Analyzer = Callable[[cpb.ClassifyRequest, Policy], cpb.ClassifyResponse]


def classify(request: cpb.ClassifyRequest, policy: Policy) -> cpb.ClassifyResponse:
    """The verdict on one command under `policy`, by the analyzer of its kind."""
    if request.kind not in cpb.CommandKind.values():
        return refusal(
            f"command kind {request.kind} is not one this classifier knows", policy.version
        )
    return ANALYZERS.get(request.kind, classify_unjudged)(request, policy)


def classify_sql(request: cpb.ClassifyRequest, policy: Policy) -> cpb.ClassifyResponse:
    """SQL: the text's statements, and what the target's catalog says of the names in them."""
    groups = list(request.identity.groups)
    resource = request.resource.name
    analysis = analyze_sql(request.text)
    found = judge_references(analysis.references, request.catalog, judge_catalog_text)
    judged = analysis.matches
    if found.hits:
        if all(m.statement <= 1 for m in judged):
            # As for one statement: a read rule only says "nothing else happens".
            judged = [m for m in judged if m.rule.rule_class is not RuleClass.READ]
        judged = judged + [match(rule_id, subject) for rule_id, subject in found.hits]
    matches = _decided(_unique(judged), policy, groups, resource)
    response = cpb.ClassifyResponse(
        action=matches[0].action,
        matches=matches,
        policy_version=policy.version,
        fingerprint_safe=analysis.fingerprint_safe,
        needs=found.needs,
        changes_catalog=any(m.rule_id.startswith(_CATALOG_CHANGING) for m in matches),
        cache_key=(sql_shape(request.text) or "") if analysis.fingerprint_safe else "",
    )
    if response.action == pb.ACTION_REVIEW and analysis.estimable and not _looking_up(found):
        _apply_row_limit(request, response, policy, groups, resource)
    if response.action == pb.ACTION_REVIEW:
        reviewing = [m.rule_id for m in matches if m.action == pb.ACTION_REVIEW]
        route = policy.approval_route(reviewing, groups, resource)
        response.approver_groups.extend(route.approvers)
        response.approval_mode = _MODES[route.mode]
        response.approval_decided_by = route.decided_by
    if _bound_to_this_statement(request, response):
        response.cache_key = ""
    return response


def _bound_to_this_statement(request: cpb.ClassifyRequest, response: cpb.ClassifyResponse) -> bool:
    """A verdict still waiting for facts, or given with a row estimate of this execution,
    holds for no other statement (fingerprint_safe alone does not say so)."""
    needs, facts = response.needs, request.catalog
    return bool(needs.functions or needs.relations or needs.estimate) or (
        facts.HasField("estimated_rows") or bool(facts.estimate_error)
    )


def classify_kube(request: cpb.ClassifyRequest, policy: Policy) -> cpb.ClassifyResponse:
    """A Kubernetes API request (`detail.kube`), judged by its verb, group and resource."""
    if request.detail.WhichOneof("kind") != "kube":
        missing = kube_match("k8s.malformed", "the request carries no Kubernetes detail")
        analysis = KubeAnalysis([missing], "")
    else:
        analysis = analyze_kube(request.detail.kube)
    return _verdict(request, policy, analysis.matches, CommandKind.KUBE, analysis.cache_key)


def classify_shell(request: cpb.ClassifyRequest, policy: Policy) -> cpb.ClassifyResponse:
    """A shell command (`detail.shell`): its argv, or its text parsed as bash. Every match is
    decided as a shell command's, psql's SQL and kubectl's requests included."""
    if request.detail.WhichOneof("kind") != "shell":
        missing = shell_match("shell.unparseable", "the request carries no shell detail")
        analysis = ShellAnalysis([missing])
    else:
        analysis = analyze_shell(request.detail.shell)
    return _verdict(request, policy, analysis.matches, CommandKind.SHELL, analysis.cache_key)


def classify_mcp(request: cpb.ClassifyRequest, policy: Policy) -> cpb.ClassifyResponse:
    """An MCP tool call (`detail.mcp`): judged by the tool's declared hints, its definition's
    state, and the policy's entries for its tool and arguments."""
    if request.detail.WhichOneof("kind") != "mcp":
        missing = mcp_match("mcp.malformed", "the request carries no MCP detail")
        analysis = McpAnalysis([missing], None, "")
    else:
        analysis = analyze_mcp(request.detail.mcp)
    return _verdict(
        request, policy, analysis.matches, CommandKind.MCP, analysis.cache_key, analysis.call
    )


def classify_unjudged(request: cpb.ClassifyRequest, policy: Policy) -> cpb.ClassifyResponse:
    """A kind with no analyzer yet: blocked, by a rule no policy relaxes."""
    name = cpb.CommandKind.Name(request.kind).removeprefix("COMMAND_KIND_").lower()
    kind = CommandKind(name) if name in {k.value for k in CommandKind} else CommandKind.SQL
    rule = ALL_RULES["gateway.unknown_kind"]
    unjudged = Match(rule, rule.reason_for(name), 0)
    return _verdict(request, policy, [unjudged], kind, "")


#: The analyzer of each kind of command; a kind without one is `classify_unjudged`.
ANALYZERS: dict[int, Analyzer] = {
    cpb.COMMAND_KIND_UNSPECIFIED: classify_sql,  # requests from before kinds existed
    cpb.COMMAND_KIND_SQL: classify_sql,
    cpb.COMMAND_KIND_KUBE: classify_kube,
    cpb.COMMAND_KIND_SHELL: classify_shell,
    cpb.COMMAND_KIND_MCP: classify_mcp,
}


def _verdict(
    request: cpb.ClassifyRequest,
    policy: Policy,
    judged: list[Match],
    kind: CommandKind,
    cache_key: str,
    call: ToolCall | None = None,
) -> cpb.ClassifyResponse:
    """The verdict on matches of a kind with nothing to look up on the target."""
    groups = list(request.identity.groups)
    resource = request.resource.name
    matches = _decided(_unique(judged), policy, groups, resource, kind, call)
    response = cpb.ClassifyResponse(
        action=matches[0].action,
        matches=matches,
        policy_version=policy.version,
        cache_key=cache_key,
    )
    if response.action == pb.ACTION_REVIEW:
        reviewing = [m.rule_id for m in matches if m.action == pb.ACTION_REVIEW]
        route = policy.approval_route(reviewing, groups, resource, kind, call)
        response.approver_groups.extend(route.approvers)
        response.approval_mode = _MODES[route.mode]
        response.approval_decided_by = route.decided_by
    return response


def _unique(matches: list[Match]) -> list[Match]:
    seen: dict[tuple[str, str], Match] = {}
    for m in matches:
        seen.setdefault((m.rule.id, m.reason), m)
    return list(seen.values())


def _decided(
    judged: list[Match],
    policy: Policy,
    groups: list[str],
    resource: str,
    kind: CommandKind = CommandKind.SQL,
    call: ToolCall | None = None,
) -> list[cpb.RuleMatch]:
    """Each match under the policy, most severe first (equals keep statement order)."""
    matches: list[cpb.RuleMatch] = []
    for m in judged:
        rule_id, rule_class = m.rule.id, m.rule.rule_class
        action, decided_by = policy.decide(rule_id, rule_class, groups, resource, kind, call)
        matches.append(
            cpb.RuleMatch(
                rule_id=m.rule.id,
                reason=m.reason,
                hint=m.rule.hint,
                action=ACTIONS[action],
                decided_by=decided_by,
            )
        )
    matches.sort(key=lambda m: _SEVERITY[m.action], reverse=True)
    return matches


def _looking_up(found: Judgement) -> bool:
    return bool(found.needs.functions or found.needs.relations)


def _apply_row_limit(
    request: cpb.ClassifyRequest,
    response: cpb.ClassifyResponse,
    policy: Policy,
    groups: list[str],
    resource: str,
) -> None:
    """A reviewed write: ask for the planner's estimate, or with it, hold it to `limits:`."""
    facts = request.catalog
    if not facts.HasField("estimated_rows") and not facts.estimate_error:
        response.needs.estimate = True
        return
    if facts.HasField("estimated_rows"):
        response.estimated_rows = facts.estimated_rows
    reviewing = [m.rule_id for m in response.matches if m.action == pb.ACTION_REVIEW]
    limit = policy.row_limit(reviewing, groups, resource)
    if limit is None:
        return
    if facts.HasField("estimated_rows"):
        if facts.estimated_rows <= limit.max_rows:
            return
        subject = (f"the planner estimates this write touches {facts.estimated_rows} rows, "
                   f"above max_rows {limit.max_rows} ({limit.decided_by})")  # fmt: skip
    else:
        subject = (f"this write's rows could not be estimated ({facts.estimate_error}), and "
                   f"max_rows {limit.max_rows} applies ({limit.decided_by})")  # fmt: skip
    matches = _decided([match("limit.max_rows", subject)], policy, groups, resource)
    merged = [*response.matches, *matches]
    merged.sort(key=lambda m: _SEVERITY[m.action], reverse=True)
    del response.matches[:]
    response.matches.extend(merged)
    response.action = merged[0].action


def refusal(error: str, policy_version: str = "") -> cpb.ClassifyResponse:
    """The answer to a request that could not be judged: an error, and block."""
    return cpb.ClassifyResponse(action=pb.ACTION_BLOCK, policy_version=policy_version, error=error)
