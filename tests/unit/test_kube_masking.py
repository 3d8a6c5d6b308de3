"""Masking Kubernetes answers: which parts of objects, Lists, Tables and WatchEvents go to the
masker and under which hint, what the proxy replaces itself, what stays; logs and watches
masked as they stream; the request shape sent to the masker.

A fake mask function stands in for the masker here (it replaces emails, card numbers and URL
passwords by pattern): these tests are about the walking. tests/integration runs the same paths
against the real masker over NATS."""

from __future__ import annotations

import base64
import copy
import json
import re
from itertools import pairwise
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proctor.errors import MaskUnavailable, Unmaskable
from proctor.maskrules import Prefilter
from proctor_ingress.kube.maskcall import (
    MASKED,
    build_request,
    needs_masker,
    table_rows,
)
from proctor_ingress.kube.masking import LAST_APPLIED, mask_object, secret_name, value_hint
from proctor_ingress.kube.streams import LogMasker, WatchMasker
from proctor_ingress.masking import MaskStats

EMAIL = "jane.doe@example.com"
CARD = "4111 1111 1111 1111"
MASKED_B64 = base64.b64encode(MASKED.encode()).decode()
_FAKES = (
    (re.compile(r"\b[\w.+-]{1,64}@[\w-]{1,63}\.[\w.]{1,63}"), "<EMAIL_ADDRESS>"),
    (re.compile(r"\b(?:\d[ -]?){15}\d\b"), "<CREDIT_CARD>"),
    (re.compile(r"(?<=://)([^:/@\s]+):[^@\s]+@"), r"\1:<URL_PASSWORD>@"),
)


class FakeMasker:
    """Masks by pattern and records every call's (hint, text) pairs."""

    def __init__(self, fail: bool = False) -> None:
        self.calls: list[list[tuple[str, str]]] = []
        self.fail = fail

    async def __call__(self, pairs: list[tuple[str, str]]) -> list[str]:
        self.calls.append(list(pairs))
        if self.fail:
            raise MaskUnavailable("TimeoutError: the masker did not answer")
        return [fake_mask(text) for _, text in pairs]

    def hints(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for call in self.calls:
            for hint, text in call:
                out.setdefault(hint, []).append(text)
        return out

    def texts(self) -> list[str]:
        return [text for call in self.calls for _, text in call]


def fake_mask(text: str) -> str:
    for pattern, replacement in _FAKES:
        text = pattern.sub(replacement, text)
    return text


def container(name: str = "app") -> dict[str, Any]:
    return {
        "name": name,
        "image": "registry.example.com/shop/checkout@sha256:" + "ab12" * 16,
        "command": ["/bin/sh", "-c"],
        "args": [f"notify --to {EMAIL} && exec app"],
        "env": [
            {"name": "DATABASE_URL", "value": "postgresql://checkout:hunter2@db:5432/shop"},
            {"name": "DB_PASSWORD", "value": "hunter2"},
            {"name": "SUPPORT_CONTACT", "value": f"write to {EMAIL}"},
            {"name": "REDIS_ADDR", "value": "redis:6379"},
            {"name": "API_TOKEN", "valueFrom": {"secretKeyRef": {"name": "api", "key": "token"}}},
            {"name": "PASSWORD_FILE", "value": "/run/secrets/db"},
        ],
        "livenessProbe": {
            "httpGet": {
                "path": "/healthz",
                "port": 8080,
                "httpHeaders": [{"name": "Authorization", "value": "Bearer abc.def"}],
            }
        },
    }


def pod_spec() -> dict[str, Any]:
    return {
        "containers": [container()],
        "initContainers": [container("migrate")],
        "nodeName": "node-10-0-3-4",
        "serviceAccountName": "checkout",
    }


def pod() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "checkout-5d8f7c9b46-x2x4q",
            "namespace": "shop",
            "uid": "3f2a9c1e-7b4d-4e8a-9c1f-2b3d4e5f6a7b",
            "resourceVersion": "4111111111111111",
            "creationTimestamp": "2026-12-01T10:00:00Z",
            "labels": {"app": "checkout", "pod-template-hash": "5d8f7c9b46", "ticket": "41111"},
            "annotations": {"example.com/on-call": f"page {EMAIL}", "example.com/rev": "3"},
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "name": "checkout-5d8f7c9b46",
                    "uid": "9c1f2b3d-4e5f-6a7b-3f2a-9c1e7b4d4e8a",
                }
            ],
        },
        "spec": pod_spec(),
        "status": {
            "phase": "Running",
            "podIP": "10.244.1.17",
            "hostIP": "10.0.3.4",
            "startTime": "2026-12-01T10:00:01Z",
            "message": f"evicted while serving {EMAIL}",
            "conditions": [
                {
                    "type": "Ready",
                    "status": "False",
                    "message": f"card {CARD} declined",
                    "lastTransitionTime": "2026-12-01T10:00:05Z",
                }
            ],
            "containerStatuses": [
                {
                    "name": "app",
                    "image": "registry.example.com/shop/checkout:1.2.3",
                    "imageID": "registry.example.com/shop/checkout@sha256:" + "cd34" * 16,
                    "containerID": "containerd://" + "ef56" * 16,
                    "restartCount": 4,
                    "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off"}},
                    "lastState": {
                        "terminated": {
                            "exitCode": 1,
                            "reason": "Error",
                            "message": f"panic: charge {CARD} for {EMAIL}",
                            "finishedAt": "2026-12-01T10:00:09Z",
                        }
                    },
                }
            ],
        },
    }


