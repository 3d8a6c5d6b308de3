"""Real kubectl (1.29 and 1.33, or whatever `kubectl_binaries` finds) against the Kubernetes API
server double, over TLS with a bearer token. One double serves the whole module; each test
works in objects of its own (names carry the kubectl version) or only reads the demo."""

from __future__ import annotations

import base64
import json
import os
import select
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from proctor.kubedouble import (
    DEMO_CARD,
    DEMO_DATABASE_URL,
    DEMO_DB_PASSWORD,
    DEMO_DEPLOYMENT,
    DEMO_EMAIL,
    DEMO_NAMESPACE,
    DEMO_POD,
    DEMO_SECRET,
)
from proctor.kubedouble.testing import (
    DoubleProcess,
    DoubleThread,
    Kubectl,
    kubectl_binaries,
    kubectl_version,
    run_kubectl,
    write_kubeconfig,
)

TOKEN = "kube-double-test-token"
BINARIES = kubectl_binaries()
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not BINARIES, reason="no kubectl binary found"),
]


@pytest.fixture(scope="module")
def double(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DoubleThread]:
    with DoubleThread(tmp_path_factory.mktemp("kube-tls"), token=TOKEN) as running:
        yield running


@pytest.fixture(scope="module", params=BINARIES, ids=lambda p: p.name)
def kubectl(
    request: pytest.FixtureRequest, double: DoubleThread, tmp_path_factory: pytest.TempPathFactory
) -> Kubectl:
    home = tmp_path_factory.mktemp(f"kubectl-{request.param.name}")
    config = write_kubeconfig(home / "config", double.url, token=TOKEN, ca_file=double.ca_file)
    return Kubectl(request.param, config)


@pytest.fixture(scope="module")
def newest(double: DoubleThread, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    binary = max(BINARIES, key=kubectl_version)
    config = write_kubeconfig(
        tmp_path_factory.mktemp("kubectl-newest") / "config",
        double.url,
        token=TOKEN,
        ca_file=double.ca_file,
    )
    return Kubectl(binary, config)


def tag(kubectl: Kubectl) -> str:
    """A suffix that keeps one version's objects apart from another's."""
    return f"{kubectl.version[0]}-{kubectl.version[1]}"


def read_until(
    proc: subprocess.Popen[str], wanted: str, seconds: float = 10, at_least: int = 1
) -> list[str]:
    """Lines from a streaming kubectl until one contains `wanted` and there are `at_least` of
    them (then it is killed)."""
    assert proc.stdout is not None
    fd, seen = proc.stdout.fileno(), b""  # raw reads: a buffered reader hides lines from select
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.2)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            seen += chunk
            lines = seen.decode(errors="replace").splitlines()
            if len(lines) >= at_least and any(wanted in line for line in lines):
                return lines
        err = proc.stderr.read() if proc.poll() is not None and proc.stderr else ""
        raise AssertionError(f"{wanted!r} not seen in {seen!r} {err}")
    finally:
        proc.kill()
        proc.wait()


def deployment(name: str, namespace: str, containers: list[dict[str, object]]) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "namespace": namespace, "labels": {"app": name}},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": {"labels": {"app": name}},
                    "spec": {"containers": containers},
                },
            },
        }
    )


def namespace(kubectl: Kubectl, name: str) -> str:
    full = f"{name}-{tag(kubectl)}"
    kubectl.ok("create", "namespace", full)
    return full


# --- reading ---------------------------------------------------------------------------------


def test_get_prints_the_servers_table(kubectl: Kubectl) -> None:
    out = kubectl.ok("get", "pods", "-n", DEMO_NAMESPACE)
    header, row = out.splitlines()[:2]
    assert header.split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert row.split()[:3] == [DEMO_POD, "0/1", "CrashLoopBackOff"]
    deploys = kubectl.ok("get", "deploy", "-n", DEMO_NAMESPACE)
    assert deploys.split()[:5] == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    every = kubectl.ok("get", "all", "-A")
    assert "deployment.apps/checkout" in every and "service/checkout" in every
    nodes = kubectl.ok("get", "no")
    assert "node-1" in nodes and "Ready" in nodes
    assert "kube-system" in kubectl.ok("get", "ns")
    assert "default" in kubectl.ok("get", "sa", "-n", DEMO_NAMESPACE)
    assert kubectl.ok("auth", "can-i", "delete", "pods", "-n", DEMO_NAMESPACE) == "yes\n"


