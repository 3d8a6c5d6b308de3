"""The Kubernetes listener: an HTTPS server kubectl talks to as to an API server, one per
ingress process (SO_REUSEPORT, like the Postgres listener). A kubeconfig from
`proctor kubeconfig` points kubectl at https://GATEWAY/kube/<resource> with the identity's
token (`IDENTITY:TOKEN`) as its bearer token.

Each request: authenticate the identity, read the body (bounded), read what the request does
(proctor.kuberequest, the API server's own RequestInfo rules), put it through the lifecycle,
and forward it (proxy.py, exec.py) or answer the refusal as a Status (status.py)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import ssl
import time
from typing import Any

from aiohttp import web

from proctor import k8sproto
from proctor.classifier.v1 import classifier_pb2 as cpb
from proctor.errors import ConfigError, SessionEnded
from proctor.events import codec
from proctor.events.v1 import events_pb2 as pb
from proctor.gateway import IdentityConfig, KubernetesResource
from proctor.kuberequest import display_text, request_info
from proctor_ingress.gateway import Gateway
from proctor_ingress.kube import exec as kexec
from proctor_ingress.kube.cluster import Cluster
from proctor_ingress.kube.maskcall import masker_over_nats
from proctor_ingress.kube.proxy import Answered, forward, upstream_path
from proctor_ingress.kube.sessions import KubeSessions, client_gone
from proctor_ingress.kube.status import refusal, status
from proctor_ingress.lifecycle import Ask, binding_of
from proctor_ingress.masking import MaskStats
from proctor_ingress.postgres.authentication import is_loopback

log = logging.getLogger("proctor.ingress.kube")

PREFIX = "/kube/"
GONE_POLL = 0.5  # seconds between looks at whether a held request's client is still there


def listen_address(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    return host or "127.0.0.1", int(port)


class KubeGateway:
    def __init__(self, gw: Gateway) -> None:
        self.gw = gw
        self.sessions = KubeSessions(gw)
        self.clusters = {
            name: Cluster(resource) for name, resource in gw.config.of_kind("kubernetes").items()
        }
        self.in_flight = 0

    def app(self) -> web.Application:
        app = web.Application(client_max_size=self.gw.settings.kube_max_body)
        app.router.add_route("*", PREFIX + "{resource}{tail:(/.*)?}", self.handle)
        app.router.add_route("*", "/{tail:.*}", self.elsewhere)
        return app

    async def elsewhere(self, request: web.Request) -> web.Response:
        return status(
            404,
            f"Proctor serves Kubernetes resources under {PREFIX}<resource>; {request.path} is "
            "not one. Get a kubeconfig with `proctor kubeconfig --resource NAME --as IDENTITY`.",
        )

    def _identity(self, request: web.Request) -> IdentityConfig | None:
        auth = request.headers.get("Authorization", "")
        scheme, _, credential = auth.partition(" ")
        if scheme.lower() != "bearer" or ":" not in credential:
            return None
        name, _, token = credential.strip().rpartition(":")
        return self.gw.config.authenticate(name, token)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        identity = self._identity(request)
        if identity is None:
            return status(
                401,
                "Proctor did not accept these credentials: the bearer token must be "
                "IDENTITY:TOKEN (what `proctor kubeconfig` writes).",
            )
        name, patience = resource_segment(
            request.match_info["resource"], self.gw.settings.approval_timeout
        )
        resource = self.gw.config.resources.get(name)
        cluster = self.clusters.get(name)
        if not isinstance(resource, KubernetesResource) or cluster is None:
            known = ", ".join(sorted(self.clusters)) or "none"
            return status(
                404, f"Kubernetes resource {name!r} is not configured in Proctor (known: {known})"
            )
        if self.in_flight >= self.gw.settings.kube_max_connections:
            return status(
                429,
                f"this Proctor gateway process is serving {self.in_flight} requests already; "
                "retry in a moment (the operator can raise PROCTOR_KUBE_MAX_CONNECTIONS)",
            )
        self.in_flight += 1
        try:
            return await self._handle(request, identity, resource, cluster, patience)
        finally:
            self.in_flight -= 1

    async def _read_body(self, request: web.Request) -> bytes | web.Response:
        limit = self.gw.settings.kube_max_body
        if request.content_length is not None and request.content_length > limit:
            return _too_large(request.content_length, limit)
        body = await request.content.read(limit + 1)
        if len(body) > limit:
            return _too_large(len(body), limit)
        return body

    async def _handle(
        self,
        request: web.Request,
        identity: IdentityConfig,
        resource: KubernetesResource,
        cluster: Cluster,
        patience: float | None = None,
    ) -> web.StreamResponse:
        body = await self._read_body(request)
        if isinstance(body, web.Response):
            return body
        path = upstream_path(request)
        route, _, query = path.partition("?")
        upgrade = request.headers.get("Upgrade", "").lower() == "websocket"
        content_type = request.headers.get("Content-Type", "")
        try:
            if content_type.split(";")[0].strip() == k8sproto.MEDIA_TYPE and body:
                # What the approver sees, what is recorded and what runs must be one text:
                # the object goes on as JSON, which every API server reads.
                body = json.dumps(k8sproto.decode(body), separators=(",", ":")).encode()
                content_type = "application/json"
            detail = request_info(
                request.method, route, query, upgrade=upgrade, content_type=content_type, body=body
            )
        except ValueError as exc:
            return status(400, f"Proctor could not read this request: {exc}")
        if detail.verb == "connect":
            refused = kexec.refuse_upgrade(request)
            if refused is not None:  # nothing could be relayed: no one is asked to approve it
                return refused
            if detail.subresource not in ("exec", "attach"):
                return status(
                    501,
                    f"Proctor does not relay {detail.resource}/{detail.subresource} yet. "
                    "Nothing was run.",
                )
        who = pb.Identity(
            human=identity.name,
            agent=_agent(request.headers.get("User-Agent", "")),
            groups=list(identity.groups),
        )
        where = pb.Resource(name=resource.name, kind=pb.RESOURCE_KIND_KUBERNETES)
        # One session per identity, resource and client program: an agent's kubectl calls
        # (each its own process, with its own Kubectl-Session) tell one story.
        session = await self.sessions.session(
            who, where, who.agent, _peer(request), patience=patience
        )
        command = pb.CommandDetail(kube=detail)
        material = command.SerializeToString(deterministic=True)
        ask = Ask(
            codec.new_hex_id(),
            display_text(detail),
            lambda: binding_of(material, who.human.encode(), where.name.encode()),
            kind=cpb.COMMAND_KIND_KUBE,
            detail=command,
        )
        async with session.request():
            gone = asyncio.get_running_loop().create_future()
            watcher = asyncio.ensure_future(_watch_gone(request, gone))
            token = client_gone.set(gone)
            try:
                outcome = await session.life.decide(ask)
            except SessionEnded as exc:  # kubectl left while it was held: withdrawn
                log.info("kubernetes request withdrawn: %s", exc)
                return status(408, str(exc))
            finally:
                client_gone.reset(token)
                watcher.cancel()
            if not outcome.runs:
                if detail.verb == "connect":  # in the stream, or kubectl falls back to SPDY
                    return await kexec.refuse(request, refusal(outcome))
                return refusal(outcome)
            stats = MaskStats()
            mask = masker_over_nats(
                self.gw.nc, self.gw.settings.mask_timeout, self.gw.prefilter, stats
            )
            answered = Answered()
            started = time.perf_counter()
            try:
                if detail.verb == "connect":
                    return await kexec.relay(request, cluster, mask, answered)
                return await forward(
                    request, cluster, detail, body, content_type, mask, stats, answered
                )
            finally:
                failed = answered.code >= 400 or bool(answered.error)
                session.life.executed(
                    ask.command_id,
                    answered.rows,
                    int((time.perf_counter() - started) * 1e6),
                    str(answered.code) if failed else "",
                    answered.error,
                    stats,
                )


async def _watch_gone(request: web.Request, gone: asyncio.Future[None]) -> None:
    """Set `gone` once the request's client has closed its connection."""
    while not gone.done():
        transport = request.transport
        if transport is None or transport.is_closing():
            gone.set_result(None)
            return
        await asyncio.sleep(GONE_POLL)