def secret() -> dict[str, Any]:
    manifest = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "db", "namespace": "shop"},
        "stringData": {"password": "hunter2"},
        "data": {"url": base64.b64encode(b"postgresql://a:b@db/shop").decode()},
    }
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {
            "name": "db",
            "namespace": "shop",
            "annotations": {LAST_APPLIED: json.dumps(manifest) + "\n"},
        },
        "data": {
            "password": base64.b64encode(b"hunter2").decode(),
            "url": base64.b64encode(b"postgresql://a:b@db/shop").decode(),
            "empty": "",
        },
    }


async def test_secret_values_replaced_whole_without_the_masker() -> None:
    fake, stats = FakeMasker(), MaskStats()
    obj = await mask_object(secret(), fake, stats=stats)
    assert obj["data"] == {"password": MASKED_B64, "url": MASKED_B64, "empty": ""}
    assert obj["metadata"]["name"] == "db" and obj["type"] == "Opaque"
    applied = json.loads(obj["metadata"]["annotations"][LAST_APPLIED])
    assert applied["stringData"] == {"password": MASKED}
    assert applied["data"] == {"url": MASKED_B64}
    assert obj["metadata"]["annotations"][LAST_APPLIED].endswith("\n")
    assert "hunter2" not in json.dumps(obj) and "hunter2" not in " ".join(fake.texts())
    assert not any("cG9zdGdyZXNxbDov" in t for t in fake.texts())  # data never sent
    assert stats.values_masked == 4 and stats.counts["password", "SECRET"] == 2


async def test_secret_in_a_list_without_kinds() -> None:
    """The items of a typed List carry no kind: the List's kind says what they are."""
    item = secret()
    del item["kind"], item["apiVersion"]
    listed = {
        "kind": "SecretList",
        "apiVersion": "v1",
        "metadata": {"resourceVersion": "7"},
        "items": [item, copy.deepcopy(item)],
    }
    obj = await mask_object(listed, FakeMasker())
    assert all(i["data"]["password"] == MASKED_B64 for i in obj["items"])
    # Without a List's kind, the caller's kind or a Secret's look (data and a type) says so.
    bare = secret()
    del bare["kind"]
    assert (await mask_object(bare, FakeMasker()))["data"]["url"] == MASKED_B64


async def test_config_map_data_by_key_binary_withheld() -> None:
    fake = FakeMasker()
    cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "settings", "namespace": "shop"},
        "data": {"owner": f"ops team <{EMAIL}>", "db_password": "hunter2", "replicas": "3"},
        "binaryData": {"logo.png": base64.b64encode(b"\x89PNG").decode()},
    }
    obj = await mask_object(cm, fake)
    assert obj["data"] == {
        "owner": "ops team <<EMAIL_ADDRESS>>",
        "db_password": MASKED,
        "replicas": "3",
    }
    assert obj["binaryData"] == {"logo.png": MASKED_B64}
    assert fake.hints()["owner"] == [f"ops team <{EMAIL}>"]
    assert "hunter2" not in fake.texts()