def test_get_json_and_yaml(kubectl: Kubectl) -> None:
    pod = json.loads(kubectl.ok("get", "pod", DEMO_POD, "-n", DEMO_NAMESPACE, "-o", "json"))
    assert pod["kind"] == "Pod" and pod["apiVersion"] == "v1"
    env = {e["name"]: e.get("value") for e in pod["spec"]["containers"][0]["env"]}
    assert env["DATABASE_URL"] == DEMO_DATABASE_URL
    assert pod["status"]["containerStatuses"][0]["restartCount"] > 0
    listed = yaml.safe_load(kubectl.ok("get", "deploy", "-n", DEMO_NAMESPACE, "-o", "yaml"))
    assert [d["metadata"]["name"] for d in listed["items"]] == [DEMO_DEPLOYMENT]
    secret = json.loads(
        kubectl.ok("get", "secret", DEMO_SECRET, "-n", DEMO_NAMESPACE, "-o", "json")
    )
    assert base64.b64decode(secret["data"]["password"]).decode() == DEMO_DB_PASSWORD
    rc, _, err = kubectl("get", "pod", "no-such-pod", "-n", DEMO_NAMESPACE)
    assert rc == 1 and 'pods "no-such-pod" not found' in err


def test_selectors(kubectl: Kubectl) -> None:
    by_label = kubectl.ok("get", "pods", "-A", "-l", "app=checkout,tier in (backend)", "-o", "name")
    assert by_label.split() == [f"pod/{DEMO_POD}"]
    assert "No resources found" in kubectl("get", "pods", "-A", "-l", "app=nope").stderr
    by_field = kubectl.ok(
        "get",
        "events",
        "-n",
        DEMO_NAMESPACE,
        "--field-selector",
        f"involvedObject.name={DEMO_POD},reason=BackOff",
    )
    assert len(by_field.splitlines()) == 2 and "Back-off restarting" in by_field


def test_describe(kubectl: Kubectl) -> None:
    pod = kubectl.ok("describe", "pod", DEMO_POD, "-n", DEMO_NAMESPACE)
    assert "CrashLoopBackOff" in pod and "Back-off restarting failed container" in pod
    deploy = kubectl.ok("describe", "deploy", DEMO_DEPLOYMENT, "-n", DEMO_NAMESPACE)
    assert "NewReplicaSet" in deploy and "checkout-7d4b9c8f5d" in deploy


def test_logs(kubectl: Kubectl) -> None:
    tail = kubectl.ok("logs", DEMO_POD, "-n", DEMO_NAMESPACE, "--tail=1")
    assert tail.startswith("2026-01-12T09:14:09Z FATAL") or tail.startswith(("INFO", "ERROR"))
    whole = kubectl.ok("logs", f"deploy/{DEMO_DEPLOYMENT}", "-n", DEMO_NAMESPACE)
    assert DEMO_EMAIL in whole and DEMO_CARD in whole and "OperationalError" in whole


def test_logs_follow_streams_new_lines(kubectl: Kubectl) -> None:
    proc = kubectl.start("logs", "-f", DEMO_POD, "-n", DEMO_NAMESPACE, "--tail=2")
    # the tail, then lines the crashing pod makes up every 0.5 s while followed
    lines = read_until(proc, "pending order", seconds=10, at_least=4)
    assert any(DEMO_CARD in line for line in lines[2:])


def test_get_watch_reports_a_new_pod(kubectl: Kubectl) -> None:
    ns = namespace(kubectl, "watch")
    proc = kubectl.start("get", "pods", "-w", "-n", ns)
    try:
        time.sleep(0.5)  # the list, then the watch
        kubectl.ok("run", "watched", "--image=nginx", "-n", ns)
        lines = read_until(proc, "watched", seconds=10)
    finally:
        proc.kill()
    assert "Running" in next(line for line in lines if "watched" in line)


