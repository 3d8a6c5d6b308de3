"""One readable line per event, for timelines, `proctor replay` and logs."""

from __future__ import annotations

from collections.abc import Iterable

from proctor.events.codec import event_type
from proctor.events.v1 import events_pb2 as pb

ACTION_NAMES = {
    pb.ACTION_UNSPECIFIED: "unknown",
    pb.ACTION_ALLOW: "allow",
    pb.ACTION_REVIEW: "review",
    pb.ACTION_BLOCK: "block",
}


def _rules(ids: Iterable[str]) -> str:
    joined = ", ".join(ids)
    return joined or "no rule"


def describe(event: pb.Event) -> str:
    """What happened, in one line a human reads in a terminal. Never includes raw values."""
    kind = event_type(event)
    if kind == "session_opened":
        e = event.session_opened
        where = f" from {e.client_address}" if e.client_address else ""
        client = f" ({e.client_name})" if e.client_name else ""
        return f"session opened over {e.protocol or 'unknown protocol'}{where}{client}"
    if kind == "session_closed":
        e2 = event.session_closed
        return f"session closed: {e2.reason or 'no reason'} after {e2.command_count} commands"
    if kind == "command_received":
        e3 = event.command_received
        params = f" with {e3.parameter_count} parameters" if e3.parameter_count else ""
        return f"received{params}: {e3.text}"
    if kind == "command_classified":
        e4 = event.command_classified
        reasons = f" ({'; '.join(e4.reasons)})" if e4.reasons else ""
        cached = " [cached]" if e4.cached else ""
        action = ACTION_NAMES.get(e4.action, "unknown")
        return f"classified {action} by {_rules(e4.rule_ids)}{reasons}{cached}"
    if kind == "command_blocked":
        e5 = event.command_blocked
        return f"blocked by {_rules(e5.rule_ids)}: {e5.reason}"
    if kind == "approval_requested":
        e6 = event.approval_requested
        groups = f" from {', '.join(e6.approver_groups)}" if e6.approver_groups else ""
        groups += " (the agent re-submits)" if e6.mode == pb.APPROVAL_MODE_ASYNC else ""
        values = ", ".join(
            f"${i} = {v if len(v) <= 60 else v[:59] + '…'}" for i, v in enumerate(e6.parameters, 1)
        )
        values = f" (with {values})" if values else ""
        if e6.HasField("estimated_rows"):
            values += f" (estimated rows: {e6.estimated_rows})"
        return (
            f"approval {e6.approval_id} requested{groups}{values}: "
            f"{e6.reason or _rules(e6.rule_ids)}"
        )
    if kind == "approval_granted":
        e7 = event.approval_granted
        note = f', note: "{e7.note}"' if e7.note else ""
        return f"approval {e7.approval_id} granted by {e7.approver}{note}"
    if kind == "approval_voted":
        ev = event.approval_voted
        note = f', note: "{ev.note}"' if ev.note else ""
        return f"approval {ev.approval_id}: yes from {ev.approver}, more approvals needed{note}"
    if kind == "approval_denied":
        e8 = event.approval_denied
        return f'approval {e8.approval_id} denied by {e8.approver}, note: "{e8.note}"'
    if kind == "approval_expired":
        return f"approval {event.approval_expired.approval_id} expired undecided"
    if kind == "approval_withdrawn":
        e12 = event.approval_withdrawn
        return f"approval {e12.approval_id} withdrawn undecided: {e12.reason or 'the agent left'}"
    if kind == "approval_redeemed":
        e11 = event.approval_redeemed
        what = {
            "approval_granted": "grant used by this command, which runs once",
            "approval_denied": "denial reported to the agent",
            "approval_expired": "expiry reported to the agent",
        }.get(e11.decision, e11.decision)
        return f"approval {e11.approval_id} redeemed: {what}"
    if kind == "command_executed":
        e9 = event.command_executed
        ms = e9.duration_us / 1000
        if e9.error_code:
            return f"failed with {e9.error_code} after {ms:.1f} ms: {e9.error_message}"
        return f"executed: {e9.row_count} rows in {ms:.1f} ms"
    if kind == "result_masked":
        e10 = event.result_masked
        parts = [f"{c.column}:{c.entity_type}×{c.count}" for c in e10.counts]
        detail = f" ({', '.join(parts)})" if parts else ""
        return f"masked {e10.values_masked} values in {e10.row_count} rows{detail}"
    return "an event of a type this version does not know"
