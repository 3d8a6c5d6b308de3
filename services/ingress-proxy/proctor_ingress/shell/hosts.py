"""The gateway's SSH connections to its host resources: a few per host, kept open and reused
(a host's sshd allows about ten channels per connection, MaxSessions), opened again when one
broke. The host's key is verified against the resource's known_hosts or host_key; a host the
gateway cannot verify is refused. The gateway's key never leaves this process: no agent
forwarding, and `secret_fragments` lets the runner withhold it should a command print it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shlex
from dataclasses import dataclass, field

import asyncssh

from proctor.errors import UpstreamError
from proctor.gateway import SshResource

log = logging.getLogger("proctor.ingress.shell")

CHANNELS_PER_CONNECTION = 8  # under OpenSSH's default MaxSessions (10)
CONNECT_TIMEOUT = 10.0


@dataclass(frozen=True, slots=True)
class Terminal:
    """The client's terminal, as its pty request gave it."""

    term_type: str
    size: tuple[int, int, int, int]  # columns, rows, pixel width, pixel height
    modes: dict[int, int] = field(default_factory=dict)


@dataclass
class _Connection:
    conn: asyncssh.SSHClientConnection
    in_use: int = 0

    @property
    def usable(self) -> bool:
        return not self.conn.is_closed() and self.in_use < CHANNELS_PER_CONNECTION


@dataclass
class Host:
    """One host resource and the connections open to it."""

    resource: SshResource
    connections: list[_Connection] = field(default_factory=list)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _key: asyncssh.SSHKey | None = None

    def key(self) -> asyncssh.SSHKey:
        if self._key is None:
            try:
                self._key = asyncssh.read_private_key(str(self.resource.private_key_file))
            except (OSError, asyncssh.KeyImportError) as exc:
                raise UpstreamError(
                    f"the gateway cannot read its key for host {self.resource.name} "
                    f"({self.resource.private_key_file}): {exc}"
                ) from exc
        return self._key

    def known_hosts(self) -> object:
        if self.resource.host_key is not None:
            return ([asyncssh.import_public_key(self.resource.host_key)], [], [])
        return str(self.resource.known_hosts)

    async def _connect(self) -> _Connection:
        r = self.resource
        try:
            conn = await asyncio.wait_for(
                asyncssh.connect(
                    r.host,
                    r.port,
                    username=r.user,
                    client_keys=[self.key()],
                    known_hosts=self.known_hosts(),
                    agent_path=None,
                    agent_forwarding=False,
                    config=None,
                    keepalive_interval=30,
                    preferred_auth="publickey",
                ),
                CONNECT_TIMEOUT,
            )
        except asyncssh.HostKeyNotVerifiable as exc:
            raise UpstreamError(
                f"host {r.name} ({r.host}:{r.port}) presented a key the gateway does not know "
                f"({exc.reason}); it refuses to connect. The operator must check the host and "
                "update known_hosts or host_key."
            ) from exc
        except asyncssh.PermissionDenied as exc:
            raise UpstreamError(
                f"host {r.name} ({r.host}:{r.port}) refused the gateway's key for user {r.user}"
            ) from exc
        except (OSError, TimeoutError, asyncssh.Error) as exc:
            why = str(exc) or type(exc).__name__
            raise UpstreamError(
                f"the gateway could not reach host {r.name} ({r.host}:{r.port}): {why}"
            ) from exc
        log.info("connected to host %s (%s:%d)", r.name, r.host, r.port)
        return _Connection(conn)

    async def _acquire(self) -> _Connection:
        async with self.lock:
            self.connections = [c for c in self.connections if not c.conn.is_closed()]
            chosen = next((c for c in self.connections if c.usable), None)
            if chosen is None:
                chosen = await self._connect()
                self.connections.append(chosen)
            chosen.in_use += 1
            return chosen

    async def start(
        self, command: str | None, terminal: Terminal | None = None
    ) -> tuple[asyncssh.SSHClientProcess[bytes], _Connection]:
        """A process running `command` on the host (None: the login shell), on a pty when a
        `terminal` is given, and the connection it holds a channel of (give it back with
        `release`). Reconnects once when a kept connection has broken."""
        pty = (
            {
                "term_type": terminal.term_type,
                "term_size": terminal.size,
                "term_modes": terminal.modes,
            }
            if terminal is not None
            else {}
        )
        for attempt in (1, 2):
            held = await self._acquire()
            try:
                process = await held.conn.create_process(command, encoding=None, **pty)
                return process, held
            except (asyncssh.Error, OSError) as exc:
                self.release(held)
                held.conn.close()
                if attempt == 2:
                    raise UpstreamError(
                        f"host {self.resource.name} did not run the command: {exc}"
                    ) from exc
        raise AssertionError("unreachable")

    def release(self, held: _Connection) -> None:
        held.in_use = max(0, held.in_use - 1)

    def remote_command(self, text: str) -> str:
        """What the host's shell is given: the command, unchanged, run by the login shell (in
        a subshell, by `eval`: a second shell would cost its start-up, ~100 ms where it reads
        a .bashrc) in the resource's workdir, with a watchdog that ends it when the channel
        closes (the agent left): sshd closes a channel without signalling what runs in it,
        and not every sshd honours a signal request. The watchdog reads the channel's stdin,
        which the gateway never writes nor closes, so its end is the channel's; the command
        itself reads /dev/null."""
        workdir = self.resource.workdir
        cd = f"cd -- {shlex.quote(workdir)} || exit 1\n" if workdir else ""
        return (
            f"{cd}exec 3<&0 </dev/null\n"
            "{ cat <&3 >/dev/null 2>&1; kill -TERM 0; } >/dev/null 2>&1 &\n"
            "proctor_watchdog=$!\n"
            f"proctor_command={shlex.quote(text)}\n"
            '( eval "$proctor_command" ) 3<&- &\n'
            'wait "$!"; proctor_status=$?\n'
            'kill "$proctor_watchdog" 2>/dev/null\n'
            'exit "$proctor_status"\n'
        )

    def shell_command(self) -> str | None:
        """What an interactive session runs: the login shell, started in the resource's
        workdir when it has one (else in the login's home, as ssh does)."""
        workdir = self.resource.workdir
        if not workdir:
            return None
        return f'cd -- {shlex.quote(workdir)} && exec "${{SHELL:-/bin/sh}}" -l'

    def secret_fragments(self) -> tuple[bytes, ...]:
        """Lines of the gateway's private key file as a command could print them."""
        with contextlib.suppress(OSError):
            text = self.resource.private_key_file.read_bytes()
            return tuple(
                line.strip()
                for line in text.splitlines()
                if len(line.strip()) >= 16 and not line.startswith(b"-----")
            )
        return ()

    async def close(self) -> None:
        for held in self.connections:
            held.conn.close()
        for held in self.connections:
            with contextlib.suppress(Exception):
                await held.conn.wait_closed()
        self.connections.clear()


class Hosts:
    """Every host resource of the gateway config, by name."""

    def __init__(self, resources: dict[str, SshResource]) -> None:
        self.hosts = {name: Host(r) for name, r in resources.items()}

    def get(self, name: str) -> Host | None:
        return self.hosts.get(name)

    async def close(self) -> None:
        for host in self.hosts.values():
            await host.close()