async def test_pod_env_command_status_masked_identifiers_kept() -> None:
    fake, original = FakeMasker(), pod()
    obj = await mask_object(copy.deepcopy(original), fake)
    assert len(fake.calls) == 1  # all texts of one object in one call
    env = {e["name"]: e.get("value") for e in obj["spec"]["containers"][0]["env"]}
    assert env["DATABASE_URL"] == "postgresql://checkout:<URL_PASSWORD>@db:5432/shop"
    assert env["DB_PASSWORD"] == MASKED
    assert env["SUPPORT_CONTACT"] == "write to <EMAIL_ADDRESS>"
    assert env["REDIS_ADDR"] == "redis:6379" and env["PASSWORD_FILE"] == "/run/secrets/db"
    assert env["API_TOKEN"] is None
    hints = fake.hints()
    assert "postgresql://checkout:hunter2@db:5432/shop" in hints["DATABASE_URL"]
    assert "REDIS_ADDR (endpoint)" in hints  # not read as a street address
    assert f"notify --to {EMAIL} && exec app" in hints["command"]
    assert "Bearer abc.def" in hints["Authorization"]
    init_env = obj["spec"]["initContainers"][0]["env"]
    assert init_env[1]["value"] == MASKED
    assert obj["spec"]["containers"][0]["args"] == ["notify --to <EMAIL_ADDRESS> && exec app"]
    status = obj["status"]
    assert status["message"] == "evicted while serving <EMAIL_ADDRESS>"
    assert status["conditions"][0]["message"] == "card <CREDIT_CARD> declined"
    terminated = status["containerStatuses"][0]["lastState"]["terminated"]
    assert terminated["message"] == "panic: charge <CREDIT_CARD> for <EMAIL_ADDRESS>"
    assert obj["metadata"]["annotations"]["example.com/on-call"] == "page <EMAIL_ADDRESS>"
    # Identifiers: exactly as they were, and never sent.
    for path in (
        ("metadata",),
        ("status", "podIP"),
        ("status", "hostIP"),
        ("status", "startTime"),
        ("spec", "nodeName"),
        ("status", "containerStatuses", 0, "imageID"),
        ("status", "containerStatuses", 0, "containerID"),
        ("spec", "containers", 0, "image"),
    ):
        got, want = obj, original
        for step in path:
            got, want = got[step], want[step]
        if path == ("metadata",):
            got = {k: v for k, v in got.items() if k != "annotations"}
            want = {k: v for k, v in want.items() if k != "annotations"}
        assert got == want, path
    sent = " ".join(fake.texts())
    for identifier in (
        "10.244.1.17",
        "3f2a9c1e",
        "4111111111111111",
        "node-10-0-3-4",
        "2026-12-01T10:00",
        "sha256",
    ):
        assert identifier not in sent


async def test_workload_templates_and_last_applied() -> None:
    fake = FakeMasker()
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "checkout", "namespace": "shop", "annotations": {}},
        "spec": {
            "replicas": 2,
            "template": {"metadata": {"labels": {"app": "checkout"}}, "spec": pod_spec()},
        },
    }
    deployment["metadata"]["annotations"][LAST_APPLIED] = json.dumps(deployment)
    cron = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "report"},
        "spec": {
            "schedule": "*/5 * * * *",
            "jobTemplate": {"spec": {"template": {"spec": pod_spec()}}},
        },
    }
    listed = await mask_object(
        {"kind": "List", "apiVersion": "v1", "items": [deployment, cron]}, fake
    )
    assert len(fake.calls) == 1  # one call for the whole List
    dep, job = listed["items"]
    for spec in (
        dep["spec"]["template"]["spec"],
        job["spec"]["jobTemplate"]["spec"]["template"]["spec"],
    ):
        env = spec["containers"][0]["env"]
        assert env[0]["value"] == "postgresql://checkout:<URL_PASSWORD>@db:5432/shop"
        assert env[1]["value"] == MASKED
    applied = json.loads(dep["metadata"]["annotations"][LAST_APPLIED])
    env = applied["spec"]["template"]["spec"]["containers"][0]["env"]
    assert env[1]["value"] == MASKED and "<URL_PASSWORD>" in env[0]["value"]
    assert applied["metadata"]["name"] == "checkout"
    assert job["spec"]["schedule"] == "*/5 * * * *"


