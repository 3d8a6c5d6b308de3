"""Which approval decisions the proxy acts on: only those signed by the approval service's key
for the approval it waits on and the exact command it holds (proctor.decisions). Anything else
is ignored, logged and counted; it never runs anything."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from opentelemetry import metrics

from proctor.approval.v1 import approval_pb2 as apb
from proctor.decisions import REDEEMED, DecisionVerifier
from proctor.events.v1 import events_pb2 as pb
from proctor.settings import Settings

log = logging.getLogger("proctor.ingress.trust")
_rejected = metrics.get_meter("proctor.ingress").create_counter(
    "proctor.ingress.decisions_rejected",
    description="Approval decisions ignored because they did not verify",
)


@dataclass
class DecisionCheck:
    """The approval service's public keys and how many decisions failed them."""

    verifier: DecisionVerifier
    rejected: int = 0  # decisions ignored because they did not verify

    @classmethod
    def from_settings(cls, settings: Settings) -> DecisionCheck:
        verifier = DecisionVerifier.from_text(settings.approval_verify_keys)
        if not verifier:
            log.warning(
                "PROCTOR_APPROVAL_VERIFY_KEYS is not set: no approval can be verified, so "
                "statements held for review never run (they are denied or expire)"
            )
        return cls(verifier)

    def decision(
        self, kind: str, body: pb.ApprovalGranted | pb.ApprovalDenied | pb.ApprovalExpired,
        binding: str, session_id: str,
    ) -> bool:  # fmt: skip
        """Whether a decision event on the bus is the approval service's, for this command."""
        if body.command_hash == binding and self.verifier.verify(
            body.signature, kind, body.approval_id, binding
        ):
            return True
        self._reject(
            f"{kind} for approval {body.approval_id} (session {session_id})",
            "names another command" if body.command_hash != binding else "bad signature",
        )
        return False

    def redemption(self, found: apb.RedeemResponse, binding: str, command_id: str) -> bool:
        """Whether a granted redemption is the approval service's, for this submission."""
        if self.verifier.verify(found.signature, REDEEMED, found.approval_id, binding, command_id):
            return True
        self._reject(f"redeemed grant of approval {found.approval_id}", "bad signature")
        return False

    def _reject(self, what: str, why: str) -> None:
        self.rejected += 1
        _rejected.add(1)
        log.warning(
            "ignored an unverifiable %s: %s; it runs nothing (%d rejected so far)",
            what,
            why,
            self.rejected,
        )
