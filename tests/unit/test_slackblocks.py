"""Block Kit for Slack approvals: what the request message, the decided message and the note
modals show, and that a command cannot break out of its code block."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from proctor_approval.core import PendingApproval
from proctor_approval.slackblocks import (
    ACTION_APPROVE,
    ACTION_DENY,
    VIEW_APPROVE,
    VIEW_DENY,
    ModalContext,
    Shown,
    code_block,
    decided_message,
    note_error,
    note_modal,
    note_of,
    request_message,
)

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
UPDATE = "UPDATE deployments SET replicas = 3 WHERE namespace = 'prod'"
MENTIONS = {"alice": "U0ALICE", "bob": "U0BOB"}


def pending(command: str = UPDATE, **changes: object) -> PendingApproval:
    fields: dict[str, object] = {
        "approval_id": "ap1", "session_id": "s1", "command_id": "c1", "command_text": command,
        "requester": "alice", "agent": "claude-code", "requester_groups": ("engineering",),
        "resource": "orders-db", "resource_kind": 1, "rule_ids": ("write.update",),
        "reason": "writes need approval", "command_hash": "h", "requested_at": T0,
        "expires_at": T0 + timedelta(minutes=5), "approver_groups": ("sre",),
    }  # fmt: skip
    fields.update(changes)
    return PendingApproval(**fields)  # type: ignore[arg-type]


def texts(value: object) -> str:
    """Every string inside the blocks, for `in` checks."""
    return json.dumps(value, ensure_ascii=False)


def test_the_request_shows_who_where_what_why_and_two_buttons() -> None:
    message = request_message(pending(), MENTIONS)
    blocks = message["blocks"]
    assert [b["type"] for b in blocks] == [
        "header", "section", "section", "section", "context", "actions"
    ]  # fmt: skip
    assert blocks[0]["text"]["text"] == "Approval needed on orders-db"
    fields = [f["text"] for f in blocks[1]["fields"]]
    assert fields[0] == "*Requested by*\n*alice* (<@U0ALICE>)"
    assert fields[1] == "*Agent*\nclaude-code"
    assert fields[2] == "*Resource*\norders-db"
    assert fields[4].startswith("*Expires*\n<!date^1767269100^")
    assert (
        blocks[2]["text"]["text"]
        == "```UPDATE deployments SET replicas = 3 WHERE namespace = 'prod'```"
    )
    assert blocks[3]["text"]["text"] == "*Rule* `write.update`: writes need approval"
    assert "`ap1`" in blocks[4]["elements"][0]["text"]
    buttons = blocks[5]["elements"]
    assert [(b["action_id"], b["value"], b.get("style")) for b in buttons] == [
        (ACTION_APPROVE, "ap1", "primary"), (ACTION_DENY, "ap1", "danger")
    ]  # fmt: skip
    assert message["text"].startswith("Approval needed: alice via claude-code on orders-db: UPDATE")


def test_a_requester_without_a_slack_user_and_no_expiry() -> None:
    message = request_message(pending(requester="carol", expires_at=None), MENTIONS)
    fields = [f["text"] for f in message["blocks"][1]["fields"]]
    assert fields[0] == "*Requested by*\n*carol*"
    assert not any(f.startswith("*Expires*") for f in fields)


def test_the_values_of_a_parameterized_command_are_shown_with_it() -> None:
    command = "UPDATE accounts SET owner = $1 WHERE id = $2"
    blocks = request_message(pending(command, parameters=("<@U0BOB> mallory", "3")))["blocks"]
    assert blocks[2]["text"]["text"] == f"```{command}```"
    assert blocks[3]["text"]["text"] == "*With values*\n```$1 = &lt;@U0BOB&gt; mallory\n$2 = 3```"
    assert blocks[4]["text"]["text"].startswith("*Rule*")
    context = ModalContext("ap1", "C0APPROVALS", "1700000000.000100")
    modal = note_modal(pending(command, parameters=("mallory", "3")), True, context)
    assert "$1 = mallory" in texts(modal)
    # Without parameters there is no such section.
    assert "With values" not in texts(request_message(pending()))


def test_markup_in_a_command_stays_text() -> None:
    command = "SELECT '<@U0BOB> <!channel> & ```' FROM t"
    block = request_message(pending(command))["blocks"][2]["text"]["text"]
    assert "<@" not in block and "<!channel>" not in block
    assert "&lt;@U0BOB&gt; &lt;!channel&gt; &amp;" in block
    assert block.startswith("```") and block.endswith("```") and block.count("```") == 2


@given(st.text(max_size=5000))
def test_any_command_fits_one_code_block(command: str) -> None:
    block = code_block(command)
    assert len(block) <= 3000
    assert block.startswith("```")
    assert "<" not in block.removeprefix("```")


def test_a_long_command_is_cut_and_says_so() -> None:
    block = code_block("x" * 10_000)
    assert len(block) <= 3000 and "cut here" in block and "proctor approvals show" in block


def test_a_denied_message_shows_who_when_and_the_note_without_buttons() -> None:
    shown = Shown("approval_denied", "bob", "wrong namespace\nuse staging", T0)
    message = decided_message(pending(), shown, MENTIONS)
    blocks = message["blocks"]
    assert "actions" not in [b["type"] for b in blocks]
    assert blocks[0]["text"]["text"] == "Denied on orders-db"
    line = blocks[-1]["text"]["text"]
    assert line.startswith("⛔ *Denied* by *bob* (<@U0BOB>) at <!date^1767268800^")
    assert line.endswith("> wrong namespace\n> use staging")
    assert UPDATE in texts(blocks)  # the command stays in view
    assert message["text"].startswith("Denied: alice via claude-code on orders-db")


def test_approved_and_expired_messages() -> None:
    granted = decided_message(pending(), Shown("approval_granted", "bob", "", T0), MENTIONS)
    line = granted["blocks"][-1]["text"]["text"]
    assert line.startswith("✅ *Approved* by *bob* (<@U0BOB>) at <!date^")
    assert "\n" not in line  # no note, no quote
    expired = decided_message(pending(), Shown("approval_expired", "", "", T0))
    assert expired["blocks"][-1]["text"]["text"].startswith("⌛ *Expired* undecided at <!date^")
    assert "actions" not in texts(expired["blocks"])


def test_a_withdrawn_message_says_nobody_needs_to_decide() -> None:
    shown = Shown("approval_withdrawn", "", "the client disconnected", T0)
    withdrawn = decided_message(pending(), shown)
    line = withdrawn["blocks"][-1]["text"]["text"]
    assert line.startswith("↩️ *Withdrawn* at <!date^")
    assert "nobody needs to decide" in line and "> the client disconnected" in line
    assert withdrawn["blocks"][0]["text"]["text"].startswith("Withdrawn on ")
    assert "actions" not in texts(withdrawn["blocks"])


def test_the_deny_modal_requires_a_note_and_carries_the_approval() -> None:
    context = ModalContext("ap1", "C0APPROVALS", "1700000000.000100")
    view = note_modal(pending(), approve=False, context=context)
    assert view["type"] == "modal" and view["callback_id"] == VIEW_DENY
    assert len(view["title"]["text"]) <= 24 and view["submit"]["text"] == "Deny"
    note = view["blocks"][-1]
    assert note["type"] == "input" and note["optional"] is False
    assert note["element"]["type"] == "plain_text_input"
    assert UPDATE in texts(view["blocks"])
    assert ModalContext.load(view["private_metadata"]) == context


def test_the_approve_modal_takes_an_optional_note() -> None:
    context = ModalContext("ap1", "C1", "1.2")
    view = note_modal(pending(), approve=True, context=context)
    assert view["callback_id"] == VIEW_APPROVE and view["blocks"][-1]["optional"] is True
    assert len(view["title"]["text"]) <= 24


def test_reading_the_note_of_a_submitted_view() -> None:
    def submitted(value: object) -> dict[str, object]:
        return {"state": {"values": {"note": {"note": {"type": "plain_text_input",
                                                        "value": value}}}}}  # fmt: skip

    assert note_of(submitted("wrong namespace")) == "wrong namespace"
    assert note_of(submitted(None)) == ""
    assert note_of({"state": {"values": {}}}) == ""
    assert note_of({}) == ""
    assert note_error("needed") == {"note": "needed"}


def test_modal_context_refuses_garbage() -> None:
    assert ModalContext.load("") is None
    assert ModalContext.load("[1, 2]") is None
    assert ModalContext.load('{"a": "x"}') is None


def test_the_planner_estimate_of_a_write_is_shown_when_there_is_one() -> None:
    blocks = request_message(pending(estimated_rows=12345))["blocks"]
    assert blocks[3]["text"]["text"].startswith("*Estimated rows*\n12,345 ")
    assert "Estimated rows" not in texts(request_message(pending()))
