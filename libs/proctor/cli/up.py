"""`proctor up` and `proctor down`: the whole stack as child processes of one command.

NATS and Postgres are embedded (from their wheels) unless PROCTOR_NATS_URL / PROCTOR_DATABASE_URL
name running ones. Every service runs as a child with its log under `<run_dir>/logs`; a child
that dies (the embedded nats-server and Postgres included) is restarted after 1, 2, 4 … 30 s,
from 1 s again once it ran for 30 s, and `stack.json` is rewritten with the new pids. Every
child dies with this process, even when it is SIGKILLed; Ctrl-C or `proctor down` stops
everything in order, each service with the processes it started.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from secrets import token_urlsafe
from typing import Any
from urllib.parse import quote

from pydantic import SecretStr

from proctor import bus, busaccess, subjects
from proctor.classifier.v1 import classifier_pb2 as cpb
from proctor.cli.banner import cli_command, print_banner, short_path
from proctor.cli.supervise import ServerWatch, ServiceProcess, services
from proctor.decisions import load_or_create_signing_key
from proctor.demo import (
    AGENT,
    APPROVER,
    DEMO_CLUSTER,
    DEMO_DATABASE,
    DEMO_HOST,
    DEMO_SQL,
    DemoHost,
    demo_identities,
    write_gateway_config,
)
from proctor.embedded import EmbeddedNats, EmbeddedPostgres, free_port
from proctor.errors import StackError
from proctor.kubeconfig import kubeconfig, server_url, write_kubeconfig
from proctor.localca import TlsFiles, ensure_local_tls
from proctor.pids import process_running
from proctor.settings import STACK_FILE, Settings, load_settings
from proctor.sshkeys import ensure_key, public_line

EMBEDDED_NATS_PORT = 4223
EMBEDDED_PG_PORT = 5433
DEMO_CLUSTER_PORT = 6445  # the demo's Kubernetes API server double
DEMO_HOST_PORT = 2223  # the demo's host (an SSH server, proctor.demohost)
AUDIT_DATABASE = "proctor"


# ---- credentials: NATS users per service and the approval service's signing key -----------


@dataclass
class StackSecrets:
    """What `proctor up` generates at first start and keeps in `<run_dir>/secrets` (0600)."""

    directory: Path
    nats_passwords: dict[str, str] = field(default_factory=dict, repr=False)
    nats_config: Path | None = None
    approval_key: Path | None = None
    approval_public_key: str = ""
    tls: TlsFiles | None = None  # the agents' listener's certificate, from a local CA
    postgres_password: str | None = None  # the embedded Postgres's superuser password
    ssh_host_key: Path | None = None  # the SSH listener's own host key

    @property
    def nats_credentials(self) -> Path:
        return self.directory / busaccess.CREDENTIALS_FILE

    def service_env(self) -> dict[str, dict[str, str]]:
        """Each service's own variables: its NATS user, and the approval key's half it needs."""
        own: dict[str, dict[str, str]] = {}
        for service, user in busaccess.SERVICE_USERS.items():
            env = own.setdefault(service, {})
            if user in self.nats_passwords:
                password = self.nats_passwords[user]
                env |= {"PROCTOR_NATS_USER": user, "PROCTOR_NATS_PASSWORD": password}
        if self.approval_key is not None:
            own["approval"]["PROCTOR_APPROVAL_SIGNING_KEY"] = str(self.approval_key)
            own["ingress-proxy"]["PROCTOR_APPROVAL_VERIFY_KEYS"] = self.approval_public_key
        if self.ssh_host_key is not None:
            own["ingress-proxy"]["PROCTOR_SSH_HOST_KEY"] = str(self.ssh_host_key)
        if self.tls is not None:
            own["ingress-proxy"] |= {
                "PROCTOR_TLS_CERT": str(self.tls.cert),
                "PROCTOR_TLS_KEY": str(self.tls.key),
            }
        return own


def prepare_secrets(run_dir: Path, settings: Settings, embedded_nats: bool) -> StackSecrets:
    """Make (first start) or read the stack's credentials. NATS users only for an embedded
    server (a given one has its own); the signing key unless the environment names one."""
    secrets = StackSecrets(run_dir / "secrets")
    secrets.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    secrets.directory.chmod(0o700)
    if embedded_nats:
        secrets.nats_passwords = busaccess.load_or_create_credentials(secrets.nats_credentials)
        secrets.nats_config = busaccess.write_server_config(
            secrets.directory / "nats-server.conf",
            secrets.nats_passwords,
            settings.stream_name,
            settings.audit_durable,
        )
    if "PROCTOR_APPROVAL_SIGNING_KEY" not in os.environ:
        secrets.approval_key = secrets.directory / "approval-signing-key.pem"
        secrets.approval_public_key = load_or_create_signing_key(secrets.approval_key)
    if "PROCTOR_TLS_CERT" not in os.environ:
        host = settings.pg_listen.rpartition(":")[0]
        secrets.tls = ensure_local_tls(secrets.directory / "tls", host)
    if "PROCTOR_SSH_HOST_KEY" not in os.environ:
        secrets.ssh_host_key = secrets.directory / "ssh_host_ed25519_key"
        ensure_key(secrets.ssh_host_key, "proctor-gateway")
    if "PROCTOR_DATABASE_URL" not in os.environ:
        secrets.postgres_password = _postgres_password(secrets.directory / "postgres-password")
    return secrets


def _postgres_password(path: Path) -> str:
    """The embedded Postgres's password, made at first start (scram-sha-256, not trust)."""
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        password = token_urlsafe(24)
        busaccess.write_private(path, password + "\n")
        return password


