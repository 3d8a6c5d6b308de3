"""The Kubernetes rules (the classifier's pure core): every default, dry runs, custom resources
judged by their verb, policy overrides by `kind`, the keys verdicts are shared under, and kinds
with no analyzer failing closed."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pglast.parser import fingerprint

from proctor.classifier.v1 import classifier_pb2 as cpb
from proctor.events.v1 import events_pb2 as pb
from proctor.kuberequest import request_info, verdict_key
from proctor.policy import Policy, parse_policy
from proctor.rulecatalog import KUBE_RULES
from proctor_classifier.core import ANALYZERS, classify

ALLOW, REVIEW, BLOCK = pb.ACTION_ALLOW, pb.ACTION_REVIEW, pb.ACTION_BLOCK


def kube(method: str, url: str, **kwargs: object) -> pb.KubeDetail:
    path, _, query = url.partition("?")
    return request_info(method, path, query, **kwargs)  # type: ignore[arg-type]


def judged(
    method: str,
    url: str,
    policy: Policy | None = None,
    groups: tuple[str, ...] = (),
    **kwargs: object,
) -> cpb.ClassifyResponse:
    return judge(kube(method, url, **kwargs), policy, groups)


def judge(
    detail: pb.KubeDetail, policy: Policy | None = None, groups: tuple[str, ...] = ()
) -> cpb.ClassifyResponse:
    request = cpb.ClassifyRequest(
        kind=cpb.COMMAND_KIND_KUBE,
        identity=pb.Identity(human="alice@example.com", groups=groups),
        resource=pb.Resource(name="prod", kind=pb.RESOURCE_KIND_KUBERNETES),
        detail=pb.CommandDetail(kube=detail),
    )
    return classify(request, policy or Policy.builtin())


def rule_of(response: cpb.ClassifyResponse) -> tuple[str, int]:
    (match,) = response.matches
    assert response.action == match.action and not response.error
    return match.rule_id, match.action


NS = "/api/v1/namespaces/demo"
APPS = "/apis/apps/v1/namespaces/demo"
RBAC = "/apis/rbac.authorization.k8s.io/v1"
CRD = "/apis/stable.example.com/v1/namespaces/demo/crontabs"
JSON = {"content_type": "application/json"}

DEFAULTS: list[tuple[str, str, dict[str, object], str, int]] = [
    # reads, of anything, and outside the resource API
    ("GET", f"{NS}/pods", {}, "k8s.read", ALLOW),
    ("GET", f"{NS}/pods/web", {}, "k8s.read", ALLOW),
    ("GET", f"{NS}/pods?watch=1", {}, "k8s.read", ALLOW),
    ("GET", "/api/v1/watch/namespaces/demo/pods/web", {}, "k8s.read", ALLOW),
    ("GET", f"{NS}/pods/web/log?follow=true", {}, "k8s.read", ALLOW),
    ("HEAD", f"{NS}/secrets/db", {}, "k8s.read", ALLOW),
    ("GET", f"{RBAC}/clusterroles", {}, "k8s.read", ALLOW),
    ("GET", "/version", {}, "k8s.read", ALLOW),
    ("HEAD", "/healthz", {}, "k8s.read", ALLOW),
    ("GET", "/api", {}, "k8s.read", ALLOW),
    ("GET", "/apis/apps/v1", {}, "k8s.read", ALLOW),
    ("GET", "/openapi/v3/apis/apps/v1", {}, "k8s.read", ALLOW),
    # dry runs persist nothing, whatever they would do
    ("POST", f"{APPS}/deployments?dryRun=All", {}, "k8s.dry_run", ALLOW),
    ("PATCH", f"{APPS}/deployments/web/scale?dryRun=All", {}, "k8s.dry_run", ALLOW),
    ("DELETE", "/api/v1/namespaces/payments?dryRun=All", {}, "k8s.dry_run", ALLOW),
    ("DELETE", f"{NS}/pods?dryRun=All", {}, "k8s.dry_run", ALLOW),
    ("POST", f"{RBAC}/clusterrolebindings?dryRun=All", {}, "k8s.dry_run", ALLOW),
    ("DELETE", f"{NS}/pods/web", {"body": b'{"dryRun":["All"]}', **JSON}, "k8s.dry_run", ALLOW),
    # ...but not connections, nor subresources that may not honor it, nor a body's options
    ("POST", f"{NS}/pods/web/exec?command=ls&dryRun=All", {}, "k8s.exec", REVIEW),
    ("POST", f"{NS}/pods/web/eviction?dryRun=All", {}, "k8s.write", REVIEW),
    ("POST", f"{NS}/serviceaccounts/ci/token?dryRun=All", {}, "k8s.credentials", BLOCK),
    ("DELETE", "/api/v1/namespaces/payments?dryRun=All",
     {"body": b'{"kind":"DeleteOptions","apiVersion":"v1"}', **JSON},
     "k8s.delete_namespace", BLOCK),
    # writes
    ("POST", f"{APPS}/deployments", {"body": b'{"kind":"Deployment"}'}, "k8s.write", REVIEW),
    ("PUT", f"{NS}/configmaps/settings", {}, "k8s.write", REVIEW),
    ("PATCH", f"{APPS}/deployments/web", {"content_type": "application/apply-patch+yaml"},
     "k8s.write", REVIEW),
    ("PATCH", f"{APPS}/deployments/web/scale", {}, "k8s.write", REVIEW),
    ("PUT", "/api/v1/namespaces/demo/finalize", {}, "k8s.write", REVIEW),
    ("POST", "/apis/authentication.k8s.io/v1/tokenreviews", {}, "k8s.write", REVIEW),
    ("POST", "/apis/certificates.k8s.io/v1/certificatesigningrequests", {}, "k8s.write", REVIEW),
    # questions that persist nothing
    ("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", {},
     "k8s.access_review", ALLOW),
    ("POST", "/apis/authorization.k8s.io/v1/namespaces/demo/localsubjectaccessreviews", {},
     "k8s.access_review", ALLOW),
    ("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", {}, "k8s.access_review", ALLOW),
    # deletes
    ("DELETE", f"{NS}/pods/web", {}, "k8s.delete", REVIEW),
    ("DELETE", f"{APPS}/deployments/web", {"body": b'{"propagationPolicy":"Foreground"}'},
     "k8s.delete", REVIEW),
    ("DELETE", "/apis/metrics.k8s.io/v1beta1/nodes/n1", {}, "k8s.delete", REVIEW),
    ("DELETE", "/api/v1/namespaces/payments", {}, "k8s.delete_namespace", BLOCK),
    ("DELETE", f"{NS}/pods", {}, "k8s.deletecollection", BLOCK),
    ("DELETE", f"{NS}/pods?labelSelector=app%3Dweb", {}, "k8s.deletecollection", BLOCK),
    ("DELETE", "/api/v1/namespaces", {}, "k8s.deletecollection", BLOCK),
    ("DELETE", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/crontabs.example.com",
     {}, "k8s.delete_cluster_critical", BLOCK),
    ("DELETE", "/api/v1/nodes/node-1", {}, "k8s.delete_cluster_critical", BLOCK),
    ("DELETE", "/api/v1/persistentvolumes/pv-1", {}, "k8s.delete_cluster_critical", BLOCK),
    # connections, whatever the method
    ("POST", f"{NS}/pods/web/exec?command=sh", {"upgrade": True}, "k8s.exec", REVIEW),
    ("GET", f"{NS}/pods/web/exec?command=sh", {"upgrade": True}, "k8s.exec", REVIEW),
    ("POST", f"{NS}/pods/web/attach?stdin=true", {}, "k8s.exec", REVIEW),
    ("GET", f"{NS}/pods/web/portforward?ports=5432", {"upgrade": True}, "k8s.exec", REVIEW),
    ("GET", f"{NS}/pods/web:8080/proxy/metrics", {}, "k8s.exec", REVIEW),
    ("POST", f"{NS}/services/web/proxy/admin/reset", {}, "k8s.exec", REVIEW),
    ("GET", "/api/v1/nodes/node-1/proxy/configz", {}, "k8s.exec", REVIEW),
    ("GET", "/api/v1/proxy/namespaces/demo/pods/web/metrics", {}, "k8s.exec", REVIEW),
    ("GET", "/apis/subresources.kubevirt.io/v1/namespaces/demo/virtualmachineinstances/vm/vnc",
     {"upgrade": True}, "k8s.exec", REVIEW),
    ("GET", "/some/stream", {"upgrade": True}, "k8s.exec", REVIEW),
    # privileged
    ("POST", f"{RBAC}/namespaces/demo/roles", {}, "k8s.rbac", BLOCK),
    ("PUT", f"{RBAC}/namespaces/demo/rolebindings/ci", {}, "k8s.rbac", BLOCK),
    ("PATCH", f"{RBAC}/clusterrolebindings/admins", {}, "k8s.rbac", BLOCK),
    ("DELETE", f"{RBAC}/clusterroles/view", {}, "k8s.rbac", BLOCK),
    ("DELETE", f"{RBAC}/namespaces/demo/rolebindings", {}, "k8s.rbac", BLOCK),
    ("POST", f"{NS}/serviceaccounts/ci/token", {}, "k8s.credentials", BLOCK),
    ("PUT", "/apis/certificates.k8s.io/v1/certificatesigningrequests/csr-1/approval", {},
     "k8s.credentials", BLOCK),
    # outside the resource API, and methods with no verb
    ("POST", "/apis/apps", {}, "k8s.non_resource_write", REVIEW),
    ("PUT", "/logs/kube-apiserver.log", {}, "k8s.non_resource_write", REVIEW),
    ("OPTIONS", f"{NS}/pods", {}, "k8s.other", REVIEW),
    # custom resources and unknown groups: by their verb
    ("GET", CRD, {}, "k8s.read", ALLOW),
    ("GET", f"{CRD}/nightly", {}, "k8s.read", ALLOW),
    ("POST", CRD, {}, "k8s.write", REVIEW),
    ("PATCH", f"{CRD}/nightly/status", {}, "k8s.write", REVIEW),
    ("DELETE", f"{CRD}/nightly", {}, "k8s.delete", REVIEW),
    ("DELETE", CRD, {}, "k8s.deletecollection", BLOCK),
    ("POST", f"{CRD}?dryRun=All", {}, "k8s.dry_run", ALLOW),
]  # fmt: skip


@pytest.mark.parametrize(("method", "url", "kwargs", "rule_id", "action"), DEFAULTS)
def test_defaults(
    method: str, url: str, kwargs: dict[str, object], rule_id: str, action: int
) -> None:
    assert rule_of(judged(method, url, **kwargs)) == (rule_id, action)


def test_every_kube_rule_has_a_case() -> None:
    covered = {rule_id for *_, rule_id, _ in DEFAULTS} | {"k8s.malformed"}
    assert covered == set(KUBE_RULES)


def test_reasons_name_what_was_judged_and_carry_hints() -> None:
    (match,) = judged("DELETE", f"{APPS}/deployments/checkout").matches
    assert match.reason == "delete of deployments.apps in namespace demo removes the object"
    assert "checkout" not in match.reason  # the verdict is shared by every name
    assert match.hint.endswith(".") and match.decided_by == "default"
    (match,) = judged(
        "POST", f"{NS}/pods/web/exec?command=sh&command=-c&command=rm+-rf+%2F"
    ).matches
    assert match.reason.startswith("exec pods/web -n demo -- sh -c 'rm -rf /' runs a command")
    (match,) = judged("DELETE", "/api/v1/namespaces/payments").matches
    assert match.reason.startswith("delete of namespace payments deletes the namespace")
    (match,) = judged("GET", "/openapi/v3?hash=abc").matches
    assert match.reason == "GET /openapi/v3 only reads"
    long = "&".join(["command=x" * 50] * 20)
    (match,) = judged("POST", f"{NS}/pods/web/exec?{long}").matches
    assert len(match.reason) < 400


def test_a_review_is_routed_by_the_policy_for_kube() -> None:
    policy = parse_policy(
        "version: 1\napprovals:\n  - approvers: [dba]\n  - match: {kind: kube}\n"
        "    approvers: [platform]\n    mode: async\n"
    )
    response = judged("PATCH", f"{APPS}/deployments/web", policy)
    assert list(response.approver_groups) == ["platform"]
    assert response.approval_mode == pb.APPROVAL_MODE_ASYNC
    assert response.approval_decided_by == "policy.yaml:4"


POLICY = """\
version: 1
rules:
  - match: {kind: kube, groups: [oncall]}
    actions: {k8s.delete: allow, k8s.exec: allow}
  - match: {kind: sql, groups: [sre]}
    actions: {write: allow}
  - match: {groups: [admins]}
    actions: {write: allow, destructive: review}
  - match: {kind: kube, resource: "prod*"}
    actions: {read: review}
