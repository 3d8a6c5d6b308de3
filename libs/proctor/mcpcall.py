"""One MCP tool call as the gateway judges it: the tool's namespaced name (`server.tool`), its
arguments read strictly as one JSON object, and the key under which one verdict holds for it.

The classifier, the policy's `match.tool`/`match.arguments` and the ingress's verdict cache
(through proctor.cachekeys) all read a call here, so they never disagree on what its arguments
are. Reading is strict because the upstream server reads the same text: a name given twice, or
a constant that is not JSON (NaN, Infinity), could be read one way by the policy and another
way by the server, so such arguments are refused rather than guessed at.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from proctor.events.v1 import events_pb2 as pb


class MalformedCall(ValueError):
    """A tool call whose arguments or names cannot be read; the message says what is wrong."""


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A call as the policy matches it: `tool` is `server.tool`, `arguments` the JSON object."""

    tool: str
    arguments: Mapping[str, Any]


def tool_name(detail: pb.McpDetail) -> str:
    """The name the agent sees: the server's configured name, a dot, the upstream tool's."""
    return f"{detail.server}.{detail.tool}"


def read_call(detail: pb.McpDetail) -> ToolCall:
    """The call, or MalformedCall saying why it cannot be read."""
    if not detail.server:
        raise MalformedCall("it names no MCP server")
    if not detail.tool:
        raise MalformedCall("it names no tool")
    return ToolCall(tool_name(detail), parse_arguments(detail.arguments))


def parse_arguments(text: str) -> dict[str, Any]:
    """The arguments as a JSON object; no text at all is no arguments (`{}`)."""
    if not text:
        return {}
    try:
        value = json.loads(text, object_pairs_hook=_unique_names, parse_constant=_no_constant)
    except MalformedCall:
        raise
    except RecursionError:
        raise MalformedCall("its arguments nest too deeply to read") from None
    except ValueError as exc:  # json.JSONDecodeError, and integers too long to convert
        raise MalformedCall(f"its arguments are not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise MalformedCall(f"its arguments are a JSON {_json_type(value)}, not an object")
    return value


def verdict_key(detail: pb.McpDetail) -> str | None:
    """The key of everything a verdict on this call may depend on: server, tool, the arguments
    (canonical: keys sorted, no spaces), both hints and the definition's hash and state.
    None when the call cannot be read (then only the classifier may judge it)."""
    try:
        call = read_call(detail)
    except MalformedCall:
        return None
    fields = [detail.server, detail.tool, call.arguments, detail.read_only, detail.destructive,
              detail.definition_sha256, detail.definition_changed]  # fmt: skip
    return "mcp:" + json.dumps(fields, sort_keys=True, separators=(",", ":"))


def _unique_names(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    names: dict[str, Any] = {}
    for name, value in pairs:
        if name in names:
            raise MalformedCall(f"its arguments give {name!r} twice")
        names[name] = value
    return names


def _no_constant(name: str) -> Any:
    raise MalformedCall(f"its arguments hold {name}, which is not JSON")


def _json_type(value: Any) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    return "number"
