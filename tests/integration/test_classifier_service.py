"""The classifier service as real processes on a real nats-server, asked by a real NATS client."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from proctor.cachekeys import shape
from proctor.classifier.v1 import classifier_pb2 as cpb
from proctor.embedded import EmbeddedNats
from proctor.events.v1 import events_pb2 as pb
from proctor.policy import policy_version
from proctor.settings import Settings
from proctor.testing import ServiceRunner, service_env, wait_until
from tests.unit.catalog_facts import function, table

pytestmark = pytest.mark.integration

SUBJECT = "proctor.rpc.classify"
POLICY = """\
version: 1
rules:
  - match: {resource: demo, groups: [sre]}
    actions: {ddl.drop: review}
"""
# Line 6 lets sre write on demo without review.
RELAXED = (
    POLICY
    + """\
  - match: {resource: demo, groups: [sre]}
    actions: {write: allow}
"""
)


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY)
    return path


@pytest.fixture
def classifier_settings(nats_server: EmbeddedNats, tmp_path: Path, policy_file: Path) -> Settings:
    # The classifier needs no Postgres, so these tests do without the `settings` fixture's.
    return Settings(nats_url=nats_server.url, run_dir=tmp_path / "run", policy_file=policy_file)


def start(settings: Settings, tmp_path: Path, name: str = "classifier") -> ServiceRunner:
    return ServiceRunner("proctor_classifier", settings, tmp_path / f"{name}.log").start()


async def ready(nats_server: EmbeddedNats, *services: ServiceRunner) -> None:
    """Every replica has logged readiness and the server routes the subject to all of them."""

    async def subscribed() -> bool:
        if not all("classifier ready" in s.output() for s in services):
            return False
        url = f"http://127.0.0.1:{nats_server.monitor_port}/connz?subs=1"
        connz = json.loads(await asyncio.to_thread(lambda: urllib.request.urlopen(url).read()))
        holders = [c for c in connz["connections"] if SUBJECT in c.get("subscriptions_list", [])]
        return len(holders) == len(services)

    ok = await wait_until(subscribed, 30)
    assert ok, "\n".join(s.output() for s in services)


async def ask(
    nc: NATS, text: str, groups: tuple[str, ...] = (), resource: str = "demo"
) -> cpb.ClassifyResponse:
    request = cpb.ClassifyRequest(
        text=text,
        identity=pb.Identity(human="alice@example.com", agent="claude-code", groups=groups),
        resource=pb.Resource(name=resource, kind=pb.RESOURCE_KIND_POSTGRES),
        kind=cpb.COMMAND_KIND_SQL,
    )
    # The ingress's part: what the classifier needs of the target's catalog, here a target
    # whose relations are tables and whose functions are built-in STABLE ones.
    for _ in range(6):
        reply = await nc.request(SUBJECT, request.SerializeToString(), timeout=5)
        response = cpb.ClassifyResponse.FromString(reply.data)
        needs = response.needs
        if not (needs.functions or needs.relations):
            break
        request.catalog.functions.extend(function(n, builtin=True) for n in needs.functions)
        request.catalog.relations.extend(table(n) for n in needs.relations)
    return response


async def test_verdicts_over_nats(
    classifier_settings: Settings, nats_server: EmbeddedNats, nc: NATS, tmp_path: Path
) -> None:
    service = start(classifier_settings, tmp_path)
    try:
        await ready(nats_server, service)
        version = policy_version(POLICY)

        read = await ask(nc, "SELECT * FROM customers WHERE id = 1")
        assert (read.action, read.policy_version, read.error) == (pb.ACTION_ALLOW, version, "")
        assert [m.rule_id for m in read.matches] == ["read.select"]
        assert read.fingerprint_safe

        drop = await ask(nc, "SELECT 1; DROP TABLE customers")
        assert drop.action == pb.ACTION_BLOCK
        assert [(m.rule_id, m.decided_by) for m in drop.matches] == [
            ("ddl.drop", "default"), ("read.select", "default")
        ]  # fmt: skip
        assert "DROP TABLE customers" in drop.matches[0].reason and drop.matches[0].hint

        as_sre = await ask(nc, "DROP TABLE customers", groups=("sre",))
        assert as_sre.action == pb.ACTION_REVIEW
        assert as_sre.matches[0].decided_by == "policy.yaml:4"

        elsewhere = await ask(nc, "DROP TABLE customers", groups=("sre",), resource="prod")
        assert elsewhere.action == pb.ACTION_BLOCK

        broken = await ask(nc, "DELET FROM customers")
        assert broken.action == pb.ACTION_BLOCK
        assert broken.matches[0].rule_id == "parse.error"

        for text, action, rule_id in [
            ("ls -la /var/log", pb.ACTION_ALLOW, "shell.read"),
            ("sudo systemctl restart nginx", pb.ACTION_REVIEW, "shell.service"),
            ("sudo rm -rf /", pb.ACTION_BLOCK, "shell.rm_root"),
            ("psql -c 'DROP TABLE x'", pb.ACTION_BLOCK, "ddl.drop"),
        ]:
            shell = await ask_shell(nc, text)
            assert (shell.action, shell.matches[0].rule_id) == (action, rule_id), shell
            assert shell.policy_version == version and not shell.cache_key

        for detail, action, rule_ids in [
            (pb.McpDetail(server="github", tool="get_issue", arguments='{"n": 1}',
                          read_only=True), pb.ACTION_ALLOW, ["mcp.read"]),
            (pb.McpDetail(server="github", tool="create_issue", arguments='{"title": "t"}'),
             pb.ACTION_REVIEW, ["mcp.write"]),
            (pb.McpDetail(server="github", tool="delete_repo", arguments="{}", destructive=True),
             pb.ACTION_BLOCK, ["mcp.destructive"]),
            (pb.McpDetail(server="github", tool="get_issue", arguments="{}", read_only=True,
                          definition_changed=True),
             pb.ACTION_REVIEW, ["mcp.definition_changed", "mcp.read"]),
            (pb.McpDetail(server="github", tool="get_issue", arguments="[1]", read_only=True),
             pb.ACTION_BLOCK, ["mcp.malformed"]),
        ]:  # fmt: skip
            mcp = await ask_mcp(nc, detail)
            assert (mcp.action, [m.rule_id for m in mcp.matches]) == (action, rule_ids), mcp
            key = shape(cpb.COMMAND_KIND_MCP, "", pb.CommandDetail(mcp=detail))
            assert mcp.policy_version == version and mcp.cache_key == (key or "")
    finally:
        assert service.stop() == 0, service.output()


async def ask_shell(nc: NATS, text: str) -> cpb.ClassifyResponse:
    detail = pb.ShellDetail(text=text, host="demo-host", entrance="ssh")
    request = cpb.ClassifyRequest(
        text=text,
        identity=pb.Identity(human="alice@example.com", agent="claude-code"),
        resource=pb.Resource(name="demo-host"),
        kind=cpb.COMMAND_KIND_SHELL,
        detail=pb.CommandDetail(shell=detail),
    )
    reply = await nc.request(SUBJECT, request.SerializeToString(), timeout=5)
    return cpb.ClassifyResponse.FromString(reply.data)


async def ask_mcp(nc: NATS, detail: pb.McpDetail) -> cpb.ClassifyResponse:
    request = cpb.ClassifyRequest(
        text=f"{detail.server}.{detail.tool} {detail.arguments}",
        identity=pb.Identity(human="alice@example.com", agent="claude-code"),
        resource=pb.Resource(name=detail.server),
        kind=cpb.COMMAND_KIND_MCP,
        detail=pb.CommandDetail(mcp=detail),
    )
    reply = await nc.request(SUBJECT, request.SerializeToString(), timeout=5)
    return cpb.ClassifyResponse.FromString(reply.data)


async def test_replicas_share_the_queue_group(
    classifier_settings: Settings, nats_server: EmbeddedNats, nc: NATS, tmp_path: Path
) -> None:
    replicas = [start(classifier_settings, tmp_path, f"classifier-{i}") for i in range(2)]
    try:
        await ready(nats_server, *replicas)
        verdicts = await asyncio.gather(
            *(ask(nc, f"UPDATE t SET n = {i} WHERE id = {i}") for i in range(50))
        )
        assert {v.action for v in verdicts} == {pb.ACTION_REVIEW}
    finally:
        for replica in replicas:
            assert replica.stop() == 0, replica.output()
    served = [int(re.findall(r"served (\d+) requests", r.output())[-1]) for r in replicas]
    assert sum(served) == 100  # each asked twice: with the relation `t` looked up the second
    assert all(n > 0 for n in served), f"one replica served everything: {served}"


async def test_malformed_request_gets_an_error_and_the_service_lives_on(
    classifier_settings: Settings, nats_server: EmbeddedNats, nc: NATS, tmp_path: Path
) -> None:
    service = start(classifier_settings, tmp_path)
    try:
        await ready(nats_server, service)
        for garbage in (b"\xff\xff\xff", b"\x0a\x05ab"):  # bad wire type; truncated string
            reply = await nc.request(SUBJECT, garbage, timeout=5)
            response = cpb.ClassifyResponse.FromString(reply.data)
            assert response.error.startswith("not a proctor.classifier.v1.ClassifyRequest")
            assert response.action == pb.ACTION_BLOCK
        still = await ask(nc, "SELECT 1")
        assert still.action == pb.ACTION_ALLOW
        assert service.proc is not None and service.proc.poll() is None
    finally:
        assert service.stop() == 0, service.output()
    assert "undecodable classify request" in service.output()


async def test_policy_edits_are_announced_and_invalid_ones_ignored(
    classifier_settings: Settings,
    nats_server: EmbeddedNats,
    nc: NATS,
    tmp_path: Path,
    policy_file: Path,
) -> None:
    announced: list[str] = []

    async def on_change(msg: Msg) -> None:
        announced.append(cpb.PolicyChanged.FromString(msg.data).policy_version)

    await nc.subscribe("proctor.policy.changed", cb=on_change)
    service = start(classifier_settings, tmp_path)
    try:
        await ready(nats_server, service)
        update = "UPDATE t SET n = 1 WHERE id = 1"
        assert (await ask(nc, update, groups=("sre",))).action == pb.ACTION_REVIEW

        replace(policy_file, RELAXED)
        relaxed = policy_version(RELAXED)

        async def announced_relaxed() -> bool:
            return relaxed in announced

        assert await wait_until(announced_relaxed, 10), service.output()
        allowed = await ask(nc, update, groups=("sre",))
        assert (allowed.action, allowed.policy_version) == (pb.ACTION_ALLOW, relaxed)
        assert allowed.matches[0].decided_by == "policy.yaml:6"

        replace(policy_file, RELAXED.replace("write: allow", "write: alow"))

        async def rejected() -> bool:
            return "rejected policy edit: policy.yaml:6: write: 'alow'" in service.output()

        assert await wait_until(rejected, 10), service.output()
        kept = await ask(nc, update, groups=("sre",))
        assert (kept.action, kept.policy_version) == (pb.ACTION_ALLOW, relaxed)
        assert announced == [relaxed]
    finally:
        assert service.stop() == 0, service.output()


def replace(path: Path, text: str) -> None:
    """Write as editors and ConfigMaps do: the new file appears whole, never half-written."""
    partial = path.with_suffix(".tmp")
    partial.write_text(text)
    os.replace(partial, path)


def test_explain_prints_verdict_rules_and_deciding_line(
    classifier_settings: Settings, policy_file: Path
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "proctor_classifier", "explain", "--resource", "demo",
         "--as", "alice@example.com", "--groups", "sre,dev", "--policy", str(policy_file),
         "SELECT 1; DROP TABLE customers"],
        env=service_env(classifier_settings), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("verdict: REVIEW")
    assert "groups: sre, dev" in out and "resource demo" in out
    assert re.search(r"review\s+ddl\.drop\s+decided by policy\.yaml:4", out), out
    assert re.search(r"allow\s+read\.select\s+decided by default", out), out
    assert "hint:" in out


def test_policy_explain_judges_a_shell_command_line(classifier_settings: Settings) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "proctor.cli.main", "policy", "explain", "--shell", "rm -rf /",
         "--resource", "demo-host", "--as", "alice"],
        env=service_env(classifier_settings), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("verdict: BLOCK") and "command: rm -rf /" in out
    assert re.search(r"block\s+shell\.rm_root\s+decided by default", out), out
    assert "rm -rf / deletes everything under /" in out


def test_policy_explain_judges_an_mcp_tool_call(
    classifier_settings: Settings, tmp_path: Path
) -> None:
    policy = tmp_path / "mcp.yaml"
    policy.write_text("version: 1\nrules:\n"
                      "  - match: {tool: github.create_issue, arguments: {repo: 'acme/sandbox*'}}\n"
                      "    actions: {mcp.write: allow}\n")  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-m", "proctor.cli.main", "policy", "explain", "--mcp",
         "github.create_issue", "--arguments", '{"repo": "acme/sandbox-2"}', "--as", "alice",
         "--policy", str(policy)],
        env=service_env(classifier_settings), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("verdict: ALLOW") and "on resource github" in out
    assert re.search(r"allow\s+mcp\.write\s+decided by mcp\.yaml:4", out), out
    changed = subprocess.run(
        [sys.executable, "-m", "proctor.cli.main", "policy", "explain", "--mcp",
         "github.create_issue", "--arguments", '{"repo": "acme/sandbox-2"}', "--changed",
         "--as", "alice", "--policy", str(policy)],
        env=service_env(classifier_settings), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert changed.returncode == 0, changed.stderr
    assert changed.stdout.startswith("verdict: REVIEW") and "mcp.definition_changed" in (
        changed.stdout)  # fmt: skip


def test_explain_rejects_an_invalid_policy_with_its_line(
    classifier_settings: Settings, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nrules:\n  - actions: {ddl.dorp: review}\n")
    result = subprocess.run(
        [sys.executable, "-m", "proctor_classifier", "explain", "--resource", "demo",
         "--as", "alice", "--policy", str(bad), "DROP TABLE x"],
        env=service_env(classifier_settings), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 1
    assert "bad.yaml:3: unknown rule id or class 'ddl.dorp'" in result.stderr
