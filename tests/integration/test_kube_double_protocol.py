"""The Kubernetes double's protocol edges, with a plain HTTP and WebSocket client: errors as
`Status` objects, discovery and OpenAPI, tables, watch resumption and timeouts, dry runs,
the exec channel framing, log streaming, protobuf request bodies."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from proctor.k8sproto import MAGIC, MEDIA_TYPE, _message
from proctor.kubedouble import (
    DEMO_DEPLOYMENT,
    DEMO_NAMESPACE,
    DEMO_POD,
    Store,
    build_app,
)
from proctor.kubedouble.demo import seed

TOKEN = "protocol-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
PODS = f"/api/v1/namespaces/{DEMO_NAMESPACE}/pods"
CONFIGMAPS = "/api/v1/namespaces/default/configmaps"
DEPLOY = f"/apis/apps/v1/namespaces/{DEMO_NAMESPACE}/deployments/{DEMO_DEPLOYMENT}"
EXEC = f"{PODS}/{DEMO_POD}/exec"

pytestmark = pytest.mark.integration


@pytest.fixture
async def client() -> AsyncIterator[TestClient[Any, Any]]:
    store = Store()
    seed(store)
    async with TestClient(TestServer(build_app(store, token=TOKEN)), headers=AUTH) as c:
        yield c


def configmap(name: str, **labels: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "labels": labels},
        "data": {"k": "v"},
    }


async def status_of(response: aiohttp.ClientResponse) -> dict[str, Any]:
    body: dict[str, Any] = await response.json()
    assert body["kind"] == "Status" and body["apiVersion"] == "v1"
    assert body["code"] == response.status
    return body


async def test_errors_are_status_objects(client: TestClient[Any, Any]) -> None:
    response = await client.get("/not/kubernetes")
    assert response.status == 404 and (await status_of(response))["reason"] == "NotFound"
    response = await client.get(f"{PODS}/missing")
    body = await status_of(response)
    assert body["message"] == 'pods "missing" not found'
    assert body["details"] == {"name": "missing", "kind": "pods"}
    response = await client.post(f"{PODS}/{DEMO_POD}", json={})
    assert (await status_of(response))["reason"] == "MethodNotAllowed"
    response = await client.post(
        CONFIGMAPS, data=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert (await status_of(response))["reason"] == "BadRequest"


async def test_a_token_is_required(client: TestClient[Any, Any]) -> None:
    for headers in ({"Authorization": ""}, {"Authorization": "Bearer wrong"}):
        response = await client.get("/api/v1/namespaces", headers=headers)
        assert response.status == 401
        assert (await status_of(response))["reason"] == "Unauthorized"
    assert (await client.get("/api/v1/namespaces")).status == 200


async def test_discovery(client: TestClient[Any, Any]) -> None:
    assert (await (await client.get("/api")).json())["versions"] == ["v1"]
    groups = {g["name"] for g in (await (await client.get("/apis")).json())["groups"]}
    assert {"apps", "batch", "rbac.authorization.k8s.io", "apiextensions.k8s.io"} <= groups
    core = {r["name"]: r for r in (await (await client.get("/api/v1")).json())["resources"]}
    assert core["pods"]["shortNames"] == ["po"] and "all" in core["pods"]["categories"]
    assert core["pods"]["kind"] == "Pod" and "watch" in core["pods"]["verbs"]
    assert {"pods/log", "pods/exec", "pods/status"} <= core.keys()
    assert core["namespaces"]["namespaced"] is False
    apps = {r["name"]: r for r in (await (await client.get("/apis/apps/v1")).json())["resources"]}
    assert apps["deployments/scale"]["group"] == "autoscaling"
    assert apps["deployments/scale"]["kind"] == "Scale"
    assert (await (await client.get("/version")).json())["major"] == "1"
    assert await (await client.get("/readyz")).text() == "ok"


async def test_openapi_v3_tells_kubectl_the_server_validates(client: TestClient[Any, Any]) -> None:
    index = await (await client.get("/openapi/v3")).json()
    url = index["paths"]["apis/apps/v1"]["serverRelativeURL"]
    doc = await (await client.get(url)).json()
    patch = doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"]
    assert patch["x-kubernetes-group-version-kind"]["kind"] == "Deployment"
    assert "fieldValidation" in {p["name"] for p in patch["parameters"]}
    assert (await client.get("/openapi/v2")).status == 404


async def test_lists_and_tables(client: TestClient[Any, Any]) -> None:
    listed = await (await client.get(PODS)).json()
    assert listed["kind"] == "PodList" and listed["apiVersion"] == "v1"
    assert int(listed["metadata"]["resourceVersion"]) > 0
    table = await (await client.get(PODS, headers={"Accept": TABLE})).json()
    assert table["kind"] == "Table" and table["apiVersion"] == "meta.k8s.io/v1"
    assert [c["name"] for c in table["columnDefinitions"] if c["priority"] == 0] == [
        "Name",
        "Ready",
        "Status",
        "Restarts",
        "Age",
    ]
    assert table["rows"][0]["cells"][:3] == [DEMO_POD, "0/1", "CrashLoopBackOff"]
    assert table["rows"][0]["object"]["kind"] == "PartialObjectMetadata"
    full = await (
        await client.get(PODS + "?includeObject=Object", headers={"Accept": TABLE})
    ).json()
    assert full["rows"][0]["object"]["kind"] == "Pod"
    other = await (await client.get("/api/v1/configmaps", headers={"Accept": TABLE})).json()
    assert [c["name"] for c in other["columnDefinitions"]] == ["Name", "Data", "Age"]


async def test_watch_resumes_from_a_resource_version_and_ends_on_time(
    client: TestClient[Any, Any],
) -> None:
    since = (await (await client.get(CONFIGMAPS)).json())["metadata"]["resourceVersion"]
    assert (await client.post(CONFIGMAPS, json=configmap("one"))).status == 201
    started = asyncio.get_running_loop().time()
    response = await client.get(f"{CONFIGMAPS}?watch=1&resourceVersion={since}&timeoutSeconds=1")
    events = [json.loads(line) for line in (await response.text()).splitlines()]
    assert asyncio.get_running_loop().time() - started < 5
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [("ADDED", "one")]
    assert events[0]["object"]["kind"] == "ConfigMap"


async def test_watch_streams_changes_as_they_happen(client: TestClient[Any, Any]) -> None:
    response = await client.get(f"{CONFIGMAPS}?watch=true&fieldSelector=metadata.name%3Dtwo")
    assert (await client.post(CONFIGMAPS, json=configmap("two"))).status == 201
    assert (await client.post(CONFIGMAPS, json=configmap("other"))).status == 201
    changed = configmap("two")
    changed["data"] = {"k": "changed"}
    assert (await client.put(f"{CONFIGMAPS}/two", json=changed)).status == 200
    assert (await client.delete(f"{CONFIGMAPS}/two")).status == 200
    events = [json.loads(await asyncio.wait_for(response.content.readline(), 5)) for _ in range(3)]
    assert [e["type"] for e in events] == ["ADDED", "MODIFIED", "DELETED"]
    assert events[1]["object"]["data"] == {"k": "changed"}
    versions = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
    assert versions == sorted(versions)
    response.close()


async def test_conflicts(client: TestClient[Any, Any]) -> None:
    created = await (await client.post(CONFIGMAPS, json=configmap("c"))).json()
    again = await client.post(CONFIGMAPS, json=configmap("c"))
    assert (await status_of(again))["reason"] == "AlreadyExists"
    created["data"] = {"k": "1"}
    assert (await client.put(f"{CONFIGMAPS}/c", json=created)).status == 200
    stale = await client.put(f"{CONFIGMAPS}/c", json=created)  # the old resourceVersion
    assert (await status_of(stale))["reason"] == "Conflict"


async def test_dry_run_all_changes_nothing(client: TestClient[Any, Any]) -> None:
    response = await client.post(f"{CONFIGMAPS}?dryRun=All", json=configmap("dry"))
    assert response.status == 201 and (await response.json())["metadata"]["name"] == "dry"
    assert (await client.get(f"{CONFIGMAPS}/dry")).status == 404
    patch = await client.patch(
        f"{DEPLOY}?dryRun=All",
        data=json.dumps({"spec": {"replicas": 7}}),
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert (await patch.json())["spec"]["replicas"] == 7
    assert (await (await client.get(DEPLOY)).json())["spec"]["replicas"] == 1
    assert (await client.delete(f"{DEPLOY}?dryRun=All")).status == 200
    assert (await client.get(DEPLOY)).status == 200
    bad = await client.post(f"{CONFIGMAPS}?dryRun=Some", json=configmap("dry"))
    assert (await status_of(bad))["reason"] == "BadRequest"


async def test_deletecollection_by_label(client: TestClient[Any, Any]) -> None:
    for name, team in (("a", "x"), ("b", "x"), ("c", "y")):
        await client.post(CONFIGMAPS, json=configmap(name, team=team))
    gone = await (await client.delete(f"{CONFIGMAPS}?labelSelector=team%3Dx")).json()
    assert gone["kind"] == "ConfigMapList"
    assert sorted(i["metadata"]["name"] for i in gone["items"]) == ["a", "b"]
    left = await (await client.get(CONFIGMAPS)).json()
    assert [i["metadata"]["name"] for i in left["items"]] == ["c"]


async def test_scale_subresource_and_namespace_deletion(client: TestClient[Any, Any]) -> None:
    scale = await (await client.get(f"{DEPLOY}/scale")).json()
    assert scale["kind"] == "Scale" and scale["apiVersion"] == "autoscaling/v1"
    assert scale["spec"]["replicas"] == 1 and scale["status"]["selector"] == "app=checkout"
    scale["spec"]["replicas"] = 3
    assert (await client.put(f"{DEPLOY}/scale", json=scale)).status == 200
    pods = await (await client.get(f"{PODS}?labelSelector=app%3Dcheckout")).json()
    assert len(pods["items"]) == 3
    assert (await client.delete(f"/api/v1/namespaces/{DEMO_NAMESPACE}")).status == 200
    assert (await (await client.get("/api/v1/pods")).json())["items"] == []
    assert (await client.get(DEPLOY)).status == 404


async def test_strategic_merge_is_refused_for_custom_resources(
    client: TestClient[Any, Any],
) -> None:
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "gadgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"plural": "gadgets", "kind": "Gadget"},
            "versions": [{"name": "v1", "served": True, "storage": True}],
        },
    }
    assert (
        await client.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", json=crd)
    ).status == 201
    gadgets = "/apis/example.com/v1/namespaces/default/gadgets"
    gadget = {"apiVersion": "example.com/v1", "kind": "Gadget", "metadata": {"name": "g"}}
    assert (await client.post(gadgets, json=gadget)).status == 201
    patch = await client.patch(
        f"{gadgets}/g",
        data=b"{}",
        headers={"Content-Type": "application/strategic-merge-patch+json"},
    )
    assert (await status_of(patch))["reason"] == "UnsupportedMediaType"
    merge = await client.patch(
        f"{gadgets}/g",
        data=b'{"spec":{"n":1}}',
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert (await merge.json())["spec"] == {"n": 1}


async def test_protobuf_bodies_are_read(client: TestClient[Any, Any]) -> None:
    namespace = _message("k8s.io.api.core.v1.Namespace")()
    namespace.metadata.name = "from-protobuf"  # type: ignore[attr-defined]
    namespace.metadata.labels["team"] = "x"  # type: ignore[attr-defined]
    unknown = _message("k8s.io.apimachinery.pkg.runtime.Unknown")()
    unknown.typeMeta.apiVersion, unknown.typeMeta.kind = "v1", "Namespace"  # type: ignore[attr-defined]
    unknown.raw = namespace.SerializeToString()  # type: ignore[attr-defined]
    response = await client.post(
        "/api/v1/namespaces",
        data=MAGIC + unknown.SerializeToString(),
        headers={"Content-Type": MEDIA_TYPE},
    )
    created = await response.json()
    assert response.status == 201 and created["metadata"]["labels"]["team"] == "x"


# --- logs and exec ---------------------------------------------------------------------------


async def test_logs_tail_and_follow(client: TestClient[Any, Any]) -> None:
    text = await (await client.get(f"{PODS}/{DEMO_POD}/log?tailLines=2")).text()
    assert len(text.splitlines()) == 2
    response = await client.get(f"{PODS}/{DEMO_POD}/log?follow=true&tailLines=1")
    assert response.headers["Content-Type"].startswith("text/plain")
    lines = [await asyncio.wait_for(response.content.readline(), 5) for _ in range(3)]
    assert b"pending order" in lines[1] or b"could not connect" in lines[1]
    response.close()
    bad = await client.get(f"{PODS}/{DEMO_POD}/log?container=nope")
    assert (await status_of(bad))["reason"] == "BadRequest"


def frames(messages: list[bytes]) -> dict[int, bytes]:
    streams: dict[int, bytes] = {}
    for message in messages:
        streams[message[0]] = streams.get(message[0], b"") + message[1:]
    return streams


async def exchange(
    client: TestClient[Any, Any],
    query: str,
    protocol: str,
    send: list[bytes] = (),  # type: ignore[assignment]
) -> dict[int, bytes]:
    async with client.ws_connect(f"{EXEC}?{query}", protocols=(protocol,)) as ws:
        assert ws.protocol == protocol
        for data in send:
            await ws.send_bytes(data)
        return frames([m.data async for m in ws if m.type == aiohttp.WSMsgType.BINARY])


async def test_exec_channels(client: TestClient[Any, Any]) -> None:
    v4 = await exchange(client, "command=echo&command=hi&stdout=true", "v4.channel.k8s.io")
    assert v4[1] == b"hi\n" and json.loads(v4[3]) == {"metadata": {}, "status": "Success"}
    v5 = await exchange(
        client,
        "command=cat&stdin=true&stdout=true",
        "v5.channel.k8s.io",
        [b"\x00hello ", b"\x00world", b"\xff\x00"],
    )
    assert v5[1] == b"hello world"
    failed = await exchange(client, "command=nope&stderr=true", "v5.channel.k8s.io")
    assert b"command not found" in failed[2]
    status = json.loads(failed[3])
    assert status["reason"] == "NonZeroExitCode"
    assert status["details"]["causes"] == [{"reason": "ExitCode", "message": "127"}]


async def test_exec_refuses_other_subprotocols_and_spdy(client: TestClient[Any, Any]) -> None:
    upgrade = {
        "Connection": "Upgrade",
        "Upgrade": "websocket",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
    }
    for offered in ("channel.k8s.io", "base64.channel.k8s.io", ""):
        headers = {**upgrade, "Sec-WebSocket-Protocol": offered} if offered else upgrade
        response = await client.get(f"{EXEC}?command=echo", headers=headers)
        assert response.status == 400
        assert "subprotocol" in (await status_of(response))["message"]
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await client.ws_connect(f"{EXEC}?command=echo", protocols=("v3.channel.k8s.io",))
    assert refused.value.status == 400
    spdy = await client.post(
        f"{EXEC}?command=echo", headers={"Upgrade": "SPDY/3.1", "Connection": "Upgrade"}
    )
    assert "WebSocket" in (await status_of(spdy))["message"]