async def test_unreadable_last_applied_is_withheld() -> None:
    obj = {
        "kind": "Service",
        "apiVersion": "v1",
        "metadata": {
            "name": "db",
            "annotations": {LAST_APPLIED: '{"kind": "Secret", "stringData": {"pw": "hunter2"'},
        },
    }
    fake = FakeMasker()
    await mask_object(obj, fake)
    assert obj["metadata"]["annotations"][LAST_APPLIED].startswith("<withheld by Proctor")
    assert not fake.calls


def pods_table(include: str) -> dict[str, Any]:
    obj: dict[str, Any] = pod()
    if include == "Metadata":
        obj = {
            "kind": "PartialObjectMetadata",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": {**obj["metadata"], "annotations": {LAST_APPLIED: json.dumps(secret())}},
        }
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": "123"},
        "columnDefinitions": [
            {"name": "Name", "type": "string", "format": "name"},
            {"name": "Ready", "type": "string", "format": ""},
            {"name": "Status", "type": "string", "format": ""},
            {"name": "Restarts", "type": "integer", "format": ""},
            {"name": "Age", "type": "string", "format": ""},
            {"name": "IP", "type": "string", "format": ""},
            {"name": "Owner Email", "type": "string", "format": ""},
        ],
        "rows": [
            {
                "cells": [
                    "checkout-5d8f7c9b46-x2x4q",
                    "0/1",
                    "CrashLoopBackOff",
                    4,
                    "5m",
                    "10.244.1.17",
                    EMAIL,
                ],
                "object": obj,
            }
        ],
    }


@pytest.mark.parametrize("include", ["Object", "Metadata"])
async def test_table_cells_and_embedded_objects(include: str) -> None:
    fake = FakeMasker()
    table = await mask_object(pods_table(include), fake)
    cells = table["rows"][0]["cells"]
    assert cells == [
        "checkout-5d8f7c9b46-x2x4q",
        "0/1",
        "CrashLoopBackOff",
        4,
        "5m",
        "10.244.1.17",
        "<EMAIL_ADDRESS>",
    ]
    assert fake.hints()["Owner Email"] == [EMAIL]
    embedded = table["rows"][0]["object"]
    if include == "Object":
        assert embedded["spec"]["containers"][0]["env"][1]["value"] == MASKED
        assert embedded["status"]["message"] == "evicted while serving <EMAIL_ADDRESS>"
    else:
        applied = json.loads(embedded["metadata"]["annotations"][LAST_APPLIED])
        assert applied["data"]["password"] == MASKED_B64
    assert len(fake.calls) == 1


async def test_events_table_masks_the_message_column() -> None:
    fake = FakeMasker()
    table = {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "columnDefinitions": [
            {"name": n, "type": "string", "format": ""}
            for n in ("Last Seen", "Type", "Reason", "Object", "Message")
        ],
        "rows": [
            {"cells": ["2m", "Warning", "Failed", "pod/checkout-x2x4q", f"refund to {CARD} failed"]}
        ],
    }
    await mask_object(table, fake)
    assert table["rows"][0]["cells"] == [
        "2m",
        "Warning",
        "Failed",
        "pod/checkout-x2x4q",
        "refund to <CREDIT_CARD> failed",
    ]
    assert fake.hints() == {"Message": [f"refund to {CARD} failed"]}


