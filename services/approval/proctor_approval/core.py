"""The approval service's pure core: a fold of approval events into pending requests, and
`decide(state, vote, rules)` turning an approver's vote (or the clock) into decision events or
a refusal. No I/O; the adapter publishes what it returns.

Decision events get a deterministic event id (one per approval), so when two replicas decide
the same approval at once JetStream's duplicate window stores only the first.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from proctor.events import codec, new_event
from proctor.events.v1 import events_pb2 as pb
from proctor.gateway import GatewayConfig

SOURCE = "approval"
_DECISION_NAMESPACE = uuid.UUID("6f0d3b1e-6a55-4b0e-9a55-7a1f2f7d0a01")
DECISIONS = ("approval_granted", "approval_denied", "approval_expired", "approval_withdrawn")
WITHDRAWN = "approval_withdrawn"


@dataclass(frozen=True, slots=True)
class PendingApproval:
    """A command held for review, as its ApprovalRequested described it."""

    approval_id: str
    session_id: str
    command_id: str
    command_text: str
    requester: str
    agent: str
    requester_groups: tuple[str, ...]
    resource: str
    resource_kind: int
    rule_ids: tuple[str, ...]
    reason: str
    command_hash: str
    requested_at: datetime
    expires_at: datetime | None
    approver_groups: tuple[str, ...]
    approvals: tuple[str, ...] = ()  # approvers who voted yes so far (when N > 1 are needed)
    mode: int = pb.APPROVAL_MODE_WAIT  # async: the agent re-submits and redeems the decision
    parameters: tuple[str, ...] = ()  # the values bound to $1, $2, ... for this execution
    estimated_rows: int | None = None  # the planner's estimate of the rows it touches

    def to_json(self) -> dict[str, Any]:
        return {
            "approval_id": self.approval_id,
            "session_id": self.session_id,
            "command_id": self.command_id,
            "command": self.command_text,
            "parameters": list(self.parameters),
            "estimated_rows": self.estimated_rows,
            "requester": self.requester,
            "agent": self.agent,
            "resource": self.resource,
            "rule_ids": list(self.rule_ids),
            "reason": self.reason,
            "requested_at": self.requested_at.isoformat(),
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "approvals": list(self.approvals),
            "mode": "async" if self.mode == pb.APPROVAL_MODE_ASYNC else "wait",
        }


@dataclass(frozen=True, slots=True)
class Outcome:
    """How an approval ended: granted, denied, expired or withdrawn, and by whom; what was
    asked (see `kept`), so its requester alone may be told; whether a re-submission (async
    mode) claimed it."""

    approval_id: str
    kind: str  # one of DECISIONS
    approver: str = ""
    note: str = ""
    request: PendingApproval | None = None  # None when the request was never folded
    redeemed: bool = False


KEPT_TEXT = 1000  # characters of a decided command's text the live state keeps


def kept(request: PendingApproval) -> PendingApproval:
    """The request as a decided approval remembers it: its text cut to KEPT_TEXT characters
    and without parameters, since a statement may be as large as a NATS message and the
    state (and its checkpoints) keeps hundreds of decided approvals."""
    text = request.command_text
    if len(text) > KEPT_TEXT:
        text = text[: KEPT_TEXT - 1] + "…"
    return replace(request, command_text=text, parameters=())


@dataclass(frozen=True, slots=True)
class ApprovalState:
    """The live approvals: those still pending and the recently decided (see `remember`);
    and, for async mode, the open approval of each command binding
    (ApprovalRequested.command_hash) until a re-submission redeems its decision."""

    pending: Mapping[str, PendingApproval] = field(default_factory=dict)
    decided: Mapping[str, Outcome] = field(default_factory=dict)
    by_hash: Mapping[str, str] = field(default_factory=dict)
    requests: Mapping[str, PendingApproval] = field(default_factory=dict)  # async, unredeemed


@dataclass(frozen=True, slots=True)
class ApproverRules:
    """Who may decide: identities whose groups meet the approver groups (the request's own,
    else these defaults); how many approvals grant; whether requesters may approve their own."""

    identities: Mapping[str, tuple[str, ...]]
    approver_groups: tuple[str, ...] = ("approvers", "sre")
    approvals_required: int = 1
    allow_self_approval: bool = False

    @classmethod
    def from_config(
        cls,
        config: GatewayConfig,
        approver_groups: tuple[str, ...] = ("approvers", "sre"),
        approvals_required: int = 1,
        allow_self_approval: bool = False,
    ) -> ApproverRules:
        identities = {name: ident.groups for name, ident in config.identities.items()}
        return cls(identities, tuple(approver_groups), approvals_required, allow_self_approval)

    def may_approve(self, approver: str, request: PendingApproval) -> bool:
        wanted = set(request.approver_groups or self.approver_groups)
        return bool(wanted & set(self.identities.get(approver, ())))


@dataclass(frozen=True, slots=True)
class Vote:
    """An approver's decision on one approval."""

    approval_id: str
    approver: str
    approve: bool
    note: str
    at: datetime


