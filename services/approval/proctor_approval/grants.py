"""Async-mode approvals over NATS request/reply: the ingress-proxy asks on
`proctor.rpc.approval.redeem` (queue group `approval`, so replicas share the work) whether a
re-submitted command's approval has been decided, and claims the decision if so."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from google.protobuf.message import DecodeError
from nats.aio.client import Client as NATS
from nats.aio.subscription import Subscription

from proctor import subjects
from proctor.approval.v1 import approval_pb2 as apb
from proctor.decisions import REDEEMED
from proctor.errors import ProctorError
from proctor_approval.core import RedeemOutcome, Resubmission
from proctor_approval.service import ApprovalService

log = logging.getLogger("proctor.approval")

REDEEM_SUBJECT = subjects.APPROVAL_REDEEM
QUEUE = subjects.APPROVAL_QUEUE

_OUTCOMES = {
    RedeemOutcome.NONE: apb.REDEEM_OUTCOME_NONE,
    RedeemOutcome.PENDING: apb.REDEEM_OUTCOME_PENDING,
    RedeemOutcome.GRANTED: apb.REDEEM_OUTCOME_GRANTED,
    RedeemOutcome.DENIED: apb.REDEEM_OUTCOME_DENIED,
    RedeemOutcome.EXPIRED: apb.REDEEM_OUTCOME_EXPIRED,
}


async def answer(service: ApprovalService, body: bytes) -> apb.RedeemResponse:
    """The reply to one RedeemRequest; a request that cannot be answered gets `error`."""
    try:
        request = apb.RedeemRequest.FromString(body)
    except DecodeError as exc:
        return apb.RedeemResponse(error=f"undecodable RedeemRequest: {exc}")
    if not request.command_hash or not request.command_id or not request.identity.human:
        return apb.RedeemResponse(error="RedeemRequest needs command_hash, command_id, identity")
    # The proxy had its ApprovalRequested stored before telling the agent "pending": fold
    # everything stored so far, so an immediate re-submission finds it.
    await service.settle()
    try:
        redemption = await service.redeem(
            Resubmission(
                command_hash=request.command_hash,
                session_id=request.session_id,
                command_id=request.command_id,
                identity=request.identity,
                resource=request.resource,
                at=datetime.now(UTC),
            )
        )
    except ProctorError as exc:  # the claim could not be stored: nothing was claimed
        return apb.RedeemResponse(error=str(exc))
    response = apb.RedeemResponse(outcome=_OUTCOMES[redemption.outcome])
    if redemption.approval is not None:
        response.approval_id = redemption.approval.approval_id
    if redemption.decision is not None:
        response.approver = redemption.decision.approver
        response.note = redemption.decision.note
    granted = redemption.approval if redemption.outcome == RedeemOutcome.GRANTED else None
    if granted is not None and service.signer is not None:
        # Bound to this submission's command id: a recorded answer replayed runs nothing.
        response.signature = service.signer.sign(
            REDEEMED, granted.approval_id, request.command_hash, request.command_id
        )
    return response


async def serve_redemptions(nc: NATS, service: ApprovalService) -> Subscription:
    """Answer RedeemRequests until the subscription is drained or the connection closes."""

    async def handle(msg: Any) -> None:
        response = await answer(service, msg.data)
        if response.error:
            log.warning("redeem request refused: %s", response.error)
        if msg.reply:
            await msg.respond(response.SerializeToString())

    return await nc.subscribe(REDEEM_SUBJECT, queue=QUEUE, cb=handle)
