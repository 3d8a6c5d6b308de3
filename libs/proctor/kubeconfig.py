"""Kubeconfigs that point kubectl at the gateway: the server is the gateway's Kubernetes
listener over TLS (its CA inside), the path names the resource, and the bearer token is the
Proctor identity's `IDENTITY:TOKEN`. The cluster's own credentials stay with the gateway."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import yaml

from proctor.errors import ConfigError


def kubeconfig(server: str, resource: str, identity: str, token: str, ca_pem: bytes) -> str:
    """The YAML of a kubeconfig for one identity on one resource."""
    name = f"proctor-{resource}"
    cluster: dict[str, object] = {"server": f"{server.rstrip('/')}/kube/{resource}"}
    if ca_pem:
        cluster["certificate-authority-data"] = base64.b64encode(ca_pem).decode()
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": cluster}],
        "users": [{"name": f"{identity}@{name}", "user": {"token": f"{identity}:{token}"}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": f"{identity}@{name}"}}],
        "current-context": name,
        "preferences": {},
    }
    return yaml.safe_dump(doc, sort_keys=False)


def server_url(listen: str) -> str:
    """https://host:port of a listen address (0.0.0.0 is reached as 127.0.0.1)."""
    host, _, port = listen.rpartition(":")
    if host in ("", "0.0.0.0", "::", "[::]"):
        host = "127.0.0.1"
    return f"https://{host}:{port}"


def write_kubeconfig(path: Path, text: str) -> Path:
    """Write it readable by its owner only (it holds a token)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return path


def read_ca(path: Path | None) -> bytes:
    if path is None:
        return b""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read the gateway's CA certificate {path}: {exc}") from exc