async def test_secret_table_is_kept() -> None:
    fake = FakeMasker()
    table = {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "columnDefinitions": [
            {"name": n, "type": "string", "format": f}
            for n, f in (("Name", "name"), ("Type", ""), ("Data", ""), ("Age", ""))
        ],
        "rows": [{"cells": ["db", "Opaque", 2, "12d"], "object": secret()}],
    }
    await mask_object(table, fake)
    assert table["rows"][0]["cells"] == ["db", "Opaque", 2, "12d"]
    assert table["rows"][0]["object"]["data"]["password"] == MASKED_B64


async def test_events_and_watch_events() -> None:
    fake = FakeMasker()
    event = {
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": {"name": "checkout.17a", "namespace": "shop"},
        "regarding": {"kind": "Pod", "name": "checkout-x2x4q", "uid": "3f2a"},
        "reason": "Failed",
        "note": f"mail to {EMAIL} bounced",
        "eventTime": "2026-12-01T10:00:00.000000Z",
    }
    watched = await mask_object({"type": "ADDED", "object": event}, fake)
    assert watched["object"]["note"] == "mail to <EMAIL_ADDRESS> bounced"
    assert watched["object"]["regarding"]["name"] == "checkout-x2x4q"
    error = {
        "type": "ERROR",
        "object": {
            "kind": "Status",
            "apiVersion": "v1",
            "code": 410,
            "status": "Failure",
            "message": f"too old for {EMAIL}",
            "reason": "Expired",
        },
    }
    assert (await mask_object(error, fake))["object"]["message"] == "too old for <EMAIL_ADDRESS>"


async def test_names_that_are_not_kubernetes_names_are_masked() -> None:
    fake = FakeMasker()
    obj = {
        "apiVersion": "example.com/v1",
        "kind": "Customer",
        "metadata": {"name": "c-1"},
        "spec": {
            "params": [{"name": "notify", "value": [f"to {EMAIL}"]}],
            "userName": EMAIL,
            "lastName": "Doe",
            "serviceName": "billing",
            "adminPassword": "hunter2",
            "publicKey": "ssh-ed25519 AAAA",
        },
    }
    await mask_object(obj, fake)
    assert obj["spec"]["userName"] == "<EMAIL_ADDRESS>"
    assert obj["spec"]["adminPassword"] == MASKED and obj["spec"]["serviceName"] == "billing"
    assert obj["spec"]["params"][0]["value"] == ["to <EMAIL_ADDRESS>"]
    assert set(fake.hints()) == {"notify", "userName", "lastName", "publicKey"}


async def test_mask_unavailable_propagates_and_nothing_is_written_back() -> None:
    obj = pod()
    with pytest.raises(MaskUnavailable):
        await mask_object(obj, FakeMasker(fail=True))
    # The proxy sends an error, not the object; still, no masked text was half-applied.
    assert obj["status"]["message"] == f"evicted while serving {EMAIL}"


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("DB_PASSWORD", True),
        ("dbPassword", True),
        ("API_TOKEN", True),
        ("STRIPE_KEY", True),
        ("SECRET_KEY_BASE", True),
        ("client-secret", True),
        ("BASIC_AUTH", True),
        ("PGPASS", False),
        ("DB_PASS", True),
        ("AWS_SECRET_ACCESS_KEY", True),
        ("PASSWORD_FILE", False),
        ("TOKEN_TTL", False),
        ("SECRET_NAME", False),
        ("PWD", False),
        ("PUBLIC_KEY", False),
        ("key", False),
        ("TOKENIZERS_PARALLELISM", False),
        ("DATABASE_URL", False),
        ("LOG_LEVEL", False),
        ("PORT", False),
    ],
)
def test_secret_names(name: str, secret: bool) -> None:
    assert secret_name(name) is secret


def test_value_hint_endpoints() -> None:
    assert value_hint("REDIS_ADDR", "redis:6379") == "REDIS_ADDR (endpoint)"
    assert value_hint("LISTEN_ADDRESS", "0.0.0.0") == "LISTEN_ADDRESS (endpoint)"
    assert value_hint("HOME_ADDRESS", "1 Main Street, Springfield") == "HOME_ADDRESS"
    assert value_hint("CITY", "Paris") == "CITY"


# ---- logs -------------------------------------------------------------------------------------


