"""Kubernetes API requests read as the API server's RequestInfo reads them (cases from
k8s.io/apiserver requestinfo_test.go), connections, dry runs and bodies as the gateway needs
them, paths it refuses to guess at, and the text the agent, the approver and the audit log see.
"""

from __future__ import annotations

import hashlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from proctor.errors import ProctorError, UnreadableRequest
from proctor.events.v1 import events_pb2 as pb
from proctor.kuberequest import BODY_LIMIT, display_text, headline, request_info, verdict_key
from proctor.kubeurl import field_selector, list_options, query_pairs

Fields = tuple[str, str, str, str, str, str, str]  # verb, group, version, namespace, resource,
# subresource, name


def info(method: str, url: str, **kwargs: object) -> pb.KubeDetail:
    path, _, query = url.partition("?")
    return request_info(method, path, query, **kwargs)  # type: ignore[arg-type]


def fields(detail: pb.KubeDetail) -> Fields:
    d = detail
    return (d.verb, d.group, d.version, d.namespace, d.resource, d.subresource, d.name)


# requestinfo_test.go TestGetAPIRequestInfo, success cases (method, url, expected fields).
REQUESTINFO_CASES: list[tuple[str, str, Fields]] = [
    ("GET", "/api/v1/namespaces", ("list", "", "v1", "", "namespaces", "", "")),
    ("GET", "/api/v1/namespaces/other", ("get", "", "v1", "other", "namespaces", "", "other")),
    ("GET", "/api/v1/namespaces/other/pods", ("list", "", "v1", "other", "pods", "", "")),
    ("GET", "/api/v1/namespaces/other/pods/foo", ("get", "", "v1", "other", "pods", "", "foo")),
    ("HEAD", "/api/v1/namespaces/other/pods/foo", ("get", "", "v1", "other", "pods", "", "foo")),
    ("GET", "/api/v1/pods", ("list", "", "v1", "", "pods", "", "")),
    ("HEAD", "/api/v1/pods", ("list", "", "v1", "", "pods", "", "")),
    ("GET", "/api/v1/watch/pods", ("watch", "", "v1", "", "pods", "", "")),
    ("GET", "/api/v1/pods?watch=true", ("watch", "", "v1", "", "pods", "", "")),
    ("GET", "/api/v1/pods?watch=false", ("list", "", "v1", "", "pods", "", "")),
    ("GET", "/api/v1/watch/namespaces/other/pods", ("watch", "", "v1", "other", "pods", "", "")),
    ("GET", "/api/v1/namespaces/other/pods?watch=1", ("watch", "", "v1", "other", "pods", "", "")),
    ("GET", "/api/v1/namespaces/other/pods?watch=0", ("list", "", "v1", "other", "pods", "", "")),
    ("GET", "/api/v1/namespaces/other/pods/foo/status",
     ("get", "", "v1", "other", "pods", "status", "foo")),
    ("PUT", "/api/v1/namespaces/other/finalize",
     ("update", "", "v1", "other", "namespaces", "finalize", "other")),
    ("PUT", "/api/v1/namespaces/other/status",
     ("update", "", "v1", "other", "namespaces", "status", "other")),
    ("PATCH", "/api/v1/namespaces/other/pods/foo", ("patch", "", "v1", "other", "pods", "", "foo")),
    ("DELETE", "/api/v1/namespaces/other/pods/foo",
     ("delete", "", "v1", "other", "pods", "", "foo")),
    ("POST", "/api/v1/namespaces/other/pods", ("create", "", "v1", "other", "pods", "", "")),
    ("DELETE", "/api/v1/nodes", ("deletecollection", "", "v1", "", "nodes", "", "")),
    ("DELETE", "/api/v1/namespaces", ("deletecollection", "", "v1", "", "namespaces", "", "")),
    ("DELETE", "/api/v1/namespaces/other/pods",
     ("deletecollection", "", "v1", "other", "pods", "", "")),
    ("DELETE", "/apis/extensions/v1/namespaces/other/pods",
     ("deletecollection", "extensions", "v1", "other", "pods", "", "")),
    ("POST", "/apis/extensions/v1/namespaces/other/pods",
     ("create", "extensions", "v1", "other", "pods", "", "")),
    ("POST", "/apis/extensions/v1beta3/namespaces/other/pods",
     ("create", "extensions", "v1beta3", "other", "pods", "", "")),
    # TestGetNonAPIRequestInfo's resource paths
    ("GET", "/apis/group/version/resource/name/subresource",
     ("get", "group", "version", "", "resource", "subresource", "name")),
    ("GET", "/apis/batch/v1/job/foo/scale", ("get", "batch", "v1", "", "job", "scale", "foo")),
    # TestSelectorParsing
    ("GET", "/apis/group/version/resource?fieldSelector=metadata.name=name1",
     ("list", "group", "version", "", "resource", "", "name1")),
    ("GET", "/apis/group/version/resource?watch=true&fieldSelector=metadata.name=name1",
     ("watch", "group", "version", "", "resource", "", "name1")),
    ("GET", "/apis/group/version/resource?fieldSelector=foo=bar&labelSelector=baz=qux",
     ("list", "group", "version", "", "resource", "", "")),
    ("GET", "/apis/group/version/resource?fieldSelector=metadata.name=name1,foo",
     ("list", "group", "version", "", "resource", "", "")),
    ("GET", "/apis/group/version/resource?fieldSelector=metadata.name=name1,foo&watch=true",
     ("watch", "group", "version", "", "resource", "", "")),
    ("DELETE", "/apis/group/version/resource?fieldSelector=foo=bar&labelSelector=baz=qux",
     ("deletecollection", "group", "version", "", "resource", "", "")),
    ("GET", "/apis/group/version/resource?fieldSelector=metadata.name=foo"
            "&fieldSelector=metadata.name=bar",
     ("list", "group", "version", "", "resource", "", "foo")),
    ("GET", "/apis/group/version/resource/name?fieldSelector=foo=bar",
     ("get", "group", "version", "", "resource", "", "name")),
    ("GET", "/apis/group/version/watch/resource/name?fieldSelector=metadata.name=foo",
     ("watch", "group", "version", "", "resource", "", "name")),
    # apimachinery's bool conversion: present and neither 0 nor false is true
    ("GET", "/api/v1/pods?watch", ("watch", "", "v1", "", "pods", "", "")),
    ("GET", "/api/v1/pods?watch=FALSE", ("list", "", "v1", "", "pods", "", "")),
    # a list option the server cannot decode drops the selector's name, not the watch
    ("GET", "/api/v1/pods?watch=1&limit=x&fieldSelector=metadata.name%3Dp",
     ("watch", "", "v1", "", "pods", "", "")),
    # a method with no verb
    ("OPTIONS", "/api/v1/pods", ("", "", "v1", "", "pods", "", "")),
]  # fmt: skip


