"""What `proctor up` prints once the stack is ready: where everything listens, and how to try
the demo from each entrance."""

from __future__ import annotations

import contextlib
import shutil
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from proctor.demo import DEMO_CLUSTER, DEMO_HOST


def cli_command() -> str:
    """How to call `proctor` from here: plain if it is on PATH, else its path in the venv."""
    beside = Path(sys.executable).parent / "proctor"
    if shutil.which("proctor") == str(beside) or not beside.exists():
        return "proctor"
    with contextlib.suppress(ValueError):
        return str(beside.relative_to(Path.cwd()))
    return str(beside)


def short_path(path: Path) -> str:
    """`path` relative to the working directory when it is under it."""
    with contextlib.suppress(ValueError):
        return str(path.relative_to(Path.cwd()))
    return str(path)


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":…@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def print_banner(info: dict[str, Any]) -> None:
    print("Proctor is up.", flush=True)
    print(f"  {'nats:':<15} {info['nats_url']}  ({info['nats']})")
    print(f"  {'audit db:':<15} {_without_password(info['database_url'])}  ({info['database']})")
    for name, svc in info["services"].items():
        print(f"  {name + ':':<15} pid {svc['pid']}, log {svc['log']}")
    print(f"  {'agents:':<15} postgres wire protocol on {info['pg_listen']}")
    if info.get("kube_listen"):
        print(f"  {'':<15} Kubernetes API (kubectl) on https://{info['kube_listen']}")
    if info.get("ssh_listen"):
        ssh, grpc = info["ssh_listen"], info["grpc_listen"]
        print(f"  {'':<15} ssh on {ssh}, gRPC API (proctor exec) on {grpc}")
    if info.get("mcp_listen"):
        print(f"  {'':<15} MCP (streamable HTTP) on http://{info['mcp_listen']}/mcp")
    if info.get("demo"):
        demo = info["demo"]
        print()
        print("  demo target `demo`: customers and orders with names, emails, cards and SSNs")
        print(f"agent: {demo['agent']}")
        print(f"  approver: {demo['approver']} (token {demo['approver_token']})")
        print(f"  try:  psql '{demo['agent']}' -c 'SELECT * FROM customers LIMIT 5'")
        approvals = f"{cli_command()} approvals list --as {demo['approver']}"
        print(f"  approve or deny held statements:  {approvals}")
        if demo.get("kubeconfig"):
            print()
            print(
                f"  demo cluster `{DEMO_CLUSTER}`: a Kubernetes API server double (not a real "
                "cluster; see docs/kubernetes.md to point a resource at one), with a "
                "crash-looping deployment in namespace demo"
            )
            print(f"kubeconfig: {demo['kubeconfig']}")
            print(f"  try:  KUBECONFIG={demo['kubeconfig']} kubectl -n demo get pods")
        if demo.get("ssh"):
            print()
            print(
                f"  demo host `{DEMO_HOST}`: this machine over SSH, commands run in "
                f"{short_path(Path(info['run_dir']) / 'demo-host' / 'work')} (an app.log with "
                "customers' emails and cards)"
            )
            print(f"ssh: {demo['ssh']}")
            print(f"exec: {demo['exec']}")
            print(f"  try:  {demo['ssh']} 'tail -n 3 app.log'")
        if demo.get("mcp_url"):
            url, token = demo["mcp_url"], demo["mcp_token"]
            print()
            print("  MCP: every resource above as tools (query, kubectl, exec, approval_wait, ...)")
            print(f"mcp: {url} {token}")
            print(
                f"  try:  claude mcp add --transport http proctor {url} "
                f'--header "Authorization: Bearer {token}"'
            )
    print()
    print(f"  follow the event stream (SIEM):  {cli_command()} events tail")
    print(f"  replay a session:                {cli_command()} replay SESSION_ID")
    print(f"  verify the audit hash chain:     {cli_command()} audit verify")
    print(f"  stop:                            Ctrl-C here, or `{cli_command()} down`")
    print("ready", flush=True)
