"""Shell commands on a host through the gateway, with real SSH on both sides: the agent's
entrances are OpenSSH's `ssh` client and `proctor exec` (the CLI, over gRPC with TLS); the
host is OpenSSH's sshd (run from a temporary config) where /usr/sbin/sshd exists, else the
asyncssh demo host (proctor.demohost), which `proctor up` uses too. One gateway for the module:
the classifier, masker and ingress-proxy as processes, the gateway holding the only key the
host accepts.

Approvals are decided by signed decisions published as the approval service would
(RunningGateway.decide); test_kube_gateway.py covers the approval service and its CLI."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncssh
import pytest

from proctor import bus
from proctor.embedded import EmbeddedNats, free_port
from proctor.events import codec
from proctor.events.v1 import events_pb2 as pb
from proctor.localca import ensure_local_tls
from proctor.settings import Settings
from proctor.shelltesting import SshHost, make_key, public_line, ssh_client, start_host
from proctor.testing import service_env, wait_for_port
from tests.integration.conftest import AGENT_TOKEN, APPROVER_TOKEN, RunningGateway, running_gateway

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(ssh_client() is None, reason="no OpenSSH client (ssh) installed"),
]

EMAIL = "jane.doe@example.com"
CARD = "4111 1111 1111 1111"
APP_LOG = "".join(
    f"2026-12-01 10:00:{i % 60:02d} INFO order {1000 + i} paid by {EMAIL} with card {CARD}\n"
    for i in range(20)
)
REFUSED, UNREACHABLE, USAGE = 126, 69, 64


@pytest.fixture(scope="module")
def nats_module(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedNats]:
    server = EmbeddedNats(tmp_path_factory.mktemp("nats")).start()
    try:
        yield server
    finally:
        server.stop()


@dataclass
class ShellStack:
    gateway: RunningGateway
    host: SshHost
    workdir: Path  # where commands run on the host
    files: Path  # the test's own files (keys, known_hosts)
    ssh_port: int
    grpc_port: int
    ca: Path
    gateway_key: Path
    events: list[pb.Event]

    def ssh_args(self, *command: str, user: str = "alice", key: Path | None = None) -> list[str]:
        return [
            "ssh", "-F", "/dev/null", "-p", str(self.ssh_port),
            "-i", str(key or self.files / "alice_key"), "-o", "IdentitiesOnly=yes",
            "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes",
            "-o", f"UserKnownHostsFile={self.files / 'known_hosts'}",
            "-o", "GlobalKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
            f"{user}@127.0.0.1", *command,
        ]  # fmt: skip

    def exec_args(self, resource: str, *words: str, token: str = AGENT_TOKEN) -> list[str]:
        return [
            sys.executable, "-m", "proctor.cli.main", "exec", "--as", "alice", "--token", token,
            "--server", f"127.0.0.1:{self.grpc_port}", "--ca", str(self.ca), resource, "--",
            *words,
        ]  # fmt: skip

    def env(self) -> dict[str, str]:
        env = service_env(self.gateway.settings)
        env.pop("PROCTOR_TOKEN", None)
        return env


@dataclass
class Ran:
    rc: int
    stdout: str
    stderr: str


async def run(args: list[str], env: dict[str, str], timeout: float = 60) -> Ran:
    proc = await asyncio.create_subprocess_exec(
        *args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    assert proc.returncode is not None
    return Ran(proc.returncode, out.decode(errors="replace"), err.decode(errors="replace"))


@pytest.fixture(scope="module")
async def stack(
    nats_module: EmbeddedNats,
    postgres: Any,
    tmp_path_factory: pytest.TempPathFactory,
    approval_key: tuple[Path, str],
) -> AsyncIterator[ShellStack]:
    files = tmp_path_factory.mktemp("shell")
    workdir = files / "host-workdir"
    (workdir / "data" / "sub").mkdir(parents=True)
    (workdir / "data" / "sub" / "keep.txt").write_text("keep me\n")
    (workdir / "app.log").write_text(APP_LOG)
    gateway_key = files / "gateway" / "host_key_for_web"
    host = start_host(files / "host", make_key(gateway_key, "proctor-gateway"), workdir)
    alice_line = make_key(files / "alice_key", "alice@laptop")
    make_key(files / "mallory_key", "mallory@elsewhere")
    gateway_host_key = files / "gateway" / "ssh_host_ed25519_key"
    make_key(gateway_host_key, "proctor-gateway-host")
    ssh_port, grpc_port = free_port(), free_port()
    (files / "known_hosts").write_text(f"[127.0.0.1]:{ssh_port} {public_line(gateway_host_key)}\n")
    (files / "host_known_hosts").write_text(host.known_hosts_line() + "\n")
    other_key_line = " ".join(make_key(files / "other_host_key").split()[:2])
    settings = Settings(
        nats_url=nats_module.url,
        run_dir=files / "run",
        approval_signing_key=approval_key[0],
        approval_verify_keys=approval_key[1],
    )
    nc = await bus.connect(settings, "test")
    js = nc.jetstream()
    await bus.ensure_stream(js, settings)
    events: list[pb.Event] = []

    async def on_event(msg: Any) -> None:
        events.append(codec.decode(msg.data))

    sub = await nc.subscribe("proctor.evt.>", cb=on_event)
    tls = ensure_local_tls(files / "tls", "127.0.0.1")
    target_url = await postgres.new_database()
    web = {"kind": "ssh", "host": "127.0.0.1", "port": host.port, "user": host.user,
           "private_key_file": str(gateway_key), "workdir": str(workdir)}  # fmt: skip
    resources = {
        "web": {**web, "known_hosts": str(files / "host_known_hosts")},
        "web-pinned": {**web, "host_key": host.host_key_line},
        "impostor": {**web, "host_key": other_key_line},  # not the key the host shows
        "gone": {**web, "port": free_port(), "host_key": host.host_key_line},
    }
    identities = {
        "alice": {"groups": ["engineering"], "token": AGENT_TOKEN, "ssh_keys": [alice_line]},
        "bob": {"groups": ["sre"], "token": APPROVER_TOKEN},
    }
    env = {
        "PROCTOR_SSH_LISTEN": f"127.0.0.1:{ssh_port}",
        "PROCTOR_SSH_HOST_KEY": str(gateway_host_key),
        "PROCTOR_GRPC_LISTEN": f"127.0.0.1:{grpc_port}",
        "PROCTOR_TLS_CERT": str(tls.cert),
        "PROCTOR_TLS_KEY": str(tls.key),
        "PROCTOR_APPROVAL_TIMEOUT": "30",
    }
    try:
        async with running_gateway(
            settings, js, target_url, files, env, identities=identities, resources=resources
        ) as gateway:
            await asyncio.to_thread(wait_for_port, "127.0.0.1", ssh_port)
            await asyncio.to_thread(wait_for_port, "127.0.0.1", grpc_port)
            yield ShellStack(
                gateway, host, workdir, files, ssh_port, grpc_port, tls.ca, gateway_key, events
            )
    finally:
        await sub.unsubscribe()
        host.stop()
        await nc.close()


@pytest.fixture
async def requests(stack: ShellStack) -> AsyncIterator[asyncio.Queue[pb.Event]]:
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


def entrances(stack: ShellStack, resource: str, command: str) -> dict[str, list[str]]:
    return {
        "ssh": stack.ssh_args(resource, command),
        "exec": stack.exec_args(resource, command),
    }


def assert_masked(text: str) -> None:
    assert EMAIL not in text and CARD not in text and CARD.replace(" ", "") not in text, text


async def test_reads_come_back_masked_through_both_entrances(stack: ShellStack) -> None:
    print(f"host: {stack.host.kind}")
    for name, args in entrances(stack, "web", "cat app.log").items():
        result = await run(args, stack.env())
        assert result.rc == 0, (name, result.stderr)
        lines = result.stdout.splitlines()
        assert len(lines) == 20, (name, result.stdout)
        assert all("INFO order" in line for line in lines), result.stdout
        assert_masked(result.stdout)
    # The command's own exit status and stderr come back (masked too).
    for name, args in entrances(stack, "web-pinned", f"echo {EMAIL} >&2; exit 3").items():
        result = await run(args, stack.env())
        assert result.rc == 3, (name, result.rc, result.stderr)
        assert_masked(result.stderr)


async def refuse_or_deny(
    stack: ShellStack, args: list[str], requests: asyncio.Queue[pb.Event], note: str
) -> Ran:
    """Run a command that must not run: if it is held, deny it with `note`."""
    running = asyncio.ensure_future(run(args, stack.env()))
    asked = asyncio.ensure_future(requests.get())
    await asyncio.wait((running, asked), return_when=asyncio.FIRST_COMPLETED)
    if asked.done():
        request = asked.result()
        await stack.gateway.decide(
            request.session_id, request.approval_requested.approval_id, False, note
        )
    else:
        asked.cancel()
    return await asyncio.wait_for(running, 60)


RECURSIVE_DELETES = [
    "rm -rf data",
    "rm -r -f data",
    "rm --recursive --force ./data",
    "/bin/rm -Rf data/",
    "r''m -fr data",
    "find data -delete",
    "rm -rf /",
    "cd / && rm -rf --no-preserve-root *",
]


@pytest.mark.parametrize("command", RECURSIVE_DELETES)
async def test_recursive_deletes_do_not_run_without_approval(
    stack: ShellStack, requests: asyncio.Queue[pb.Event], command: str
) -> None:
    for name in ("ssh", "exec"):
        args = entrances(stack, "web", command)[name]
        result = await refuse_or_deny(stack, args, requests, "no deletes today")
        assert result.rc == REFUSED, (name, command, result.rc, result.stdout, result.stderr)
        assert "Proctor" in result.stderr, result.stderr
        assert (stack.workdir / "data" / "sub" / "keep.txt").read_text() == "keep me\n"


async def test_a_held_write_is_denied_with_a_note_then_approved_and_runs_once(
    stack: ShellStack, requests: asyncio.Queue[pb.Event]
) -> None:
    command = "echo restarted >> restarts.log"
    for name, args in entrances(stack, "web", command).items():
        marker = stack.workdir / "restarts.log"
        marker.unlink(missing_ok=True)
        denied = await refuse_or_deny(stack, args, requests, "not during business hours")
        assert denied.rc == REFUSED, (name, denied.stderr)
        assert "not during business hours" in denied.stderr, denied.stderr
        assert not marker.exists()
        # Submitted again, approved: it runs, once.
        running = asyncio.ensure_future(run(args, stack.env()))
        request = await asyncio.wait_for(requests.get(), 30)
        asked = request.approval_requested
        assert asked.command_text == command, asked
        assert asked.rule_ids and asked.rule_ids[0].startswith("shell."), asked.rule_ids
        await stack.gateway.decide(request.session_id, asked.approval_id, True)
        result = await asyncio.wait_for(running, 60)
        assert result.rc == 0, (name, result.stderr)
        assert marker.read_text() == "restarted\n"


async def test_an_interactive_shell_is_refused_with_its_reason(stack: ShellStack) -> None:
    for args in (stack.ssh_args("-tt", "web"), stack.ssh_args("-tt")):
        # `ssh -tt alice@gw web`: a host and no command; `ssh -tt alice@gw`: a login shell.
        result = await run(args[:1] + args[1:], stack.env())
        assert result.rc == REFUSED, (result.rc, result.stdout, result.stderr)
        said = result.stdout + result.stderr  # with a pty, stderr arrives on stdout
        assert "interactive" in said and "proctor exec" in said, said


async def test_the_gateways_credentials_never_reach_the_agent(stack: ShellStack) -> None:
    secret_lines = [
        line
        for line in stack.gateway_key.read_text().splitlines()
        if line and not line.startswith("-----")
    ]
    for command in ("env", f"cat {stack.gateway_key}", "cat ~/.ssh/id_* 2>/dev/null; true"):
        for name, args in entrances(stack, "web", command).items():
            result = await run(args, stack.env())
            said = result.stdout + result.stderr
            for line in secret_lines:
                assert line not in said, (name, command, said)


def withdrawn(stack: ShellStack, approval_id: str) -> bool:
    return any(
        e.WhichOneof("payload") == "approval_withdrawn"
        and e.approval_withdrawn.approval_id == approval_id
        for e in stack.events
    )


async def test_disconnecting_while_held_withdraws_the_command(
    stack: ShellStack, requests: asyncio.Queue[pb.Event]
) -> None:
    marker = stack.workdir / "withdrawn.txt"
    for name, args in entrances(stack, "web", f"touch {marker.name}").items():
        proc = await asyncio.create_subprocess_exec(
            *args, env=stack.env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
        )  # fmt: skip
        request = await asyncio.wait_for(requests.get(), 30)
        approval_id = request.approval_requested.approval_id
        proc.send_signal(signal.SIGKILL)
        await proc.wait()

        for _ in range(200):
            if withdrawn(stack, approval_id):
                break
            await asyncio.sleep(0.05)
        assert withdrawn(stack, approval_id), f"{name}: approval {approval_id} was not withdrawn"
        # A grant that comes late runs nothing.
        await stack.gateway.decide(request.session_id, approval_id, True)
        await asyncio.sleep(1)
        assert not marker.exists()


async def test_bad_credentials_are_refused(stack: ShellStack) -> None:
    # An unregistered key, then the token as the password (right and wrong).
    result = await run(stack.ssh_args("web", "true", key=stack.files / "mallory_key"), stack.env())
    assert result.rc == 255 and "Permission denied" in result.stderr, result.stderr
    result = await run(stack.ssh_args("web", "true", user="nobody"), stack.env())
    assert result.rc == 255 and "Permission denied" in result.stderr, result.stderr
    known = asyncssh.read_known_hosts(str(stack.files / "known_hosts"))
    for password, ok in ((AGENT_TOKEN, True), ("prx_wrong", False)):
        try:
            async with asyncssh.connect(
                "127.0.0.1", stack.ssh_port, username="alice", password=password,
                known_hosts=known, client_keys=None, agent_path=None, config=None,
                preferred_auth="password",
            ) as conn:  # fmt: skip
                done = await conn.run("web echo hello", check=False)
                assert ok and done.exit_status == 0 and done.stdout == "hello\n", done
        except asyncssh.PermissionDenied:
            assert not ok
    result = await run(stack.exec_args("web", "true", token="prx_wrong"), stack.env())
    assert result.rc == 77 and "credentials" in result.stderr, result.stderr


async def test_unknown_resource_and_unreachable_hosts_are_told(stack: ShellStack) -> None:
    for name, args in entrances(stack, "nowhere", "true").items():
        result = await run(args, stack.env())
        assert result.rc == USAGE and "not a host resource" in result.stderr, (name, result)
    for resource, words in (("gone", "could not reach host gone"), ("impostor", "does not know")):
        for name, args in entrances(stack, resource, "echo hi").items():
            result = await run(args, stack.env())
            assert result.rc == UNREACHABLE, (name, resource, result.rc, result.stderr)
            assert words in result.stderr and "hi" not in result.stdout, result.stderr


async def test_sessions_and_commands_are_recorded(stack: ShellStack) -> None:
    before = len(stack.events)
    result = await run(stack.ssh_args("web", "wc -l app.log"), stack.env())
    assert result.rc == 0 and result.stdout.startswith("20"), result
    for _ in range(100):
        kinds = [e.WhichOneof("payload") for e in stack.events[before:]]
        if "session_closed" in kinds:
            break
        await asyncio.sleep(0.05)
    got = stack.events[before:]
    kinds = [e.WhichOneof("payload") for e in got]
    for kind in ("session_opened", "command_received", "command_classified",
                 "command_executed", "session_closed"):  # fmt: skip
        assert kind in kinds, kinds
    opened = next(e for e in got if e.WhichOneof("payload") == "session_opened")
    assert opened.session_opened.protocol == "ssh"
    received = next(e for e in got if e.WhichOneof("payload") == "command_received")
    shell = received.command_received.detail.shell
    assert (shell.text, shell.host, shell.entrance) == ("wc -l app.log", "web", "ssh")
    assert os.environ.get("PROCTOR_NEVER") is None


async def test_disconnecting_while_running_stops_the_command(stack: ShellStack) -> None:
    # `sleep` only reads; the host is this machine, so its processes can be looked at.
    for name, args in entrances(stack, "web", "sleep 37.5").items():
        proc = await asyncio.create_subprocess_exec(
            *args, env=stack.env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
        )  # fmt: skip
        for _ in range(100):
            if await sleeping("sleep 37.5"):
                break
            await asyncio.sleep(0.1)
        assert await sleeping("sleep 37.5"), f"{name}: the command did not start"
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
        for _ in range(100):
            if not await sleeping("sleep 37.5"):
                break
            await asyncio.sleep(0.1)
        assert not await sleeping("sleep 37.5"), f"{name}: the command runs on"


async def sleeping(pattern: str) -> bool:
    found = await run(["pgrep", "-f", f"^{pattern}$"], dict(os.environ))
    return found.rc == 0