# --- writing ---------------------------------------------------------------------------------


def test_apply_client_side(kubectl: Kubectl) -> None:
    ns = namespace(kubectl, "apply")
    two = [
        {"name": "web", "image": "nginx:1.27", "env": [{"name": "A", "value": "1"}]},
        {"name": "sidecar", "image": "busybox:1.36"},
    ]
    assert "created" in kubectl.ok("apply", "-f", "-", input=deployment("web", ns, two))
    one = [{"name": "web", "image": "nginx:1.28", "env": [{"name": "A", "value": "2"}]}]
    assert "configured" in kubectl.ok("apply", "-f", "-", input=deployment("web", ns, one))
    assert "unchanged" in kubectl.ok("apply", "-f", "-", input=deployment("web", ns, one))
    live = json.loads(kubectl.ok("get", "deploy", "web", "-n", ns, "-o", "json"))
    assert live["spec"]["template"]["spec"]["containers"] == one
    assert "kubectl.kubernetes.io/last-applied-configuration" in live["metadata"]["annotations"]
    assert "nginx:1.28" in kubectl.ok("get", "rs", "-n", ns, "-o", "wide")


def test_apply_server_side(kubectl: Kubectl) -> None:
    ns = namespace(kubectl, "ssa")
    first = [{"name": "api", "image": "api:1"}]
    out = kubectl.ok("apply", "--server-side", "-f", "-", input=deployment("api", ns, first))
    assert "serverside-applied" in out
    second = [{"name": "api", "image": "api:2"}]
    kubectl.ok("apply", "--server-side", "-f", "-", input=deployment("api", ns, second))
    live = json.loads(
        kubectl.ok("get", "deploy", "api", "-n", ns, "-o", "json", "--show-managed-fields")
    )
    assert live["spec"]["template"]["spec"]["containers"][0]["image"] == "api:2"
    assert {f["manager"] for f in live["metadata"]["managedFields"]} == {"kubectl"}


def test_create_kinds(kubectl: Kubectl) -> None:
    """`kubectl create <kind>` (protobuf bodies from 1.33 on)."""
    ns = namespace(kubectl, "create")
    kubectl.ok("create", "secret", "generic", "s", "--from-literal=password=x", "-n", ns)
    kubectl.ok("create", "configmap", "c", "--from-literal=k=v", "-n", ns)
    kubectl.ok("create", "deployment", "d", "--image=nginx", "--replicas=2", "-n", ns)
    kubectl.ok("create", "serviceaccount", "robot", "-n", ns)
    kubectl.ok("create", "role", "reader", "--verb=get", "--resource=pods", "-n", ns)
    secret = json.loads(kubectl.ok("get", "secret", "s", "-n", ns, "-o", "json"))
    assert base64.b64decode(secret["data"]["password"]) == b"x"
    assert len(kubectl.ok("get", "pods", "-n", ns, "-l", "app=d", "-o", "name").split()) == 2
    rc, _, err = kubectl("create", "configmap", "c", "--from-literal=k=v", "-n", ns)
    assert (rc == 1 and "AlreadyExists" in err) or "already exists" in err


def test_delete_all_and_namespace(kubectl: Kubectl) -> None:
    ns = namespace(kubectl, "doomed")
    for name in ("a", "b", "c"):
        kubectl.ok("create", "configmap", name, "--from-literal=k=v", "-n", ns)
    kubectl.ok("create", "deployment", "d", "--image=nginx", "-n", ns)
    assert len(kubectl.ok("delete", "configmap", "--all", "-n", ns).splitlines()) == 3
    assert "No resources found" in kubectl("get", "cm", "-n", ns).stderr
    assert 'namespace "' in kubectl.ok("delete", "namespace", ns, "--timeout=10s")
    assert "NotFound" in kubectl("get", "ns", ns).stderr
    assert "No resources found" in kubectl("get", "deploy,pods", "-n", ns).stderr


