"""The approval state stays live-sized however long the history, and checkpoints of it read
back as the same state."""

from __future__ import annotations

from proctor.events import new_event
from proctor.events.v1 import events_pb2 as pb
from proctor_approval.checkpoint import restore, snapshot
from proctor_approval.core import (
    RECENT_DECISIONS,
    ApprovalState,
    RedeemOutcome,
    evolve,
    redeem,
)
from tests.unit.test_approval_core import async_requested, requested, resubmit


def granted(aid: str) -> pb.Event:
    return new_event(
        session_id="a" * 32,
        command_id="c1",
        identity=pb.Identity(human="alice"),
        resource=pb.Resource(name="target"),
        source="approval",
        approval_granted=pb.ApprovalGranted(approval_id=aid, approver="bob"),
    )


def test_decided_approvals_are_pruned_from_the_live_state() -> None:
    state = evolve(ApprovalState(), async_requested("async1", binding="h1"))
    state = evolve(state, granted("async1"))  # decided first, redeemed much later
    for n in range(3 * RECENT_DECISIONS):
        state = evolve(evolve(state, requested(f"ap{n}")), granted(f"ap{n}"))
    assert not state.pending
    assert len(state.decided) == RECENT_DECISIONS + 1
    assert f"ap{3 * RECENT_DECISIONS - 1}" in state.decided and "ap0" not in state.decided
    # The async decision waits for its re-submission, whatever came after it.
    assert redeem(state, resubmit("h1")).outcome is RedeemOutcome.GRANTED


def test_a_checkpoint_reads_back_as_the_same_state() -> None:
    state = evolve(ApprovalState(), async_requested("async1", binding="h1"))
    state = evolve(state, requested("ap2"))
    state = evolve(evolve(state, requested("ap3")), granted("ap3"))
    again, seq = restore(snapshot(state, 42))
    assert (again, seq) == (state, 42)