class RefusalCode(Enum):
    UNKNOWN = "unknown"
    NOT_APPROVER = "not_approver"
    OWN_COMMAND = "own_command"
    ALREADY_DECIDED = "already_decided"
    ALREADY_VOTED = "already_voted"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"
    NOTE_REQUIRED = "note_required"


@dataclass(frozen=True, slots=True)
class Refusal:
    code: RefusalCode
    message: str


@dataclass(frozen=True, slots=True)
class Decision:
    """What a vote led to: events to publish, the state to keep, or a refusal."""

    state: ApprovalState
    events: tuple[pb.Event, ...] = ()
    refusal: Refusal | None = None


def _ts(value: Any) -> datetime | None:
    return value.ToDatetime(tzinfo=UTC) if value.seconds or value.nanos else None


def evolve(state: ApprovalState, event: pb.Event) -> ApprovalState:
    """Fold one approval event into the state; other events and repeats change nothing."""
    kind = codec.event_type(event)
    if kind == "approval_requested":
        body = event.approval_requested
        if body.approval_id in state.pending or body.approval_id in state.decided:
            return _late_request(state, event)
        request = PendingApproval(
            approval_id=body.approval_id,
            session_id=event.session_id,
            command_id=event.command_id,
            command_text=body.command_text,
            requester=event.identity.human,
            agent=event.identity.agent,
            requester_groups=tuple(event.identity.groups),
            resource=event.resource.name,
            resource_kind=event.resource.kind,
            rule_ids=tuple(body.rule_ids),
            reason=body.reason,
            command_hash=body.command_hash,
            requested_at=_ts(event.occurred_at) or datetime.now(UTC),
            expires_at=_ts(body.expires_at),
            approver_groups=tuple(body.approver_groups),
            mode=body.mode or pb.APPROVAL_MODE_WAIT,
            parameters=tuple(body.parameters),
            estimated_rows=body.estimated_rows if body.HasField("estimated_rows") else None,
        )
        state = replace(state, pending={**state.pending, body.approval_id: request})
        if request.mode == pb.APPROVAL_MODE_ASYNC and request.command_hash:
            state = replace(
                state,
                by_hash={**state.by_hash, request.command_hash: request.approval_id},
                requests={**state.requests, request.approval_id: request},
            )
        return state
    if kind == "approval_voted":
        voted = event.approval_voted
        open_request = state.pending.get(voted.approval_id)
        if open_request is None or voted.approver in open_request.approvals:
            return state
        updated = replace(open_request, approvals=(*open_request.approvals, voted.approver))
        return replace(state, pending={**state.pending, voted.approval_id: updated})
    if kind == "approval_redeemed":
        aid = event.approval_redeemed.approval_id
        done = state.decided.get(aid)
        if done is not None and not done.redeemed:
            state = replace(state, decided={**state.decided, aid: replace(done, redeemed=True)})
        claimed = state.requests.get(aid)
        if claimed is None:
            return state  # redeemed already (or not an async approval)
        by_hash = dict(state.by_hash)
        if by_hash.get(claimed.command_hash) == claimed.approval_id:
            del by_hash[claimed.command_hash]
        requests = {k: v for k, v in state.requests.items() if k != claimed.approval_id}
        return replace(state, by_hash=by_hash, requests=requests)
    if kind in DECISIONS:
        body = getattr(event, kind)
        if body.approval_id in state.decided:
            return state  # the first decision stored is the one that counts
        if kind == WITHDRAWN and body.approval_id in state.requests:
            return state  # async: nobody waits by design, so nothing is withdrawn
        asked = state.pending.get(body.approval_id)
        outcome = Outcome(
            body.approval_id,
            kind,
            getattr(body, "approver", ""),
            body.reason if kind == WITHDRAWN else getattr(body, "note", ""),
            kept(asked) if asked is not None else None,
        )
        pending = {k: v for k, v in state.pending.items() if k != body.approval_id}
        decided = remember(state, body.approval_id, outcome)
        return replace(state, pending=pending, decided=decided)
    return state


