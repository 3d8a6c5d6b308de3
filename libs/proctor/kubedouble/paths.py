"""What a request path names, by the API server's rules (apiserver `request/requestinfo.go`):
`/api/v1/namespaces/demo/pods/x/log` is resource `pods`, namespace `demo`, name `x`,
subresource `log`. A GET without a name is a list (a watch with `?watch=1` or the old
`/watch/` prefix); a DELETE without a name is a deletecollection."""

from __future__ import annotations

from dataclasses import dataclass

NAMESPACE_SUBRESOURCES = {"status", "finalize"}


@dataclass(frozen=True, slots=True)
class RequestInfo:
    """A resource request's parts; `resource` is empty for discovery of a group or version."""

    group: str
    version: str
    namespace: str = ""
    resource: str = ""
    name: str = ""
    subresource: str = ""
    watch_prefix: bool = False
    namespaced_path: bool = False  # the path went through /namespaces/{ns}/


def parse(path: str) -> RequestInfo | None:
    """The parts of an `/api/...` or `/apis/...` path, or None for any other path."""
    parts = [p for p in path.split("/") if p]
    if not parts:
        return None
    if parts[0] == "api":
        if len(parts) < 2:
            return None
        group, version, rest = "", parts[1], parts[2:]
    elif parts[0] == "apis":
        if len(parts) < 3:
            return None
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    watch_prefix = bool(rest) and rest[0] == "watch"
    if watch_prefix:
        rest = rest[1:]
    namespace, namespaced_path = "", False
    if rest and rest[0] == "namespaces" and len(rest) > 1:
        namespace = rest[1]
        if len(rest) > 2 and rest[2] not in NAMESPACE_SUBRESOURCES:
            rest = rest[2:]
            namespaced_path = True
    if len(rest) > 3:
        return None
    resource, name, subresource = [*rest, "", "", ""][:3]
    if resource == "namespaces" and not namespaced_path:
        # /api/v1/namespaces/demo is the namespace `demo` itself, not a scope
        name, namespace = namespace or name, ""
    return RequestInfo(
        group, version, namespace, resource, name, subresource, watch_prefix, namespaced_path
    )
