"""What an MCP agent reads back: results as compact text plus structured content, and every
refusal as a tool result with `isError` that names the rule, says why and what to do next
(the words are outcomes.py's, shared by every protocol; a pending approval also says how to
wait for it over MCP)."""

from __future__ import annotations

from typing import Any

import mcp_types as types

from proctor_ingress.mcp.query import Page
from proctor_ingress.outcomes import SAID_DENIED, SAID_PENDING, Kind, Outcome

CELL_CHARS = 2000  # a longer value is cut in the text table (the structured rows keep it)


def text_result(text: str, structured: dict[str, Any] | None = None) -> types.CallToolResult:
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=text)], structured_content=structured
    )


def error_result(text: str, structured: dict[str, Any] | None = None) -> types.CallToolResult:
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=text)],
        structured_content=structured,
        is_error=True,
    )


def waiting_hint(approval_id: str) -> str:
    return (
        f"To wait for the decision, call approval_wait with id {approval_id!r} (it waits up to "
        "50 s a call; call it again while it says pending). Once approved, call this tool "
        "again with exactly the same arguments: it then runs once. Or go on with other work "
        f"and check with approval_status({approval_id!r}) later."
    )


def refusal(
    message: str,
    detail: str = "",
    hint: str = "",
    *,
    status: str = "refused",
    approval_id: str = "",
    rule_ids: tuple[str, ...] = (),
    note: str = "",
) -> types.CallToolResult:
    """A command the gateway did not run, as an MCP tool error."""
    lines = [message]
    if detail and not detail.startswith("approval_id="):
        lines.append(detail)
    if hint:
        lines.append(f"Next step: {hint}")
    if status == "pending" and approval_id:
        lines.append(waiting_hint(approval_id))
    structured: dict[str, Any] = {"status": status}
    if approval_id:
        structured["approval_id"] = approval_id
    if rule_ids:
        structured["rule_ids"] = list(rule_ids)
    if note:
        structured["note"] = note
    return error_result("\n".join(lines), structured)


def outcome_result(outcome: Outcome, noun: str = "tool call") -> types.CallToolResult:
    message, detail, hint = outcome.words(noun)
    return refusal(
        message,
        detail,
        hint,
        status=outcome.kind.value,
        approval_id=outcome.approval_id,
        rule_ids=outcome.rule_ids,
        note=outcome.note if outcome.kind is Kind.DENIED else "",
    )


def pg_error(fields: dict[str, str]) -> types.CallToolResult:
    """An ErrorResponse: the gateway's refusal (42501, with the rule or the approval) or the
    target's own error."""
    detail = fields.get("D", "")
    message = fields.get("M", "the statement failed")
    status, approval_id = said(message)
    if not status:
        ours = message.startswith("Proctor")  # the gateway's words, not the target's error
        status = (
            {"42501": "refused", "58000": "unavailable", "57014": "withdrawn"}.get(
                fields.get("C", ""), "error"
            )
            if ours
            else "error"
        )
        message = f"ERROR {fields.get('C', '')}: {message}".replace("ERROR : ", "ERROR: ")
    return refusal(
        message,
        detail,
        fields.get("H", ""),
        status=status,
        approval_id=approval_id,
    )


def said(message: str) -> tuple[str, str]:
    """("pending" or "denied", the approval id) when the gateway's words say so, else ("", "")."""
    for status, words in (("pending", SAID_PENDING), ("denied", SAID_DENIED)):
        found = words.search(message)
        if found:
            return status, found.group(1)
    return "", ""


def _cell(value: str | None) -> str:
    if value is None:
        return "NULL"
    text = value.replace("\\", "\\\\").replace("\n", "\\n").replace("|", "\\|")
    if len(text) > CELL_CHARS:
        text = f"{text[:CELL_CHARS]}…(+{len(text) - CELL_CHARS} chars)"
    return text


def page_result(page: Page, resource: str, limit: int) -> types.CallToolResult:
    """A page of a query's answer: a compact table per statement, then what follows."""
    if page.error is not None and not any(page.rows):
        return pg_error(page.error)
    out: list[str] = []
    statements: list[dict[str, Any]] = []
    for statement, rows in zip(page.statements, page.rows, strict=True):
        if statement.columns:
            out.append(" | ".join(f"{c.name} ({c.type})" for c in statement.columns))
            out.extend(" | ".join(_cell(v) for v in row) for row in rows)
        if statement.tag:
            out.append(f"-- {statement.tag}")
        if statement.error is not None:
            out.append(f"-- ERROR {statement.error.get('C', '')}: {statement.error.get('M', '')}")
        statements.append(
            {
                "columns": [{"name": c.name, "type": c.type} for c in statement.columns],
                "rows": rows,
                "tag": statement.tag,
                **({"error": statement.error} if statement.error is not None else {}),
            }
        )
    for notice in page.notices:
        out.append(f"-- NOTICE: {notice}")
    structured: dict[str, Any] = {"resource": resource, "statements": statements}
    if page.cursor:
        shown = sum(len(r) for r in page.rows)
        out.append(
            f"-- {shown} rows shown (rows {page.first_row + 1}-{page.first_row + shown}); more "
            f'follow: call query with resource "{resource}" and cursor "{page.cursor}" for the '
            f"next {limit}. The cursor expires after 5 idle minutes."
        )
        structured["cursor"] = page.cursor
    if page.error is not None:
        return error_result("\n".join(out), structured)
    return text_result("\n".join(out) or "-- no result", structured)