"""


def test_policy_overrides_by_kind() -> None:
    policy = parse_policy(POLICY)
    pod = f"{NS}/pods/web"
    assert rule_of(judged("DELETE", pod, policy, ("oncall",))) == ("k8s.delete", ALLOW)
    assert judged("DELETE", pod, policy, ("oncall",)).matches[0].decided_by == "policy.yaml:4"
    assert rule_of(judged("DELETE", pod, policy, ("dev",))) == ("k8s.delete", REVIEW)
    # still blocked for oncall: a namespace delete is another rule
    delete_ns = judged("DELETE", "/api/v1/namespaces/demo", policy, ("oncall",))
    assert rule_of(delete_ns) == ("k8s.delete_namespace", BLOCK)
    # an entry for SQL never reaches Kubernetes requests...
    assert rule_of(judged("PUT", f"{NS}/configmaps/x", policy, ("sre",))) == ("k8s.write", REVIEW)
    # ...while an entry without kind names classes of every kind
    assert rule_of(judged("PUT", f"{NS}/configmaps/x", policy, ("admins",))) == (
        "k8s.write", ALLOW)  # fmt: skip
    assert rule_of(judged("DELETE", f"{NS}/pods", policy, ("admins",))) == (
        "k8s.deletecollection", REVIEW)  # fmt: skip
    assert rule_of(judged("GET", f"{NS}/pods", policy)) == ("k8s.read", REVIEW)
    # the fixed rules stay blocked whatever the policy says of their class
    relaxed = parse_policy("version: 1\ndefaults: {destructive: allow, privileged: allow}\n")
    assert rule_of(judge(pb.KubeDetail(), relaxed)) == ("k8s.malformed", BLOCK)
    assert rule_of(judged("DELETE", f"{RBAC}/clusterroles/admin", relaxed)) == ("k8s.rbac", ALLOW)


def test_sql_verdicts_are_unchanged_and_carry_their_fingerprint_key() -> None:
    for kind in (cpb.COMMAND_KIND_SQL, cpb.COMMAND_KIND_UNSPECIFIED):
        text = "SELECT * FROM t WHERE id = 1"
        request = cpb.ClassifyRequest(text=text, kind=kind, resource=pb.Resource(name="demo"))
        request.catalog.relations.add(name="t").definitions.add(schema="public", kind="r")
        response = classify(request, Policy.builtin())
        assert [m.rule_id for m in response.matches] == ["read.select"]
        assert response.fingerprint_safe and response.cache_key == "fp:" + fingerprint(text)
    # waiting for catalog facts, or for or with this execution's row estimate: no shared key
    provisional = classify(cpb.ClassifyRequest(text=text), Policy.builtin())
    assert provisional.fingerprint_safe and list(provisional.needs.relations) == ["t"]
    assert provisional.cache_key == ""
    write = cpb.ClassifyRequest(text="DELETE FROM t WHERE id = 1")
    write.catalog.relations.add(name="t").definitions.add(schema="public", kind="r")
    assert classify(write, Policy.builtin()).needs.estimate
    assert classify(write, Policy.builtin()).cache_key == ""
    write.catalog.estimated_rows = 3
    estimated = classify(write, Policy.builtin())
    assert estimated.fingerprint_safe and estimated.cache_key == ""
    unsafe = classify(cpb.ClassifyRequest(text="DELETE FROM t WHERE 1 = 1"), Policy.builtin())
    assert not unsafe.fingerprint_safe and unsafe.cache_key == ""
    broken = classify(cpb.ClassifyRequest(text="DROP TABL x"), Policy.builtin())
    assert broken.cache_key == "" and broken.action == BLOCK


# --- cache keys --------------------------------------------------------------------------------


def test_two_names_share_one_key_and_verdict() -> None:
    one, two = judged("GET", f"{NS}/pods/a"), judged("GET", f"{NS}/pods/b")
    assert one.cache_key and one.cache_key == two.cache_key
    assert one.cache_key == verdict_key(kube("GET", f"{NS}/pods/a"))
    assert one.matches == two.matches
    assert judged("GET", "/api/v1/namespaces/prod/pods/a").cache_key != one.cache_key
    assert judged("GET", f"{NS}/pods").cache_key != one.cache_key  # list, not get
    assert judged("DELETE", f"{NS}/pods/a").cache_key == judged("DELETE", f"{NS}/pods/b").cache_key
    assert judged("POST", f"{APPS}/deployments?dryRun=All").cache_key != judged(
        "POST", f"{APPS}/deployments").cache_key  # fmt: skip
    assert judged("GET", "/version").cache_key != judged("GET", "/healthz").cache_key


def test_verdicts_whose_reasons_name_more_than_the_key_are_not_shared() -> None:
    assert judged("POST", f"{NS}/pods/web/exec?command=ls").cache_key == ""
    assert judged("DELETE", "/api/v1/namespaces/payments").cache_key == ""
    assert judge(pb.KubeDetail()).cache_key == ""


_BODIES = st.one_of(st.binary(max_size=200), st.sampled_from([
    b'{"kind":"Pod","spec":{"containers":[{"securityContext":{"privileged":true}}]}}',
    b'{"dryRun":["All"]}', b"dryRun: [All]\n", b"", b"\xff\xfe",
]))  # fmt: skip


@given(st.sampled_from(["POST", "PUT", "PATCH"]), _BODIES, _BODIES)
def test_a_body_never_changes_a_write_verdict(method: str, first: bytes, second: bytes) -> None:
    url = f"{NS}/pods" if method == "POST" else f"{NS}/pods/web"
    one, two = judged(method, url, body=first), judged(method, url, body=second)
    assert one.matches == two.matches and one.cache_key == two.cache_key != ""


@given(_BODIES)
def test_a_delete_body_changes_only_whether_it_is_a_dry_run(body: bytes) -> None:
    detail = kube("DELETE", f"{NS}/pods/web?dryRun=All", body=body, **JSON)
    response = judge(detail)
    expected = "k8s.dry_run" if detail.dry_run else "k8s.delete"
    assert rule_of(response)[0] == expected
    assert response.cache_key == verdict_key(detail)  # the key covers dry_run


# --- kinds --------------------------------------------------------------------------------------


def test_a_kube_request_without_its_detail_fails_closed() -> None:
    request = cpb.ClassifyRequest(kind=cpb.COMMAND_KIND_KUBE, text="kubectl delete ns x")
    response = classify(request, Policy.builtin())
    assert rule_of(response) == ("k8s.malformed", BLOCK)
    assert "no Kubernetes detail" in response.matches[0].reason
    sql = cpb.ClassifyRequest(kind=cpb.COMMAND_KIND_KUBE, detail=pb.CommandDetail(
        sql=pb.SqlDetail(text="SELECT 1")))  # fmt: skip
    assert rule_of(classify(sql, Policy.builtin())) == ("k8s.malformed", BLOCK)


def test_kinds_without_an_analyzer_are_blocked_not_errors() -> None:
    kind = cpb.COMMAND_KIND_HTTP
    relaxed = parse_policy("version: 1\ndefaults: {write: allow, privileged: allow}\n")
    request = cpb.ClassifyRequest(kind=kind, text="rm -rf /")
    response = classify(request, relaxed)
    assert rule_of(response) == ("gateway.unknown_kind", BLOCK)
    assert not response.error and response.cache_key == ""
    assert "commands are not judged by this classifier yet" in response.matches[0].reason
    assert kind not in ANALYZERS


def test_a_kind_the_contract_does_not_define_is_an_error() -> None:
    response = classify(cpb.ClassifyRequest(kind=42), Policy.builtin())  # type: ignore[arg-type]
    assert response.error and response.action == BLOCK
