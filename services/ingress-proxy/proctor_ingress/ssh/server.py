"""The SSH listener: agents run commands on host resources with their own `ssh`.

    ssh -p 2222 IDENTITY@GATEWAY RESOURCE 'command …'

The login name is the Proctor identity; the exec request's first word names the host
resource and the rest is the command, run on that host by the gateway with its own key.
Agents prove their identity with one of its registered public keys (`ssh_keys`) or with its
token as the password. Each exec request is one command (runner.py). An interactive shell
(`ssh -t IDENTITY@GATEWAY RESOURCE`) is judged by rule shell.interactive: refused, with what to
use instead, unless the policy allows it for the identity; then it is relayed to the host and
recorded (interactive.py). One session per connection and host resource."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import asyncssh

from proctor.errors import ConfigError
from proctor.gateway import IdentityConfig
from proctor.sshkeys import ensure_key
from proctor_ingress.gateway import Gateway
from proctor_ingress.postgres.authentication import is_loopback
from proctor_ingress.shell.hosts import Host, Hosts
from proctor_ingress.shell.interactive import SHELL_TEXT, relay_shell
from proctor_ingress.shell.runner import (
    REFUSED,
    USAGE,
    Ended,
    decide,
    refusal,
    run_command,
    shell_detail,
)
from proctor_ingress.shell.sessions import ShellSession

log = logging.getLogger("proctor.ingress.ssh")

CLOSE_WAIT = 10.0  # seconds a closed connection's commands have to wind up

INTERACTIVE_REFUSED = (
    "Proctor runs one command at a time on a host, so each can be judged, approved and "
    "recorded; what is typed into an interactive shell is not judged, so it opens one only "
    "where the policy allows it (rule shell.interactive).\n"
    "hint: run `ssh -p PORT IDENTITY@GATEWAY RESOURCE 'command'` (the command quoted, as one "
    "argument), or `proctor exec RESOURCE -- command`.\n"
)


class _Server(asyncssh.SSHServer):
    """One agent's SSH connection: who it is, and its sessions by host resource."""

    def __init__(self, gateway: SshGateway) -> None:
        self.gateway = gateway
        self.identity: IdentityConfig | None = None
        self.peer = "?"
        self.sessions: dict[str, ShellSession] = {}
        self.lock = asyncio.Lock()
        self.gone: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.in_flight = 0  # commands being handled
        self.settled = asyncio.Event()  # set while none is
        self.settled.set()

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        peer = conn.get_extra_info("peername")
        self.peer = "{}:{}".format(*peer[:2]) if peer else "?"
        self.gateway.connections += 1

    def connection_lost(self, exc: Exception | None) -> None:
        self.gateway.connections -= 1
        if not self.gone.done():
            self.gone.set_result(None)
        if self.sessions:
            closing = asyncio.ensure_future(self._close_sessions())
            self.gateway.closing.add(closing)
            closing.add_done_callback(self.gateway.closing.discard)

    async def _close_sessions(self) -> None:
        # Its commands see the client gone first (a held one is withdrawn, a running one
        # stopped) and record it; then the sessions close.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.settled.wait(), CLOSE_WAIT)
        async with self.lock:
            for session in self.sessions.values():
                await session.close("connection closed")
            self.sessions.clear()

    def begin_auth(self, username: str) -> bool:
        if self.gateway.connections > self.gateway.gw.settings.shell_max_connections:
            raise asyncssh.DisconnectError(
                asyncssh.DISC_TOO_MANY_CONNECTIONS,
                "this Proctor gateway process serves too many connections; retry in a moment",
            )
        return True  # every login needs a key or the token

    def public_key_auth_supported(self) -> bool:
        return True

    def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        identity = self.gateway.gw.config.identities.get(username)
        if identity is None:
            return False
        offered = key.export_public_key("openssh").split()[:2]
        for line in identity.ssh_keys:
            if line.split()[:2] == [p.decode() for p in offered]:
                self.identity = identity
                return True
        return False

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        identity = self.gateway.gw.config.authenticate(username, password)
        if identity is not None:
            self.identity = identity
        return identity is not None

    async def session(self, resource: str, agent: str) -> ShellSession:
        async with self.lock:
            found = self.sessions.get(resource)
            if found is None:
                assert self.identity is not None
                found = await ShellSession.open(
                    self.gateway.gw, self.identity, agent, resource, "ssh", self.peer
                )
                self.sessions[resource] = found
            return found


class _Out:
    def __init__(self, process: asyncssh.SSHServerProcess[bytes]) -> None:
        self.process = process

    async def stdout(self, data: bytes) -> None:
        self.process.stdout.write(data)
        await self.process.stdout.drain()

    async def stderr(self, data: bytes) -> None:
        self.process.stderr.write(data)
        await self.process.stderr.drain()