def expected_log(data: bytes, cap: int) -> bytes:
    """Each line (or `cap`-byte piece of a longer one) masked on its own."""
    out, pos = [], 0
    while pos < len(data):
        newline = data.find(b"\n", pos, pos + cap + 1)
        if newline >= 0:
            out.append(fake_mask(data[pos:newline].decode(errors="replace")).encode() + b"\n")
            pos = newline + 1
            continue
        cut = min(pos + cap, len(data))
        while cut < len(data) and cut > pos + cap - 3 and data[cut] & 0xC0 == 0x80:
            cut -= 1
        out.append(fake_mask(data[pos:cut].decode(errors="replace")).encode())
        pos = cut
    return b"".join(out)


_LINES = st.lists(
    st.sampled_from(
        [
            f"user {EMAIL} paid",
            f"card {CARD}",
            "GET /healthz 200",
            "",
            "é€😀 ok",
            "x" * 40,
            f"{'y' * 30}{EMAIL}",
        ]
    ),
    max_size=12,
)


@given(
    lines=_LINES,
    cuts=st.lists(st.integers(min_value=0, max_value=600), max_size=8),
    trailing=st.booleans(),
)
@settings(max_examples=150, deadline=None)
async def test_log_output_does_not_depend_on_chunking(
    lines: list[str], cuts: list[int], trailing: bool
) -> None:
    data = "\n".join(lines).encode() + (b"\n" if trailing and lines else b"")
    cap = 32
    whole = LogMasker(FakeMasker(), line_cap=cap)
    once = await whole.feed(data) + await whole.finish()
    pieces = LogMasker(FakeMasker(), line_cap=cap)
    bounds = sorted({min(c, len(data)) for c in cuts} | {0, len(data)})
    chunked = b""
    for a, b in pairwise(bounds):
        chunked += await pieces.feed(data[a:b])
        assert len(pieces._pending) <= cap
    chunked += await pieces.finish()
    assert chunked == once == expected_log(data, cap)
    assert EMAIL.encode() not in once


async def test_log_lines_go_out_as_soon_as_complete() -> None:
    fake = FakeMasker()
    logs = LogMasker(fake)
    assert await logs.feed(f"first {EMAIL}\nsec".encode()) == b"first <EMAIL_ADDRESS>\n"
    assert await logs.feed(b"ond\nthi") == b"second\n"
    assert await logs.finish() == b"thi"
    assert [len(c) for c in fake.calls] == [1, 1, 1]
    assert fake.calls[0][0][0] == "log"


async def test_leading_timestamps_are_kept_and_not_sent() -> None:
    fake = FakeMasker()
    line = f"2026-12-01T10:00:00.123456789Z [2026-12-01 10:00:00,123] INFO paid by {EMAIL}\n"
    out = await LogMasker(fake).feed(line.encode() + b"2026-12-01T10:00:01Z \n")
    assert out == (
        b"2026-12-01T10:00:00.123456789Z [2026-12-01 10:00:00,123] INFO paid by <EMAIL_ADDRESS>\n"
        b"2026-12-01T10:00:01Z \n"
    )
    assert fake.calls == [[("log", f"INFO paid by {EMAIL}"), ("log", "")]]


async def test_a_long_line_is_cut_and_memory_stays_bounded() -> None:
    fake = FakeMasker()
    logs = LogMasker(fake, line_cap=64 * 1024)
    out = b""
    for _ in range(32):  # 2 MiB without a newline, in 64 KiB chunks
        out += await logs.feed(b"z" * 65536)
        assert len(logs._pending) <= 64 * 1024
    out += await logs.feed(f" {EMAIL}\n".encode()) + await logs.finish()
    assert out.endswith(b" <EMAIL_ADDRESS>\n") and out.count(b"z") == 32 * 65536
    assert max(len(t) for t in fake.texts()) <= 64 * 1024


async def test_log_masking_failure_ends_the_stream() -> None:
    logs = LogMasker(FakeMasker(fail=True))
    assert await logs.feed(b"partial") == b""  # nothing complete: nothing asked
    with pytest.raises(MaskUnavailable):
        await logs.feed(b" line\n")
    with pytest.raises(MaskUnavailable):
        await logs.feed(b"more\n")


