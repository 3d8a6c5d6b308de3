"""One approval's status over NATS request/reply: the ingress-proxy asks on
`proctor.rpc.approval.status` (queue group `approval`, shared with redemptions) what became of
an approval, for the human who requested it, so an agent can look up or wait for a decision."""

from __future__ import annotations

import logging
from typing import Any

from google.protobuf.message import DecodeError
from nats.aio.client import Client as NATS
from nats.aio.subscription import Subscription
from nats.errors import Error as NatsError

from proctor import subjects
from proctor.approval.v1 import approval_pb2 as apb
from proctor.events.v1 import events_pb2 as pb
from proctor_approval.core import ApprovalStatus, Status
from proctor_approval.service import ApprovalService

log = logging.getLogger("proctor.approval")

STATUS_SUBJECT = subjects.APPROVAL_STATUS
QUEUE = subjects.APPROVAL_QUEUE

_STATES = {
    Status.UNKNOWN: apb.APPROVAL_STATE_UNKNOWN,
    Status.PENDING: apb.APPROVAL_STATE_PENDING,
    Status.GRANTED: apb.APPROVAL_STATE_GRANTED,
    Status.DENIED: apb.APPROVAL_STATE_DENIED,
    Status.EXPIRED: apb.APPROVAL_STATE_EXPIRED,
    Status.WITHDRAWN: apb.APPROVAL_STATE_WITHDRAWN,
    Status.REDEEMED: apb.APPROVAL_STATE_REDEEMED,
}


def response_for(approval_id: str, found: ApprovalStatus) -> apb.ApprovalStatusResponse:
    """The ApprovalStatusResponse of a status (UNKNOWN: nothing but the state and the id)."""
    response = apb.ApprovalStatusResponse(state=_STATES[found.status], approval_id=approval_id)
    request = found.request
    if request is not None:
        response.command_text = request.command_text
        response.resource = request.resource
        response.rule_ids.extend(request.rule_ids)
        response.reason = request.reason
        response.requested_at.FromDatetime(request.requested_at)
        if request.expires_at is not None:
            response.expires_at.FromDatetime(request.expires_at)
        response.mode = request.mode or pb.APPROVAL_MODE_WAIT  # type: ignore[assignment]
        if found.outcome is None:
            response.approvals.extend(request.approvals)
    if found.outcome is not None:
        response.approver = found.outcome.approver
        response.note = found.outcome.note
        response.redeemed = found.outcome.redeemed
    return response


async def answer_status(service: ApprovalService, body: bytes) -> apb.ApprovalStatusResponse:
    """The reply to one ApprovalStatusRequest; one that cannot be answered gets `error`."""
    try:
        request = apb.ApprovalStatusRequest.FromString(body)
    except DecodeError as exc:
        return apb.ApprovalStatusResponse(error=f"undecodable ApprovalStatusRequest: {exc}")
    if not request.approval_id or not request.identity.human:
        return apb.ApprovalStatusResponse(
            error="ApprovalStatusRequest needs approval_id and identity.human"
        )
    # Fold everything stored so far: an agent may ask right after it was told "pending".
    await service.settle()
    found = service.status(request.approval_id, request.identity.human)
    return response_for(request.approval_id, found)


async def serve_status(nc: NATS, service: ApprovalService) -> Subscription:
    """Answer ApprovalStatusRequests until the subscription is drained or the connection
    closes; a request that fails is answered with `error`, and the next one is served."""

    async def handle(msg: Any) -> None:
        try:
            response = await answer_status(service, msg.data)
        except Exception as exc:  # a bug must not leave the asker waiting for its timeout
            log.exception("status request failed")
            response = apb.ApprovalStatusResponse(error=f"the status lookup failed: {exc}")
        if response.error:
            log.warning("status request refused: %s", response.error)
        if msg.reply:
            try:
                await msg.respond(response.SerializeToString())
            except NatsError as exc:  # the asker is gone or the connection closed
                log.warning("status reply not sent: %s", exc)

    return await nc.subscribe(STATUS_SUBJECT, queue=QUEUE, cb=handle)
