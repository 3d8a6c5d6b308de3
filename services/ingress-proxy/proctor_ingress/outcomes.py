"""What became of a command, whatever the protocol: the lifecycle (lifecycle.py) returns an
Outcome, and each protocol renders it in its own terms (a Postgres ErrorResponse, a Kubernetes
Status, a shell exit status, an MCP tool error). The words the agent reads are written here
once, for every protocol: they name the rule, say why, and say what to do next."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from proctor.classifier.v1 import classifier_pb2 as cpb
from proctor.events.describe import ACTION_NAMES


class Kind(StrEnum):
    RUN = "run"
    BLOCKED = "blocked"  # a rule (or the gateway: size, outbox) refused it
    PENDING = "pending"  # async review: asked, or still undecided; re-submit after
    DENIED = "denied"  # an approver said no, with a note
    EXPIRED = "expired"  # nobody decided in time
    WITHDRAWN = "withdrawn"  # the client cancelled it while it was held
    UNAVAILABLE = "unavailable"  # a service the decision needs did not answer


@dataclass(frozen=True, slots=True)
class Outcome:
    kind: Kind
    rule_ids: tuple[str, ...] = ()
    reason: str = ""  # why (for the agent and the log)
    hint: str = ""  # the next step
    detail: str = ""  # the policy lines that decided, or the approval id
    note: str = ""  # the approver's note (denied)
    approver: str = ""
    approval_id: str = ""
    approvers: tuple[str, ...] = ()  # pending: who was asked
    new: bool = False  # pending: the request was made now (else it was already pending)
    waited: float = 0.0  # expired while waiting: for how long
    asynchronous: bool = False  # expired: an async request (re-submit asks anew)
    service: str = ""  # unavailable: which service
    later: bool = False  # run, but each execution is reviewed (a Postgres Parse)
    changes_catalog: bool = False  # once it ran, what was looked up of the target is stale

    @property
    def runs(self) -> bool:
        return self.kind is Kind.RUN

    def words(self, noun: str = "statement") -> tuple[str, str, str]:
        """(message, detail, hint) as the agent reads them; `noun` names what the protocol
        runs ("statement", "request", "command", "tool call")."""
        k = self.kind
        if k is Kind.BLOCKED:
            return (
                f"Proctor blocked this {noun} ({self.reason}). Nothing was run.",
                self.detail,
                self.hint or f"Run a narrower {noun}, or ask a human to run this one.",
            )
        if k is Kind.DENIED:
            return (
                f"Proctor: approval {self.approval_id} was denied by {self.approver}: "
                f'"{self.note}". The {noun} was not run.',
                "",
                f"Change the {noun} as the note asks and submit it again; it will be reviewed.",
            )
        if k is Kind.EXPIRED and self.asynchronous:
            return (
                f"Proctor: nobody decided on approval {self.approval_id} in time, so it "
                f"expired. The {noun} was not run.",
                "",
                "Submit it again to ask for a new approval.",
            )
        if k is Kind.EXPIRED:
            return (
                f"Proctor: nobody decided on approval {self.approval_id} within "
                f"{self.waited:g} s. The {noun} was not run.",
                "",
                f"Ask an approver to look at the request, then submit the {noun} again.",
            )
        if k is Kind.PENDING:
            who = f" ({', '.join(self.approvers)})" if self.approvers else ""
            asked = (
                "Approvers" + who + " have been asked"
                if self.new
                else "It is still pending with approvers" + who
            )
            return (
                f"Proctor: this {noun} needs approval; request {self.approval_id} is pending. "
                f"{asked}. The {noun} was not run.",
                f"approval_id={self.approval_id}",
                f"Once it is approved, submit exactly the same {noun} again (same text and "
                "parameters, same identity and resource): it then runs once. Any change needs "
                "a new approval. Meanwhile continue with other work.",
            )
        if k is Kind.WITHDRAWN:
            return (
                f"Proctor: the {noun} was cancelled while it awaited approval "
                f"{self.approval_id}, so it was not run.",
                "",
                "Submit it again when you want it reviewed.",
            )
        if k is Kind.UNAVAILABLE:
            return (
                f"Proctor could not judge this {noun} ({self.reason}), so it was not run.",
                "",
                f"Retry in a moment. If it persists, the gateway's {self.service} needs attention.",
            )
        return "", "", ""


def _decisive(verdict: cpb.ClassifyResponse) -> list[cpb.RuleMatch]:
    return [m for m in verdict.matches if m.action == verdict.action] or list(verdict.matches)


def blocked(verdict: cpb.ClassifyResponse) -> Outcome:
    """A verdict of block, as the agent is told it."""
    matches = _decisive(verdict)
    rules = "; ".join(f"rule {m.rule_id}: {m.reason}" for m in matches) or "policy"
    decided = ", ".join(
        f"{m.rule_id} -> {ACTION_NAMES.get(m.action, '?')} ({m.decided_by})" for m in matches
    )
    return Outcome(
        Kind.BLOCKED,
        rule_ids=tuple(m.rule_id for m in matches),
        reason=rules,
        hint=" ".join(dict.fromkeys(m.hint for m in matches if m.hint)),
        detail=f"Policy {verdict.policy_version}: {decided}.",
    )


# How a client that reads only the words (a tool relaying a Postgres error or kubectl's
# output) tells a pending or denied approval, and its id, from them.
SAID_PENDING = re.compile(r"needs approval; request ([0-9a-f]+) is pending")
SAID_DENIED = re.compile(r"approval ([0-9a-f]+) was denied by ")

RUN = Outcome(Kind.RUN)
REVIEW_EACH_EXECUTION = Outcome(Kind.RUN, later=True)
