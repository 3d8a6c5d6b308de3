"""One approval's status as its requester is told it: pending, decided with the note, expired,
withdrawn or redeemed; and UNKNOWN for anybody else, alike for a missing id."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from proctor.events import new_event
from proctor.events.v1 import events_pb2 as pb
from proctor_approval.checkpoint import restore, snapshot
from proctor_approval.core import (
    KEPT_TEXT,
    RECENT_DECISIONS,
    Status,
    decide,
    evolve,
    expire,
    redeem,
    status_of,
)
from tests.unit.test_approval_core import (
    T0,
    async_requested,
    requested,
    resubmit,
    rules,
    state_with,
    vote,
)

SOON = T0 + timedelta(seconds=20)


def withdrawn(aid: str = "ap1") -> pb.Event:
    return new_event(
        session_id="a" * 32, command_id="c1", identity=pb.Identity(human="alice"),
        resource=pb.Resource(name="target"), source="ingress-proxy",
        approval_withdrawn=pb.ApprovalWithdrawn(approval_id=aid, reason="the client left"),
    )  # fmt: skip


def test_a_pending_request_is_told_with_what_was_asked() -> None:
    found = status_of(state_with(requested()), "ap1", "alice", SOON)
    assert found.status is Status.PENDING and found.outcome is None
    assert found.request is not None
    assert found.request.command_text == "UPDATE accounts SET balance = 0 WHERE id = 1"
    assert found.request.rule_ids == ("write.update",) and found.request.resource == "target"


def test_a_grant_is_told_with_the_approver_and_the_note() -> None:
    state = decide(state_with(requested()), vote("bob", note="fine"), rules()).state
    found = status_of(state, "ap1", "alice", SOON)
    assert found.status is Status.GRANTED
    assert found.outcome is not None and (found.outcome.approver, found.outcome.note) == (
        "bob", "fine",
    )  # fmt: skip
    assert found.request is not None and found.request.reason == "writes need approval"


def test_a_denial_is_told_with_its_note() -> None:
    state = decide(state_with(requested()), vote("carol", False, "wrong namespace"), rules()).state
    found = status_of(state, "ap1", "alice", SOON)
    assert found.status is Status.DENIED
    assert found.outcome is not None and found.outcome.note == "wrong namespace"
    assert found.outcome.approver == "carol"


def test_an_expired_request_is_expired_once_stored_and_once_past_its_deadline() -> None:
    state = state_with(requested(expires_in=5))
    assert status_of(state, "ap1", "alice", T0).status is Status.PENDING
    # No vote can grant it any more, though its expiry is not stored yet.
    assert status_of(state, "ap1", "alice", T0 + timedelta(seconds=5)).status is Status.EXPIRED
    expired = expire(state, T0 + timedelta(seconds=6)).state
    assert "ap1" not in expired.pending
    assert status_of(expired, "ap1", "alice", SOON).status is Status.EXPIRED


def test_a_withdrawn_request_is_withdrawn_with_the_reason() -> None:
    found = status_of(state_with(requested(), withdrawn()), "ap1", "alice", SOON)
    assert found.status is Status.WITHDRAWN
    assert found.outcome is not None and found.outcome.note == "the client left"


@pytest.mark.parametrize("decided", [False, True])
def test_another_humans_approval_is_unknown_like_a_missing_one(decided: bool) -> None:
    state = state_with(requested())
    if decided:
        state = decide(state, vote("carol", False, "no"), rules()).state
    assert status_of(state, "ap1", "alice", SOON).status is not Status.UNKNOWN
    for human in ("bob", "mallory", ""):
        other = status_of(state, "ap1", human, SOON)
        assert (
            other
            == status_of(state, "nope", human, SOON)
            == status_of(state, "nope", "alice", SOON)
        )
        assert other.status is Status.UNKNOWN and other.request is None and other.outcome is None


def test_a_used_async_grant_is_redeemed_and_a_claimed_denial_stays_denied() -> None:
    state = decide(state_with(async_requested()), vote("bob"), rules()).state
    assert status_of(state, "ap1", "alice", SOON).status is Status.GRANTED
    claimed = redeem(state, resubmit())
    found = status_of(claimed.state, "ap1", "alice", SOON)
    assert found.status is Status.REDEEMED and found.outcome is not None
    assert found.outcome.redeemed
    # Another replica folds the same ApprovalRedeemed from the stream: the same answer.
    assert status_of(evolve(state, claimed.events[0]), "ap1", "alice", SOON) == found

    denied = decide(state_with(async_requested()), vote("bob", False, "no"), rules()).state
    found = status_of(redeem(denied, resubmit()).state, "ap1", "alice", SOON)
    assert found.status is Status.DENIED and found.outcome is not None and found.outcome.redeemed


def test_a_decision_folded_before_its_request_learns_whose_it_is() -> None:
    granted = decide(state_with(requested()), vote("bob"), rules()).events[0]
    early = state_with(granted)
    assert status_of(early, "ap1", "alice", SOON).status is Status.UNKNOWN
    late = evolve(early, requested())
    assert "ap1" not in late.pending
    assert status_of(late, "ap1", "alice", SOON).status is Status.GRANTED


def test_decided_approvals_keep_a_bounded_copy_and_are_forgotten_in_time() -> None:
    event = requested()
    event.approval_requested.command_text = "SELECT " + "x" * (10 * KEPT_TEXT)
    event.approval_requested.parameters.append("p" * 10_000)
    state = decide(state_with(event), vote("bob"), rules()).state
    found = status_of(state, "ap1", "alice", SOON)
    assert found.request is not None and found.request.parameters == ()
    assert len(found.request.command_text) == KEPT_TEXT
    assert found.request.command_text.endswith("…")
    for n in range(RECENT_DECISIONS):
        state = decide(evolve(state, requested(f"ap{n + 2}")), vote("bob", aid=f"ap{n + 2}"),
                       rules()).state  # fmt: skip
    assert status_of(state, "ap1", "alice", SOON).status is Status.UNKNOWN


def test_a_checkpoint_keeps_what_the_status_needs() -> None:
    state = decide(state_with(requested()), vote("carol", False, "no"), rules()).state
    again, _ = restore(snapshot(state, 7))
    assert status_of(again, "ap1", "alice", SOON) == status_of(state, "ap1", "alice", SOON)
    assert status_of(again, "ap1", "bob", SOON).status is Status.UNKNOWN


def test_a_checkpoint_of_the_previous_version_reads_without_the_requests() -> None:
    # Its decided approvals do not say whose they were: they are UNKNOWN, not anybody's.
    old = json.loads(snapshot(decide(state_with(requested()), vote("bob"), rules()).state, 7))
    old["version"] = 1
    for outcome in old["decided"]:
        del outcome["request"], outcome["redeemed"]
    state, seq = restore(json.dumps(old).encode())
    assert seq == 7 and state.decided["ap1"].kind == "approval_granted"
    assert status_of(state, "ap1", "alice", SOON).status is Status.UNKNOWN
