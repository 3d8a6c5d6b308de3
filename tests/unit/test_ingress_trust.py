"""The proxy's check of approval decisions: only the approval service's, for this command."""

from __future__ import annotations

from pathlib import Path

from proctor.approval.v1 import approval_pb2 as apb
from proctor.decisions import REDEEMED, DecisionSigner, DecisionVerifier, new_signing_key
from proctor.events.v1 import events_pb2 as pb
from proctor_ingress.trust import DecisionCheck

BINDING = "ab" * 32


def _keys(tmp_path: Path) -> tuple[DecisionSigner, DecisionCheck]:
    tmp_path.mkdir(exist_ok=True)
    path = tmp_path / "key.pem"
    path.write_bytes(new_signing_key()[0])
    signer = DecisionSigner.from_file(path)
    return signer, DecisionCheck(DecisionVerifier.from_text(signer.public_key))


def test_a_signed_grant_for_the_held_command_is_believed(tmp_path: Path) -> None:
    signer, check = _keys(tmp_path)
    grant = pb.ApprovalGranted(approval_id="a1", approver="bob", command_hash=BINDING)
    grant.signature = signer.sign("approval_granted", "a1", BINDING)
    assert check.decision("approval_granted", grant, BINDING, "s1")
    assert check.rejected == 0


def test_unsigned_foreign_or_misbound_grants_are_ignored_and_counted(tmp_path: Path) -> None:
    signer, check = _keys(tmp_path)
    other, _ = _keys(tmp_path / "other")
    unsigned = pb.ApprovalGranted(approval_id="a1", approver="nobody", command_hash=BINDING)
    foreign = pb.ApprovalGranted(approval_id="a1", command_hash=BINDING)
    foreign.signature = other.sign("approval_granted", "a1", BINDING)
    misbound = pb.ApprovalGranted(approval_id="a1", command_hash="cd" * 32)
    misbound.signature = signer.sign("approval_granted", "a1", "cd" * 32)
    as_denial = pb.ApprovalGranted(approval_id="a1", command_hash=BINDING)
    as_denial.signature = signer.sign("approval_denied", "a1", BINDING)
    for forged in (unsigned, foreign, misbound, as_denial):
        assert not check.decision("approval_granted", forged, BINDING, "s1")
    assert check.rejected == 4


def test_a_redeemed_grant_counts_only_for_its_submission(tmp_path: Path) -> None:
    signer, check = _keys(tmp_path)
    found = apb.RedeemResponse(outcome=apb.REDEEM_OUTCOME_GRANTED, approval_id="a1")
    found.signature = signer.sign(REDEEMED, "a1", BINDING, "command-1")
    assert check.redemption(found, BINDING, "command-1")
    assert not check.redemption(found, BINDING, "command-2")
    assert check.rejected == 1


def test_without_keys_nothing_is_believed() -> None:
    check = DecisionCheck(DecisionVerifier(()))
    grant = pb.ApprovalGranted(approval_id="a1", command_hash=BINDING, signature=b"x" * 64)
    assert not check.decision("approval_granted", grant, BINDING, "s1")