class SshGateway:
    def __init__(self, gw: Gateway) -> None:
        self.gw = gw
        self.hosts = Hosts(gw.config.of_kind("ssh"))
        self.connections = 0
        self.closing: set[asyncio.Future[None]] = set()  # sessions being closed

    async def handle(self, process: asyncssh.SSHServerProcess[bytes]) -> None:
        server = process.channel.get_connection().get_owner()
        assert isinstance(server, _Server)
        server.in_flight += 1
        server.settled.clear()
        try:
            status = await self._handle(process, server)
        except (asyncssh.BreakReceived, asyncssh.TerminalSizeChanged, ConnectionError):
            status = 255
        except Exception:
            log.exception("ssh command failed")
            with contextlib.suppress(Exception):
                process.stderr.write(b"Proctor: the gateway failed on this command.\n")
            status = 75
        finally:
            server.in_flight -= 1
            if not server.in_flight:
                server.settled.set()
        with contextlib.suppress(Exception):
            process.exit(status)

    async def _handle(self, process: asyncssh.SSHServerProcess[bytes], server: _Server) -> int:
        agent = _client_name(process)
        line = process.command
        if line is None or not line.strip():
            return await self._interactive(process, server, agent)
        resource, _, text = line.strip().partition(" ")
        text = text.strip()
        host = self.hosts.get(resource)
        if host is None:
            known = ", ".join(sorted(self.hosts.hosts)) or "none"
            said = (
                f"Proctor: {resource!r} is not a host resource of this gateway (known: {known})."
                " Nothing was run.\nhint: ssh -p PORT IDENTITY@GATEWAY RESOURCE 'command'\n"
            )
            process.stderr.write(said.encode())
            return USAGE
        if not text:
            return await self._interactive(process, server, agent, resource, host)
        session = await server.session(resource, agent)
        detail = shell_detail(resource, text, [], "ssh")
        ended = await run_command(session, host, text, detail, _Out(process), server.gone)
        return self._ended(process, ended)

    def _ended(self, process: asyncssh.SSHServerProcess[bytes], ended: Ended) -> int:
        said = ended.text()
        if said:
            process.stderr.write(said)
        return ended.status

    async def _interactive(
        self,
        process: asyncssh.SSHServerProcess[bytes],
        server: _Server,
        agent: str,
        resource: str = "",
        host: Host | None = None,
    ) -> int:
        """A shell was asked for. It is recorded and judged (rule shell.interactive): relayed
        to the host when the policy allows it, else refused. A login with no host resource
        named is refused either way."""
        if resource and host is not None:
            session = await server.session(resource, agent)
            detail = shell_detail(resource, "", [], "ssh", interactive=True)
            command_id, outcome = await decide(session, SHELL_TEXT, detail, server.gone)
            if outcome.runs:
                ended = await relay_shell(session, host, command_id, process, server.gone)
                return self._ended(process, ended)
            process.stderr.write(refusal(outcome).text())
        process.stderr.write(INTERACTIVE_REFUSED.encode())
        return REFUSED


def _client_name(process: asyncssh.SSHServerProcess[bytes]) -> str:
    version = process.get_extra_info("client_version") or ""
    return str(version).removeprefix("SSH-2.0-").split(" ")[0] or "ssh"


def host_key(gw: Gateway) -> asyncssh.SSHKey:
    """The listener's own host key: PROCTOR_SSH_HOST_KEY, else one kept under the run dir
    (made at first start)."""
    path = gw.settings.ssh_host_key
    if path is None:
        path = gw.settings.run_dir / "secrets" / "ssh_host_ed25519_key"
        ensure_key(path, "proctor-gateway")
    try:
        return asyncssh.read_private_key(str(path))
    except (OSError, asyncssh.KeyImportError) as exc:
        raise ConfigError(f"cannot read the SSH listener's host key {path}: {exc}") from exc


def listen_address(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    return host or "127.0.0.1", int(port)


async def serve(gw: Gateway, stop: asyncio.Event) -> None:
    """Serve ssh clients until `stop` is set."""
    logging.getLogger("asyncssh").setLevel(logging.WARNING)  # not a line per channel
    ssh = SshGateway(gw)
    host, port = listen_address(gw.settings.ssh_listen)
    if not ssh.hosts.hosts:
        log.warning("the SSH listener runs with no host resources (kind: ssh) configured")
    server = await asyncssh.listen(
        host,
        port,
        server_factory=lambda: _Server(ssh),
        server_host_keys=[host_key(gw)],
        process_factory=ssh.handle,
        encoding=None,
        reuse_port=True,
        login_timeout=gw.settings.ssh_auth_timeout,
        agent_forwarding=False,
        x11_forwarding=False,
        allow_scp=False,
        line_editor=False,
        keepalive_interval=30,
    )
    log.info(
        "ingress-proxy listening for ssh clients on %s:%d%s",
        host,
        port,
        "" if is_loopback(f"{host}:{port}") else " (ssh is encrypted end to end)",
    )
    try:
        await stop.wait()
    finally:
        server.close()
        with contextlib.suppress(Exception):
            await server.wait_closed()
        await ssh.hosts.close()