@pytest.mark.parametrize(("method", "url", "expected"), REQUESTINFO_CASES)
def test_requestinfo_cases(method: str, url: str, expected: Fields) -> None:
    detail = info(method, url)
    assert fields(detail) == expected
    assert not detail.non_resource
    assert detail.method == method and detail.path == url


# TestGetNonAPIRequestInfo and TestGetAPIRequestInfo's error cases: not resource requests.
NON_RESOURCE = ["/", "/api", "/api/v1", "/api/version/", "/apis", "/apis/apps", "/apis/apps/v1",
                "/apis/extensions/v1beta1/", "/apis/group/version/", "/badprefix/version/resource",
                "/apis/version/resource", "/not-api/version/resource", "/version", "/healthz",
                "/openapi/v3/apis/apps/v1", "/livez?verbose"]  # fmt: skip


@pytest.mark.parametrize("url", NON_RESOURCE)
def test_paths_outside_the_resource_api_are_non_resource(url: str) -> None:
    detail = info("GET", url)
    assert detail.non_resource and detail.verb == "get"
    assert (detail.resource, detail.group, detail.name) == ("", "", "")
    assert info("POST", url).verb == "post"


CONNECT_CASES: list[tuple[str, str, bool, Fields]] = [
    # RequestInfo reads these as get/create; the gateway calls them what they are.
    ("GET", "/api/v1/namespaces/other/pods/foo/proxy/subpath", False,
     ("connect", "", "v1", "other", "pods", "proxy", "foo")),
    ("GET", "/api/v1/proxy/namespaces/other/pods/foo", False,
     ("connect", "", "v1", "other", "pods", "proxy", "foo")),
    ("GET", "/api/v1/proxy/namespaces/other/pods/foo/subpath/not/a/subresource", False,
     ("connect", "", "v1", "other", "pods", "proxy", "foo")),
    ("POST", "/api/v1/namespaces/demo/pods/web/exec", True,
     ("connect", "", "v1", "demo", "pods", "exec", "web")),
    ("GET", "/api/v1/namespaces/demo/pods/web/exec", True,
     ("connect", "", "v1", "demo", "pods", "exec", "web")),
    ("POST", "/api/v1/namespaces/demo/pods/web/attach", False,
     ("connect", "", "v1", "demo", "pods", "attach", "web")),
    ("GET", "/api/v1/namespaces/demo/pods/web/portforward", True,
     ("connect", "", "v1", "demo", "pods", "portforward", "web")),
    ("DELETE", "/api/v1/namespaces/demo/services/web:80/proxy/x", False,
     ("connect", "", "v1", "demo", "services", "proxy", "web:80")),
    ("GET", "/api/v1/nodes/node-1/proxy/metrics", False,
     ("connect", "", "v1", "", "nodes", "proxy", "node-1")),
    # an exec-like subresource of an aggregated API (a VM console): upgraded, so a connection
    ("GET", "/apis/subresources.kubevirt.io/v1/namespaces/demo/virtualmachineinstances/vm/console",
     True, ("connect", "subresources.kubevirt.io", "v1", "demo", "virtualmachineinstances",
            "console", "vm")),
    # a watch over a WebSocket stays a watch
    ("GET", "/api/v1/namespaces/demo/pods?watch=1", True,
     ("watch", "", "v1", "demo", "pods", "", "")),
]  # fmt: skip


