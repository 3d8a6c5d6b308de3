"""`approval_status` and `approval_wait`: where one of the agent's own approval requests
stands, asked of the approval service. Waiting polls it and reports progress meanwhile, since
MCP clients drop calls that stay silent for about a minute. No tool approves anything."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import mcp_types as types

from proctor.approval.v1 import approval_pb2 as apb
from proctor.errors import BusError
from proctor.events.v1 import events_pb2 as pb
from proctor_ingress.approvals import approval_status
from proctor_ingress.gateway import Gateway
from proctor_ingress.mcp.render import error_result, refusal, text_result

POLL_SECONDS = 1.0
Progress = Callable[[float, str], Awaitable[None]]

NEXT_STEP = {
    "pending": "Nobody has decided yet. Call approval_wait again, or go on with other work.",
    "granted": "Call the tool again with exactly the same arguments: it then runs, once.",
    "redeemed": "The approved command has run already; a new command needs a new approval.",
    "denied": "Change the command as the note asks and submit it again; it will be reviewed.",
    "expired": "Nobody decided in time. Submit the command again to ask anew.",
    "withdrawn": "The request was withdrawn. Submit the command again to ask anew.",
    "unknown": "There is no approval of yours with this id. Check the id the refusal gave.",
}


def state_name(response: apb.ApprovalStatusResponse) -> str:
    return apb.ApprovalState.Name(response.state).removeprefix("APPROVAL_STATE_").lower()


def status_result(approval_id: str, response: apb.ApprovalStatusResponse) -> types.CallToolResult:
    state = state_name(response)
    structured: dict[str, Any] = {"approval_id": approval_id, "status": state}
    lines = [f"Approval {approval_id}: {state}."]
    if response.command_text:
        structured["command"] = response.command_text
        lines.append(f"Command: {response.command_text}")
    if response.resource:
        structured["resource"] = response.resource
    if response.approver:
        structured["approver"] = response.approver
        lines.append(f"Decided by: {response.approver}")
    if response.note:
        structured["note"] = response.note
        lines.append(f'Note: "{response.note}"')
    lines.append(NEXT_STEP.get(state, ""))
    text = "\n".join(line for line in lines if line)
    return error_result(text, structured) if state == "unknown" else text_result(text, structured)


async def _status(
    gw: Gateway, approval_id: str, identity: pb.Identity
) -> apb.ApprovalStatusResponse | types.CallToolResult:
    try:
        return await approval_status(gw.nc, approval_id, identity, gw.settings.classify_timeout)
    except BusError as exc:
        return refusal(
            f"Proctor could not ask the approval service about {approval_id} ({exc}).",
            hint="Retry in a moment. If it persists, the gateway's approval service needs "
            "attention.",
            status="unavailable",
        )


async def check(gw: Gateway, approval_id: str, identity: pb.Identity) -> types.CallToolResult:
    found = await _status(gw, approval_id, identity)
    return found if isinstance(found, types.CallToolResult) else status_result(approval_id, found)


async def wait(
    gw: Gateway, approval_id: str, identity: pb.Identity, timeout: float, progress: Progress
) -> types.CallToolResult:
    loop = asyncio.get_running_loop()
    start = loop.time()
    while True:
        found = await _status(gw, approval_id, identity)
        if isinstance(found, types.CallToolResult):
            return found
        waited = loop.time() - start
        if state_name(found) != "pending" or waited + POLL_SECONDS > timeout:
            return status_result(approval_id, found)
        await progress(waited, f"approval {approval_id} is pending")
        await asyncio.sleep(POLL_SECONDS)
