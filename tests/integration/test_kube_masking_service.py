"""Kubernetes answers masked by the real masker service over a real nats-server: logs, a pod's
env, Secrets and ConfigMaps, an events Table, a watch, and failing closed without a masker.
One nats-server and one masker serve the whole module."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import nats
import pytest
from nats.aio.client import Client as NATS

from proctor.embedded import EmbeddedNats
from proctor.maskrules import Prefilter
from proctor.settings import Settings
from proctor.testing import ServiceRunner, wait_until
from proctor_ingress.kube.maskcall import MASKED, masker_over_nats
from proctor_ingress.kube.masking import mask_object
from proctor_ingress.kube.streams import LogMasker, WatchMasker
from proctor_ingress.masking import MaskStats, MaskUnavailable

pytestmark = pytest.mark.integration

EMAIL = "jane.doe@example.com"
CARD = "4111 1111 1111 1111"
DEMO_LOG = (
    "2026-12-01T10:00:00.123Z INFO checkout: order 8812 paid by jane.doe@example.com "
    "with card 4111 1111 1111 1111\n"
    "2026-12-01T10:00:00.456Z INFO http: GET /healthz 200 1ms\n"
    "2026-12-01T10:00:01.001Z WARN retrying payment gateway in 5s\n"
)
DATABASE_URL = "postgresql://checkout:hunter2-not-real@db:5432/shop"
IMAGE = "registry.example.com/shop/checkout:1.4.2"


@pytest.fixture(scope="module")
def masker_nats(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedNats]:
    """A nats-server with a masker serving proctor.rpc.mask."""
    workdir = tmp_path_factory.mktemp("kube-masking")
    server = EmbeddedNats(workdir / "nats").start()
    settings = Settings(nats_url=server.url, run_dir=workdir / "run")
    masker = ServiceRunner("proctor_masker", settings, workdir / "masker.log").start()
    try:
        yield server
    finally:
        masker.stop()
        server.stop()


@pytest.fixture(scope="module")
async def nc(masker_nats: EmbeddedNats) -> AsyncIterator[NATS]:
    conn = await nats.connect(masker_nats.url)

    async def answering() -> bool:
        try:
            await conn.request("proctor.rpc.mask", b"", timeout=1)
        except Exception:
            return False
        return True

    try:
        assert await wait_until(answering, timeout=60, interval=0.2), "the masker did not answer"
        yield conn
    finally:
        await conn.close()


def mask_fn(nc: NATS, stats: MaskStats) -> Any:
    return masker_over_nats(nc, 10.0, Prefilter(), stats)


def pod() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "checkout-5d8f7c9b46-x2x4q",
            "namespace": "shop",
            "uid": "3f2a9c1e-7b4d-4e8a-9c1f-2b3d4e5f6a7b",
            "creationTimestamp": "2026-12-01T10:00:00Z",
            "labels": {"app": "checkout"},
        },
        "spec": {
            "containers": [
                {
                    "name": "app",
                    "image": IMAGE,
                    "env": [
                        {"name": "DATABASE_URL", "value": DATABASE_URL},
                        {"name": "DB_PASSWORD", "value": "hunter2-not-real"},
                        {"name": "LOG_LEVEL", "value": "info"},
                        {"name": "REDIS_ADDR", "value": "redis:6379"},
                    ],
                }
            ],
            "nodeName": "node-a",
        },
        "status": {
            "podIP": "10.244.1.17",
            "conditions": [{"type": "Ready", "status": "False", "message": f"mail {EMAIL}"}],
        },
    }


async def test_demo_log_lines_masked(nc: NATS) -> None:
    stats = MaskStats()
    logs = LogMasker(mask_fn(nc, stats))
    data = DEMO_LOG.encode()
    out = await logs.feed(data[:50]) + await logs.feed(data[50:]) + await logs.finish()
    text = out.decode()
    assert EMAIL not in text and CARD not in text
    assert "<EMAIL_ADDRESS>" in text and "1111" in text  # cards keep their last four
    assert "GET /healthz 200 1ms\n" in text and text.count("\n") == 3
    assert stats.counts["log", "EMAIL_ADDRESS"] == 1
    assert stats.counts["log", "CREDIT_CARD"] == 1


async def test_pod_env_masked_name_and_image_kept(nc: NATS) -> None:
    stats = MaskStats()
    obj = await mask_object(pod(), mask_fn(nc, stats), stats=stats)
    env = {e["name"]: e["value"] for e in obj["spec"]["containers"][0]["env"]}
    assert "hunter2-not-real" not in json.dumps(obj)
    assert env["DATABASE_URL"] == "postgresql://checkout:<URL_PASSWORD>@db:5432/shop"
    assert env["DB_PASSWORD"] == MASKED
    assert env["LOG_LEVEL"] == "info" and env["REDIS_ADDR"] == "redis:6379"
    assert obj["metadata"]["name"] == "checkout-5d8f7c9b46-x2x4q"
    assert obj["spec"]["containers"][0]["image"] == IMAGE
    assert obj["status"]["podIP"] == "10.244.1.17"
    assert obj["status"]["conditions"][0]["message"] == "mail <EMAIL_ADDRESS>"
    assert stats.counts["DATABASE_URL", "URL_PASSWORD"] == 1
    assert stats.counts["DB_PASSWORD", "SECRET"] == 1


async def test_secret_config_map_and_events_table(nc: NATS) -> None:
    stats = MaskStats()
    mask = mask_fn(nc, stats)
    listed = {
        "kind": "List",
        "apiVersion": "v1",
        "items": [
            {"kind": "Secret", "apiVersion": "v1", "metadata": {"name": "db"},
             "data": {"password": "aHVudGVyMi1ub3QtcmVhbA=="}},
            {"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "contacts"},
             "data": {"CITY": "Springfield", "support": f"mail {EMAIL}"}},
        ],
    }  # fmt: skip
    await mask_object(listed, mask, stats=stats)
    secret, cm = listed["items"]
    assert secret["data"]["password"] != "aHVudGVyMi1ub3QtcmVhbA=="
    assert cm["data"] == {"CITY": "<LOCATION>", "support": "mail <EMAIL_ADDRESS>"}
    table = {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "columnDefinitions": [
            {"name": n, "type": "string", "format": ""}
            for n in ("Last Seen", "Type", "Reason", "Object", "Message")
        ],
        "rows": [{"cells": ["1m", "Warning", "Failed", "pod/checkout-x2x4q",
                            f"charge to {CARD} for {EMAIL} failed"]}],
    }  # fmt: skip
    await mask_object(table, mask, stats=stats)
    cells = table["rows"][0]["cells"]
    assert cells[:4] == ["1m", "Warning", "Failed", "pod/checkout-x2x4q"]
    assert EMAIL not in cells[4] and CARD not in cells[4]


async def test_watch_stream_and_a_large_list(nc: NATS) -> None:
    stats = MaskStats()
    mask = mask_fn(nc, stats)
    body = b"".join(
        json.dumps({"type": "ADDED", "object": pod()}).encode() + b"\n" for _ in range(3)
    )
    watch = WatchMasker(mask, stats=stats)
    out = await watch.feed(body[:1000]) + await watch.feed(body[1000:]) + await watch.finish()
    events = [json.loads(line) for line in out.splitlines()]
    assert len(events) == 3 and EMAIL.encode() not in out and b"hunter2" not in out

    # 300 pods, each with its own env values: one call, requests shaped by hint.
    pods = []
    for i in range(300):
        p = pod()
        p["metadata"]["name"] = f"checkout-{i}"
        p["spec"]["containers"][0]["env"][0]["value"] = DATABASE_URL.replace("db:", f"db{i}:")
        p["status"]["conditions"][0]["message"] = f"mail user{i}@example.com"
        pods.append(p)
    started = time.perf_counter()
    listed = await mask_object({"kind": "PodList", "apiVersion": "v1", "items": pods}, mask)
    elapsed = time.perf_counter() - started
    dumped = json.dumps(listed)
    assert "@example.com" not in dumped and "hunter2" not in dumped
    assert [p["metadata"]["name"] for p in listed["items"]] == [f"checkout-{i}" for i in range(300)]
    assert elapsed < 5, f"a 300-pod list took {elapsed:.2f} s to mask"

    # A ConfigMap of 1,000 keys: one row of 1,000 columns, each named by its key.
    data = {f"customer_{i}": f"user{i}@example.com" for i in range(1000)}
    cm = {"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "wide"}, "data": data}
    await mask_object(cm, mask)
    assert set(cm["data"].values()) <= {"<EMAIL_ADDRESS>", "<PERSON>"}


async def test_without_a_masker_nothing_goes_out(nats_server: EmbeddedNats) -> None:
    """A bus with no masker: the object and the log raise, so the proxy answers an error."""
    conn = await nats.connect(nats_server.url)
    try:
        mask = masker_over_nats(conn, 0.5, Prefilter(), MaskStats())
        with pytest.raises(MaskUnavailable):
            await mask_object(pod(), mask)
        logs = LogMasker(mask)
        with pytest.raises(MaskUnavailable):
            await logs.feed(DEMO_LOG.encode())
        # What the prefilter clears needs no masker, even now.
        assert await LogMasker(mask).feed(b"GET /healthz 200\n") == b"GET /healthz 200\n"
    finally:
        await conn.close()