@pytest.mark.parametrize(("method", "url", "upgrade", "expected"), CONNECT_CASES)
def test_connections_are_connect_whatever_the_method(
    method: str, url: str, upgrade: bool, expected: Fields
) -> None:
    assert fields(info(method, url, upgrade=upgrade)) == expected


def test_exec_keeps_the_command_and_a_non_resource_upgrade_is_a_connection() -> None:
    url = "/api/v1/namespaces/demo/pods/web/exec?command=sh&command=-c&command=rm+-rf+%2F&c=1"
    assert list(info("POST", url, upgrade=True).command) == ["sh", "-c", "rm -rf /"]
    assert not info("GET", "/api/v1/namespaces/demo/pods/web/log?command=x").command
    upgraded = info("GET", "/custom/stream", upgrade=True)
    assert upgraded.non_resource and upgraded.verb == "connect"


@pytest.mark.parametrize(
    ("method", "url", "content_type", "body", "dry"),
    [
        ("POST", "/api/v1/namespaces/demo/pods?dryRun=All", "", b"", True),
        ("PATCH", "/apis/apps/v1/namespaces/d/deployments/x?dryRun=All&dryRun=All", "", b"", True),
        ("PUT", "/api/v1/namespaces/demo/pods/x?dryRun=all", "", b"", False),
        ("PUT", "/api/v1/namespaces/demo/pods/x?dryRun=", "", b"", False),
        ("PUT", "/api/v1/namespaces/demo/pods/x?dryRun=All&dryRun=", "", b"", False),
        ("PUT", "/api/v1/namespaces/demo/pods/x?dryRun=All;x=1", "", b"", False),
        ("DELETE", "/api/v1/namespaces/demo/pods/x?dryRun=All", "", b"", True),
        # A DELETE with a body takes its options from the body alone, as the server does.
        ("DELETE", "/api/v1/namespaces/demo/pods/x?dryRun=All", "application/json",
         b'{"kind":"DeleteOptions","apiVersion":"v1"}', False),
        ("DELETE", "/api/v1/namespaces/demo/pods/x", "application/json",
         b'{"kind":"DeleteOptions","apiVersion":"v1","dryRun":["All"]}', True),
        ("DELETE", "/api/v1/namespaces/demo/pods", "",
         b'{"kind":"DeleteOptions","apiVersion":"v1","dryRun":["All"]}', True),
        ("DELETE", "/api/v1/namespaces/demo/pods/x", "application/yaml", b"dryRun: [All]\n", True),
        ("DELETE", "/api/v1/namespaces/demo/pods/x?dryRun=All",
         "application/vnd.kubernetes.protobuf", b"k8s\x00\x0a", False),
        ("DELETE", "/api/v1/namespaces/demo/pods/x?dryRun=All", "", b"{not json", False),
        ("DELETE", "/api/v1/namespaces/demo/pods/x", "", b'{"dryRun":"All"}', False),
        # Reads and connections are never dry runs.
        ("GET", "/api/v1/namespaces/demo/pods?dryRun=All", "", b"", False),
        ("POST", "/api/v1/namespaces/demo/pods/x/exec?dryRun=All", "", b"", False),
        ("POST", "/apis/custom?dryRun=All", "", b"", False),
        ("DELETE", "/custom/thing?dryRun=All", "", b"", False),
    ],
)  # fmt: skip
def test_dry_run_is_what_the_server_honors(
    method: str, url: str, content_type: str, body: bytes, dry: bool
) -> None:
    assert info(method, url, content_type=content_type, body=body).dry_run is dry


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        ("application/json-patch+json", "json"),
        ("application/merge-patch+json", "merge"),
        ("application/strategic-merge-patch+json", "strategic"),
        ("application/apply-patch+yaml", "apply"),
        ("application/apply-patch+cbor", "apply"),
        ("Application/Merge-Patch+JSON; charset=utf-8", "merge"),
        ("application/json", "application/json"),
        ("", ""),
    ],
)
def test_content_types(content_type: str, expected: str) -> None:
    url = "/apis/apps/v1/namespaces/demo/deployments/web"
    assert info("PATCH", url, content_type=content_type).content_type == expected


