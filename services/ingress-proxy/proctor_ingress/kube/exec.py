"""`kubectl exec` and `attach` through the gateway: the Kubernetes remote-command protocol over
WebSocket (`v5.channel.k8s.io`, or v4), relayed frame by frame once the lifecycle let the
command run. Each frame's first byte names its stream: 0 stdin, 1 stdout, 2 stderr, 3 the error
channel (a Status with the exit code), 4 terminal resize; v5 adds close frames (255, stream).
What the container writes on stdout and stderr is masked line by line (LogMasker, one per
stream) before the client sees it; stdin and resizes go to the container as they are.

kubectl before 1.30 speaks this protocol over SPDY only (1.29 with
KUBECTL_REMOTE_COMMAND_WEBSOCKETS=true uses WebSocket); the gateway does not relay SPDY, and
says so in a Status."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import aiohttp
from aiohttp import WSMsgType, web

from proctor.errors import MaskUnavailable
from proctor_ingress.kube.cluster import Cluster
from proctor_ingress.kube.maskcall import MaskTexts
from proctor_ingress.kube.proxy import Answered, upstream_path
from proctor_ingress.kube.status import status
from proctor_ingress.kube.streams import LogMasker

log = logging.getLogger("proctor.ingress.kube")

SUBPROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")
STDOUT, STDERR, ERROR, CLOSE = 1, 2, 3, 255


def offered(request: web.Request) -> list[str]:
    header = request.headers.get("Sec-WebSocket-Protocol", "")
    return [p.strip() for p in header.split(",") if p.strip()]


def refuse_upgrade(request: web.Request) -> web.Response | None:
    """A Status for a connect request the gateway cannot relay, or None when it can."""
    if request.headers.get("Upgrade", "").lower() != "websocket":
        return status(
            400,
            "Proctor relays exec and attach over WebSocket only (kubectl 1.30 or newer; with "
            "kubectl 1.29 set KUBECTL_REMOTE_COMMAND_WEBSOCKETS=true). Nothing was run.",
        )
    wanted = offered(request)
    if not any(p in SUBPROTOCOLS for p in wanted):
        return status(
            400,
            f"Proctor does not speak the WebSocket subprotocol {', '.join(wanted) or '(none)'};"
            f" it speaks {', '.join(SUBPROTOCOLS)}. Nothing was run.",
        )
    return None


async def refuse(request: web.Request, refused: web.Response) -> web.StreamResponse:
    """A refusal of an exec, as the API server reports a failed exec: the WebSocket is
    accepted and the `Status` sent on the error channel, which kubectl prints. (A refused
    handshake would make kubectl 1.30+ retry over SPDY, and show that error instead.)"""
    chosen = [p for p in offered(request) if p in SUBPROTOCOLS][:1]
    client = web.WebSocketResponse(protocols=tuple(chosen))
    await client.prepare(request)
    assert isinstance(refused.body, bytes)
    await client.send_bytes(bytes([ERROR]) + refused.body)
    await client.close()
    return client


async def relay(
    request: web.Request, cluster: Cluster, mask: MaskTexts, answered: Answered
) -> web.StreamResponse:
    protocols = [p for p in offered(request) if p in SUBPROTOCOLS]
    try:
        upstream = await cluster.session.ws_connect(
            cluster.url(upstream_path(request)),
            protocols=protocols,
            headers=cluster.headers(),
            max_msg_size=1 << 20,
        )
    except aiohttp.WSServerHandshakeError as exc:
        answered.code, answered.error = exc.status, f"the cluster refused the stream: {exc}"
        return status(exc.status if exc.status >= 400 else 502, f"The cluster refused: {exc}")
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        answered.code, answered.error = 503, f"the cluster could not be reached: {exc}"
        return status(503, f"Proctor could not reach the cluster {cluster.resource.name}: {exc}")
    chosen = upstream.protocol or protocols[0]
    client = web.WebSocketResponse(protocols=(chosen,), max_msg_size=1 << 20)
    await client.prepare(request)
    answered.code = 101
    maskers = {STDOUT: LogMasker(mask), STDERR: LogMasker(mask)}

    async def to_container() -> None:
        async for msg in client:
            if msg.type == WSMsgType.BINARY:
                await upstream.send_bytes(msg.data)
            elif msg.type == WSMsgType.TEXT:
                await upstream.send_str(msg.data)
            else:
                break
        await upstream.close()

    async def flush(stream: int) -> None:
        rest = await maskers[stream].finish()
        if rest:
            await client.send_bytes(bytes([stream]) + rest)

    async def from_container() -> None:
        async for msg in upstream:
            if msg.type not in (WSMsgType.BINARY, WSMsgType.TEXT):
                break
            data = msg.data if isinstance(msg.data, bytes) else msg.data.encode()
            if not data:
                continue
            stream = data[0]
            if stream in maskers:
                out = await maskers[stream].feed(data[1:])
                if out:
                    answered.rows += out.count(b"\n")
                    await client.send_bytes(bytes([stream]) + out)
                continue
            if stream == CLOSE and len(data) > 1 and data[1] in maskers:
                await flush(data[1])
            elif stream == ERROR:
                answered.error = data[1:].decode(errors="replace")[:500]
            await client.send_bytes(data)
        for stream in maskers:
            await flush(stream)

    sending = asyncio.ensure_future(from_container())
    receiving = asyncio.ensure_future(to_container())
    try:
        await asyncio.wait((sending, receiving), return_when=asyncio.FIRST_COMPLETED)
        if sending.done() and sending.exception() is not None:
            raise sending.exception()  # type: ignore[misc]
    except MaskUnavailable as exc:
        answered.error = f"output withheld: masking unavailable: {exc}"
        log.warning("exec output withheld: %s", exc)
    finally:
        receiving.cancel()
        if not sending.done():
            sending.cancel()
        with contextlib.suppress(Exception):
            await upstream.close()
        await client.close()
    return client
