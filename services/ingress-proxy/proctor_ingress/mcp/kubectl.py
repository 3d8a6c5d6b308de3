"""The `kubectl` tool: the real kubectl, run by the gateway against its own Kubernetes
listener as the agent's identity, so the call takes the Kubernetes path a kubectl user takes
(the same request reading, lifecycle, approvals, masking and events). kubectl parses the
arguments; the gateway only refuses what would reach past that path (its own files, other
servers, credentials, plugins) or never end (a terminal, a watch, a follow)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import tempfile
from pathlib import Path

import mcp_types as types

from proctor.kubeconfig import kubeconfig, server_url, write_kubeconfig
from proctor.settings import Settings
from proctor_ingress.kube.server import REVIEW_WAIT
from proctor_ingress.mcp.render import refusal, said, text_result

OUTPUT_BYTES = 256 * 1024
# Subcommands that only talk to the API server through kubectl's own client.
SUBCOMMANDS = frozenset(
    [
        "get",
        "describe",
        "logs",
        "explain",
        "api-resources",
        "api-versions",
        "version",
        "top",
        "events",
        "create",
        "apply",
        "delete",
        "patch",
        "label",
        "annotate",
        "scale",
        "rollout",
        "set",
        "expose",
        "run",
        "exec",
        "diff",
        "auth",
        "wait",
        "cordon",
        "uncordon",
        "drain",
        "taint",
        "replace",
        "autoscale",
        "cluster-info",
    ]
)
# Flags the gateway sets itself, or that would reach another server or read local files.
FORBIDDEN_FLAGS = frozenset(
    [
        "--kubeconfig",
        "--server",
        "-s",
        "--token",
        "--as",
        "--as-group",
        "--as-uid",
        "--context",
        "--cluster",
        "--user",
        "--username",
        "--password",
        "--certificate-authority",
        "--client-certificate",
        "--client-key",
        "--insecure-skip-tls-verify",
        "--tls-server-name",
        "--cache-dir",
        "--profile",
        "--profile-output",
        "--plugin-dir",
    ]
)
ENDLESS_FLAGS = frozenset(
    ["-i", "--stdin", "-t", "--tty", "-w", "--watch", "--watch-only", "--follow"]
)
LEADING_FLAGS = frozenset(["-n", "--namespace", "--request-timeout"])  # each takes a value
FILE_FLAGS = frozenset(["-f", "--filename", "-k", "--kustomize"])
TEMPLATE_FILE = re.compile(r"(?:^|=)(?:go-template-file|jsonpath-file|template-file)\b")


def refused_args(args: list[str], stdin: str | None) -> str | None:
    """Why the gateway will not run kubectl with these arguments, or None."""
    sub = ""
    i = 0
    while i < len(args) and not sub:  # the subcommand: after global flags kubectl knows
        flag, has_value, _ = args[i].partition("=")
        if not args[i].startswith("-"):
            sub = args[i]
        elif flag in LEADING_FLAGS:
            i += 1 if has_value else 2
            continue
        elif flag in FORBIDDEN_FLAGS:
            return f"{flag} is set by Proctor (the cluster and your credentials); leave it out"
        else:
            return f"put {flag} after the subcommand (before it, only -n and --request-timeout)"
        i += 1
    if sub not in SUBCOMMANDS:
        return (
            f"kubectl {sub or '(no subcommand)'} is not available through Proctor; use one of: "
            f"{', '.join(sorted(SUBCOMMANDS))}"
        )
    for i, arg in enumerate(args):
        if arg == "--":  # what follows is the command run in a container: not kubectl's
            break
        flag, has_value, value = arg.partition("=")
        if flag in FORBIDDEN_FLAGS:
            return f"{flag} is set by Proctor (the cluster and your credentials); leave it out"
        if flag in ENDLESS_FLAGS or (sub == "logs" and flag == "-f"):
            return (
                f"{flag} waits for a terminal or streams without end; run a bounded command "
                "instead (e.g. logs --tail 200, get without --watch)"
            )
        if re.fullmatch(r"-[a-zA-Z]{2,}", arg) and set(arg[1:]) & set("it"):
            return f"{arg} asks for a terminal, which a tool call does not have"
        if flag in FILE_FLAGS and sub != "logs":
            given = value if has_value else (args[i + 1] if i + 1 < len(args) else "")
            if given != "-":
                return (
                    f"{flag} {given} would read a file on the gateway; pass the manifest in "
                    "`stdin` and use -f -"
                )
            if stdin is None:
                return "-f - reads the manifest from `stdin`, which is empty"
        if TEMPLATE_FILE.search(arg):
            return "templates from files would read the gateway's files; give the template inline"
    if sub in ("cp", "attach", "port-forward", "proxy", "edit"):
        return f"kubectl {sub} is not available through Proctor"
    return None


def kubectl_binary(configured: str | None) -> str | None:
    return configured or shutil.which("kubectl")


def gateway_ca_file(settings: Settings) -> str | None:
    """The CA that signed the gateway's own certificate: `ca.pem` beside PROCTOR_TLS_CERT,
    or the one `proctor up` made."""
    stack_ca = settings.run_dir / "secrets" / "tls" / "ca.pem"
    beside = settings.tls_cert.parent / "ca.pem" if settings.tls_cert else None
    for path in (beside, stack_ca):
        if path is not None and path.exists():
            return str(path)
    return None


def gateway_ca(settings: Settings) -> bytes:
    found = gateway_ca_file(settings)
    return Path(found).read_bytes() if found else b""


async def run_kubectl(
    settings: Settings,
    binary: str | None,
    identity: str,
    token: str,
    resource: str,
    args: list[str],
    stdin: str | None,
    patience: float,
    timeout: float,
) -> types.CallToolResult:
    why = refused_args(args, stdin)
    if why is not None:
        return refusal(f"Proctor did not run kubectl: {why}. Nothing was run.", status="error")
    if binary is None:
        return refusal(
            "kubectl is not installed where this Proctor gateway runs, so the kubectl tool is "
            "unavailable. Nothing was run.",
            hint="Ask the operator to install kubectl or set PROCTOR_MCP_KUBECTL.",
            status="unavailable",
        )
    tls = settings.tls_cert is not None and settings.tls_key is not None
    server = server_url(settings.kube_listen)
    if not tls:
        server = "http" + server.removeprefix("https")
    with tempfile.TemporaryDirectory(prefix="proctor-kubectl-") as home:
        path = write_kubeconfig(
            Path(home) / "config",
            kubeconfig(
                server,
                f"{resource};{REVIEW_WAIT}={patience:g}",
                identity,
                token,
                gateway_ca(settings) if tls else b"",
            ),
        )
        env = {"HOME": home, "KUBECONFIG": str(path), "PATH": os.defpath, "LANG": "C.UTF-8"}
        proc = await asyncio.create_subprocess_exec(
            binary,
            *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
            cwd=home,
        )
        try:
            out, err = await asyncio.wait_for(proc.communicate((stdin or "").encode()), timeout)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
            return refusal(
                f"kubectl did not finish within {timeout:g} s, so Proctor stopped it. What it "
                "did until then (a write the cluster accepted) stays done.",
                hint="Run a bounded command (e.g. logs --tail, get without --watch).",
                status="error",
            )
        except asyncio.CancelledError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
            raise
    stdout = _bounded(out)
    stderr = _bounded(err).replace(f"{resource};{REVIEW_WAIT}={patience:g}", resource)
    status = proc.returncode or 0
    if status and "Proctor" in stderr:
        said_status, approval_id = said(stderr)
        lines = [
            line.split("): ", 1)[-1] if line.startswith("Error from server") else line
            for line in stderr.splitlines()
        ]
        return refusal(
            "\n".join(lines).strip(), status=said_status or "refused", approval_id=approval_id
        )
    parts = [stdout, f"--- stderr ---\n{stderr}" if stderr else "", f"--- exit status {status}"]
    return text_result(
        "\n".join(p for p in parts if p),
        {"exit_status": status, "stdout": stdout, "stderr": stderr},
    )


def _bounded(data: bytes) -> str:
    text = data[:OUTPUT_BYTES].decode("utf-8", "replace")
    if len(data) > OUTPUT_BYTES:
        text += f"\n--- {len(data) - OUTPUT_BYTES} more bytes were not kept"
    return text
