"""Proctor's own MCP tools as the agent sees them: names, input schemas, and descriptions
written for a model (what the tool does, what it reaches, what a refusal means)."""

from __future__ import annotations

from typing import Any

import mcp_types as types

MAX_ROWS = 1000
DEFAULT_ROWS = 100
MAX_WAIT = 50.0

GOVERNED = (
    " Everything goes through Proctor, the gateway between you and production: reads run at "
    "once with personal data, card numbers, health data and secrets masked; writes wait for a "
    "human approver; destructive commands are refused. When Proctor does not run a command, "
    "the result is an error that names the rule, says why and what to do next; a denial "
    "carries the approver's note. Do not try to get around a refusal: change the command as "
    "it says, or ask a human."
)
PENDING = (
    " A command under review waits up to about 45 s for the decision; if nobody has decided "
    "by then, the result says it is pending, with the approval id: call approval_wait with "
    "that id, then call this tool again with exactly the same arguments."
)


def _object(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }


RESOURCE = {"type": "string", "description": "The resource's name, as list_resources gives it."}

LIST_RESOURCES = types.Tool(
    name="list_resources",
    title="List the resources you can reach",
    description=(
        "List the infrastructure resources you can reach through Proctor: databases "
        "(use `query`), Kubernetes clusters (use `kubectl`), hosts (use `exec`) and other "
        "MCP servers (their tools appear as `<resource>.<tool>`), each with its kind and a "
        "one-line description. Call this first." + GOVERNED
    ),
    input_schema=_object({}, []),
    annotations=types.ToolAnnotations(read_only_hint=True, open_world_hint=False),
)

QUERY = types.Tool(
    name="query",
    title="Run SQL on a database",
    description=(
        "Run SQL on a Postgres resource and get the rows back as a compact table (column "
        "names and types, then one line per row) and as structured content. At most "
        f"`max_rows` rows come back per call (default {DEFAULT_ROWS}, at most {MAX_ROWS}); "
        "when more follow, the result gives a cursor: call query again with the same "
        "resource and that cursor (and no sql) for the next rows. Several statements may "
        "be sent in one text; each is judged." + GOVERNED + PENDING
    ),
    input_schema={
        "type": "object",
        "properties": {
            "resource": RESOURCE,
            "sql": {"type": "string", "description": "The SQL to run.", "minLength": 1},
            "cursor": {
                "type": "string",
                "description": "The cursor a previous result gave, to read its next rows.",
            },
            "max_rows": {"type": "integer", "minimum": 1, "maximum": MAX_ROWS},
        },
        "required": ["resource"],
        "additionalProperties": False,
        "oneOf": [{"required": ["sql"]}, {"required": ["cursor"]}],
    },
    annotations=types.ToolAnnotations(destructive_hint=True, open_world_hint=True),
)

KUBECTL = types.Tool(
    name="kubectl",
    title="Run kubectl on a cluster",
    description=(
        'Run kubectl on a Kubernetes resource, e.g. args ["get", "pods", "-n", "shop"] '
        'or ["logs", "deploy/checkout", "--tail", "100"]. Proctor supplies the '
        "cluster and credentials: do not pass --kubeconfig, --server, --token, --context or "
        "--as. Nothing interactive or endless (-i/-t, attach, port-forward, proxy, edit, "
        "--watch, logs -f). Manifests go in `stdin` with `-f -`; local files cannot be "
        "read. Secrets come back with their values masked." + GOVERNED + PENDING
    ),
    input_schema=_object(
        {
            "resource": RESOURCE,
            "args": {
                "type": "array",
                "items": {"type": "string"},
                "minItems": 1,
                "description": "kubectl's arguments, without the word kubectl.",
            },
            "stdin": {"type": "string", "description": "Input for `-f -` (a manifest)."},
        },
        ["resource", "args"],
    ),
    annotations=types.ToolAnnotations(destructive_hint=True, open_world_hint=True),
)

EXEC = types.Tool(
    name="exec",
    title="Run a shell command on a host",
    description=(
        "Run one shell command line on a host resource (e.g. `cat /var/log/app.log | tail "
        "-n 50`) and get its stdout, stderr and exit status. No stdin and no terminal: "
        "interactive programs do not work. Output is masked line by line." + GOVERNED + PENDING
    ),
    input_schema=_object(
        {
            "resource": RESOURCE,
            "command": {"type": "string", "minLength": 1, "description": "The command line."},
        },
        ["resource", "command"],
    ),
    annotations=types.ToolAnnotations(destructive_hint=True, open_world_hint=True),
)

APPROVAL_STATUS = types.Tool(
    name="approval_status",
    title="Check an approval",
    description=(
        "Say where one of your approval requests stands: pending, granted (call the tool "
        "again with exactly the same arguments to run it, once), denied (with the "
        "approver's note: change the command as it asks), expired or withdrawn. Only "
        "humans approve; no tool can."
    ),
    input_schema=_object(
        {"id": {"type": "string", "minLength": 1, "description": "The approval id."}}, ["id"]
    ),
    annotations=types.ToolAnnotations(read_only_hint=True, open_world_hint=False),
)

APPROVAL_WAIT = types.Tool(
    name="approval_wait",
    title="Wait for an approval",
    description=(
        "Wait until one of your approval requests is decided, for at most `timeout_s` "
        f"seconds (default and maximum {MAX_WAIT:g}), sending progress while it waits. "
        "Returns as approval_status does; if it is still pending, call it again or go on "
        "with other work. Once granted, call the original tool again with exactly the same "
        "arguments."
    ),
    input_schema=_object(
        {
            "id": {"type": "string", "minLength": 1, "description": "The approval id."},
            "timeout_s": {"type": "number", "exclusiveMinimum": 0, "maximum": MAX_WAIT},
        },
        ["id"],
    ),
    annotations=types.ToolAnnotations(read_only_hint=True, open_world_hint=False),
)

OWN_TOOLS = {
    t.name: t for t in (LIST_RESOURCES, QUERY, KUBECTL, EXEC, APPROVAL_STATUS, APPROVAL_WAIT)
}
