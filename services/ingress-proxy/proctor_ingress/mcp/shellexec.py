"""The `exec` tool: one command line on a host resource, through the same lifecycle and host
execution as `ssh` and `proctor exec` (shell/runner.py), its output masked and kept to a
bounded size for the agent."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import mcp_types as types

from proctor.gateway import IdentityConfig
from proctor_ingress.gateway import Gateway
from proctor_ingress.mcp.render import refusal, text_result
from proctor_ingress.shell.hosts import Hosts
from proctor_ingress.shell.runner import run_command, shell_detail
from proctor_ingress.shell.sessions import ShellSession

OUTPUT_BYTES = 256 * 1024  # of stdout and of stderr each; the rest is counted, not kept
WITHDRAW_GRACE = 5.0


class Captured:
    """What the command writes, up to a bound."""

    def __init__(self) -> None:
        self.out = bytearray()
        self.err = bytearray()
        self.dropped = [0, 0]

    def _keep(self, buf: bytearray, data: bytes, which: int) -> None:
        room = OUTPUT_BYTES - len(buf)
        buf += data[: max(room, 0)]
        self.dropped[which] += max(len(data) - max(room, 0), 0)

    async def stdout(self, data: bytes) -> None:
        self._keep(self.out, data, 0)

    async def stderr(self, data: bytes) -> None:
        self._keep(self.err, data, 1)


async def run_exec(
    gw: Gateway,
    hosts: Hosts,
    identity: IdentityConfig,
    agent: str,
    peer: str,
    resource: str,
    command: str,
    patience: float,
) -> types.CallToolResult:
    host = hosts.get(resource)
    if host is None:
        known = ", ".join(sorted(hosts.hosts)) or "none"
        return refusal(
            f"{resource!r} is not a host resource of this gateway. Nothing was run.",
            hint=f"Host resources: {known}. list_resources shows every resource.",
            status="error",
        )
    session = await ShellSession.open(gw, identity, agent, resource, "mcp", peer)
    session.life.patience = patience
    gone: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    out = Captured()
    detail = shell_detail(resource, command, [], "mcp")
    work = asyncio.ensure_future(run_command(session, host, command, detail, out, gone))
    try:
        ended = await asyncio.shield(work)
    except asyncio.CancelledError:
        # The agent's client cancelled the call: a held command is withdrawn, a running one
        # stopped, and that is recorded before the session closes.
        gone.set_result(None)
        with contextlib.suppress(BaseException):
            await asyncio.wait_for(work, WITHDRAW_GRACE)
        await session.close("client cancelled")
        raise
    await session.close("call ended")
    if ended.outcome != "run":
        return refusal(
            ended.message,
            ended.detail,
            ended.hint,
            status=ended.outcome,
            approval_id=ended.approval_id,
            rule_ids=ended.rule_ids,
        )
    stdout = out.out.decode("utf-8", "replace")
    stderr = out.err.decode("utf-8", "replace")
    parts = [stdout]
    if stderr:
        parts.append(f"--- stderr ---\n{stderr}")
    for which, n in zip(("stdout", "stderr"), out.dropped, strict=True):
        if n:
            parts.append(f"--- {n} more bytes of {which} were not kept (at most {OUTPUT_BYTES})")
    parts.append(f"--- exit status {ended.status}")
    structured: dict[str, Any] = {"exit_status": ended.status, "stdout": stdout, "stderr": stderr}
    # It ran: a failing status is the command's own answer, not a refusal.
    return text_result("\n".join(p for p in parts if p), structured)
