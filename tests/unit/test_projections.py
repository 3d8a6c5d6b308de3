"""The audit projections: what one session folds into, and that folding is deterministic."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from google.protobuf.message import Message
from hypothesis import given
from hypothesis import strategies as st

from proctor.events import decode, encode, new_event
from proctor.events.v1 import events_pb2 as pb
from proctor.testing import lifecycle
from proctor_audit.projections import Projections, evolve, fold

SESSION = "7d2e4f6a8b0c1d3e5f7a9b1c3d5e7f9a"
START = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
EVENTS = lifecycle(SESSION, start=START)
STREAM = list(enumerate(EVENTS, start=1))


def tick(n: int) -> datetime:
    """When the n-th lifecycle event happened (it advances the clock 5 ms per event)."""
    return START + timedelta(milliseconds=5 * n)


def folded() -> Projections:
    return fold(Projections(), STREAM)


def test_session_row() -> None:
    state = folded()

    assert list(state.sessions) == [SESSION]
    session = state.sessions[SESSION]
    assert session.command_count == 4
    assert session.close_reason == "client closed"
    assert session.closed_at == tick(18)
    assert session.opened_at == tick(1)
    assert (session.protocol, session.client_name) == ("postgres", "psql")
    assert (session.human, session.agent, session.groups) == (
        "alice@example.com",
        "claude-code",
        ("engineering",),
    )
    assert (session.resource, session.resource_kind) == ("demo", "postgres")
    assert session.last_seq == 18


def test_command_rows() -> None:
    state = folded()
    commands = sorted(state.commands.values(), key=lambda row: row.received_at or START)

    assert [c.status for c in commands] == ["executed", "denied", "executed", "blocked"]
    assert [c.action for c in commands] == ["allow", "review", "review", "block"]
    assert [len(c.timeline) for c in commands] == [4, 4, 5, 3]
    read, denied, fixed, dropped = commands
    assert read.text == "SELECT name, email FROM customers"
    assert (read.row_count, read.duration_us, read.values_masked) == (3, 850, 3)
    assert (denied.approver, denied.note) == ("bob@example.com", "wrong namespace")
    assert fixed.approval_id and fixed.approval_id != denied.approval_id
    assert (fixed.row_count, fixed.duration_us) == (1, 2300)
    assert dropped.rule_ids == ("ddl.drop",)
    assert dropped.row_count is None


def test_timelines_follow_the_stream() -> None:
    state = folded()
    entries = [entry for row in state.commands.values() for entry in row.timeline]

    assert sorted(seq for seq, *_ in entries) == [s for s in range(1, 19) if s not in (1, 18)]
    denied = next(row for row in state.commands.values() if row.status == "denied")
    assert [kind for _, kind, _, _ in denied.timeline] == [
        "command_received",
        "command_classified",
        "approval_requested",
        "approval_denied",
    ]
    assert denied.timeline[-1][2] == tick(9).isoformat()
    assert "wrong namespace" in denied.timeline[-1][3]


def test_approval_rows() -> None:
    state = folded()
    approvals = sorted(state.approvals.values(), key=lambda row: row.requested_at or START)

    assert [a.status for a in approvals] == ["denied", "granted"]
    denied, granted = approvals
    assert (denied.approver, denied.note, denied.decided_at) == (
        "bob@example.com",
        "wrong namespace",
        tick(9),
    )
    assert (granted.approver, granted.note, granted.decided_at) == ("bob@example.com", "", tick(13))
    assert granted.approver_groups == ("sre",)
    assert "'staging'" in granted.command_text
    assert {a.command_id for a in approvals} <= set(state.commands)


@given(st.sets(st.integers(1, len(STREAM) - 1), max_size=len(STREAM) - 1))
def test_folding_in_chunks_equals_folding_at_once(splits: set[int]) -> None:
    # The audit service folds one batch per transaction, and a rebuild folds them all at once.
    bounds = [0, *sorted(splits), len(STREAM)]
    state = Projections()
    for lo, hi in itertools.pairwise(bounds):
        state = fold(state, STREAM[lo:hi])

    assert state == folded()


def test_folding_one_event_at_a_time_equals_folding_at_once() -> None:
    state = Projections()
    for seq, event in STREAM:
        state = evolve(state, seq, event)
    assert state == folded()


def test_replaying_stored_bytes_gives_the_same_rows() -> None:
    replayed = [(seq, decode(encode(event))) for seq, event in STREAM]
    assert fold(Projections(), replayed) == folded()


def test_fold_does_not_mutate_its_input() -> None:
    before = fold(Projections(), STREAM[:5])
    snapshot = (dict(before.sessions), dict(before.commands), dict(before.approvals))

    fold(before, STREAM[5:])

    assert (before.sessions, before.commands, before.approvals) == snapshot


# Field 99 of Event, length-delimited: a payload type added after this version was built.
FUTURE_PAYLOAD = b"\x9a\x06\x02\x08\x01"


def test_an_unknown_payload_is_ignored() -> None:
    envelope = pb.Event(
        event_id="e-future",
        session_id=SESSION,
        command_id=EVENTS[1].command_id,
        identity=EVENTS[1].identity,
        schema_version=1,
    )
    future = decode(encode(envelope) + FUTURE_PAYLOAD)
    assert future.WhichOneof("payload") is None
    assert future.event_id == "e-future"
    before = folded()

    after = evolve(before, 19, future)

    assert after == before


def _decision(at: datetime, command_id: str, **payload: Message) -> pb.Event:
    return new_event(
        session_id=SESSION,
        identity=EVENTS[0].identity,
        resource=EVENTS[0].resource,
        source="approval",
        command_id=command_id,
        occurred_at=at,
        **payload,
    )


def test_a_second_decision_keeps_the_first() -> None:
    approval_id = EVENTS[8].approval_denied.approval_id
    late = _decision(
        tick(30),
        EVENTS[8].command_id,
        approval_granted=pb.ApprovalGranted(
            approval_id=approval_id, approver="mallory@example.com"
        ),
    )

    state = evolve(folded(), 19, late)

    row = state.approvals[approval_id]
    assert row.status == "denied"
    assert (row.approver, row.note, row.decided_at) == (
        "bob@example.com",
        "wrong namespace",
        tick(9),
    )
    assert row.last_seq == 19


def test_expiry_after_a_decision_keeps_the_decision() -> None:
    granted = next(a for a in folded().approvals.values() if a.status == "granted")
    late = _decision(
        tick(40),
        granted.command_id,
        approval_expired=pb.ApprovalExpired(approval_id=granted.approval_id),
    )

    row = evolve(folded(), 19, late).approvals[granted.approval_id]

    assert (row.status, row.decided_at) == ("granted", tick(13))


def test_an_undecided_approval_expires() -> None:
    requested = EVENTS[7]
    approval_id = requested.approval_requested.approval_id
    state = fold(Projections(), STREAM[:8])
    assert state.approvals[approval_id].status == "pending"

    expired = pb.ApprovalExpired(approval_id=approval_id)
    state = evolve(state, 9, _decision(tick(50), requested.command_id, approval_expired=expired))

    assert state.approvals[approval_id].status == "expired"
    assert state.approvals[approval_id].decided_at == tick(50)
    assert state.commands[requested.command_id].status == "expired"


def test_a_request_whose_agent_left_is_withdrawn() -> None:
    requested = EVENTS[7]
    approval_id = requested.approval_requested.approval_id
    state = fold(Projections(), STREAM[:8])

    gone = pb.ApprovalWithdrawn(approval_id=approval_id, reason="the client disconnected")
    state = evolve(state, 9, _decision(tick(50), requested.command_id, approval_withdrawn=gone))

    row = state.approvals[approval_id]
    assert (row.status, row.note, row.decided_at) == ("withdrawn", "the client disconnected",
                                                      tick(50))  # fmt: skip
    assert state.commands[requested.command_id].status == "withdrawn"


def test_a_redeemed_grant_marks_the_approval_and_the_resubmitted_command() -> None:
    granted = next(a for a in folded().approvals.values() if a.status == "granted")
    redeemed = new_event(
        session_id="c" * 32,
        identity=EVENTS[0].identity,
        resource=EVENTS[0].resource,
        source="approval",
        command_id="resubmitted",
        occurred_at=tick(60),
        approval_redeemed=pb.ApprovalRedeemed(
            approval_id=granted.approval_id, decision="approval_granted"
        ),
    )
    state = evolve(folded(), 30, redeemed)
    row = state.approvals[granted.approval_id]
    assert (row.status, row.redeemed_by, row.redeemed_at) == ("granted", "resubmitted", tick(60))
    command = state.commands["resubmitted"]
    assert (command.status, command.approval_id) == ("approved", granted.approval_id)
    assert "redeemed" in command.timeline[-1][3]
    # A second claim (a replayed or duplicated event) changes nothing of the first.
    again = evolve(state, 31, redeemed).approvals[granted.approval_id]
    assert (again.redeemed_by, again.redeemed_at) == ("resubmitted", tick(60))


def test_an_approval_row_keeps_the_values_it_was_asked_for() -> None:
    requested = _decision(
        tick(70),
        "bound",
        approval_requested=pb.ApprovalRequested(
            approval_id="apv",
            command_text="UPDATE accounts SET owner = $1 WHERE id = $2",
            parameters=["mallory", "3"],
        ),
    )
    row = evolve(folded(), 40, requested).approvals["apv"]
    assert row.parameters == ("mallory", "3")
    assert row.command_text.endswith("$2")