def _too_large(size: int, limit: int) -> web.Response:
    return status(
        413,
        f"Proctor refuses request bodies over {limit} bytes (this one has {size}); nothing was "
        "run. The operator can raise PROCTOR_KUBE_MAX_BODY.",
    )


def _agent(user_agent: str) -> str:
    """`kubectl/v1.33.1 (linux/amd64) kubernetes/abc` -> `kubectl/v1.33.1`."""
    return user_agent.split(" ", 1)[0] or "unknown"


def _peer(request: web.Request) -> str:
    peer = request.transport.get_extra_info("peername") if request.transport else None
    return "{}:{}".format(*peer[:2]) if peer else "?"


REVIEW_WAIT = "review-wait"


def resource_segment(segment: str, ceiling: float) -> tuple[str, float | None]:
    """The resource a path's segment names, and how long a request under review may wait
    for its decision before kubectl is told it is pending, when the kubeconfig's server URL
    asks (`/kube/NAME;review-wait=45`, at most `ceiling`); None: as the policy says."""
    name, _, params = segment.partition(";")
    for param in params.split(";") if params else []:
        key, _, value = param.partition("=")
        if key == REVIEW_WAIT:
            try:
                return name, max(0.0, min(float(value), ceiling))
            except ValueError:
                return name, None
    return name, None


def tls_context(cert: Any, key: Any) -> ssl.SSLContext | None:
    if cert is None:
        return None
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    return ctx


async def serve(gw: Gateway, stop: asyncio.Event) -> None:
    """Serve kubectl until `stop` is set."""
    kube = KubeGateway(gw)
    runner = web.AppRunner(kube.app(), access_log=None, handle_signals=False)
    await runner.setup()
    host, port = listen_address(gw.settings.kube_listen)
    context = tls_context(gw.settings.tls_cert, gw.settings.tls_key)
    if context is None and not is_loopback(f"{host}:{port}"):
        await runner.cleanup()
        raise ConfigError(
            f"the Kubernetes listener on {gw.settings.kube_listen} needs TLS (PROCTOR_TLS_CERT "
            "and PROCTOR_TLS_KEY): kubectl sends its token with every request"
        )
    site = web.TCPSite(
        runner,
        host,
        port,
        ssl_context=context,
        reuse_port=True,
        backlog=1024,
    )
    await site.start()
    kube.sessions.start()
    log.info("ingress-proxy listening for Kubernetes clients on %s:%d", host, port)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
        await kube.sessions.close_all("gateway shutdown")
        for cluster in kube.clusters.values():
            with contextlib.suppress(Exception):
                await cluster.close()