def _late_request(state: ApprovalState, event: pb.Event) -> ApprovalState:
    """A repeated ApprovalRequested changes nothing; one folded after its decision (events
    reordered) tells the decided approval what was asked, if it did not know."""
    aid = event.approval_requested.approval_id
    done = state.decided.get(aid)
    if done is None or done.request is not None:
        return state
    asked = evolve(ApprovalState(), event).pending[aid]
    return replace(state, decided={**state.decided, aid: replace(done, request=kept(asked))})


RECENT_DECISIONS = 256  # decided approvals kept beyond those async requests still need


def remember(state: ApprovalState, approval_id: str, outcome: Outcome) -> dict[str, Outcome]:
    """`decided` with one more outcome, pruned: the live state keeps only the most recent
    RECENT_DECISIONS decisions (for "already decided" answers and late repeats of their
    events) and those of async requests not yet redeemed, so it does not grow with history
    and folding an event costs the same after a million approvals as after ten."""
    decided = {**state.decided, approval_id: outcome}
    excess = len(decided) - RECENT_DECISIONS - len(state.requests)
    if excess > 0:
        for old in list(decided):  # oldest first
            if excess <= 0:
                break
            if old not in state.requests and old != approval_id:
                del decided[old]
                excess -= 1
    return decided


def _decision_event(request: PendingApproval, at: datetime, **payload: Any) -> pb.Event:
    event = new_event(
        session_id=request.session_id,
        command_id=request.command_id,
        identity=pb.Identity(
            human=request.requester, agent=request.agent, groups=request.requester_groups
        ),
        resource=pb.Resource(name=request.resource, kind=request.resource_kind),  # type: ignore[arg-type]
        source=SOURCE,
        occurred_at=at,
        **payload,
    )
    event.event_id = str(uuid.uuid5(_DECISION_NAMESPACE, f"{request.approval_id}/decision"))
    return event


def _refuse(state: ApprovalState, code: RefusalCode, message: str) -> Decision:
    return Decision(state, refusal=Refusal(code, message))


