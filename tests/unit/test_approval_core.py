"""The approval core: who may decide, what a vote leads to, and expiry, with no broker."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from proctor.events import codec, new_event
from proctor.events.v1 import events_pb2 as pb
from proctor.gateway import GatewayConfig, IdentityConfig
from proctor_approval.core import (
    ApprovalState,
    ApproverRules,
    RedeemOutcome,
    RefusalCode,
    Resubmission,
    Vote,
    complete,
    decide,
    evolve,
    expire,
    redeem,
)

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
SESSION = "a" * 32


def config() -> GatewayConfig:
    def ident(name: str, *groups: str) -> IdentityConfig:
        return IdentityConfig(name, groups, "0" * 64)

    ids = [
        ident("alice", "engineering"),
        ident("bob", "sre"),
        ident("carol", "approvers"),
        ident("dave", "sre", "engineering"),
        ident("erin", "dba"),
    ]
    return GatewayConfig({i.name: i for i in ids}, {})


def rules(**kwargs: object) -> ApproverRules:
    return ApproverRules.from_config(config(), **kwargs)  # type: ignore[arg-type]


def requested(
    approval_id: str = "ap1",
    requester: str = "alice",
    expires_in: float | None = 300,
    approver_groups: tuple[str, ...] = (),
) -> pb.Event:
    body = pb.ApprovalRequested(
        approval_id=approval_id,
        command_text="UPDATE accounts SET balance = 0 WHERE id = 1",
        rule_ids=["write.update"],
        reason="writes need approval",
        approver_groups=list(approver_groups),
    )
    if expires_in is not None:
        body.expires_at.FromDatetime(T0 + timedelta(seconds=expires_in))
    return new_event(
        session_id=SESSION,
        command_id="c1",
        identity=pb.Identity(human=requester, agent="psql", groups=["engineering"]),
        resource=pb.Resource(name="target", kind=pb.RESOURCE_KIND_POSTGRES),
        source="ingress-proxy",
        occurred_at=T0,
        approval_requested=body,
    )


def state_with(*events: pb.Event) -> ApprovalState:
    state = ApprovalState()
    for event in events:
        state = evolve(state, event)
    return state


def vote(approver: str, approve: bool = True, note: str = "", aid: str = "ap1") -> Vote:
    return Vote(aid, approver, approve, note, T0 + timedelta(seconds=10))


def test_a_request_becomes_pending_with_what_it_described() -> None:
    state = state_with(requested())
    pending = state.pending["ap1"]
    assert pending.requester == "alice"
    assert pending.resource == "target"
    assert pending.rule_ids == ("write.update",)
    assert pending.expires_at == T0 + timedelta(seconds=300)
    assert pending.session_id == SESSION and pending.command_id == "c1"


def test_an_approver_grants_and_the_event_goes_to_the_requesters_session() -> None:
    decision = decide(state_with(requested()), vote("bob", note="ok"), rules())
    assert decision.refusal is None
    (event,) = decision.events
    assert codec.event_type(event) == "approval_granted"
    assert event.approval_granted.approver == "bob"
    assert event.approval_granted.note == "ok"
    assert codec.subject_for(event) == f"proctor.evt.approval_granted.{SESSION}"
    assert event.command_id == "c1" and event.identity.human == "alice"
    assert event.source == "approval"
    assert "ap1" not in decision.state.pending
    assert decision.state.decided["ap1"].kind == "approval_granted"


def test_a_denial_carries_the_note() -> None:
    decision = decide(state_with(requested()), vote("carol", False, " wrong namespace "), rules())
    (event,) = decision.events
    assert event.approval_denied.note == "wrong namespace"
    assert event.approval_denied.approver == "carol"


@pytest.mark.parametrize("note", ["", "   "])
def test_a_denial_without_a_note_is_refused(note: str) -> None:
    state = state_with(requested())
    decision = decide(state, vote("bob", False, note), rules())
    assert decision.refusal is not None
    assert decision.refusal.code is RefusalCode.NOTE_REQUIRED
    assert decision.events == () and decision.state == state


@pytest.mark.parametrize("who", ["erin", "mallory"])
def test_someone_outside_the_approver_groups_is_refused(who: str) -> None:
    decision = decide(state_with(requested()), vote(who), rules())
    assert decision.refusal is not None and decision.refusal.code is RefusalCode.NOT_APPROVER
    assert decision.events == ()


def test_approver_groups_are_configurable() -> None:
    decision = decide(state_with(requested()), vote("erin"), rules(approver_groups=("dba",)))
    assert decision.refusal is None and decision.events


def test_the_requests_own_approver_groups_take_precedence() -> None:
    state = state_with(requested(approver_groups=("dba",)))
    assert decide(state, vote("bob"), rules()).refusal is not None
    assert decide(state, vote("erin"), rules()).events


def test_a_requester_cannot_approve_their_own_command_unless_allowed() -> None:
    state = state_with(requested(requester="dave"))
    decision = decide(state, vote("dave"), rules())
    assert decision.refusal is not None and decision.refusal.code is RefusalCode.OWN_COMMAND
    assert decide(state, vote("dave"), rules(allow_self_approval=True)).events


def test_a_second_decision_is_refused() -> None:
    state = decide(state_with(requested()), vote("bob"), rules()).state
    decision = decide(state, vote("carol", False, "no"), rules())
    assert decision.refusal is not None
    assert decision.refusal.code is RefusalCode.ALREADY_DECIDED
    assert "granted by bob" in decision.refusal.message


def test_an_unknown_id_is_refused() -> None:
    decision = decide(state_with(requested()), vote("bob", aid="nope"), rules())
    assert decision.refusal is not None and decision.refusal.code is RefusalCode.UNKNOWN


def test_a_vote_after_expiry_is_refused() -> None:
    state = state_with(requested(expires_in=5))
    decision = decide(state, vote("bob"), rules())
    assert decision.refusal is not None and decision.refusal.code is RefusalCode.EXPIRED


def test_n_approvals_need_n_distinct_approvers() -> None:
    two = rules(approvals_required=2)
    first = decide(state_with(requested()), vote("bob"), two)
    assert first.refusal is None
    (voted,) = first.events
    assert codec.event_type(voted) == "approval_voted" and voted.approval_voted.approver == "bob"
    assert first.state.pending["ap1"].approvals == ("bob",)
    again = decide(first.state, vote("bob"), two)
    assert again.refusal is not None and again.refusal.code is RefusalCode.ALREADY_VOTED
    second = decide(first.state, vote("carol"), two)
    (event,) = second.events
    assert event.approval_granted.approver == "bob, carol"


def test_one_denial_decides_even_when_several_approvals_are_needed() -> None:
    two = rules(approvals_required=2)
    first = decide(state_with(requested()), vote("bob"), two)
    decision = decide(first.state, vote("carol", False, "not today"), two)
    assert codec.event_type(decision.events[0]) == "approval_denied"


def test_expiry_emits_once_for_what_is_past_its_deadline() -> None:
    state = state_with(requested("ap1", expires_in=5), requested("ap2", expires_in=60),
                       requested("ap3", expires_in=None))  # fmt: skip
    decision = expire(state, T0 + timedelta(seconds=6))
    assert [e.approval_expired.approval_id for e in decision.events] == ["ap1"]
    assert set(decision.state.pending) == {"ap2", "ap3"}
    assert expire(decision.state, T0 + timedelta(seconds=6)).events == ()


def test_decisions_seen_on_the_stream_close_the_request_and_the_first_one_counts() -> None:
    denied = decide(state_with(requested()), vote("bob", False, "no"), rules()).events[0]
    expired = expire(state_with(requested()), T0 + timedelta(hours=1)).events[0]
    state = state_with(requested(), denied, expired, requested())
    assert state.pending == {}
    assert state.decided["ap1"].kind == "approval_denied"


def test_every_decision_on_one_approval_has_the_same_event_id() -> None:
    # So JetStream's duplicate window stores one decision when two replicas race.
    state = state_with(requested())
    granted = decide(state, vote("bob"), rules()).events[0]
    denied = decide(state, vote("carol", False, "no"), rules()).events[0]
    expired = expire(state, T0 + timedelta(hours=1)).events[0]
    assert granted.event_id == denied.event_id == expired.event_id
    other = decide(state_with(requested("ap2")), vote("bob", aid="ap2"), rules()).events[0]
    assert other.event_id != granted.event_id


def test_rebuilding_from_the_same_events_gives_the_same_state() -> None:
    events = [requested("ap1"), requested("ap2")]
    events += decide(state_with(*events), vote("bob", aid="ap1"), rules()).events
    assert state_with(*events) == state_with(*events)
    assert set(state_with(*events).pending) == {"ap2"}


# ---- async mode: a re-submission redeems the decision, once ----------------------------------


def async_requested(aid: str = "ap1", binding: str = "h1", requester: str = "alice") -> pb.Event:
    event = requested(aid, requester=requester)
    event.approval_requested.mode = pb.APPROVAL_MODE_ASYNC
    event.approval_requested.command_hash = binding
    return event


def resubmit(
    binding: str = "h1", human: str = "alice", resource: str = "target", command: str = "c9"
) -> Resubmission:
    return Resubmission(
        command_hash=binding,
        session_id="b" * 32,
        command_id=command,
        identity=pb.Identity(human=human, agent="psql"),
        resource=pb.Resource(name=resource, kind=pb.RESOURCE_KIND_POSTGRES),
        at=T0 + timedelta(seconds=20),
    )


def test_nothing_to_redeem_for_an_unknown_binding_or_a_wait_mode_approval() -> None:
    assert redeem(ApprovalState(), resubmit()).outcome is RedeemOutcome.NONE
    waiting = requested()
    waiting.approval_requested.command_hash = "h1"  # wait mode: the held statement used it
    state = state_with(waiting)
    state = decide(state, vote("bob"), rules()).state
    assert redeem(state, resubmit()).outcome is RedeemOutcome.NONE


def test_a_grant_is_redeemed_once_by_the_resubmitted_command() -> None:
    state = state_with(async_requested())
    pending = redeem(state, resubmit())
    assert pending.outcome is RedeemOutcome.PENDING and pending.events == ()
    assert pending.approval is not None and pending.approval.approval_id == "ap1"
    state = decide(state, vote("bob", note="go"), rules()).state
    granted = redeem(state, resubmit(command="c9"))
    assert granted.outcome is RedeemOutcome.GRANTED
    assert granted.decision is not None and granted.decision.approver == "bob"
    (event,) = granted.events
    assert codec.event_type(event) == "approval_redeemed"
    assert event.approval_redeemed.approval_id == "ap1"
    assert event.approval_redeemed.decision == "approval_granted"
    assert event.command_id == "c9" and event.session_id == "b" * 32
    # Deterministic: two replicas claiming at once publish the same event id.
    assert event.event_id == redeem(state, resubmit(command="c10")).events[0].event_id
    # Spent: the next submission of the same command needs a new approval.
    assert redeem(granted.state, resubmit()).outcome is RedeemOutcome.NONE
    # Folding the event from the stream (another replica) spends it too, once.
    assert redeem(evolve(state, event), resubmit()).outcome is RedeemOutcome.NONE
    assert evolve(evolve(state, event), event) == evolve(state, event)


def test_a_denial_and_an_expiry_are_reported_once() -> None:
    state = state_with(async_requested())
    denied = decide(state, vote("bob", approve=False, note="wrong namespace"), rules()).state
    told = redeem(denied, resubmit())
    assert told.outcome is RedeemOutcome.DENIED
    assert told.decision is not None and told.decision.note == "wrong namespace"
    assert redeem(told.state, resubmit()).outcome is RedeemOutcome.NONE
    expired = expire(state, T0 + timedelta(seconds=301)).state
    assert redeem(expired, resubmit()).outcome is RedeemOutcome.EXPIRED


def test_the_binding_belongs_to_one_identity_and_resource() -> None:
    state = decide(state_with(async_requested()), vote("bob"), rules()).state
    assert redeem(state, resubmit(human="mallory")).outcome is RedeemOutcome.NONE
    assert redeem(state, resubmit(resource="other")).outcome is RedeemOutcome.NONE
    assert redeem(state, resubmit(binding="h2")).outcome is RedeemOutcome.NONE


def test_a_newer_request_for_the_same_binding_takes_over() -> None:
    state = state_with(async_requested("ap1"), async_requested("ap2"))
    state = decide(state, vote("bob", aid="ap2"), rules()).state
    found = redeem(state, resubmit())
    assert found.outcome is RedeemOutcome.GRANTED
    assert found.approval is not None and found.approval.approval_id == "ap2"


def test_votes_cast_on_different_replicas_add_up_to_one_grant() -> None:
    """bob's vote reaches replica A, carol's replica B; each folds the other's from the
    stream, and whichever completes the approval first publishes the grant, once."""
    two = rules(approvals_required=2)
    start = state_with(requested())
    on_a = decide(start, vote("bob"), two)
    on_b = decide(start, vote("carol"), two)
    assert codec.event_type(on_a.events[0]) == codec.event_type(on_b.events[0]) == "approval_voted"
    a = evolve(on_a.state, on_b.events[0])
    b = evolve(on_b.state, on_a.events[0])
    grant_a = complete(a, two, T0 + timedelta(seconds=20))
    grant_b = complete(b, two, T0 + timedelta(seconds=20))
    (event_a,), (event_b,) = grant_a.events, grant_b.events
    assert event_a.event_id == event_b.event_id  # the stream keeps one
    assert sorted(event_a.approval_granted.approver.split(", ")) == ["bob", "carol"]
    assert complete(grant_a.state, two, T0 + timedelta(seconds=21)).events == ()
    # A vote folded twice counts once; one vote is not enough.
    once = evolve(evolve(start, on_a.events[0]), on_a.events[0])
    assert once.pending["ap1"].approvals == ("bob",)
    assert complete(once, two, T0 + timedelta(seconds=20)).events == ()
    # Past its deadline, votes grant nothing (it expires instead).
    assert complete(a, two, T0 + timedelta(seconds=400)).events == ()


# ---- withdrawn: the waiting agent left ---------------------------------------------------------


def withdrawn(aid: str = "ap1", reason: str = "the client disconnected") -> pb.Event:
    return new_event(
        session_id=SESSION,
        command_id="c1",
        identity=pb.Identity(human="alice", agent="psql"),
        resource=pb.Resource(name="target"),
        source="ingress-proxy",
        occurred_at=T0 + timedelta(seconds=5),
        approval_withdrawn=pb.ApprovalWithdrawn(approval_id=aid, reason=reason),
    )


def test_a_withdrawn_request_is_no_longer_pending_and_a_decision_changes_nothing() -> None:
    state = state_with(requested(), withdrawn())
    assert "ap1" not in state.pending
    assert state.decided["ap1"].kind == "approval_withdrawn"
    decision = decide(state, vote("bob"), rules())
    assert decision.events == ()
    assert decision.refusal is not None
    assert decision.refusal.code is RefusalCode.WITHDRAWN
    assert "the client disconnected" in decision.refusal.message
    assert "nobody waits" in decision.refusal.message


def test_a_withdrawal_after_the_decision_changes_nothing() -> None:
    state = decide(state_with(requested()), vote("bob"), rules()).state
    assert evolve(state, withdrawn()).decided["ap1"].kind == "approval_granted"


def test_an_async_request_is_not_withdrawn() -> None:
    state = state_with(async_requested(), withdrawn())
    assert "ap1" in state.pending
    assert decide(state, vote("bob"), rules()).refusal is None
