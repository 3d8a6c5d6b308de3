"""What the agent is told when a statement does not run: written for the agent, naming the
rule and saying what it can do next. Pure functions returning ErrorResponse frames."""

from __future__ import annotations

from proctor import pgwire
from proctor.classifier.v1 import classifier_pb2 as cpb
from proctor.events.describe import ACTION_NAMES

INSUFFICIENT_PRIVILEGE = "42501"
SYSTEM_ERROR = "58000"
QUERY_CANCELED = "57014"


def _decisive(verdict: cpb.ClassifyResponse) -> list[cpb.RuleMatch]:
    return [m for m in verdict.matches if m.action == verdict.action] or list(verdict.matches)


def blocked(verdict: cpb.ClassifyResponse) -> bytes:
    matches = _decisive(verdict)
    rules = "; ".join(f"rule {m.rule_id}: {m.reason}" for m in matches) or "policy"
    decided = ", ".join(
        f"{m.rule_id} -> {ACTION_NAMES.get(m.action, '?')} ({m.decided_by})" for m in matches
    )
    hints = " ".join(dict.fromkeys(m.hint for m in matches if m.hint))
    return pgwire.error_response(
        f"Proctor blocked this statement ({rules}). Nothing was run.",
        code=INSUFFICIENT_PRIVILEGE,
        detail=f"Policy {verdict.policy_version}: {decided}.",
        hint=hints or "Run a narrower statement, or ask a human to run this one.",
    )


def denied(approval_id: str, approver: str, note: str) -> bytes:
    return pgwire.error_response(
        f'Proctor: approval {approval_id} was denied by {approver}: "{note}". '
        "The statement was not run.",
        code=INSUFFICIENT_PRIVILEGE,
        hint="Change the statement as the note asks and submit it again; it will be reviewed.",
    )


def expired(approval_id: str, seconds: float) -> bytes:
    return pgwire.error_response(
        f"Proctor: nobody decided on approval {approval_id} within {seconds:g} s. "
        "The statement was not run.",
        code=INSUFFICIENT_PRIVILEGE,
        hint="Ask an approver to look at the request, then submit the statement again.",
    )


def pending(approval_id: str, approvers: list[str], new: bool) -> bytes:
    """Async mode: the statement did not run and awaits a human; the agent re-submits it."""
    who = f" ({', '.join(approvers)})" if approvers else ""
    asked = (
        "Approvers" + who + " have been asked"
        if new
        else "It is still pending with approvers" + who
    )
    return pgwire.error_response(
        f"Proctor: this statement needs approval; request {approval_id} is pending. {asked}. "
        "The statement was not run.",
        code=INSUFFICIENT_PRIVILEGE,
        detail=f"approval_id={approval_id}",
        hint="Once it is approved, submit exactly the same statement again (same text and "
        "parameters, same identity and resource): it then runs once. Any change needs a new "
        "approval. Meanwhile continue with other work.",
    )


def expired_async(approval_id: str) -> bytes:
    return pgwire.error_response(
        f"Proctor: nobody decided on approval {approval_id} in time, so it expired. "
        "The statement was not run.",
        code=INSUFFICIENT_PRIVILEGE,
        hint="Submit it again to ask for a new approval.",
    )


def withdrawn(approval_id: str) -> bytes:
    return pgwire.error_response(
        f"Proctor: the statement was cancelled while it awaited approval {approval_id}, "
        "so it was not run.",
        code=QUERY_CANCELED,
        hint="Submit it again when you want it reviewed.",
    )


def unavailable(why: str, service: str = "classifier") -> bytes:
    return pgwire.error_response(
        f"Proctor could not judge this statement ({why}), so it was not run.",
        code=SYSTEM_ERROR,
        hint=f"Retry in a moment. If it persists, the gateway's {service} needs attention.",
    )


def function_call() -> bytes:
    return pgwire.error_response(
        "Proctor does not forward the fast-path function call protocol. Nothing was run.",
        code=INSUFFICIENT_PRIVILEGE,
        hint="Call the function in a SQL statement instead, e.g. SELECT f(...).",
    )