def decide(state: ApprovalState, vote: Vote, rules: ApproverRules) -> Decision:
    """An approver's vote: refused, recorded (more approvals needed), or a decision event."""
    aid = vote.approval_id
    if aid in state.decided:
        done = state.decided[aid]
        if done.kind == WITHDRAWN:
            return _refuse(
                state,
                RefusalCode.WITHDRAWN,
                f"approval {aid} was withdrawn ({done.note or 'the agent left'}): nobody waits "
                "for it any more, so a decision would change nothing",
            )
        by = f" by {done.approver}" if done.approver else ""
        word = done.kind.removeprefix("approval_")
        return _refuse(state, RefusalCode.ALREADY_DECIDED, f"approval {aid} was already {word}{by}")
    request = state.pending.get(aid)
    if request is None:
        return _refuse(state, RefusalCode.UNKNOWN, f"no approval {aid} is pending")
    if request.expires_at is not None and vote.at >= request.expires_at:
        return _refuse(
            state,
            RefusalCode.EXPIRED,
            f"approval {aid} expired at {request.expires_at.isoformat()}",
        )
    if not rules.may_approve(vote.approver, request):
        groups = ", ".join(request.approver_groups or rules.approver_groups)
        return _refuse(
            state,
            RefusalCode.NOT_APPROVER,
            f"{vote.approver} is not an approver (approvers are in: {groups})",
        )
    if vote.approver == request.requester and not rules.allow_self_approval:
        return _refuse(
            state,
            RefusalCode.OWN_COMMAND,
            f"{vote.approver} requested this command and cannot decide on it",
        )
    note = vote.note.strip()
    if not vote.approve:
        if not note:
            return _refuse(
                state,
                RefusalCode.NOTE_REQUIRED,
                "a denial needs a note: the agent is told why, so it can adjust",
            )
        event = _decision_event(
            request,
            vote.at,
            approval_denied=pb.ApprovalDenied(
                approval_id=aid,
                approver=vote.approver,
                note=note,
                command_hash=request.command_hash,
            ),
        )
        return Decision(evolve(state, event), (event,))
    if vote.approver in request.approvals:
        return _refuse(state, RefusalCode.ALREADY_VOTED, f"{vote.approver} already approved {aid}")
    if len(request.approvals) + 1 < rules.approvals_required:
        # A vote, not yet a decision: on the stream, so every replica counts it.
        event = _decision_event(
            request,
            vote.at,
            approval_voted=pb.ApprovalVoted(approval_id=aid, approver=vote.approver, note=note),
        )
        event.event_id = str(uuid.uuid5(_DECISION_NAMESPACE, f"{aid}/vote/{vote.approver}"))
        return Decision(evolve(state, event), (event,))
    event = _grant(request, vote.at, (*request.approvals, vote.approver), note)
    return Decision(evolve(state, event), (event,))


def _grant(
    request: PendingApproval, at: datetime, approvers: tuple[str, ...], note: str
) -> pb.Event:
    return _decision_event(
        request,
        at,
        approval_granted=pb.ApprovalGranted(
            approval_id=request.approval_id,
            approver=", ".join(approvers),
            note=note,
            command_hash=request.command_hash,
        ),
    )


def complete(state: ApprovalState, rules: ApproverRules, now: datetime) -> Decision:
    """ApprovalGranted for every pending request that enough votes, folded from the stream,
    now approve: votes that reached different replicas still add up. The grant's event id is
    the approval's decision id, so replicas completing it at once store it once."""
    events = tuple(
        _grant(r, now, r.approvals, "")
        for r in state.pending.values()
        if len(r.approvals) >= rules.approvals_required
        and (r.expires_at is None or now < r.expires_at)
    )
    for event in events:
        state = evolve(state, event)
    return Decision(state, events)


def expire(state: ApprovalState, now: datetime) -> Decision:
    """ApprovalExpired for every pending request whose deadline has passed."""
    events = tuple(
        _decision_event(
            r,
            now,
            approval_expired=pb.ApprovalExpired(
                approval_id=r.approval_id, command_hash=r.command_hash
            ),
        )
        for r in state.pending.values()
        if r.expires_at is not None and now >= r.expires_at
    )
    for event in events:
        state = evolve(state, event)
    return Decision(state, events)


class RedeemOutcome(Enum):
    """What a re-submitted command (async mode) finds for its binding."""

    NONE = "none"  # nothing open: the proxy requests an approval
    PENDING = "pending"
    GRANTED = "granted"  # claimed: the command runs, once
    DENIED = "denied"  # claimed: the note is reported, once
    EXPIRED = "expired"  # claimed: the expiry is reported, once


_REDEEMED = {
    "approval_granted": RedeemOutcome.GRANTED,
    "approval_denied": RedeemOutcome.DENIED,
    "approval_expired": RedeemOutcome.EXPIRED,
}


@dataclass(frozen=True, slots=True)
class Resubmission:
    """A command submitted again in async mode: its binding and who sends it from where."""

    command_hash: str
    session_id: str
    command_id: str
    identity: pb.Identity
    resource: pb.Resource
    at: datetime


