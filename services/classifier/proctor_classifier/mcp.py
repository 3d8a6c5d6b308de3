"""Which catalog rules one MCP tool call matches: `analyze_mcp(detail)` (pure).

A tool call is judged by what the tool declares of itself (its annotations' readOnlyHint and
destructiveHint, as the ingress read them from the upstream server) and by whether its
definition changed since the gateway first saw it; what it is called with is left to the
policy (`match.tool`, `match.arguments`). Arguments that are not one JSON object fail closed.
Reasons name the namespaced tool (`github.create_issue`), never an argument, and the verdict's
key (proctor.mcpcall.verdict_key) holds everything the policy can look at.
"""

from __future__ import annotations

from dataclasses import dataclass

from proctor.events.v1 import events_pb2 as pb
from proctor.mcpcall import MalformedCall, ToolCall, read_call, tool_name, verdict_key
from proctor.rulecatalog import ALL_RULES
from proctor_classifier.rules import Match


@dataclass(frozen=True, slots=True)
class McpAnalysis:
    """The matches of one call, the call as the policy matches it (None: it cannot be read),
    and the key its verdict may be shared under ("" for none)."""

    matches: list[Match]
    call: ToolCall | None
    cache_key: str


def analyze_mcp(detail: pb.McpDetail) -> McpAnalysis:
    """The rule the tool's hints say, and `mcp.definition_changed` besides when it applies."""
    try:
        call = read_call(detail)
    except MalformedCall as exc:
        return McpAnalysis([mcp_match("mcp.malformed", _malformed(detail, exc))], None, "")
    if detail.destructive:  # the more cautious hint wins when a server declares both
        rule_id = "mcp.destructive"
    elif detail.read_only:
        rule_id = "mcp.read"
    else:
        rule_id = "mcp.write"
    matches = [mcp_match(rule_id, call.tool)]
    if detail.definition_changed:
        matches.append(mcp_match("mcp.definition_changed", call.tool))
    return McpAnalysis(matches, call, verdict_key(detail) or "")


def mcp_match(rule_id: str, subject: str) -> Match:
    """A match of `rule_id`, its reason worded for `subject`."""
    rule = ALL_RULES[rule_id]
    return Match(rule, rule.reason_for(subject), 0)


def _malformed(detail: pb.McpDetail, exc: MalformedCall) -> str:
    if detail.server and detail.tool:
        return f"the call of {tool_name(detail)}: {exc}"
    return str(exc)
