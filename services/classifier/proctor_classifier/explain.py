"""`explain`: the verdict on one command as a person reads it, with every rule and its deciding
policy line (what `proctor policy explain` shows)."""

from __future__ import annotations

import json
import shlex
import textwrap

from google.protobuf import json_format

from proctor.classifier.v1 import classifier_pb2 as cpb
from proctor.events.v1 import events_pb2 as pb
from proctor.kuberequest import headline
from proctor.mcpcall import tool_name
from proctor.policy import Policy

_WORDS = {pb.ACTION_ALLOW: "allow", pb.ACTION_REVIEW: "review", pb.ACTION_BLOCK: "block"}
# Of a tool call's arguments, this much is shown (they are matched whole).
_ARGUMENTS_SHOWN = 300


def action_word(action: pb.Action) -> str:
    return _WORDS.get(action, "unspecified")


def render_text(
    request: cpb.ClassifyRequest, response: cpb.ClassifyResponse, policy: Policy
) -> str:
    who = request.identity
    groups = ", ".join(who.groups) or "none"
    source = "built-in defaults" if policy.name == "builtin" else policy.name
    lines = [
        f"verdict: {action_word(response.action).upper()}",
        *_command_line(request),
        f"  as {who.human or '?'} (groups: {groups}) on resource {request.resource.name or '?'}",
        f"  policy {response.policy_version} ({source})",
    ]
    if response.error:
        lines.append(f"  error: {response.error}")
    if response.action == pb.ACTION_REVIEW:
        approvers = ", ".join(response.approver_groups) or "the approval service's defaults"
        mode = "async" if response.approval_mode == pb.APPROVAL_MODE_ASYNC else "wait"
        lines.append(
            f"  approvers: {approvers}; mode: {mode} (decided by {response.approval_decided_by})"
        )
    for match in response.matches:
        lines += [
            "",
            f"  {action_word(match.action):<7} {match.rule_id:<26} decided by {match.decided_by}",
            *_wrapped(match.reason, "          "),
            *_wrapped(f"hint: {match.hint}", "          "),
        ]
    return "\n".join(lines)


def _command_line(request: cpb.ClassifyRequest) -> list[str]:
    """What was judged, for kinds whose command is not the SQL text."""
    if request.detail.HasField("kube"):
        return [f"  request: {headline(request.detail.kube)}"]
    if request.detail.HasField("shell"):
        shell = request.detail.shell
        what = " ".join(shlex.quote(a) for a in shell.argv) if shell.argv else shell.text
        prefix = "argv" if shell.argv else "command"
        lines = [f"  {prefix}: {what}"] if what else []
        return lines + (["  an interactive shell (pty)"] if shell.interactive else [])
    if request.detail.HasField("mcp"):
        return _tool_call(request.detail.mcp)
    return []


def _tool_call(mcp: pb.McpDetail) -> list[str]:
    arguments = mcp.arguments or "{}"
    if len(arguments) > _ARGUMENTS_SHOWN:
        arguments = f"{arguments[: _ARGUMENTS_SHOWN - 1]}… ({len(mcp.arguments)} characters)"
    declared = [word for flag, word in [(mcp.read_only, "read-only"),
                                        (mcp.destructive, "destructive")] if flag]  # fmt: skip
    lines = [
        f"  tool call: {tool_name(mcp)} {arguments}",
        f"  the tool declares: {', '.join(declared) or 'no hints'}",
    ]
    if mcp.definition_changed:
        lines.append("  its definition changed and is not approved yet")
    return lines


def render_json(request: cpb.ClassifyRequest, response: cpb.ClassifyResponse) -> str:
    out = {
        "request": json_format.MessageToDict(request, preserving_proto_field_name=True),
        "response": json_format.MessageToDict(response, preserving_proto_field_name=True),
    }
    return json.dumps(out, indent=2)


def _wrapped(text: str, indent: str) -> list[str]:
    return textwrap.wrap(text, 100, initial_indent=indent, subsequent_indent=indent + "  ")
