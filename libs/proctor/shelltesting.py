"""SSH hosts for tests and benchmarks: OpenSSH's sshd run unprivileged-style (its own config,
host key, authorized keys and pid file in a temporary directory) where /usr/sbin/sshd exists,
else the asyncssh demo host (proctor.demohost) in its place; and keys to go with them."""

from __future__ import annotations

import getpass
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from proctor.embedded import free_port
from proctor.sshkeys import make_key, public_line
from proctor.testing import wait_for_port

SSHD = "/usr/sbin/sshd"
__all__ = ["SshHost", "make_key", "public_line", "ssh_client", "start_host"]


@dataclass
class SshHost:
    """A running SSH server that accepts one client key and runs commands as `user`."""

    process: subprocess.Popen[bytes]
    port: int
    user: str
    host_key_line: str  # "ssh-ed25519 AAAA…"
    kind: str  # "sshd" or "demohost"

    def known_hosts_line(self) -> str:
        return f"[127.0.0.1]:{self.port} {self.host_key_line}"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_host(directory: Path, client_key_line: str, workdir: Path | None = None) -> SshHost:
    """An SSH host in `directory` accepting `client_key_line`: sshd when installed (commands
    start in the login's home; the resource's workdir moves them), else the demo host
    (commands run in `workdir`)."""
    directory.mkdir(parents=True, exist_ok=True)
    host_key = directory / "ssh_host_ed25519_key"
    host_line = " ".join(make_key(host_key, "test-host").split()[:2])
    authorized = directory / "authorized_keys"
    authorized.write_text(client_key_line + "\n")
    authorized.chmod(0o600)
    port = free_port()
    log = open(directory / "host.log", "wb")  # noqa: SIM115 (the child keeps it)
    if os.path.exists(SSHD) and os.environ.get("PROCTOR_TEST_SSHD", "1") != "0":
        config = directory / "sshd_config"
        config.write_text(
            f"Port {port}\nListenAddress 127.0.0.1\nHostKey {host_key}\n"
            f"PidFile {directory / 'sshd.pid'}\nAuthorizedKeysFile {authorized}\n"
            "UsePAM no\nStrictModes no\nPasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\n"
            "AllowTcpForwarding no\nX11Forwarding no\nAllowAgentForwarding no\n"
            "PermitUserEnvironment no\nMaxSessions 20\nMaxStartups 100\nLogLevel ERROR\n"
        )
        if os.geteuid() == 0:
            os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        process = subprocess.Popen(
            [SSHD, "-D", "-e", "-f", str(config)], stdout=log, stderr=subprocess.STDOUT
        )
        kind = "sshd"
    else:
        assert workdir is not None, "the demo host needs a workdir"
        process = subprocess.Popen(
            [
                sys.executable, "-m", "proctor.demohost", "--port", str(port),
                "--authorized-key", str(authorized), "--host-key", str(host_key),
                "--workdir", str(workdir),
            ],
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        kind = "demohost"
    try:
        wait_for_port("127.0.0.1", port)
    except TimeoutError:
        process.kill()
        raise
    return SshHost(process, port, getpass.getuser(), host_line, kind)


def ssh_client() -> str | None:
    return shutil.which("ssh")