# ---- watches ----------------------------------------------------------------------------------


async def test_watch_events_split_across_chunks() -> None:
    fake = FakeMasker()
    events = [
        {"type": "ADDED", "object": pod()},
        {"type": "MODIFIED", "object": secret()},
        {"type": "ADDED", "object": pods_table("Object")},
    ]
    body = b"".join(json.dumps(e).encode() + b"\n" for e in events)
    watch, out = WatchMasker(fake), b""
    for i in range(0, len(body), 700):
        out += await watch.feed(body[i : i + 700])
    out += await watch.finish()
    got = [json.loads(line) for line in out.splitlines()]
    assert [e["type"] for e in got] == ["ADDED", "MODIFIED", "ADDED"]
    assert got[0]["object"]["status"]["message"] == "evicted while serving <EMAIL_ADDRESS>"
    assert got[1]["object"]["data"]["password"] == MASKED_B64
    assert got[2]["object"]["rows"][0]["cells"][-1] == "<EMAIL_ADDRESS>"
    assert EMAIL.encode() not in out and b"hunter2" not in out


async def test_watch_event_over_the_cap_fails_closed() -> None:
    watch = WatchMasker(FakeMasker(), event_cap=1024)
    big = json.dumps(
        {
            "type": "ADDED",
            "object": {
                "kind": "ConfigMap",
                "apiVersion": "v1",
                "data": {"notes": EMAIL + "x" * 2000},
            },
        }
    ).encode()
    assert await watch.feed(big[:500]) == b""
    with pytest.raises(Unmaskable, match="larger than"):
        await watch.feed(big[500:])
    with pytest.raises(MaskUnavailable):
        await watch.feed(b"\n")
    with pytest.raises(Unmaskable):
        await WatchMasker(FakeMasker(), event_cap=1024).feed(big + b"\n")


async def test_watch_line_that_is_not_json_fails_closed() -> None:
    with pytest.raises(Unmaskable):
        await WatchMasker(FakeMasker()).feed(f"not json {EMAIL}\n".encode())


# ---- the request to the masker ----------------------------------------------------------------


def test_table_rows_picks_the_cheap_shape() -> None:
    assert table_rows([]) == 0
    assert table_rows([500]) == 500  # a log: one column
    assert table_rows([1] * 40) == 1  # a pod's env: one row
    assert 1 < table_rows([300] + [1] * 200) < 300  # a mix: neither extreme


def test_request_cells_map_back_to_their_texts() -> None:
    from proctor_masker.model import MaskSettings
    from proctor_masker.service import handle_request

    pairs = [("log", f"line {i} {EMAIL}") for i in range(5)] + [
        ("DATABASE_URL", "postgresql://app:hunter2@db:5432/shop"),
        ("owner", "Jane Doe"),
        ("log", "quiet"),
    ]
    request, grid = build_request(pairs, list(range(len(pairs))))
    assert {c.name for c in request.columns} == {"log", "DATABASE_URL", "owner"}
    response = handle_request(request.SerializeToString(), MaskSettings())
    out = dict.fromkeys(range(len(pairs)), "")
    for sent, row in zip(grid, response.rows, strict=True):
        for i, value in zip(sent, row.values, strict=True):
            assert (i < 0) == value.null
            if i >= 0:
                out[i] = value.text
    assert all(out[i] == f"line {i} <EMAIL_ADDRESS>" for i in range(5))
    assert out[5] == "postgresql://app:<URL_PASSWORD>@db:5432/shop" and out[7] == "quiet"
    assert out[6] == "<PERSON>"


def test_what_needs_the_masker() -> None:
    prefilter = Prefilter()
    assert not needs_masker("log", "GET /healthz 200", prefilter)
    assert needs_masker("log", f"to {EMAIL}", prefilter)
    assert needs_masker("CITY", "Paris", prefilter)  # the name says what it holds
    assert needs_masker("owner", "Jane Doe", prefilter)  # a person's look in a name-ish key
    assert not needs_masker("owner", "ops", prefilter)
    assert not needs_masker("CITY", "", prefilter)