@dataclass(frozen=True, slots=True)
class Redemption:
    """What a re-submission found, the ApprovalRedeemed to publish when it claimed a decision,
    and the state after it."""

    state: ApprovalState
    outcome: RedeemOutcome
    approval: PendingApproval | None = None
    decision: Outcome | None = None
    events: tuple[pb.Event, ...] = ()


def redeem(state: ApprovalState, resubmission: Resubmission) -> Redemption:
    """Match a re-submitted command to its open async approval. A decided one is claimed by
    this command (an ApprovalRedeemed with a deterministic id, so of two replicas claiming at
    once the stream keeps one): a grant lets it run once; a denial or expiry is reported once.
    After the claim the binding is free, and the same command again needs a new approval."""
    aid = state.by_hash.get(resubmission.command_hash)
    request = state.requests.get(aid or "")
    if aid is None or request is None:
        return Redemption(state, RedeemOutcome.NONE)
    # The hash binds identity and resource already; this guards against a careless binding.
    if (
        request.requester != resubmission.identity.human
        or request.resource != resubmission.resource.name
    ):
        return Redemption(state, RedeemOutcome.NONE)
    outcome = state.decided.get(aid)
    if outcome is None:
        return Redemption(state, RedeemOutcome.PENDING, request)
    event = new_event(
        session_id=resubmission.session_id,
        command_id=resubmission.command_id,
        identity=resubmission.identity,
        resource=resubmission.resource,
        source=SOURCE,
        occurred_at=resubmission.at,
        approval_redeemed=pb.ApprovalRedeemed(approval_id=aid, decision=outcome.kind),
    )
    event.event_id = str(uuid.uuid5(_DECISION_NAMESPACE, f"{aid}/redeemed"))
    return Redemption(evolve(state, event), _REDEEMED[outcome.kind], request, outcome, (event,))


class Status(Enum):
    """What became of an approval, as its requester is told (`status_of`)."""

    UNKNOWN = "unknown"  # no such approval, another human's, or no longer remembered
    PENDING = "pending"
    GRANTED = "granted"
    DENIED = "denied"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"
    REDEEMED = "redeemed"  # granted in async mode and used up by a re-submission


_DECIDED = {
    "approval_granted": Status.GRANTED,
    "approval_denied": Status.DENIED,
    "approval_expired": Status.EXPIRED,
    WITHDRAWN: Status.WITHDRAWN,
}


@dataclass(frozen=True, slots=True)
class ApprovalStatus:
    """One approval's status, what was asked (a decided one's text is cut, see `kept`), and
    the decision, once there is one."""

    status: Status
    request: PendingApproval | None = None
    outcome: Outcome | None = None


def status_of(state: ApprovalState, approval_id: str, human: str, now: datetime) -> ApprovalStatus:
    """What became of one approval, told only to the human who requested it: for anybody else
    it is UNKNOWN, exactly like an id that never existed, so nobody learns about another's
    approvals by guessing ids. The live state forgets decided approvals after a while (see
    `remember`), and cannot tell whose a decision was when its request was never folded: those
    are UNKNOWN too. A pending request past its deadline is EXPIRED, as no vote can grant it
    any more (`decide`), even before its ApprovalExpired is stored. A grant claimed by an
    async-mode re-submission is REDEEMED; a claimed denial or expiry stays DENIED or EXPIRED
    (with `outcome.redeemed`)."""
    unknown = ApprovalStatus(Status.UNKNOWN)
    if not human:
        return unknown
    request = state.pending.get(approval_id)
    if request is not None:
        if request.requester != human:
            return unknown
        if request.expires_at is not None and now >= request.expires_at:
            return ApprovalStatus(Status.EXPIRED, request)
        return ApprovalStatus(Status.PENDING, request)
    done = state.decided.get(approval_id)
    if done is None or done.request is None or done.request.requester != human:
        return unknown
    status = _DECIDED[done.kind]
    if status is Status.GRANTED and done.redeemed:
        status = Status.REDEEMED
    return ApprovalStatus(status, done.request, done)