def test_scale_set_image_rollout_restart(kubectl: Kubectl) -> None:
    ns = namespace(kubectl, "rollout")
    kubectl.ok("create", "deployment", "app", "--image=app:1", "-n", ns)
    kubectl.ok("scale", "deploy/app", "--replicas=3", "-n", ns)
    assert len(kubectl.ok("get", "pods", "-n", ns, "-o", "name").split()) == 3
    kubectl.ok("set", "image", "deploy/app", "app=app:2", "-n", ns)
    images = kubectl.ok(
        "get", "pods", "-n", ns, "-o", "jsonpath={.items[*].spec.containers[0].image}"
    )
    assert images.split() == ["app:2"] * 3
    kubectl.ok("rollout", "restart", "deploy/app", "-n", ns)
    live = json.loads(kubectl.ok("get", "deploy", "app", "-n", ns, "-o", "json"))
    annotations = live["spec"]["template"]["metadata"]["annotations"]
    assert "kubectl.kubernetes.io/restartedAt" in annotations
    assert len(kubectl.ok("get", "rs", "-n", ns, "-o", "name").split()) == 3
    assert "successfully rolled out" in kubectl.ok("rollout", "status", "deploy/app", "-n", ns)
    kubectl.ok("rollout", "undo", "deploy/app", "--to-revision=1", "-n", ns)
    assert (
        kubectl.ok(
            "get", "pods", "-n", ns, "-o", "jsonpath={.items[*].spec.containers[0].image}"
        ).split()
        == ["app:1"] * 3
    )
    assert len(kubectl.ok("get", "rs", "-n", ns, "-o", "name").split()) == 3  # the first, again


def test_label_annotate_and_three_patch_kinds(kubectl: Kubectl) -> None:
    ns = namespace(kubectl, "patch")
    two = [{"name": "a", "image": "a:1"}, {"name": "b", "image": "b:1"}]
    kubectl.ok("apply", "-f", "-", input=deployment("p", ns, two))
    kubectl.ok("label", "deploy", "p", "team=payments", "-n", ns)
    kubectl.ok("annotate", "deploy", "p", "owner=alice", "-n", ns)
    strategic = {"spec": {"template": {"spec": {"containers": [{"name": "b", "image": "b:2"}]}}}}
    kubectl.ok("patch", "deploy", "p", "-n", ns, "-p", json.dumps(strategic))
    kubectl.ok(
        "patch",
        "deploy",
        "p",
        "-n",
        ns,
        "--type",
        "merge",
        "-p",
        '{"metadata":{"labels":{"merged":"yes"}}}',
    )
    kubectl.ok(
        "patch",
        "deploy",
        "p",
        "-n",
        ns,
        "--type",
        "json",
        "-p",
        '[{"op":"replace","path":"/spec/replicas","value":2}]',
    )
    live = json.loads(kubectl.ok("get", "deploy", "p", "-n", ns, "-o", "json"))
    containers = live["spec"]["template"]["spec"]["containers"]
    assert [(c["name"], c["image"]) for c in containers] == [("a", "a:1"), ("b", "b:2")]
    assert live["metadata"]["labels"] == {"app": "p", "team": "payments", "merged": "yes"}
    assert live["metadata"]["annotations"]["owner"] == "alice"
    assert live["spec"]["replicas"] == 2
    rc, _, err = kubectl(
        "patch", "deploy", "p", "-n", ns, "--type", "json", "-p", '[{"op":"remove","path":"/nope"}]'
    )
    assert rc == 1 and "nope" in err


def test_dry_run_server_does_not_persist(kubectl: Kubectl) -> None:
    ns = f"dry-{tag(kubectl)}"
    assert "server dry run" in kubectl.ok("create", "namespace", ns, "--dry-run=server")
    assert "NotFound" in kubectl("get", "namespace", ns).stderr
    kubectl.ok("delete", "deploy", DEMO_DEPLOYMENT, "-n", DEMO_NAMESPACE, "--dry-run=server")
    kubectl.ok(
        "scale", "deploy", DEMO_DEPLOYMENT, "-n", DEMO_NAMESPACE, "--replicas=9", "--dry-run=server"
    )
    replicas = kubectl.ok(
        "get", "deploy", DEMO_DEPLOYMENT, "-n", DEMO_NAMESPACE, "-o", "jsonpath={.spec.replicas}"
    )
    assert replicas == "1"


