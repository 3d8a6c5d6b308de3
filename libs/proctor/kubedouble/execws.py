"""`pods/exec` over WebSocket, as kubectl 1.30+ does it (a GET upgraded with subprotocol
`v5.channel.k8s.io`, or `v4.channel.k8s.io`): every binary message starts with its stream,
0 stdin, 1 stdout, 2 stderr, 3 the error stream (one `Status`), 4 terminal resize; under v5
the client sends `[255, 0]` when its stdin ends. The command runs in `commands`.

What kubectl does, by version (checked against the binaries in the tests):
- 1.29 uses SPDY (a POST with `Upgrade: SPDY/3.1`) unless `KUBECTL_REMOTE_COMMAND_WEBSOCKETS=true`,
  which makes it try WebSocket v5 first and fall back to SPDY only if the upgrade fails.
- 1.30 and later try WebSocket first (turned off by `KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false`).
The double does not speak SPDY: such a request is refused with a 400 `Status` saying so.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from typing import Any

from aiohttp import WSMsgType, web

from proctor.kubedouble.commands import NeedsStdin, Outcome, PodView, run
from proctor.kubedouble.errors import ApiError, bad_request
from proctor.kubedouble.store import Obj, Store

PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")
STDIN, STDOUT, STDERR, ERROR, RESIZE = 0, 1, 2, 3, 4
CLOSE = 255  # v5: the client closed one of its streams (`[255, stream]`)
CHUNK = 32 * 1024
STDIN_WAIT = 30.0  # how long a command that reads stdin waits for it to end


def chosen_protocol(header: str) -> str | None:
    """The first subprotocol the client offers that the double speaks."""
    offered = [p.strip() for p in header.split(",") if p.strip()]
    return next((p for p in offered if p in PROTOCOLS), None)


def exit_status(code: int, command: list[str]) -> dict[str, Any]:
    """The error stream's Status for a command's exit, as the kubelet writes it."""
    if code == 0:
        return {"metadata": {}, "status": "Success"}
    return {
        "metadata": {},
        "status": "Failure",
        "message": f"command terminated with non-zero exit code: error executing command "
        f"{command}, exit code {code}",
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]},
    }


def _decode(data: dict[str, str], key: str) -> str:
    with contextlib.suppress(ValueError):
        return base64.b64decode(data.get(key, "")).decode(errors="replace")
    return ""


def pod_view(store: Store, pod: Obj, container_name: str) -> PodView:
    """The environment and files one container of `pod` sees: its env (values from config maps
    and secrets resolved), /etc/hostname, and the config map and secret volumes it mounts."""
    meta, spec = pod["metadata"], pod.get("spec", {})
    namespace = meta.get("namespace", "default")
    containers = spec.get("containers") or []
    container = next((c for c in containers if c.get("name") == container_name), None)
    if container is None:
        raise bad_request(f"container {container_name} is not valid for pod {meta['name']}")
    configmaps = store.catalogue.find("", "v1", "configmaps")
    secrets = store.catalogue.find("", "v1", "secrets")
    assert configmaps and secrets

    def config(name: str) -> dict[str, str]:
        found = store.find(configmaps, namespace, name)
        return dict((found or {}).get("data") or {})

    def secret(name: str) -> dict[str, str]:
        found = store.find(secrets, namespace, name)
        data = (found or {}).get("data") or {}
        return {k: _decode(data, k) for k in data}

    env = {
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOSTNAME": meta["name"],
        "HOME": "/root",
        "KUBERNETES_SERVICE_HOST": "10.96.0.1",
        "KUBERNETES_SERVICE_PORT": "443",
    }
    for source in container.get("envFrom") or []:
        prefix = source.get("prefix", "")
        if "configMapRef" in source:
            values = config(source["configMapRef"].get("name", ""))
        else:
            values = secret((source.get("secretRef") or {}).get("name", ""))
        env.update({prefix + k: v for k, v in values.items()})
    for var in container.get("env") or []:
        ref = var.get("valueFrom") or {}
        if "value" in var:
            env[var["name"]] = str(var["value"])
        elif "secretKeyRef" in ref:
            env[var["name"]] = secret(ref["secretKeyRef"].get("name", "")).get(
                ref["secretKeyRef"].get("key", ""), ""
            )
        elif "configMapKeyRef" in ref:
            env[var["name"]] = config(ref["configMapKeyRef"].get("name", "")).get(
                ref["configMapKeyRef"].get("key", ""), ""
            )
        elif "fieldRef" in ref:
            path = ref["fieldRef"].get("fieldPath", "")
            env[var["name"]] = {
                "metadata.name": meta["name"],
                "metadata.namespace": namespace,
                "spec.nodeName": spec.get("nodeName", ""),
                "status.podIP": pod.get("status", {}).get("podIP", ""),
            }.get(path, "")
    files = {
        "/etc/hostname": f"{meta['name']}\n",
        "/etc/os-release": 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\n',
        "/var/run/secrets/kubernetes.io/serviceaccount/namespace": namespace,
    }
    volumes = {v.get("name"): v for v in spec.get("volumes") or []}
    for mount in container.get("volumeMounts") or []:
        volume = volumes.get(mount.get("name"), {})
        if "configMap" in volume:
            data = config(volume["configMap"].get("name", ""))
        elif "secret" in volume:
            data = secret(volume["secret"].get("secretName", ""))
        else:
            continue
        root = mount.get("mountPath", "/").rstrip("/")
        if mount.get("subPath"):
            files[root] = data.get(mount["subPath"], "")
        else:
            files.update({f"{root}/{key}": value for key, value in data.items()})
    return PodView(hostname=meta["name"], env=env, files=files, now=store.clock())


async def _read_stdin(ws: web.WebSocketResponse, v5: bool) -> bytes:
    """Stdin until the client closes it (v5) or the connection, or STDIN_WAIT passes."""
    data = b""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(STDIN_WAIT):
            async for msg in ws:
                if msg.type != WSMsgType.BINARY or not msg.data:
                    continue
                stream, payload = msg.data[0], msg.data[1:]
                if stream == STDIN:
                    data += payload
                elif v5 and stream == CLOSE and payload[:1] == bytes([STDIN]):
                    break
    return data


async def _send(ws: web.WebSocketResponse, stream: int, data: bytes) -> None:
    for start in range(0, len(data), CHUNK):
        await ws.send_bytes(bytes([stream]) + data[start : start + CHUNK])


async def exec_handler(request: web.Request, store: Store, pod: Obj) -> web.StreamResponse:
    if request.headers.get("Upgrade", "").lower() != "websocket":
        raise ApiError(
            400,
            "this API server double runs exec over WebSocket only (v5.channel.k8s.io or "
            "v4.channel.k8s.io), not SPDY: use kubectl 1.30 or later, or set "
            "KUBECTL_REMOTE_COMMAND_WEBSOCKETS=true",
        )
    protocol = chosen_protocol(request.headers.get("Sec-WebSocket-Protocol", ""))
    if protocol is None:
        raise ApiError(
            400,
            f"unsupported or missing WebSocket subprotocol: the double speaks "
            f"{', '.join(PROTOCOLS)}",
        )
    query = request.query
    command = list(query.getall("command", []))
    if not command:
        raise bad_request("you must specify at least 1 command")
    names = [c.get("name", "") for c in pod.get("spec", {}).get("containers") or []]
    view = pod_view(store, pod, query.get("container") or (names[0] if names else ""))
    tty = query.get("tty") == "true"
    ws = web.WebSocketResponse(protocols=(protocol,), max_msg_size=0)
    await ws.prepare(request)
    try:
        try:
            outcome = run(command, view, None)
        except NeedsStdin:
            stdin = (
                await _read_stdin(ws, protocol.startswith("v5"))
                if query.get("stdin") == "true"
                else b""
            )
            outcome = run(command, view, stdin)
        if tty:  # a terminal has one output stream
            outcome = Outcome(outcome.stdout + outcome.stderr, b"", outcome.code)
        await _send(ws, STDOUT, outcome.stdout)
        await _send(ws, STDERR, outcome.stderr)
        status = json.dumps(exit_status(outcome.code, command)).encode()
        await ws.send_bytes(bytes([ERROR]) + status)
    except ConnectionError:
        pass
    finally:
        await ws.close()
    return ws
