"""The classifier's pure core: `classify(request, policy) -> ClassifyResponse`, no I/O.

Every matched rule is put through the policy for the request's identity and resource; the
verdict is the most severe of those actions. A request that cannot be judged at all gets an
`error` and a block, so even a caller that ignores `error` fails closed.
"""

from __future__ import annotations

from proctor.cachekeys import sql_shape
from proctor.classifier.v1 import classifier_pb2 as cpb
from proctor.events.v1 import events_pb2 as pb
from proctor.policy import ApprovalMode, Policy
from proctor.rulecatalog import Action, RuleClass
from proctor_classifier.catalog import Judgement, judge_references
from proctor_classifier.rules import Match, analyze_sql, judge_catalog_text, match

ACTIONS: dict[Action, pb.Action] = {
    Action.ALLOW: pb.ACTION_ALLOW,
    Action.REVIEW: pb.ACTION_REVIEW,
    Action.BLOCK: pb.ACTION_BLOCK,
}
_MODES = {ApprovalMode.WAIT: pb.APPROVAL_MODE_WAIT, ApprovalMode.ASYNC: pb.APPROVAL_MODE_ASYNC}
_SEVERITY = {ACTIONS[a]: a.severity for a in Action}
_SQL_KINDS = {cpb.COMMAND_KIND_UNSPECIFIED, cpb.COMMAND_KIND_SQL}
# Rules of statements after which what the ingress looked up about the target may be stale.
_CATALOG_CHANGING = ("ddl.", "code.", "admin.extension", "admin.grant")


def classify(request: cpb.ClassifyRequest, policy: Policy) -> cpb.ClassifyResponse:
    """The verdict on one command under `policy`."""
    if request.kind not in _SQL_KINDS:
        return refusal(
            f"command kind {request.kind} is not one this classifier judges (only SQL)",
            policy.version,
        )
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
        cache_key=(sql_shape(request.text) or "") if analysis.fingerprint_safe else "",
        needs=found.needs,
        changes_catalog=any(m.rule_id.startswith(_CATALOG_CHANGING) for m in matches),
    )
    if response.action == pb.ACTION_REVIEW and analysis.estimable and not _looking_up(found):
        _apply_row_limit(request, response, policy, groups, resource)
    if response.action == pb.ACTION_REVIEW:
        reviewing = [m.rule_id for m in matches if m.action == pb.ACTION_REVIEW]
        route = policy.approval_route(reviewing, groups, resource)
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
    judged: list[Match], policy: Policy, groups: list[str], resource: str
) -> list[cpb.RuleMatch]:
    """Each match under the policy, most severe first (equals keep statement order)."""
    matches: list[cpb.RuleMatch] = []
    for m in judged:
        action, decided_by = policy.decide(m.rule.id, m.rule.rule_class, groups, resource)
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
