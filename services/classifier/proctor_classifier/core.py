"""The classifier's pure core: `classify(request, policy) -> ClassifyResponse`, no I/O.

Every matched rule is put through the policy for the request's identity and resource; the
verdict is the most severe of those actions. A request that cannot be judged at all gets an
`error` and a block, so even a caller that ignores `error` fails closed.
"""

from __future__ import annotations

from proctor.classifier.v1 import classifier_pb2 as cpb
from proctor.events.v1 import events_pb2 as pb
from proctor.policy import ApprovalMode, Policy
from proctor.rulecatalog import Action
from proctor_classifier.rules import analyze_sql

ACTIONS: dict[Action, pb.Action] = {
    Action.ALLOW: pb.ACTION_ALLOW,
    Action.REVIEW: pb.ACTION_REVIEW,
    Action.BLOCK: pb.ACTION_BLOCK,
}
_MODES = {ApprovalMode.WAIT: pb.APPROVAL_MODE_WAIT, ApprovalMode.ASYNC: pb.APPROVAL_MODE_ASYNC}
_SEVERITY = {ACTIONS[a]: a.severity for a in Action}
_SQL_KINDS = {cpb.COMMAND_KIND_UNSPECIFIED, cpb.COMMAND_KIND_SQL}


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
    matches: list[cpb.RuleMatch] = []
    for match in analysis.matches:
        action, decided_by = policy.decide(match.rule.id, match.rule.rule_class, groups, resource)
        matches.append(
            cpb.RuleMatch(
                rule_id=match.rule.id,
                reason=match.reason,
                hint=match.rule.hint,
                action=ACTIONS[action],
                decided_by=decided_by,
            )
        )
    # Stable sort: equally severe matches keep their statement order.
    matches.sort(key=lambda m: _SEVERITY[m.action], reverse=True)
    response = cpb.ClassifyResponse(
        action=matches[0].action,
        matches=matches,
        policy_version=policy.version,
        fingerprint_safe=analysis.fingerprint_safe,
    )
    if response.action == pb.ACTION_REVIEW:
        reviewing = [m.rule_id for m in matches if m.action == pb.ACTION_REVIEW]
        route = policy.approval_route(reviewing, groups, resource)
        response.approver_groups.extend(route.approvers)
        response.approval_mode = _MODES[route.mode]
        response.approval_decided_by = route.decided_by
    return response


def refusal(error: str, policy_version: str = "") -> cpb.ClassifyResponse:
    """The answer to a request that could not be judged: an error, and block."""
    return cpb.ClassifyResponse(action=pb.ACTION_BLOCK, policy_version=policy_version, error=error)