def test_the_body_is_kept_cut_with_its_length_and_digest() -> None:
    manifest = b'{"kind":"ConfigMap","data":{"a":"' + "é".encode() * BODY_LIMIT + b'"}}'
    detail = info("POST", "/api/v1/namespaces/demo/configmaps", body=manifest)
    assert detail.body_size == len(manifest)
    assert detail.body_sha256 == hashlib.sha256(manifest).hexdigest()
    kept = detail.body.encode()
    assert len(kept) <= BODY_LIMIT and manifest.startswith(kept)  # whole characters only
    assert "\ufffd" not in detail.body
    broken = info("POST", "/api/v1/namespaces/demo/configmaps", body=b"a\xff\xfeb")
    assert broken.body == "a\ufffd\ufffdb" and broken.body_size == 4
    other = info("POST", "/api/v1/namespaces/demo/configmaps", body=b"a\xfe\xffb")
    assert other.body == broken.body and other.body_sha256 != broken.body_sha256
    assert not info("GET", "/version").body_sha256


MALFORMED = ["", "api/v1/pods", "/api/v1/watch", "/api/v1/proxy", "/apis/g/v1/watch",
             "/api/v1/namespaces/demo/pods/../secrets", "/api/v1/namespaces/demo/./pods",
             "/api/v1/namespaces/%2e%2e/pods", "/api//v1/pods", "//api/v1/pods",
             "/api/v1/namespaces/a%2Fb/pods", "/api/v1/pods/x%zz", "/api/v1/pods/x%0a",
             "/api/v1/pods/a\x00b", "/api/v1/pods?watch=1", "/api/v1/pods#x"]  # fmt: skip