def _read_stack(run_dir: Path) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads((run_dir / STACK_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return data


async def _prepare_bus(settings: Settings) -> None:
    nc = await bus.connect(settings, "up")
    try:
        await bus.ensure_stream(nc.jetstream(), settings)
    finally:
        await nc.close()


async def _wait_for_classifier(settings: Settings, timeout: float = 30.0) -> bool:
    nc = await bus.connect(settings, "up")
    try:
        deadline = time.monotonic() + timeout
        probe = cpb.ClassifyRequest(text="SELECT 1", kind=cpb.COMMAND_KIND_SQL)
        while time.monotonic() < deadline:
            with contextlib.suppress(Exception):
                await nc.request(subjects.CLASSIFY, probe.SerializeToString(), timeout=1)
                return True
            await asyncio.sleep(0.2)
        return False
    finally:
        await nc.close()


def _port_or_free(port: int) -> int:
    """`port` when nothing listens on it on loopback, else a free one."""
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return free_port()
    return port


def _wait_for_port(address: str, timeout: float = 30.0) -> bool:
    host, _, port = address.rpartition(":")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((host, int(port)), 1):
            return True
        time.sleep(0.1)
    return False


async def _wait_for_consumer(settings: Settings, timeout: float = 30.0) -> bool:
    nc = await bus.connect(settings, "up")
    try:
        js = nc.jetstream()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(Exception):
                await js.consumer_info(settings.stream_name, settings.audit_durable)
                return True
            await asyncio.sleep(0.2)
        return False
    finally:
        await nc.close()


class Stack:
    """The processes of one `proctor up`, started and stopped in order."""

    def __init__(self, run_dir: Path, settings: Settings) -> None:
        self.run_dir = run_dir
        self.settings = settings
        self.nats: EmbeddedNats | None = None
        self.postgres: EmbeddedPostgres | None = None
        self.children: list[ServiceProcess] = []
        self.secrets: StackSecrets | None = None
        self.stopping = threading.Event()
        self.info: dict[str, Any] = {}
        self.demo_cluster: dict[str, str] = {}  # the demo cluster's address and credentials
        self.demo_cluster_port = DEMO_CLUSTER_PORT
        self.demo_host: DemoHost | None = None

    def start(self) -> dict[str, Any]:
        env = dict(os.environ)
        embedded_nats = "PROCTOR_NATS_URL" not in os.environ
        secrets = self.secrets = prepare_secrets(self.run_dir, self.settings, embedded_nats)
        if not embedded_nats:
            nats_url, nats_note = self.settings.nats_url, "given by PROCTOR_NATS_URL"
        else:
            self.nats = EmbeddedNats(
                self.run_dir / "nats",
                port=EMBEDDED_NATS_PORT,
                die_with_parent=True,
                config=secrets.nats_config,
            ).start()
            nats_url = self.nats.url
            nats_note = (
                f"embedded, data in {self.nats.data_dir}; a user per service, "
                f"credentials in {secrets.nats_credentials}"
            )
        if "PROCTOR_DATABASE_URL" in os.environ and self.settings.database_url:
            db_url, db_note = self.settings.database_url, "given by PROCTOR_DATABASE_URL"
        else:
            self.postgres = EmbeddedPostgres(
                self.run_dir / "postgres",
                port=EMBEDDED_PG_PORT,
                die_with_parent=True,
                password=secrets.postgres_password,
            )
            self.postgres.start()
            self.postgres.create_database(AUDIT_DATABASE)
            db_url = self.postgres.url(AUDIT_DATABASE)
            db_note = f"embedded, data in {self.postgres.pgdata}"
        env |= {
            "PROCTOR_NATS_URL": nats_url,
            "PROCTOR_DATABASE_URL": db_url,
            "PROCTOR_RUN_DIR": str(self.run_dir),
        }
        self.demo: dict[str, str] = {}
        if "PROCTOR_GATEWAY_CONFIG" not in os.environ:
            env["PROCTOR_GATEWAY_CONFIG"] = str(self._prepare_demo(db_url))
        update: dict[str, Any] = {"nats_url": nats_url, "database_url": db_url}
        if busaccess.ADMIN in secrets.nats_passwords:
            admin = secrets.nats_passwords[busaccess.ADMIN]
            update |= {"nats_user": busaccess.ADMIN, "nats_password": SecretStr(admin)}
        self.settings = self.settings.model_copy(update=update)
        asyncio.run(_prepare_bus(self.settings))
        self.env = env
        self.children = services(self.settings, self.run_dir / "logs", secrets.service_env())
        if self.demo_cluster:
            self.children.insert(0, self._demo_cluster_process())
        if self.demo_host is not None:
            self.children.insert(0, self._demo_host_process(self.demo_host))
        for child in self.children:
            child.start(env)
        if not asyncio.run(_wait_for_consumer(self.settings)):
            raise StackError(f"the audit service did not start; see {self.run_dir / 'logs'}")
        if not asyncio.run(_wait_for_classifier(self.settings)):
            raise StackError(f"the classifier did not start; see {self.run_dir / 'logs'}")
        listeners = [self.settings.pg_listen, self.settings.mcp_listen]
        if self.demo_cluster:
            listeners.append(self.settings.kube_listen)
        if self.demo_host is not None:
            listeners += [self.settings.ssh_listen, self.settings.grpc_listen]
        for listen in listeners:
            if not _wait_for_port(listen):
                raise StackError(
                    f"the ingress-proxy is not listening on {listen}; see {self.run_dir / 'logs'}"
                )
        self.info = {
            "pid": os.getpid(),
            "started_at": datetime.now(UTC).isoformat(),
            "run_dir": str(self.run_dir),
            "nats_url": nats_url,
            "nats": nats_note,
            # CLI commands connect as admin with the password in this 0600 file.
            "nats_credentials": str(secrets.nats_credentials) if secrets.nats_passwords else None,
            "nats_user": busaccess.ADMIN if secrets.nats_passwords else None,
            "database_url": db_url,
            "database": db_note,
            "pg_listen": self.settings.pg_listen,
            "kube_listen": self.settings.kube_listen if self.demo_cluster else None,
            "ssh_listen": self.settings.ssh_listen if self.demo_host else None,
            "grpc_listen": self.settings.grpc_listen if self.demo_host else None,
            "mcp_listen": self.settings.mcp_listen,
            "demo": self.demo,
        }
        return self.describe()

    def describe(self) -> dict[str, Any]:
        """What runs where, with the pids of this moment (written to stack.json)."""
        return {
            **self.info,
            "nats_pid": self.nats.pid if self.nats else None,
            "postgres_pid": self.postgres.pid if self.postgres else None,
            "services": {
                c.name: {"pid": c.proc.pid if c.proc else None, "log": str(c.log_path)}
                for c in self.children
            },
        }

    def _prepare_demo(self, audit_db_url: str) -> Path:
        """The demo target database, identities and gateway configuration."""
        tokens = demo_identities(self.run_dir)
        if self.postgres is not None:
            self.postgres.create_database(DEMO_DATABASE)
            self.postgres.psql(DEMO_SQL, DEMO_DATABASE)
            target = self.postgres.url(DEMO_DATABASE)
        else:
            base, _, _ = audit_db_url.partition("?")[0].rpartition("/")
            target = f"{base}/{DEMO_DATABASE}"
        cluster_dir = self.run_dir / "demo-cluster"
        cluster_tls = ensure_local_tls(cluster_dir / "tls", "127.0.0.1")
        self.demo_cluster_port = _port_or_free(DEMO_CLUSTER_PORT)
        cluster_token = cluster_dir / "token"
        if not cluster_token.exists():
            busaccess.write_private(cluster_token, f"demo-cluster-{token_urlsafe(18)}\n")
        self.demo_cluster = {
            "url": f"https://127.0.0.1:{self.demo_cluster_port}",
            "token_file": str(cluster_token),
            "certificate_authority": str(cluster_tls.ca),
        }
        self.demo_host = DemoHost(self.run_dir / "demo-host", _port_or_free(DEMO_HOST_PORT))
        self.demo_host.prepare()
        path = write_gateway_config(self.run_dir, tokens, target, self.demo_cluster, self.demo_host)
        host, _, port = self.settings.pg_listen.rpartition(":")
        agent = f"postgresql://{AGENT}:{tokens[AGENT]}@{host}:{port}/{DEMO_DATABASE}"
        if self.secrets is not None and self.secrets.tls is not None:
            # TLS checked against our own CA, host name included: nothing in between can listen.
            agent += f"?sslmode=verify-full&sslrootcert={quote(str(self.secrets.tls.ca))}"
        self.demo = {
            "agent": agent,
            "approver": APPROVER,
            "approver_token": tokens[APPROVER],
        }
        if self.secrets is not None and self.secrets.tls is not None:
            self.demo["kubeconfig"] = str(
                write_kubeconfig(
                    self.run_dir / f"kubeconfig-{AGENT}.yaml",
                    kubeconfig(
                        server_url(self.settings.kube_listen),
                        DEMO_CLUSTER,
                        AGENT,
                        tokens[AGENT],
                        self.secrets.tls.ca.read_bytes(),
                    ),
                )
            )
        self.demo |= self._shell_prefixes(self.demo_host)
        mcp_host, _, mcp_port = self.settings.mcp_listen.rpartition(":")
        mcp_host = "127.0.0.1" if mcp_host in ("", "0.0.0.0") else mcp_host
        self.demo |= {
            "mcp_url": f"http://{mcp_host}:{mcp_port}/mcp",
            "mcp_token": f"{AGENT}:{tokens[AGENT]}",
        }
        return path

    def _shell_prefixes(self, host: DemoHost) -> dict[str, str]:
        """The commands that run one appended command on the demo host through the gateway:
        OpenSSH's ssh (the gateway's host key pinned), and `proctor exec`."""
        secrets = self.secrets
        if secrets is None or secrets.ssh_host_key is None:
            return {}
        ssh_host, _, ssh_port = self.settings.ssh_listen.rpartition(":")
        ssh_host = "127.0.0.1" if ssh_host in ("", "0.0.0.0") else ssh_host
        known_hosts = self.run_dir / "known_hosts"
        at = ssh_host if ssh_port == "22" else f"[{ssh_host}]:{ssh_port}"
        known_hosts.write_text(f"{at} {public_line(secrets.ssh_host_key)}\n")
        return {
            "ssh": f"ssh -p {ssh_port} -i {short_path(host.agent_key)} -o IdentitiesOnly=yes "
            f"-o UserKnownHostsFile={short_path(known_hosts)} {AGENT}@{ssh_host} {DEMO_HOST}",
            "exec": f"{cli_command()} exec {DEMO_HOST} --",
        }

    def _demo_host_process(self, host: DemoHost) -> ServiceProcess:
        """The demo host: an SSH server running commands in its work directory, supervised."""
        return ServiceProcess("demo-host", host.argv(), self.run_dir / "logs" / "demo-host.log")

    def _demo_cluster_process(self) -> ServiceProcess:
        """The demo cluster: a Kubernetes API server double (not a cluster), supervised."""
        cluster_dir = self.run_dir / "demo-cluster"
        return ServiceProcess(
            "demo-cluster",
            [
                sys.executable, "-m", "proctor.kubedouble", "--host", "127.0.0.1",
                "--port", str(self.demo_cluster_port), "--token-file", str(cluster_dir / "token"),
                "--tls-dir", str(cluster_dir / "tls"),
            ],
            self.run_dir / "logs" / "demo-cluster.log",
        )  # fmt: skip

    def watches(self) -> list[ServerWatch]:
        """The embedded servers, supervised like the services."""
        found = []
        if (nats := self.nats) is not None:
            found.append(ServerWatch("nats-server", nats.exited, nats.start))
        if (pg := self.postgres) is not None:
            found.append(ServerWatch("postgres", pg.exited, pg.start))
        return found

    def supervise(self, changed: Callable[[dict[str, Any]], None]) -> None:
        """Restart children that die (the servers first), with back-off, until asked to stop;
        `changed` gets the new description after every restart."""
        servers = self.watches()
        while not self.stopping.wait(0.5):
            now = time.monotonic()
            restarted = [w.tend(now) for w in servers]
            restarted += [c.tend(now, self.env) for c in self.children]
            if any(restarted):
                changed(self.describe())

    def stop(self) -> None:
        for child in reversed(self.children):
            child.stop()
        if self.nats is not None:
            self.nats.stop()
        if self.postgres is not None:
            self.postgres.stop()


def _write_stack(run_dir: Path, info: dict[str, Any]) -> None:
    # Only ours to read (it holds the audit database's URL with its password); written beside
    # it and renamed over it, so readers never see half a file.
    busaccess.write_private(run_dir / STACK_FILE, json.dumps(info, indent=2))


def run_up(run_dir_arg: str | None) -> int:
    settings = load_settings()
    run_dir = Path(run_dir_arg or os.environ.get("PROCTOR_RUN_DIR") or settings.run_dir).resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    os.environ["PROCTOR_RUN_DIR"] = str(run_dir)
    lock_file = (run_dir / "up.lock").open("a+")
    try:
        fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        other = _read_stack(run_dir)
        print(
            f"proctor: a stack is already running from {run_dir} (pid {other.get('pid', '?')}, "
            f"started {other.get('started_at', '?')}).\n"
            f"  nats: {other.get('nats_url', '?')}  audit db: {other.get('database_url', '?')}\n"
            "  Use it as it is, stop it with Ctrl-C in its terminal or `proctor down`, "
            "or start another with --run-dir.",
            file=sys.stderr,
        )
        return 1
    stack = Stack(run_dir, settings)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stack.stopping.set())
    try:
        info = stack.start()
        _write_stack(run_dir, info)
        print_banner(info)
        stack.supervise(lambda now: _write_stack(run_dir, now))
        print("stopping Proctor...", flush=True)
    except StackError as exc:
        print(f"proctor: {exc}", file=sys.stderr)
        return 1
    finally:
        stack.stop()
        with contextlib.suppress(OSError):
            (run_dir / STACK_FILE).unlink()
        lock_file.close()
    print("Proctor stopped.", flush=True)
    return 0


def run_down(run_dir_arg: str | None) -> int:
    settings = load_settings()
    run_dir = Path(run_dir_arg or os.environ.get("PROCTOR_RUN_DIR") or settings.run_dir).resolve()
    pid = _read_stack(run_dir).get("pid")
    if not isinstance(pid, int):
        print(f"proctor: no stack is running from {run_dir}", file=sys.stderr)
        return 1
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        print(f"proctor: the stack in {run_dir} (pid {pid}) is already gone", file=sys.stderr)
        return 1
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if not process_running(pid):
            print("Proctor stopped.")
            return 0
        time.sleep(0.2)
    print(f"proctor: pid {pid} did not stop within 60s", file=sys.stderr)
    return 1
