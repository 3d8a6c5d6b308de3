"""The pure core of the audit service: projection rows and how each event evolves them.

`evolve(projections, seq, event)` returns new projections; it does no I/O, so replaying the same
events from sequence 1 always yields the same rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from proctor.events import event_type
from proctor.events.describe import ACTION_NAMES, describe
from proctor.events.v1 import events_pb2 as pb

RESOURCE_KINDS = {v: k.removeprefix("RESOURCE_KIND_").lower() for k, v in pb.ResourceKind.items()}


def _at(event: pb.Event) -> datetime:
    return event.occurred_at.ToDatetime(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class SessionRow:
    session_id: str
    human: str
    agent: str
    groups: tuple[str, ...]
    resource: str
    resource_kind: str
    protocol: str = ""
    client_address: str = ""
    client_name: str = ""
    opened_at: datetime | None = None
    closed_at: datetime | None = None
    close_reason: str = ""
    command_count: int = 0
    last_seq: int = 0


@dataclass(frozen=True, slots=True)
class CommandRow:
    command_id: str
    session_id: str
    human: str
    agent: str
    resource: str
    text: str = ""
    status: str = "received"
    action: str = ""
    rule_ids: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()
    policy_version: str = ""
    approval_id: str = ""
    approver: str = ""
    note: str = ""
    row_count: int | None = None
    duration_us: int | None = None
    error_code: str = ""
    error_message: str = ""
    values_masked: int = 0
    received_at: datetime | None = None
    updated_at: datetime | None = None
    # (seq, event type, time ISO, description) per event, in stream order.
    timeline: tuple[tuple[int, str, str, str], ...] = ()
    last_seq: int = 0


@dataclass(frozen=True, slots=True)
class ApprovalRow:
    approval_id: str
    command_id: str
    session_id: str
    human: str
    agent: str
    resource: str
    status: str = "pending"
    command_text: str = ""
    command_hash: str = ""
    rule_ids: tuple[str, ...] = ()
    reason: str = ""
    approver_groups: tuple[str, ...] = ()
    requested_at: datetime | None = None
    expires_at: datetime | None = None
    approver: str = ""
    note: str = ""
    decided_at: datetime | None = None
    last_seq: int = 0
    mode: str = "wait"  # wait: the statement was held; async: the agent re-submits
    redeemed_by: str = ""  # the re-submitted command that claimed the decision (async mode)
    redeemed_at: datetime | None = None
    parameters: tuple[str, ...] = ()  # the values the approved execution was bound to


@dataclass(frozen=True)
class Projections:
    """The rows a batch of events touches, keyed by their ids."""

    sessions: dict[str, SessionRow] = field(default_factory=dict)
    commands: dict[str, CommandRow] = field(default_factory=dict)
    approvals: dict[str, ApprovalRow] = field(default_factory=dict)


def approval_id_of(event: pb.Event) -> str:
    """The approval an event concerns, or '' if none."""
    kind = event_type(event)
    if kind.startswith("approval_"):
        return str(getattr(event, kind).approval_id)
    return ""


def evolve_session(row: SessionRow | None, seq: int, event: pb.Event) -> SessionRow:
    if row is None:
        row = SessionRow(
            session_id=event.session_id,
            human=event.identity.human,
            agent=event.identity.agent,
            groups=tuple(event.identity.groups),
            resource=event.resource.name,
            resource_kind=RESOURCE_KINDS.get(event.resource.kind, "unspecified"),
        )
    kind = event_type(event)
    changes: dict[str, Any] = {"last_seq": seq}
    if kind == "session_opened":
        e = event.session_opened
        changes |= {
            "protocol": e.protocol,
            "client_address": e.client_address,
            "client_name": e.client_name,
            "opened_at": _at(event),
        }
    elif kind == "session_closed":
        changes |= {"closed_at": _at(event), "close_reason": event.session_closed.reason}
    elif kind == "command_received":
        changes["command_count"] = row.command_count + 1
    return replace(row, **changes)


_STATUS_BY_TYPE = {
    "command_blocked": "blocked",
    "approval_requested": "pending_approval",
    "approval_granted": "approved",
    "approval_denied": "denied",
    "approval_expired": "expired",
    "approval_withdrawn": "withdrawn",
    "result_masked": None,
}
_REDEEMED_STATUS = {
    "approval_granted": "approved",
    "approval_denied": "denied",
    "approval_expired": "expired",
}


def evolve_command(row: CommandRow | None, seq: int, event: pb.Event) -> CommandRow:
    if row is None:
        row = CommandRow(
            command_id=event.command_id,
            session_id=event.session_id,
            human=event.identity.human,
            agent=event.identity.agent,
            resource=event.resource.name,
        )
    kind = event_type(event)
    at = _at(event)
    entry = (seq, kind, at.isoformat(), describe(event))
    changes: dict[str, Any] = {
        "last_seq": seq,
        "updated_at": at,
        "timeline": (*row.timeline, entry),
    }
    status = _STATUS_BY_TYPE.get(kind)
    decision = kind in (
        "approval_granted", "approval_denied", "approval_expired", "approval_withdrawn",
    )  # fmt: skip
    # A decision moves the command only while it waits on that approval: a late or second
    # decision, or an expiry after the command ran, changes nothing but the timeline.
    applies = not decision or (
        row.status == "pending_approval" and row.approval_id in ("", approval_id_of(event))
    )
    if status and applies:
        changes["status"] = status
    if kind == "approval_redeemed":
        # A re-submission (async mode) that claimed a decision: it runs on a grant, or was
        # told of the denial or expiry.
        redeemed = event.approval_redeemed
        changes |= {
            "approval_id": redeemed.approval_id,
            "status": _REDEEMED_STATUS.get(redeemed.decision, row.status),
        }
    if kind == "command_received":
        changes |= {"text": event.command_received.text, "received_at": at, "status": "received"}
    elif kind == "command_classified":
        e = event.command_classified
        action = ACTION_NAMES.get(e.action, "unknown")
        changes |= {
            "action": action,
            "rule_ids": tuple(e.rule_ids),
            "reasons": tuple(e.reasons),
            "policy_version": e.policy_version,
        }
        if row.status == "received":
            changes["status"] = "classified"
    elif kind == "approval_requested":
        changes["approval_id"] = approval_id_of(event)
    elif kind in ("approval_granted", "approval_denied") and applies:
        decided = getattr(event, kind)
        changes |= {"approver": decided.approver, "note": decided.note}
    elif kind == "command_executed":
        e2 = event.command_executed
        changes |= {
            "status": "failed" if e2.error_code else "executed",
            "row_count": e2.row_count,
            "duration_us": e2.duration_us,
            "error_code": e2.error_code,
            "error_message": e2.error_message,
        }
    elif kind == "result_masked":
        changes["values_masked"] = row.values_masked + event.result_masked.values_masked
    return replace(row, **changes)


def evolve_approval(row: ApprovalRow | None, seq: int, event: pb.Event) -> ApprovalRow:
    if row is None:
        row = ApprovalRow(
            approval_id=approval_id_of(event),
            command_id=event.command_id,
            session_id=event.session_id,
            human=event.identity.human,
            agent=event.identity.agent,
            resource=event.resource.name,
        )
    kind = event_type(event)
    at = _at(event)
    changes: dict[str, Any] = {"last_seq": seq}
    if kind == "approval_requested":
        e = event.approval_requested
        changes |= {
            "command_text": e.command_text,
            "command_hash": e.command_hash,
            "rule_ids": tuple(e.rule_ids),
            "reason": e.reason,
            "approver_groups": tuple(e.approver_groups),
            "mode": "async" if e.mode == pb.APPROVAL_MODE_ASYNC else "wait",
            "parameters": tuple(e.parameters),
            "requested_at": at,
            "expires_at": e.expires_at.ToDatetime(tzinfo=UTC) if e.HasField("expires_at") else None,
        }
    elif kind in ("approval_granted", "approval_denied") and row.status == "pending":
        decision = getattr(event, kind)
        changes |= {
            "status": "granted" if kind == "approval_granted" else "denied",
            "approver": decision.approver,
            "note": decision.note,
            "decided_at": at,
        }
    elif kind == "approval_expired" and row.status == "pending":
        changes |= {"status": "expired", "decided_at": at}
    elif kind == "approval_withdrawn" and row.status == "pending" and row.mode != "async":
        changes |= {"status": "withdrawn", "note": event.approval_withdrawn.reason,
                    "decided_at": at}  # fmt: skip
    elif kind == "approval_redeemed" and not row.redeemed_by:
        changes |= {"redeemed_by": event.command_id, "redeemed_at": at}
    return replace(row, **changes)


def fold(state: Projections, events: Iterable[tuple[int, pb.Event]]) -> Projections:
    """Fold events, in stream order, into the projections they concern."""
    sessions = dict(state.sessions)
    commands = dict(state.commands)
    approvals = dict(state.approvals)
    for seq, event in events:
        if event_type(event) == "unknown":
            continue
        if event.session_id:
            sessions[event.session_id] = evolve_session(sessions.get(event.session_id), seq, event)
        if event.command_id:
            commands[event.command_id] = evolve_command(commands.get(event.command_id), seq, event)
        approval_id = approval_id_of(event)
        if approval_id:
            approvals[approval_id] = evolve_approval(approvals.get(approval_id), seq, event)
    return Projections(sessions, commands, approvals)


def evolve(state: Projections, seq: int, event: pb.Event) -> Projections:
    """Fold one event."""
    return fold(state, [(seq, event)])