@pytest.mark.parametrize("path", MALFORMED)
def test_paths_that_could_be_read_two_ways_are_refused(path: str) -> None:
    with pytest.raises(UnreadableRequest) as caught:
        request_info("GET", path, "")
    assert isinstance(caught.value, ValueError) and isinstance(caught.value, ProctorError)
    assert str(caught.value)


@pytest.mark.parametrize("method", ["", "GET /x", "GE\nT", "GÉT"])
def test_a_method_must_be_a_token(method: str) -> None:
    with pytest.raises(UnreadableRequest, match="is not an HTTP method"):
        request_info(method, "/api/v1/pods", "")


def test_percent_escapes_decode_like_go() -> None:
    detail = info("GET", "/api/v1/namespaces/%64emo/pods/a+b")
    assert (detail.namespace, detail.name) == ("demo", "a+b")
    assert detail.path == "/api/v1/namespaces/%64emo/pods/a+b"


def test_the_query_is_read_like_go_url_values() -> None:
    assert query_pairs("a=1&b&c=x+y&d=%41&e=1;2&f=%zz&&g=") == [
        ("a", "1"), ("b", ""), ("c", "x y"), ("d", "A"), ("g", ""),
    ]  # fmt: skip


def test_field_selectors_like_apimachinery() -> None:
    assert field_selector("b=2,a!=1") == [("a", "!=", "1"), ("b", "=", "2")]
    assert field_selector(r"metadata.name==x\,y") == [("metadata.name", "==", "x,y")]
    assert field_selector("metadata.name=x=y") is None
    assert field_selector("nope") is None
    assert list_options([("fieldSelector", "metadata.name!=x")]) == (False, "")
    assert list_options([("fieldSelector", "metadata.name=a%b")]) == (False, "")


def test_the_same_request_gives_the_same_bytes() -> None:
    args = ("PATCH", "/apis/apps/v1/namespaces/demo/deployments/web", "fieldManager=kubectl")
    body = b'{"spec":{"replicas":3}}'
    first = request_info(*args, content_type="application/merge-patch+json", body=body)
    again = request_info(*args, content_type="application/merge-patch+json", body=body)
    assert first.SerializeToString(deterministic=True) == again.SerializeToString(
        deterministic=True
    )
    assert first.SerializeToString() == again.SerializeToString()


_SEGMENT = st.sampled_from(["api", "apis", "v1", "apps", "namespaces", "demo", "pods", "x",
                            "status", "exec", "proxy", "watch", "%2F", "..", "", "%zz",
                            "a%20b"])  # fmt: skip
_QUERY = st.lists(st.sampled_from(["watch=1", "dryRun=All", "fieldSelector=metadata.name%3Dx",
                                   "command=ls", "a;b", "%", "limit=x"]), max_size=4)  # fmt: skip


@given(
    st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "get"]),
    st.lists(_SEGMENT, max_size=8),
    _QUERY,
    st.booleans(),
    st.binary(max_size=64),
)
def test_any_request_is_read_or_refused_never_crashes(
    method: str, segments: list[str], query: list[str], upgrade: bool, body: bytes
) -> None:
    path = "/" + "/".join(segments)
    try:
        detail = request_info(method, path, "&".join(query), upgrade=upgrade, body=body)
    except UnreadableRequest:
        return
    again = request_info(method, path, "&".join(query), upgrade=upgrade, body=body)
    assert detail.SerializeToString() == again.SerializeToString()
    assert detail.non_resource or detail.resource
    assert display_text(detail) and display_text(detail, full=False)


