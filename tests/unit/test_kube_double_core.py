"""The Kubernetes double's pure parts: patches, selectors, paths, the fake commands, tables,
and the store's bookkeeping."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from proctor.kubedouble.commands import NeedsStdin, PodView, run, shell
from proctor.kubedouble.errors import ApiError
from proctor.kubedouble.patches import (
    apply_merge,
    json_patch,
    merge_patch,
    strategic_merge_patch,
)
from proctor.kubedouble.paths import parse
from proctor.kubedouble.selectors import field_selector, label_selector
from proctor.kubedouble.store import Store
from proctor.kubedouble.tables import human_duration, wants_table

# --- patches ---------------------------------------------------------------------------------


def test_json_patch_operations() -> None:
    doc = {"a": {"b": [1, 2]}, "c": 1}
    patched = json_patch(
        doc,
        [
            {"op": "add", "path": "/a/b/-", "value": 3},
            {"op": "replace", "path": "/c", "value": 2},
            {"op": "move", "from": "/c", "path": "/d"},
            {"op": "copy", "from": "/d", "path": "/e~1f"},
            {"op": "remove", "path": "/a/b/0"},
            {"op": "test", "path": "/d", "value": 2},
        ],
    )
    assert patched == {"a": {"b": [2, 3]}, "d": 2, "e/f": 2}
    assert doc == {"a": {"b": [1, 2]}, "c": 1}
    for bad in ({"op": "remove", "path": "/nope"}, {"op": "test", "path": "/c", "value": 9}):
        with pytest.raises(ApiError) as refused:
            json_patch(doc, [bad])
        assert refused.value.code == 422


def test_merge_patch_removes_with_null() -> None:
    assert merge_patch({"a": 1, "b": {"c": 1, "d": 2}}, {"a": None, "b": {"c": 3}}) == {
        "b": {"c": 3, "d": 2}
    }


json_values = st.recursive(
    st.none() | st.integers() | st.text(max_size=3),
    lambda inner: st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=8,
)


@given(
    st.dictionaries(st.text(max_size=3), json_values, max_size=4),
    st.dictionaries(st.text(max_size=3), json_values, max_size=4),
)
def test_merge_patch_is_idempotent(doc: dict[str, Any], patch: dict[str, Any]) -> None:
    once = merge_patch(doc, patch)
    assert merge_patch(once, patch) == once
    for key, value in patch.items():
        if value is None:
            assert key not in once
        elif not isinstance(value, dict):
            assert once[key] == value


def pod_spec(*containers: tuple[str, str]) -> dict[str, Any]:
    return {"spec": {"containers": [{"name": n, "image": i} for n, i in containers]}}


def test_strategic_merge_merges_containers_by_name() -> None:
    live = pod_spec(("a", "a:1"), ("b", "b:1"))
    assert strategic_merge_patch(live, pod_spec(("b", "b:2"))) == pod_spec(
        ("a", "a:1"), ("b", "b:2")
    )
    added = strategic_merge_patch(live, pod_spec(("c", "c:1")))
    assert [c["name"] for c in added["spec"]["containers"]] == ["a", "b", "c"]
    deleted = strategic_merge_patch(
        live,
        {
            "spec": {
                "containers": [{"name": "a", "$patch": "delete"}],
                "$setElementOrder/containers": [{"name": "b"}],
            }
        },
    )
    assert deleted == pod_spec(("b", "b:1"))
    replaced = strategic_merge_patch(
        live, {"spec": {"containers": [{"$patch": "replace"}, {"name": "z", "image": "z:1"}]}}
    )
    assert replaced == pod_spec(("z", "z:1"))
    ordered = strategic_merge_patch(
        live, {"spec": {"$setElementOrder/containers": [{"name": "b"}, {"name": "a"}]}}
    )
    assert [c["name"] for c in ordered["spec"]["containers"]] == ["b", "a"]


def test_strategic_merge_directives() -> None:
    live = {
        "metadata": {"finalizers": ["a"], "labels": {"x": "1"}},
        "spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}},
    }
    patched = strategic_merge_patch(
        live,
        {
            "metadata": {"finalizers": ["b"], "$deleteFromPrimitiveList/finalizers": ["a"]},
            "spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}},
        },
    )
    assert patched["metadata"] == {"finalizers": ["b"], "labels": {"x": "1"}}
    assert patched["spec"]["strategy"] == {"type": "Recreate"}
    ports = strategic_merge_patch(
        {"spec": {"ports": [{"port": 80, "name": "http"}]}},
        {"spec": {"ports": [{"port": 443, "name": "https"}]}},
    )
    assert [p["port"] for p in ports["spec"]["ports"]] == [80, 443]


def test_apply_merge_keeps_what_the_config_omits() -> None:
    live = {"metadata": {"labels": {"a": "1"}}, "spec": {"replicas": 3, "paused": False}}
    assert apply_merge(live, {"metadata": {"labels": {"b": "2"}}, "spec": {"replicas": 1}}) == {
        "metadata": {"labels": {"a": "1", "b": "2"}},
        "spec": {"replicas": 1, "paused": False},
    }


# --- selectors and paths ---------------------------------------------------------------------


def labelled(**labels: str) -> dict[str, Any]:
    return {"metadata": {"name": "n", "labels": labels}, "status": {"phase": "Running"}}


@pytest.mark.parametrize(
    ("selector", "matches"),
    [
        ("", True),
        ("app=web", True),
        ("app==web", True),
        ("app!=web", False),
        ("app in (web, api)", True),
        ("app notin (web)", False),
        ("tier", True),
        ("!tier", False),
        ("!gone", True),
        ("app=web,tier=front", True),
        ("app=web,tier=back", False),
    ],
)
def test_label_selectors(selector: str, matches: bool) -> None:
    assert label_selector(selector)(labelled(app="web", tier="front")) is matches


def test_field_selectors() -> None:
    obj = labelled()
    assert field_selector("metadata.name=n,status.phase!=Failed")(obj)
    assert not field_selector("status.phase=Pending")(obj)
    assert field_selector("spec.nodeName=")(obj)
    with pytest.raises(ApiError):
        field_selector("no operator")


@given(
    st.lists(st.sampled_from(["a=b", "a!=b", "a in (x,y)", "!a", "a", "c notin (z)"]), max_size=4)
)
def test_any_selector_of_valid_terms_parses(terms: list[str]) -> None:
    label_selector(",".join(terms))(labelled(a="b"))


@pytest.mark.parametrize(
    ("path", "parts"),
    [
        ("/api/v1/namespaces/demo/pods/p/log", ("", "v1", "demo", "pods", "p", "log")),
        ("/apis/apps/v1/deployments", ("apps", "v1", "", "deployments", "", "")),
        ("/api/v1/namespaces/demo", ("", "v1", "", "namespaces", "demo", "")),
        ("/api/v1/namespaces/demo/status", ("", "v1", "", "namespaces", "demo", "status")),
        ("/api/v1/namespaces", ("", "v1", "", "namespaces", "", "")),
        ("/apis/apps/v1", ("apps", "v1", "", "", "", "")),
    ],
)
def test_paths(path: str, parts: tuple[str, ...]) -> None:
    info = parse(path)
    assert info is not None
    assert (
        info.group,
        info.version,
        info.namespace,
        info.resource,
        info.name,
        info.subresource,
    ) == parts


def test_other_paths_are_not_resources() -> None:
    assert parse("/healthz") is None and parse("/apis/apps") is None
    assert parse("/api/v1/namespaces/a/pods/b/c/d") is None
    watch = parse("/api/v1/watch/namespaces/demo/pods")
    assert watch is not None and watch.watch_prefix and watch.resource == "pods"


# --- commands --------------------------------------------------------------------------------

VIEW = PodView(
    "pod-1",
    {"GREETING": "hello", "DB": "postgresql://x"},
    {"/app/config": "a=1\nb=2\n", "/etc/hostname": "pod-1\n"},
)


def test_commands() -> None:
    assert run(["echo", "hi", "there"], VIEW).stdout == b"hi there\n"
    assert run(["printenv", "GREETING"], VIEW).stdout == b"hello\n"
    assert run(["printenv", "MISSING"], VIEW).code == 1
    assert b"DB=postgresql://x\n" in run(["env"], VIEW).stdout
    assert run(["cat", "/app/config"], VIEW).stdout == b"a=1\nb=2\n"
    assert run(["cat", "/app"], VIEW).code == 1
    assert run(["ls", "/app"], VIEW).stdout == b"config\n"
    missing = run(["kubectl", "get", "pods"], VIEW)
    assert missing.code == 127 and missing.stderr == b"kubectl: command not found\n"
    with pytest.raises(NeedsStdin):
        run(["cat"], VIEW, None)
    assert run(["cat"], VIEW, b"in").stdout == b"in"


def test_shell_scripts() -> None:
    assert shell("echo $GREETING; echo ${GREETING}!", VIEW).stdout == b"hello\nhello!\n"
    assert shell("false && echo no || echo yes", VIEW).stdout == b"yes\n"
    assert shell("cat /app/config | grep b | wc -l", VIEW).stdout == b"1\n"
    assert shell("exit 3; echo after", VIEW).code == 3
    assert run(["sh", "-c", "hostname"], VIEW).stdout == b"pod-1\n"
    assert run(["/bin/bash", "-c", "nope"], VIEW).code == 127


# --- tables and the store --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (5, "5s"),
        (119, "119s"),
        (150, "2m30s"),
        (600, "10m"),
        (3 * 3600 + 60, "3h1m"),
        (30 * 3600, "30h"),
        (3 * 86400 + 3600, "3d1h"),
        (30 * 86400, "30d"),
        (800 * 86400, "2y70d"),
    ],
)
def test_ages(seconds: int, text: str) -> None:
    assert human_duration(seconds) == text


def test_table_accept_header() -> None:
    assert wants_table("application/json;as=Table;v=v1;g=meta.k8s.io,application/json")
    assert not wants_table("application/json")


def test_store_bookkeeping() -> None:
    store = Store(clock=lambda: datetime(2026, 1, 1, tzinfo=UTC))
    namespaces = store.type_of("v1", "Namespace")
    deployments = store.type_of("apps/v1", "Deployment")
    pods = store.type_of("v1", "Pod")
    store.create(namespaces, {"metadata": {"name": "ns"}})
    made = store.create(
        deployments,
        {"metadata": {"name": "d"}, "spec": {"replicas": 1}, "status": {"replicas": 1}},
        "ns",
    )
    assert made["metadata"]["creationTimestamp"] == "2026-01-01T00:00:00Z"
    assert made["metadata"]["generation"] == 1
    relabelled = {**made, "metadata": {**made["metadata"], "labels": {"a": "b"}}}
    assert store.replace(deployments, "ns", "d", relabelled)["metadata"]["generation"] == 1
    scaled = store.get(deployments, "ns", "d")
    scaled["spec"]["replicas"], scaled["status"]["replicas"] = 2, 9
    after = store.replace(deployments, "ns", "d", scaled)
    assert after["metadata"]["generation"] == 2 and after["status"]["replicas"] == 1
    unchanged = store.replace(deployments, "ns", "d", after)
    assert unchanged["metadata"]["resourceVersion"] == after["metadata"]["resourceVersion"]
    owner = {"uid": made["metadata"]["uid"], "kind": "Deployment", "name": "d"}
    store.create(pods, {"metadata": {"name": "p", "ownerReferences": [owner]}}, "ns")
    store.delete(deployments, "ns", "d")
    assert store.objects(pods, "ns") == []
    with pytest.raises(ApiError) as refused:
        store.create(pods, {"metadata": {"name": "p"}}, "nowhere")
    assert refused.value.code == 404


def test_a_watch_from_a_forgotten_version_is_expired(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("proctor.kubedouble.store.HISTORY", 2)
    store = Store()
    namespaces = store.type_of("v1", "Namespace")
    first = store.create(namespaces, {"metadata": {"name": "a"}})["metadata"]["resourceVersion"]
    for name in ("b", "c", "d"):
        store.create(namespaces, {"metadata": {"name": name}})
    watcher = store.watch(namespaces, None)
    with pytest.raises(ApiError) as expired:
        store.changes_since(int(first), watcher)
    assert expired.value.code == 410 and expired.value.reason == "Expired"
    recent = store.changes_since(store.resource_version - 1, watcher)
    assert [c.object["metadata"]["name"] for c in recent] == ["d"]
