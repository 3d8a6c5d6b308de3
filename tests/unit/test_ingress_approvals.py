"""What an approval is bound to: the normalized command, its parameters, the identity and the
resource; and how the classifier routes a review to its approvers and mode."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from proctor import pgwire
from proctor.classifier.v1 import classifier_pb2 as cpb
from proctor.events.v1 import events_pb2 as pb
from proctor.policy import Policy, parse_policy
from proctor_classifier.core import classify
from proctor_ingress.approvals import command_binding

UPDATE = "UPDATE accounts SET balance = 0 WHERE id = 1"


def bind(params: list[bytes | None], formats: tuple[int, ...] = (), portal: str = "") -> bytes:
    body = portal.encode() + b"\0" + b"stmt\0" + struct.pack("!h", len(formats))
    body += b"".join(struct.pack("!h", f) for f in formats)
    body += struct.pack("!h", len(params))
    for p in params:
        body += struct.pack("!i", -1) if p is None else struct.pack("!i", len(p)) + p
    return body + struct.pack("!hh", 1, 0)  # result formats: not part of the binding


def test_layout_comments_and_keyword_case_do_not_change_the_binding() -> None:
    same = [
        UPDATE,
        "update accounts set balance=0 where id=1",
        "UPDATE  accounts\n   SET balance = 0 -- reset\n WHERE id = 1;",
        "/* c */ UPDATE accounts SET balance = 0 WHERE id = 1",
    ]
    assert len({command_binding(t, b"", "alice", "demo") for t in same}) == 1


@pytest.mark.parametrize(
    "changed",
    [
        "UPDATE accounts SET balance = 0 WHERE id = 2",
        "UPDATE accounts SET balance = 1 WHERE id = 1",
        "UPDATE accounts SET balance = 0 WHERE id >= 1",
        "UPDATE accounts SET credit = 0 WHERE id = 1",
        "UPDATE account SET balance = 0 WHERE id = 1",
        "UPDATE accounts SET balance = '0' WHERE id = 1",
    ],
)
def test_any_change_to_the_command_changes_the_binding(changed: str) -> None:
    assert command_binding(changed, b"", "alice", "demo") != command_binding(
        UPDATE, b"", "alice", "demo"
    )


def test_parameters_identity_and_resource_are_bound() -> None:
    sql = "UPDATE accounts SET balance = $1 WHERE id = $2"
    five = pgwire.bind_parameters(bind([b"5", b"3"]))
    six = pgwire.bind_parameters(bind([b"6", b"3"]))
    null = pgwire.bind_parameters(bind([None, b"3"]))
    binary = pgwire.bind_parameters(bind([b"5", b"3"], [1]))
    base = command_binding(sql, five, "alice", "demo")
    assert pgwire.bind_parameters(bind([b"5", b"3"], portal="p1")) == five
    assert (
        len({base, *(command_binding(sql, p, "alice", "demo") for p in (six, null, binary))}) == 4
    )
    assert command_binding(sql, five, "bob", "demo") != base
    assert command_binding(sql, five, "alice", "prod") != base
    # Length-prefixed parts: moving bytes between the parts never gives the same hash.
    assert command_binding(sql, b"", "alicedemo", "") != command_binding(sql, b"", "alice", "demo")


@given(st.lists(st.one_of(st.none(), st.binary(max_size=20)), max_size=5))
def test_bind_parameters_reads_what_was_written(params: list[bytes | None]) -> None:
    body = bind(params)
    got = pgwire.bind_parameters(body)
    assert body.endswith(got + struct.pack("!hh", 1, 0))


def test_a_truncated_bind_is_a_protocol_error() -> None:
    body = bind([b"12345"])
    with pytest.raises(pgwire.ProtocolError):
        pgwire.bind_parameters(body[:-8])


def _classify(policy: Policy, sql: str, groups: list[str]) -> cpb.ClassifyResponse:
    request = cpb.ClassifyRequest(
        text=sql,
        identity=pb.Identity(human="alice", groups=groups),
        resource=pb.Resource(name="demo"),
    )
    return classify(request, policy)


def test_a_review_verdict_carries_its_approvers_and_mode() -> None:
    policy = parse_policy(
        "version: 1\napprovals:\n  - match: {rule: write}\n    approvers: [dba]\n    mode: async\n"
    )
    verdict = _classify(policy, UPDATE, ["engineering"])
    assert verdict.action == pb.ACTION_REVIEW
    assert list(verdict.approver_groups) == ["dba"]
    assert verdict.approval_mode == pb.APPROVAL_MODE_ASYNC
    assert verdict.approval_decided_by == "policy.yaml:3"
    read = _classify(policy, "SELECT 1", ["engineering"])
    assert read.approval_mode == pb.APPROVAL_MODE_UNSPECIFIED and not read.approver_groups
    default = _classify(Policy.builtin(), UPDATE, [])
    assert default.approval_mode == pb.APPROVAL_MODE_WAIT and not default.approver_groups