# --- display ----------------------------------------------------------------------------------

DISPLAY = [
    ("DELETE", "/api/v1/namespaces/payments", {}, "delete namespaces/payments"),
    ("PATCH", "/apis/apps/v1/namespaces/demo/deployments/checkout",
     {"content_type": "application/strategic-merge-patch+json"},
     "patch apps/v1 deployments/checkout -n demo (strategic merge)"),
    ("POST", "/api/v1/namespaces/demo/pods/checkout-7d4b/exec"
             "?command=sh&command=-c&command=rm%20-rf%20%2F&container=app&stdout=true",
     {"upgrade": True}, "exec pods/checkout-7d4b -n demo -c app -- sh -c 'rm -rf /'"),
    ("POST", "/api/v1/namespaces/demo/pods/web/exec?command=sh&stdin=true&tty=true",
     {}, "exec pods/web -n demo -it -- sh"),
    ("POST", "/api/v1/namespaces/demo/pods/web/exec?command=echo&command=a%0Arm%20-rf%20%2F",
     {}, "exec pods/web -n demo -- echo $'a\\nrm -rf /'"),
    ("GET", "/api/v1/namespaces/demo/pods", {}, "get pods -n demo"),
    ("GET", "/api/v1/namespaces/demo/pods?watch=1", {}, "watch pods -n demo"),
    ("GET", "/api/v1/pods?labelSelector=app%3Dweb", {}, "get pods -l app=web"),
    ("GET", "/api/v1/namespaces/demo/pods?fieldSelector=metadata.name%3Dweb", {},
     "get pods -n demo --field-selector metadata.name=web"),
    ("GET", "/api/v1/namespaces/demo/pods/web/log?container=app", {}, "get pods/web/log -n demo"),
    ("GET", "/version", {}, "GET /version"),
    ("GET", "/openapi/v3?timeout=32s", {}, "GET /openapi/v3?timeout=32s"),
    ("DELETE", "/api/v1/namespaces/demo/pods?labelSelector=app%3Dold", {},
     "deletecollection pods -n demo -l app=old"),
    ("DELETE", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/crontabs.example.com",
     {}, "delete apiextensions.k8s.io/v1 customresourcedefinitions/crontabs.example.com"),
    ("POST", "/apis/apps/v1/namespaces/demo/deployments?dryRun=All", {},
     "create apps/v1 deployments -n demo (dry run)"),
    ("PATCH", "/apis/apps/v1/namespaces/demo/deployments/web?fieldManager=k&force=true",
     {"content_type": "application/apply-patch+yaml"},
     "patch apps/v1 deployments/web -n demo (server-side apply, force)"),
    ("POST", "/api/v1/namespaces/demo/pods/web/portforward?ports=8080&ports=9090", {},
     "port-forward pods/web -n demo 8080 9090"),
    ("GET", "/api/v1/namespaces/demo/services/https:web:443/proxy/healthz", {},
     "proxy services/https:web:443 -n demo GET /healthz"),
    ("GET", "/api/v1/namespaces/demo/pods/web/attach?container=app&stdin=1", {},
     "attach pods/web -n demo -c app -i"),
    ("OPTIONS", "/api/v1/pods", {}, "OPTIONS pods"),
    ("POST", "/apis/x/y/namespaces/demo/things/%E2%80%AEtxt.exe", {},
     "create x/y things/\\u202etxt.exe -n demo"),
]  # fmt: skip


@pytest.mark.parametrize(("method", "url", "kwargs", "expected"), DISPLAY)
def test_display_text(method: str, url: str, kwargs: dict[str, object], expected: str) -> None:
    assert display_text(info(method, url, **kwargs)) == expected


