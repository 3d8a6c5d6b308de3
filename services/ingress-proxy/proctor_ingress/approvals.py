"""Approvals as the proxy sees them: the binding an approval is given for, asking the
approval service (async mode) whether a re-submitted command's approval has been decided, and
asking it what became of one approval."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from nats.aio.client import Client as NATS
from nats.errors import Error as NatsError
from pglast import parser

from proctor import subjects
from proctor.approval.v1 import approval_pb2 as apb
from proctor.errors import BusError
from proctor.events.v1 import events_pb2 as pb

REDEEM_SUBJECT = subjects.APPROVAL_REDEEM
STATUS_SUBJECT = subjects.APPROVAL_STATUS
_POSITIONS = frozenset({"location", "stmt_location", "stmt_len"})


def _without_positions(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _without_positions(v) for k, v in node.items() if k not in _POSITIONS}
    if isinstance(node, list):
        return [_without_positions(v) for v in node]
    return node


def normalized(text: str) -> str:
    """The statement as its parse tree: whitespace, comments and keyword case do not change
    it; any identifier, constant or operator does. Unparseable text stands for itself."""
    try:
        tree = json.loads(parser.parse_sql_json(text))
    except parser.ParseError:
        return text
    return json.dumps(_without_positions(tree), sort_keys=True, separators=(",", ":"))


def command_binding(text: str, parameters: bytes, human: str, resource: str) -> str:
    """The hash an approval is bound to: the normalized command, its parameters (as the Bind
    carried them), the identity and the resource. Any change needs a new approval."""
    digest = hashlib.sha256()
    for part in (normalized(text).encode(), parameters, human.encode(), resource.encode()):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


async def redeem(nc: NATS, request: apb.RedeemRequest, timeout: float) -> apb.RedeemResponse:
    """Ask the approval service about a re-submitted command; BusError when nobody answers."""
    try:
        msg = await nc.request(REDEEM_SUBJECT, request.SerializeToString(), timeout=timeout)
    except (TimeoutError, NatsError) as exc:
        raise BusError(f"the approval service did not answer: {exc or 'timed out'}") from exc
    try:
        response = apb.RedeemResponse.FromString(msg.data)
    except Exception as exc:
        raise BusError(f"the approval service sent an unreadable answer: {exc}") from exc
    if response.error:
        raise BusError(f"the approval service refused the request: {response.error}")
    return response


async def approval_status(
    nc: NATS, approval_id: str, identity: pb.Identity, timeout: float
) -> apb.ApprovalStatusResponse:
    """What became of one approval, asked for `identity`: only its requester is told, anybody
    else gets APPROVAL_STATE_UNKNOWN. BusError when the approval service does not answer in
    `timeout` seconds, or answers unreadably or with an error."""
    request = apb.ApprovalStatusRequest(approval_id=approval_id, identity=identity)
    try:
        msg = await nc.request(STATUS_SUBJECT, request.SerializeToString(), timeout=timeout)
    except (TimeoutError, NatsError) as exc:
        raise BusError(f"the approval service did not answer: {exc or 'timed out'}") from exc
    try:
        response = apb.ApprovalStatusResponse.FromString(msg.data)
    except Exception as exc:
        raise BusError(f"the approval service sent an unreadable answer: {exc}") from exc
    if response.error:
        raise BusError(f"the approval service could not say: {response.error}")
    return response
