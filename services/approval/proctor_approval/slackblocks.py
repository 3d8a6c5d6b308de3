"""Block Kit for Slack approvals: the request message with Approve / Deny buttons, the same
message once decided (no buttons), and the note modals. Pure functions from approvals to the
JSON Slack takes; no I/O, so every shape is unit-tested.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from proctor_approval.core import PendingApproval

ACTION_APPROVE = "proctor_approve"
ACTION_DENY = "proctor_deny"
ACTIONS_BLOCK = "proctor_decision"
VIEW_APPROVE = "proctor_approve_note"
VIEW_DENY = "proctor_deny_note"
NOTE_BLOCK = "note"
NOTE_ACTION = "note"

# Slack's limits: section text 3000 characters, header 150, modal title 24, note we accept 2000.
_SECTION_MAX = 3000
_HEADER_MAX = 150
NOTE_MAX = 2000

_DECIDED = {
    "approval_granted": ("✅", "Approved"),
    "approval_denied": ("⛔", "Denied"),
    "approval_expired": ("⌛", "Expired"),
    "approval_withdrawn": ("↩️", "Withdrawn"),
}


@dataclass(frozen=True, slots=True)
class Shown:
    """How an approval ended, as the message shows it."""

    kind: str  # approval_granted, approval_denied, approval_expired or approval_withdrawn
    approver: str
    note: str
    at: datetime


@dataclass(frozen=True, slots=True)
class ModalContext:
    """What a modal carries from the click to its submission (Slack's private_metadata)."""

    approval_id: str
    channel: str
    message_ts: str

    def dump(self) -> str:
        return json.dumps({"a": self.approval_id, "c": self.channel, "t": self.message_ts})

    @classmethod
    def load(cls, text: str) -> ModalContext | None:
        try:
            data = json.loads(text)
            return cls(str(data["a"]), str(data["c"]), str(data["t"]))
        except (ValueError, TypeError, KeyError):
            return None


def escape(text: str) -> str:
    """Text for mrkdwn: Slack reads &, < and > as markup (links, mentions) otherwise."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def code_block(text: str, limit: int = _SECTION_MAX) -> str:
    """The exact text in a code block; too long, it is cut and says so."""
    body = escape(text).replace("```", "`\u200b``")  # a ``` inside would close the block
    suffix = ""
    room = limit - 8
    if len(body) > room:
        suffix = "\n(cut here; the full text: `proctor approvals show ID`)"
        body = body[: room - len(suffix)]
    return f"```{body}```{suffix}"


def parameter_lines(parameters: Sequence[str]) -> str:
    """The values a statement runs with, one per line: `$1 = value`."""
    return "\n".join(f"${i} = {value}" for i, value in enumerate(parameters, 1))


def _command_blocks(request: PendingApproval) -> list[dict[str, Any]]:
    """The exact command, and the values of its parameters when it has some."""
    blocks = [{"type": "section", "text": _text("mrkdwn", code_block(request.command_text))}]
    if request.parameters:
        values = code_block(parameter_lines(request.parameters), _SECTION_MAX - 20)
        blocks.append({"type": "section", "text": _text("mrkdwn", f"*With values*\n{values}")})
    if request.estimated_rows is not None:
        blocks.append({"type": "section", "text": _text("mrkdwn", estimate_line(request))})
    return blocks


def estimate_line(request: PendingApproval) -> str:
    """The planner's estimate of what a write touches, for the approver."""
    rows = request.estimated_rows
    return f"*Estimated rows*\n{rows:,} (the planner's estimate, EXPLAIN without running it)"


def when(at: datetime) -> str:
    """A time every reader sees in their own time zone, with a UTC fallback."""
    fallback = at.strftime("%Y-%m-%d %H:%M:%S UTC")
    return f"<!date^{int(at.timestamp())}^{{date_short_pretty}} {{time_secs}}|{fallback}>"


def who(identity: str, mentions: Mapping[str, str]) -> str:
    """A Proctor identity, with its Slack mention when it has one."""
    if not identity:
        return "nobody"
    slack_user = mentions.get(identity)
    name = f"*{escape(identity)}*"
    return f"{name} (<@{slack_user}>)" if slack_user else name


def _text(kind: str, text: str) -> dict[str, Any]:
    return {"type": kind, "text": text}


def summary(request: PendingApproval) -> str:
    """The notification text (and what screen readers read)."""
    line = request.command_text.splitlines()[0] if request.command_text else ""
    if len(line) > 80:
        line = line[:77] + "…"
    return f"Approval needed: {request.requester} via {request.agent} on {request.resource}: {line}"


def _request_blocks(request: PendingApproval, mentions: Mapping[str, str]) -> list[dict[str, Any]]:
    header = f"Approval needed on {request.resource}"[:_HEADER_MAX]
    fields = [
        _text("mrkdwn", f"*Requested by*\n{who(request.requester, mentions)}"),
        _text("mrkdwn", f"*Agent*\n{escape(request.agent) or 'unknown'}"),
        _text("mrkdwn", f"*Resource*\n{escape(request.resource)}"),
        _text("mrkdwn", f"*Requested*\n{when(request.requested_at)}"),
    ]
    if request.expires_at is not None:
        fields.append(_text("mrkdwn", f"*Expires*\n{when(request.expires_at)}"))
    rules = ", ".join(f"`{escape(r)}`" for r in request.rule_ids) or "none named"
    reason = escape(request.reason) or "no reason given"
    return [
        {"type": "header", "text": _text("plain_text", header)},
        {"type": "section", "fields": fields},
        *_command_blocks(request),
        {
            "type": "section",
            "text": _text("mrkdwn", f"*Rule* {rules}: {reason}"[:_SECTION_MAX]),
        },
        {
            "type": "context",
            "elements": [_text("mrkdwn", f"Approval `{escape(request.approval_id)}`")],
        },
    ]


def request_message(
    request: PendingApproval, mentions: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """chat.postMessage arguments (text and blocks) for a pending approval."""
    mentions = mentions or {}
    buttons = {
        "type": "actions",
        "block_id": ACTIONS_BLOCK,
        "elements": [
            {
                "type": "button",
                "action_id": ACTION_APPROVE,
                "text": _text("plain_text", "Approve"),
                "style": "primary",
                "value": request.approval_id,
            },
            {
                "type": "button",
                "action_id": ACTION_DENY,
                "text": _text("plain_text", "Deny"),
                "style": "danger",
                "value": request.approval_id,
            },
        ],
    }
    return {"text": summary(request), "blocks": [*_request_blocks(request, mentions), buttons]}


def decision_line(shown: Shown, mentions: Mapping[str, str]) -> str:
    icon, word = _DECIDED.get(shown.kind, ("•", shown.kind))
    if shown.kind == "approval_expired":
        line = f"{icon} *{word}* undecided at {when(shown.at)}"
    elif shown.kind == "approval_withdrawn":
        line = (f"{icon} *{word}* at {when(shown.at)}: the agent left before a decision, "
                "so nothing will run and nobody needs to decide")  # fmt: skip
    else:
        line = f"{icon} *{word}* by {who(shown.approver, mentions)} at {when(shown.at)}"
    note = shown.note.strip()
    if note:
        quoted = "\n".join(f"> {escape(part)}" for part in note.splitlines())
        line = f"{line}\n{quoted}"
    return line[:_SECTION_MAX]


def decided_message(
    request: PendingApproval, shown: Shown, mentions: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """chat.update arguments for a decided approval: who, when, the note; no buttons."""
    mentions = mentions or {}
    _, word = _DECIDED.get(shown.kind, ("", shown.kind))
    blocks = _request_blocks(request, mentions)
    blocks[0] = {
        "type": "header",
        "text": _text("plain_text", f"{word} on {request.resource}"[:_HEADER_MAX]),
    }
    blocks.append({"type": "section", "text": _text("mrkdwn", decision_line(shown, mentions))})
    return {
        "text": f"{word}: {summary(request).removeprefix('Approval needed: ')}",
        "blocks": blocks,
    }


def note_modal(request: PendingApproval, approve: bool, context: ModalContext) -> dict[str, Any]:
    """The modal an Approve or Deny click opens: the command again, and the note (required to
    deny, since the agent is told why; optional to approve)."""
    label = "Note (optional)" if approve else "Why? The agent is told, so it can adjust"
    return {
        "type": "modal",
        "callback_id": VIEW_APPROVE if approve else VIEW_DENY,
        "title": _text("plain_text", "Approve command" if approve else "Deny command"),
        "submit": _text("plain_text", "Approve" if approve else "Deny"),
        "close": _text("plain_text", "Cancel"),
        "private_metadata": context.dump(),
        "blocks": [
            {
                "type": "section",
                "text": _text(
                    "mrkdwn",
                    f"*{escape(request.requester)}* via *{escape(request.agent)}* on "
                    f"*{escape(request.resource)}*",
                ),
            },
            *_command_blocks(request),
            {
                "type": "input",
                "block_id": NOTE_BLOCK,
                "optional": approve,
                "label": _text("plain_text", label),
                "element": {
                    "type": "plain_text_input",
                    "action_id": NOTE_ACTION,
                    "multiline": True,
                    "max_length": NOTE_MAX,
                },
            },
        ],
    }


def note_of(view: Mapping[str, Any]) -> str:
    """The note typed into a submitted modal ("" when left empty)."""
    try:
        value = view["state"]["values"][NOTE_BLOCK][NOTE_ACTION].get("value")
    except (KeyError, TypeError, AttributeError):
        return ""
    return value if isinstance(value, str) else ""


def note_error(message: str) -> dict[str, str]:
    """The `errors` of a view_submission ack that marks the note field."""
    return {NOTE_BLOCK: message}