def test_a_write_shows_its_manifest_as_yaml() -> None:
    manifest = {"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "web", "namespace": "demo"},
                "spec": {"replicas": 3, "note": "caf\u00e9 \u202eevil"}}  # fmt: skip
    detail = info("POST", "/apis/apps/v1/namespaces/demo/deployments",
                  body=json.dumps(manifest).encode())  # fmt: skip
    text = display_text(detail)
    head, blank, *yaml_lines = text.split("\n")
    assert head == "create apps/v1 deployments -n demo" and blank == ""
    assert yaml_lines[:3] == ["apiVersion: apps/v1", "kind: Deployment", "metadata:"]
    assert "replicas: 3" in text
    assert "\u202e" not in text and "\\u202E" in text  # never shown as the character itself


def test_yaml_and_undecodable_bodies_are_shown_as_text() -> None:
    apply = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n"
    detail = info("PATCH", "/api/v1/namespaces/demo/configmaps/x",
                  content_type="application/apply-patch+yaml", body=apply)  # fmt: skip
    assert display_text(detail).endswith("\n\n" + apply.decode().rstrip("\n"))
    raw = info("PUT", "/api/v1/namespaces/demo/configmaps/x", body=b"k8s\x00\xff")
    assert display_text(raw) == "update configmaps/x -n demo\n\nk8s\\x00\ufffd"


def test_reads_show_no_body_and_cut_bodies_say_so() -> None:
    assert display_text(info("GET", "/api/v1/pods", body=b'{"a":1}')) == "get pods"
    huge = b'{"data":"' + b"x" * BODY_LIMIT + b'"}'
    text = display_text(info("POST", "/api/v1/namespaces/d/configmaps", body=huge))
    assert text.endswith(f"(the body is cut here: 65,536 of {len(huge):,} bytes shown)")


def test_full_false_cuts_the_manifest_to_a_screen() -> None:
    manifest = {"data": {f"key{i}": "v" * 20 for i in range(200)}}
    detail = info("POST", "/api/v1/namespaces/d/configmaps", body=json.dumps(manifest).encode())
    full = display_text(detail)
    short = display_text(detail, full=False)
    assert len(full.split("\n")) == 2 + 201
    lines = short.split("\n")
    assert lines[0] == "create configmaps -n d" and len(lines) == 2 + 40 + 1
    manifest_text = full.split("\n\n", 1)[1]
    left = len(manifest_text) - len("\n".join(lines[2:-1])) - 1
    assert lines[-1] == f"… 161 more lines ({left:,} characters) not shown"
    assert len(short) < 3000 + 200
    one_line = info("POST", "/api/v1/namespaces/d/configmaps", body=b"x" * 10_000)
    cut = display_text(one_line, full=False).split("\n")
    assert len(cut[2]) == 3000 and cut[3].startswith("… 0 more lines")
    small = info("POST", "/api/v1/namespaces/d/configmaps", body=b'{"a": 1}')
    assert display_text(small, full=False) == display_text(small)


def test_headline_is_the_first_line() -> None:
    detail = info("PUT", "/api/v1/namespaces/d/configmaps/x", body=b'{"a":1}')
    assert headline(detail) == display_text(detail).split("\n")[0]


def test_verdict_key_leaves_out_name_body_and_options() -> None:
    one = info("DELETE", "/api/v1/namespaces/demo/pods/a", body=b'{"gracePeriodSeconds":0}')
    two = info("DELETE", "/api/v1/namespaces/demo/pods/b?propagationPolicy=Foreground")
    assert verdict_key(one) == verdict_key(two)
    assert verdict_key(one) != verdict_key(info("DELETE", "/api/v1/namespaces/prod/pods/a"))
    dry = info("DELETE", "/api/v1/namespaces/demo/pods/a?dryRun=All")
    assert verdict_key(one) != verdict_key(dry)
    assert verdict_key(info("GET", "/version")) != verdict_key(info("GET", "/healthz"))
    assert verdict_key(info("GET", "/version?x=1")) == verdict_key(info("GET", "/version"))