def test_definitions_and_volumes_can_be_deleted(kubectl: Kubectl) -> None:
    group = f"v{kubectl.version[1]}.example.com"
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"widgets.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": {"type": "object"}},
                }
            ],
        },
    }
    kubectl.ok("apply", "-f", "-", input=json.dumps(crd))
    widget = {
        "apiVersion": f"{group}/v1",
        "kind": "Widget",
        "metadata": {"name": "w1", "namespace": "default"},
        "spec": {"size": 3},
    }
    kubectl.ok("apply", "-f", "-", input=json.dumps(widget))
    assert "w1" in kubectl.ok("get", f"widgets.{group}", "-n", "default")
    kubectl.ok("delete", "crd", f"widgets.{group}")
    assert kubectl("get", f"widgets.{group}", "-n", "default").rc == 1
    volume = {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": f"pv-{tag(kubectl)}"},
        "spec": {
            "capacity": {"storage": "1Gi"},
            "accessModes": ["ReadWriteOnce"],
            "hostPath": {"path": "/tmp/pv"},
        },
    }
    kubectl.ok("apply", "-f", "-", input=json.dumps(volume))
    assert "deleted" in kubectl.ok("delete", "pv", f"pv-{tag(kubectl)}")


# --- exec ------------------------------------------------------------------------------------


def test_exec_over_websocket(kubectl: Kubectl) -> None:
    pod = ["-n", DEMO_NAMESPACE, DEMO_POD, "--"]
    assert kubectl.ok("exec", *pod, "echo", "hi") == "hi\n"
    assert f"DATABASE_URL={DEMO_DATABASE_URL}" in kubectl.ok("exec", *pod, "env")
    assert kubectl.ok("exec", *pod, "cat", "/etc/hostname") == f"{DEMO_POD}\n"
    script = kubectl.ok("exec", *pod, "sh", "-c", "echo $HOSTNAME && printenv DB_PASSWORD")
    assert script == f"{DEMO_POD}\n{DEMO_DB_PASSWORD}\n"
    assert kubectl.ok("exec", "-i", *pod, "cat", input="from stdin\n") == "from stdin\n"
    rc, _, err = kubectl("exec", *pod, "no-such-command")
    assert rc == 127 and "command not found" in err


def test_kubectl_1_29_without_websockets_is_told_why(double: DoubleThread, tmp_path: Path) -> None:
    old = [b for b in BINARIES if kubectl_version(b) < (1, 30)]
    if not old:
        pytest.skip("no kubectl older than 1.30 here")
    config = write_kubeconfig(tmp_path / "config", double.url, token=TOKEN, ca_file=double.ca_file)
    rc, _, err = run_kubectl(old[0], config, "exec", "-n", DEMO_NAMESPACE, DEMO_POD, "--", "echo")
    assert rc == 1 and "WebSocket" in err


# --- authentication --------------------------------------------------------------------------


def test_wrong_token_is_unauthorized(newest: Kubectl, double: DoubleThread, tmp_path: Path) -> None:
    config = write_kubeconfig(
        tmp_path / "config", double.url, token="wrong", ca_file=double.ca_file
    )
    rc, _, err = run_kubectl(newest.binary, config, "get", "pods", "-n", DEMO_NAMESPACE)
    assert rc == 1 and "You must be logged in to the server" in err
    # (without any token kubectl asks for a user name instead: the protocol tests cover that)


def test_the_double_runs_as_a_process(newest: Kubectl, tmp_path: Path) -> None:
    """As `proctor up` runs it: `python -m proctor.kubedouble` over TLS, stopped by SIGTERM."""
    with DoubleProcess(tmp_path / "double", token=TOKEN) as process:
        assert process.url.startswith("https://127.0.0.1:") and process.ca_file is not None
        config = write_kubeconfig(
            tmp_path / "config", process.url, token=TOKEN, ca_file=process.ca_file
        )
        rc, out, _ = run_kubectl(newest.binary, config, "get", "deploy", "-n", DEMO_NAMESPACE)
        assert rc == 0 and DEMO_DEPLOYMENT in out
        proc = process.proc
        assert proc is not None
    assert proc.returncode == 0
