"""The shape of a command under which one verdict may serve others.

The classifier returns a verdict's `cache_key` (ClassifyResponse.cache_key) only when the verdict
holds for every command of that shape; the ingress computes the same shape of each new command
with `shape` and finds the verdict without asking. Both sides call this module, so the two
never disagree on what a shape is.

- SQL: the pglast fingerprint of the text (constants removed), when no constant took part in
  the decision (`... WHERE aid = 1` and `... WHERE aid = 2` share one; `WHERE 1=1` and
  `WHERE 1=2` never do: the classifier gives those no key).
- Kubernetes: `proctor.kuberequest.verdict_key`, the request without its object's name and
  body (verb, group, resource, subresource, namespace, dry run; a non-resource path is its own
  shape), so `get pods/a` and `get pods/b` share one verdict.
- MCP: `proctor.mcpcall.verdict_key`, the whole call: server, tool, the arguments in canonical
  JSON (keys sorted), the tool's read-only and destructive hints, its definition's SHA-256 and
  whether that definition changed, since a policy may decide by any argument's value. Calls
  whose arguments cannot be read have no shape.
"""

from __future__ import annotations

from pglast.parser import fingerprint

from proctor.classifier.v1 import classifier_pb2 as cpb
from proctor.events.v1 import events_pb2 as pb
from proctor.kuberequest import verdict_key
from proctor.mcpcall import verdict_key as mcp_key


def sql_shape(text: str) -> str | None:
    try:
        return "fp:" + fingerprint(text)
    except Exception:  # unparseable: only the classifier may judge it
        return None


def shape(kind: int, text: str, detail: pb.CommandDetail | None) -> str | None:
    """The shape of a command, or None when it has none (it is cached by exact key only)."""
    if kind == cpb.COMMAND_KIND_SQL:
        return sql_shape(text)
    if kind == cpb.COMMAND_KIND_KUBE and detail is not None and detail.HasField("kube"):
        return verdict_key(detail.kube)
    if kind == cpb.COMMAND_KIND_MCP and detail is not None and detail.HasField("mcp"):
        return mcp_key(detail.mcp)
    return None
