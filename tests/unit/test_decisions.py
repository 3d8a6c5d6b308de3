"""Signed approval decisions: what a signature binds, and what the proxy refuses."""

from __future__ import annotations

from pathlib import Path

import pytest

from proctor.decisions import REDEEMED, DecisionSigner, DecisionVerifier, new_signing_key
from proctor.errors import ConfigError
from proctor.events import new_event
from proctor.events.v1 import events_pb2 as pb

BINDING = "ab" * 32


def _signer(tmp_path: Path, name: str = "key.pem") -> DecisionSigner:
    path = tmp_path / name
    path.write_bytes(new_signing_key()[0])
    return DecisionSigner.from_file(path)


def test_a_signed_grant_verifies_only_for_its_approval_command_and_kind(tmp_path: Path) -> None:
    signer = _signer(tmp_path)
    verifier = DecisionVerifier.from_text(signer.public_key)
    signature = signer.sign("approval_granted", "a1", BINDING)
    assert verifier.verify(signature, "approval_granted", "a1", BINDING)
    assert not verifier.verify(signature, "approval_granted", "a2", BINDING)
    assert not verifier.verify(signature, "approval_granted", "a1", "cd" * 32)
    assert not verifier.verify(signature, "approval_denied", "a1", BINDING)
    assert not verifier.verify(b"", "approval_granted", "a1", BINDING)


def test_a_redemption_is_bound_to_the_submission(tmp_path: Path) -> None:
    signer = _signer(tmp_path)
    verifier = DecisionVerifier.from_text(signer.public_key)
    signature = signer.sign(REDEEMED, "a1", BINDING, "command-1")
    assert verifier.verify(signature, REDEEMED, "a1", BINDING, "command-1")
    assert not verifier.verify(signature, REDEEMED, "a1", BINDING, "command-2")


def test_another_key_does_not_verify_and_two_keys_rotate(tmp_path: Path) -> None:
    old, new = _signer(tmp_path, "old.pem"), _signer(tmp_path, "new.pem")
    only_new = DecisionVerifier.from_text(new.public_key)
    both = DecisionVerifier.from_text(f"{old.public_key}, {new.public_key}")
    signature = old.sign("approval_granted", "a1", BINDING)
    assert not only_new.verify(signature, "approval_granted", "a1", BINDING)
    assert both.verify(signature, "approval_granted", "a1", BINDING)
    assert not DecisionVerifier.from_text("")


def test_sign_event_signs_decisions_in_place(tmp_path: Path) -> None:
    signer = _signer(tmp_path)
    event = new_event(
        session_id="s1",
        identity=pb.Identity(human="alice"),
        resource=pb.Resource(name="demo"),
        source="approval",
        approval_denied=pb.ApprovalDenied(approval_id="a1", note="no", command_hash=BINDING),
    )
    signer.sign_event(event)
    verifier = DecisionVerifier.from_text(signer.public_key)
    assert verifier.verify(event.approval_denied.signature, "approval_denied", "a1", BINDING)


def test_bad_keys_are_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not base64"):
        DecisionVerifier.from_text("not-a-key")
    (tmp_path / "bad.pem").write_text("nonsense")
    with pytest.raises(ConfigError, match="signing key"):
        DecisionSigner.from_file(tmp_path / "bad.pem")
