"""Interactive shells through the SSH entrance, with OpenSSH's `ssh -tt` as the client and
sshd (or the demo host) as the host: refused by default (rule shell.interactive), relayed for
the group a policy allows them to, with the host's output masked and each typed line recorded.
One gateway for the module."""

from __future__ import annotations

import asyncio
import signal
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from proctor import bus
from proctor.embedded import EmbeddedNats, free_port
from proctor.events import codec
from proctor.events.v1 import events_pb2 as pb
from proctor.settings import Settings
from proctor.shelltesting import make_key, public_line, ssh_client, start_host
from proctor.testing import wait_for_port
from tests.integration.conftest import AGENT_TOKEN, APPROVER_TOKEN, running_gateway
from tests.integration.test_shell_gateway import (
    APP_LOG,
    REFUSED,
    Ran,
    ShellStack,
    assert_masked,
    nats_module,
    run,
    sleeping,
)

__all__ = ["nats_module"]  # the module's NATS server, shared with the shell gateway's tests

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(ssh_client() is None, reason="no OpenSSH client (ssh) installed"),
]

POLICY = """\
version: 1
rules:
  - match: {kind: shell, groups: sre}
    actions: {shell.interactive: allow}
"""


@pytest.fixture(scope="module")
async def stack(
    nats_module: EmbeddedNats,
    postgres: Any,
    tmp_path_factory: pytest.TempPathFactory,
    approval_key: tuple[Path, str],
) -> AsyncIterator[ShellStack]:
    files = tmp_path_factory.mktemp("shell-interactive")
    workdir = files / "host-workdir"
    workdir.mkdir()
    (workdir / "app.log").write_text(APP_LOG)
    gateway_key = files / "gateway" / "host_key_for_web"
    host = start_host(files / "host", make_key(gateway_key, "proctor-gateway"), workdir)
    alice_line = make_key(files / "alice_key", "alice@laptop")
    bob_line = make_key(files / "bob_key", "bob@laptop")
    gateway_host_key = files / "gateway" / "ssh_host_ed25519_key"
    make_key(gateway_host_key, "proctor-gateway-host")
    ssh_port = free_port()
    (files / "known_hosts").write_text(f"[127.0.0.1]:{ssh_port} {public_line(gateway_host_key)}\n")
    (files / "policy.yaml").write_text(POLICY)
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
    target_url = await postgres.new_database()
    resources = {
        "web": {"kind": "ssh", "host": "127.0.0.1", "port": host.port, "user": host.user,
                "private_key_file": str(gateway_key), "workdir": str(workdir),
                "host_key": host.host_key_line},
    }  # fmt: skip
    identities = {
        "alice": {"groups": ["engineering"], "token": AGENT_TOKEN, "ssh_keys": [alice_line]},
        "bob": {"groups": ["sre"], "token": APPROVER_TOKEN, "ssh_keys": [bob_line]},
    }
    env = {
        "PROCTOR_SSH_LISTEN": f"127.0.0.1:{ssh_port}",
        "PROCTOR_SSH_HOST_KEY": str(gateway_host_key),
        "PROCTOR_POLICY_FILE": str(files / "policy.yaml"),
    }
    try:
        async with running_gateway(
            settings, js, target_url, files, env, identities=identities, resources=resources
        ) as gateway:
            await asyncio.to_thread(wait_for_port, "127.0.0.1", ssh_port)
            yield ShellStack(gateway, host, workdir, files, ssh_port, 0, files, gateway_key, events)
    finally:
        await sub.unsubscribe()
        host.stop()
        await nc.close()


async def typed(args: list[str], env: dict[str, str], lines: list[str]) -> Ran:
    """Run `ssh -tt …` with its stdin a pipe, typing `lines` one at a time."""
    proc = await asyncio.create_subprocess_exec(
        *args, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdin is not None
    for line in lines:
        await asyncio.sleep(0.7)  # a person types after the prompt
        proc.stdin.write(line.encode())
        await proc.stdin.drain()
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return Ran(proc.returncode, out.decode(errors="replace"), err.decode(errors="replace"))


async def test_an_interactive_shell_is_refused_outside_the_allowed_group(
    stack: ShellStack,
) -> None:
    result = await run(stack.ssh_args("-tt", "web"), stack.env())
    assert result.rc == REFUSED, (result.rc, result.stdout, result.stderr)
    said = result.stdout + result.stderr  # with a pty, stderr arrives on stdout
    assert "shell.interactive" in said and "proctor exec" in said, said


async def test_the_allowed_group_gets_a_masked_recorded_shell(stack: ShellStack) -> None:
    before = len(stack.events)
    args = stack.ssh_args("-tt", "web", user="bob", key=stack.files / "bob_key")
    result = await typed(args, stack.env(), ["echo hello-$((40+2))\n", "cat app.log\n", "exit\n"])
    assert result.rc == 0, (result.rc, result.stdout, result.stderr)
    assert "hello-42" in result.stdout, result.stdout
    assert result.stdout.count("INFO order") == 20, result.stdout
    assert_masked(result.stdout + result.stderr)

    for _ in range(100):
        kinds = [e.WhichOneof("payload") for e in stack.events[before:]]
        if "command_executed" in kinds:
            break
        await asyncio.sleep(0.05)
    got = [e for e in stack.events[before:] if e.identity.human == "bob"]
    received = [e for e in got if e.WhichOneof("payload") == "command_received"]
    texts = [e.command_received.text for e in received]
    assert texts[0] == "(interactive shell)", texts
    assert texts[1:] == ["echo hello-$((40+2))", "cat app.log", "exit"], texts
    assert all(e.command_received.detail.shell.interactive for e in received)
    assert {e.command_received.detail.shell.host for e in received} == {"web"}
    executed = [e for e in got if e.WhichOneof("payload") == "command_executed"]
    assert [e.command_id for e in executed] == [received[0].command_id], executed
    assert executed[0].command_executed.error_code == ""
    masked = [e for e in got if e.WhichOneof("payload") == "result_masked"]
    assert masked and masked[0].command_id == received[0].command_id, masked


async def test_a_client_that_leaves_ends_the_shell_on_the_host(stack: ShellStack) -> None:
    before = len(stack.events)
    args = stack.ssh_args("-tt", "web", user="bob", key=stack.files / "bob_key")
    proc = await asyncio.create_subprocess_exec(
        *args, env=stack.env(), stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    assert proc.stdin is not None
    proc.stdin.write(b"sleep 41.5\n")
    await proc.stdin.drain()
    for _ in range(100):
        if await sleeping("sleep 41.5"):
            break
        await asyncio.sleep(0.1)
    assert await sleeping("sleep 41.5"), "the typed command did not start"
    proc.send_signal(signal.SIGKILL)
    await proc.wait()
    for _ in range(100):
        if not await sleeping("sleep 41.5"):
            break
        await asyncio.sleep(0.1)
    assert not await sleeping("sleep 41.5"), "the shell runs on without its client"
    for _ in range(100):
        executed = [
            e for e in stack.events[before:] if e.WhichOneof("payload") == "command_executed"
        ]
        if executed:
            break
        await asyncio.sleep(0.05)
    assert executed and "disconnected" in executed[0].command_executed.error_message, executed
