"""Checkpoints of the approval state: the live state (see core.remember) and the stream
sequence it was folded up to, as JSON, so a replica starts from the latest checkpoint and reads
only the events after it instead of every approval event since sequence 1."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from typing import Any

from proctor_approval.core import ApprovalState, Outcome, PendingApproval

VERSION = 2  # 2: a decided approval keeps its request (1 reads as not knowing it)
READABLE = (1, 2)
_TIMES = ("requested_at", "expires_at")


def _pending(p: PendingApproval) -> dict[str, Any]:
    data = dataclasses.asdict(p)
    for name in _TIMES:
        value = data[name]
        data[name] = value.isoformat() if value is not None else None
    return data


def _pending_from(data: dict[str, Any]) -> PendingApproval:
    fields = {f.name: f for f in dataclasses.fields(PendingApproval)}
    values: dict[str, Any] = {}
    for name, value in data.items():
        if name not in fields:
            continue  # written by a newer version: what this one does not know is left out
        if name in _TIMES:
            value = datetime.fromisoformat(value) if value else None
        elif isinstance(value, list):
            value = tuple(value)
        values[name] = value
    return PendingApproval(**values)


def _outcome(o: Outcome) -> dict[str, Any]:
    data = {f.name: getattr(o, f.name) for f in dataclasses.fields(Outcome)}
    data["request"] = _pending(o.request) if o.request is not None else None
    return data


def _outcome_from(data: dict[str, Any]) -> Outcome:
    names = {f.name for f in dataclasses.fields(Outcome)}
    values = {k: v for k, v in data.items() if k in names}
    if values.get("request") is not None:
        values["request"] = _pending_from(values["request"])
    return Outcome(**values)


def snapshot(state: ApprovalState, seq: int) -> bytes:
    """The state folded up to stream sequence `seq`, as bytes to store."""
    return json.dumps(
        {
            "version": VERSION,
            "seq": seq,
            "pending": [_pending(p) for p in state.pending.values()],
            "decided": [_outcome(o) for o in state.decided.values()],
            "by_hash": dict(state.by_hash),
            "requests": [_pending(p) for p in state.requests.values()],
        },
        separators=(",", ":"),
    ).encode()


def restore(data: bytes) -> tuple[ApprovalState, int]:
    """A stored checkpoint's state and sequence; ValueError if it is not one this reads."""
    try:
        doc = json.loads(data)
        if doc.get("version") not in READABLE:
            raise ValueError(f"checkpoint version {doc.get('version')!r}")
        pending = [_pending_from(p) for p in doc["pending"]]
        requests = [_pending_from(p) for p in doc["requests"]]
        decided = [_outcome_from(o) for o in doc["decided"]]
        state = ApprovalState(
            pending={p.approval_id: p for p in pending},
            decided={o.approval_id: o for o in decided},
            by_hash=dict(doc["by_hash"]),
            requests={p.approval_id: p for p in requests},
        )
        return state, int(doc["seq"])
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"not an approval checkpoint: {exc}") from exc
