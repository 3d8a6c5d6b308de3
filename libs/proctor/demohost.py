"""`python -m proctor.demohost`: the demo host, a small SSH server (asyncssh) that runs each
command with `/bin/sh -c` in one directory. `proctor up` starts it as the demo's host resource
where no sshd can be run (no root, none installed); tests use it the same way. It accepts one
public key (the gateway's) and nothing else, and gives commands a minimal environment (no
variable of the process that started it)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncssh

READ_SIZE = 64 * 1024


def _environment(workdir: Path) -> dict[str, str]:
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(workdir),
        "LANG": "C.UTF-8",
        "SHELL": "/bin/sh",
        "USER": os.environ.get("USER", "demo"),
    }


async def _pump(reader: asyncio.StreamReader, writer: asyncssh.SSHWriter[bytes]) -> None:
    while chunk := await reader.read(READ_SIZE):
        writer.write(chunk)
        await writer.drain()


async def _feed(reader: asyncssh.SSHReader[bytes], writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(Exception):
        while chunk := await reader.read(READ_SIZE):
            writer.write(chunk)
            await writer.drain()
    writer.close()


def _handler(workdir: Path) -> Callable[[asyncssh.SSHServerProcess[bytes]], Awaitable[None]]:
    async def handle(process: asyncssh.SSHServerProcess[bytes]) -> None:
        if not process.command:
            process.stderr.write(b"the demo host runs commands, not interactive shells\n")
            process.exit(1)
            return
        proc = await asyncio.create_subprocess_exec(
            "/bin/sh",
            "-c",
            process.command,
            cwd=workdir,
            env=_environment(workdir),
            stdin=asyncio.subprocess.PIPE,  # what the client sends, closed at its EOF
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
        assert proc.stdout is not None and proc.stderr is not None
        assert proc.stdin is not None
        feeding = asyncio.ensure_future(_feed(process.stdin, proc.stdin))
        relay = asyncio.ensure_future(
            asyncio.gather(_pump(proc.stdout, process.stdout), _pump(proc.stderr, process.stderr))
        )
        closed = asyncio.ensure_future(process.channel.wait_closed())
        await asyncio.wait((relay, closed), return_when=asyncio.FIRST_COMPLETED)
        if not relay.done():  # the client closed the channel: stop the command
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            relay.cancel()
        closed.cancel()
        feeding.cancel()
        code = await proc.wait()
        with contextlib.suppress(Exception):
            if code < 0:
                process.exit_with_signal(signal.Signals(-code).name.removeprefix("SIG"))
            else:
                process.exit(code)

    return handle


async def serve(host: str, port: int, authorized_key: Path, host_key: Path, workdir: Path) -> None:
    server = await asyncssh.listen(
        host,
        port,
        server_host_keys=[str(host_key)],
        authorized_client_keys=str(authorized_key),
        process_factory=_handler(workdir),
        encoding=None,
        allow_scp=False,
        agent_forwarding=False,
        x11_forwarding=False,
    )
    print(f"demo host listening on {host}:{port}, commands run in {workdir}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m proctor.demohost", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--authorized-key", type=Path, required=True, help="OpenSSH public key")
    parser.add_argument("--host-key", type=Path, required=True, help="this server's private key")
    parser.add_argument("--workdir", type=Path, required=True, help="where commands run")
    args = parser.parse_args(argv)
    asyncio.run(serve(args.host, args.port, args.authorized_key, args.host_key, args.workdir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
