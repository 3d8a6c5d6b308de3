"""Which catalog rule one Kubernetes API request matches: `analyze_kube(detail)` (pure).

The request is the ingress's `KubeDetail`, read by the API server's own RequestInfo rules
(proctor.kuberequest). It is judged by its verb, API group, resource and subresource, the same
way for built-in resources, custom resources and groups the gateway has never heard of; never
by the object's name or body. So one verdict holds for every request with the same
`verdict_key` (`get pods/a` and `get pods/b` share it), and reasons name no object, except
those of connections (which name the command run) and of namespace deletions.
"""

from __future__ import annotations

from dataclasses import dataclass

from proctor.events.v1 import events_pb2 as pb
from proctor.kuberequest import READ_VERBS, WRITE_VERBS, headline, verdict_key
from proctor.rulecatalog import ALL_RULES
from proctor_classifier.rules import Match

# Subresources whose writes the API server's generic handlers carry out, so `dryRun=All` is
# honored; the others (eviction, binding, token, custom ones) are judged as the write they are.
DRY_RUN_SUBRESOURCES = frozenset(
    {"", "status", "scale", "ephemeralcontainers", "resize", "approval", "finalize"}
)
# Creates that ask the API server a question and persist nothing (kubectl auth can-i, whoami).
ACCESS_REVIEWS = frozenset({
    ("authorization.k8s.io", "selfsubjectaccessreviews"),
    ("authorization.k8s.io", "selfsubjectrulesreviews"),
    ("authorization.k8s.io", "subjectaccessreviews"),
    ("authorization.k8s.io", "localsubjectaccessreviews"),
    ("authentication.k8s.io", "selfsubjectreviews"),
})  # fmt: skip
RBAC_GROUP = "rbac.authorization.k8s.io"
# (group, resource, subresource, verbs) whose write mints a credential.
CREDENTIALS = (
    ("", "serviceaccounts", "token", {"create"}),
    ("certificates.k8s.io", "certificatesigningrequests", "approval", {"update", "patch"}),
)
# Cluster-wide objects whose loss takes others with it.
CLUSTER_CRITICAL = frozenset({
    ("apiextensions.k8s.io", "customresourcedefinitions"),
    ("", "nodes"),
    ("", "persistentvolumes"),
})  # fmt: skip
# Reasons name what a connection runs; this much of it.
_SUBJECT_MAX = 300
_CONNECTS = {
    "exec": "runs a command in a container",
    "attach": "attaches to a running container's input and output",
    "portforward": "opens a tunnel to the pod's ports",
    "proxy": "sends a request through the API server to it",
}


@dataclass(frozen=True, slots=True)
class KubeAnalysis:
    """The matches of one request, and the key its verdict may be shared under ("" when the
    reason names something the key leaves out)."""

    matches: list[Match]
    cache_key: str


def analyze_kube(detail: pb.KubeDetail) -> KubeAnalysis:
    """The rule one request matches, with its reason."""
    rule_id, subject = judge(detail)
    shared = rule_id not in {"k8s.exec", "k8s.delete_namespace", "k8s.malformed"}
    return KubeAnalysis([kube_match(rule_id, subject)], verdict_key(detail) if shared else "")


def kube_match(rule_id: str, subject: str) -> Match:
    """A match of `rule_id`, its reason worded for `subject`."""
    rule = ALL_RULES[rule_id]
    return Match(rule, rule.reason_for(subject), 0)


def judge(d: pb.KubeDetail) -> tuple[str, str]:
    """The rule id a request matches and the subject its reason names; the first rule that
    applies, in order: reads, connections, requests outside the resource API, unknown verbs,
    dry runs, access reviews, then writes by what they touch."""
    if not d.method or not (d.non_resource or d.resource):
        return "k8s.malformed", "it has no method" if not d.method else "it has no resource"
    if d.verb == "connect":
        return "k8s.exec", _connection(d)
    if d.non_resource:
        where = f"{d.method} {d.path.partition('?')[0]}"
        if d.verb in {"get", "head"}:
            return "k8s.read", where
        return "k8s.non_resource_write", where
    what = _what(d)
    if d.verb in READ_VERBS:
        return "k8s.read", f"{d.verb} of {what}"
    if d.verb not in WRITE_VERBS:
        return "k8s.other", f"{d.method} of {what}"
    subject = f"{d.verb} of {what}"
    if d.dry_run and d.subresource in DRY_RUN_SUBRESOURCES:
        return "k8s.dry_run", subject
    if d.verb == "create" and not d.subresource and (d.group, d.resource) in ACCESS_REVIEWS:
        return "k8s.access_review", subject
    if d.group == RBAC_GROUP:
        return "k8s.rbac", subject
    for group, resource, subresource, verbs in CREDENTIALS:
        if (d.group, d.resource, d.subresource) == (group, resource, subresource) and (
            d.verb in verbs
        ):
            return "k8s.credentials", subject
    if d.verb == "deletecollection":
        return "k8s.deletecollection", subject
    if d.verb == "delete" and not d.subresource:
        if (d.group, d.resource) == ("", "namespaces"):
            return "k8s.delete_namespace", f"delete of namespace {d.name}"
        if (d.group, d.resource) in CLUSTER_CRITICAL:
            return "k8s.delete_cluster_critical", subject
    if d.verb == "delete":
        return "k8s.delete", subject
    return "k8s.write", subject


def _what(d: pb.KubeDetail) -> str:
    """The resource as kubectl names it (`deployments.apps/scale`), and where; no name."""
    what = d.resource + (f".{d.group}" if d.group else "")
    if d.subresource:
        what += f"/{d.subresource}"
    if d.namespace and d.resource != "namespaces":
        what += f" in namespace {d.namespace}"
    return what


def _connection(d: pb.KubeDetail) -> str:
    line = headline(d)
    if len(line) > _SUBJECT_MAX:
        line = line[: _SUBJECT_MAX - 1] + "…"
    does = _CONNECTS.get(d.subresource, "opens a live connection")
    return f"{line} {does}"
