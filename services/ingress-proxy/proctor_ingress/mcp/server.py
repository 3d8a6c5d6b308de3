"""The MCP listener: streamable HTTP at `/mcp` (the `mcp` SDK; clients with or without the
`initialize` handshake), agents authenticated by `Authorization: Bearer IDENTITY:TOKEN`.
Proctor's own tools (tools.py) reach every resource kind through that kind's own path;
upstream MCP servers' tools appear as `<resource>.<tool>` (proxy.py). TLS with
PROCTOR_TLS_CERT/KEY off loopback; plain HTTP only on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import jsonschema
import mcp_types as types
import uvicorn
from mcp.server.lowlevel import Server
from mcp.shared.exceptions import MCPError

from proctor.errors import ConfigError, UpstreamError
from proctor.events.v1 import events_pb2 as pb
from proctor.gateway import IdentityConfig
from proctor_ingress.gateway import Gateway
from proctor_ingress.mcp import approvalwait, kubectl, tools
from proctor_ingress.mcp.definitions import ToolDefinitions
from proctor_ingress.mcp.proxy import Proxy
from proctor_ingress.mcp.query import Queries
from proctor_ingress.mcp.render import page_result, refusal, text_result
from proctor_ingress.mcp.shellexec import run_exec
from proctor_ingress.mcp.upstream import Upstreams
from proctor_ingress.postgres.authentication import is_loopback
from proctor_ingress.shell.hosts import Hosts

log = logging.getLogger("proctor.ingress.mcp")

PATH = "/mcp"
SCOPE_KEY = "proctor.identity"
HEARTBEAT_SECONDS = 10.0
INSTRUCTIONS = (
    "Proctor is the gateway to production infrastructure. Call list_resources to see what "
    "you can reach; use query for databases, kubectl for clusters, exec for hosts, and "
    "<resource>.<tool> for other MCP servers. Reads are masked; writes wait for a human; "
    "destructive commands are refused with the rule and the next step."
)
KIND_HELP = {
    "postgres": "PostgreSQL database: use query",
    "kubernetes": "Kubernetes cluster: use kubectl",
    "ssh": "host: use exec",
    "mcp": "MCP server: its tools are listed as <resource>.<tool>",
}

Call = Callable[..., Awaitable[types.CallToolResult]]


def _host_port(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    return (host.strip("[]") or "0.0.0.0"), int(port)


def _reachable(listen: str) -> tuple[str, int]:
    host, port = _host_port(listen)
    return ("127.0.0.1" if host in ("0.0.0.0", "::") else host), port


class Unauthenticated(Exception):
    pass


class BearerAuth:
    """ASGI middleware: every request names its Proctor identity, or gets a JSON-RPC error."""

    def __init__(self, app: Any, gw: Gateway) -> None:
        self.app = app
        self.gw = gw

    def _identity(self, scope: dict[str, Any]) -> tuple[IdentityConfig, str] | None:
        headers = dict(scope.get("headers") or [])
        scheme, _, credential = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
        if scheme.lower() != "bearer" or ":" not in credential:
            return None
        name, _, token = credential.strip().rpartition(":")
        identity = self.gw.config.authenticate(name, token)
        return None if identity is None else (identity, token)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        found = self._identity(scope)
        if found is None:
            body = json.dumps(
                {
                    "jsonrpc": "2.0",
                    "id": None,
                    "error": {
                        "code": -32001,
                        "message": "Proctor did not accept these credentials: send the header "
                        "`Authorization: Bearer IDENTITY:TOKEN` with your Proctor identity "
                        "and its token.",
                    },
                }
            ).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 401,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"www-authenticate", b'Bearer realm="proctor"'),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        scope[SCOPE_KEY] = found
        await self.app(scope, receive, send)


def _client_name(ctx: Any) -> str:
    meta = ctx.meta if isinstance(ctx.meta, dict) else {}
    info = meta.get("io.modelcontextprotocol/clientInfo")
    if isinstance(info, dict) and info.get("name"):
        return str(info["name"])
    with contextlib.suppress(Exception):
        params = ctx.session.client_params
        if params is not None and params.client_info.name:
            return str(params.client_info.name)
    return "mcp-client"


@contextlib.asynccontextmanager
async def heartbeat(ctx: Any) -> AsyncIterator[Callable[[float, str], Awaitable[None]]]:
    """Progress notifications while a call works, so the client does not drop it."""
    loop = asyncio.get_running_loop()
    start = loop.time()

    async def report(_: float, message: str) -> None:
        with contextlib.suppress(Exception):
            await ctx.session.report_progress(loop.time() - start, None, message)

    async def beat() -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            await report(0, "Proctor: still working (a command under review waits for a human)")

    task = asyncio.create_task(beat())
    try:
        yield report
    finally:
        task.cancel()


class McpGateway:
    def __init__(self, gw: Gateway) -> None:
        self.gw = gw
        settings = gw.settings
        self.patience = min(settings.mcp_review_wait, settings.approval_timeout)
        host, port = _reachable(settings.mcp_postgres or settings.pg_listen)
        self.queries = Queries(host, port, self.patience, kubectl.gateway_ca_file(settings))
        self.hosts = Hosts(gw.config.of_kind("ssh"))
        self.kubectl = kubectl.kubectl_binary(settings.mcp_kubectl)
        self.upstreams = Upstreams(
            gw.config.of_kind("mcp"), ToolDefinitions(gw.js, settings.stream_replicas)
        )
        self.proxy = Proxy(gw, self.upstreams, self.patience)
        self.server: Server[Any] = Server(
            "proctor",
            version="1",
            instructions=INSTRUCTIONS,
            on_list_tools=self.list_tools,
            on_call_tool=self.call_tool,
        )
        self.own: dict[str, Call] = {
            "list_resources": self._list_resources,
            "query": self._query,
            "kubectl": self._kubectl,
            "exec": self._exec,
            "approval_status": self._approval_status,
            "approval_wait": self._approval_wait,
        }

    def app(self) -> Any:
        host, _ = _host_port(self.gw.settings.mcp_listen)
        inner = self.server.streamable_http_app(streamable_http_path=PATH, host=host)
        return BearerAuth(inner, self.gw)

    async def close(self) -> None:
        await self.upstreams.close()
        await self.queries.close()
        await self.hosts.close()

    # ---- MCP requests -----------------------------------------------------------------------

    async def list_tools(self, ctx: Any, params: Any) -> types.ListToolsResult:
        identity, _ = ctx.request.scope[SCOPE_KEY]
        upstream = await self.proxy.tools(identity)
        return types.ListToolsResult(tools=[*tools.OWN_TOOLS.values(), *upstream])

    async def call_tool(
        self, ctx: Any, params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        identity, token = ctx.request.scope[SCOPE_KEY]
        arguments = dict(params.arguments or {})
        who = pb.Identity(
            human=identity.name, agent=_client_name(ctx), groups=list(identity.groups)
        )
        if params.name not in self.own and self.proxy.owns(params.name):
            async with heartbeat(ctx):
                return await self.proxy.call(identity, who, _peer(ctx), params.name, arguments)
        handler = self.own.get(params.name)
        if handler is None:
            raise MCPError(
                types.INVALID_PARAMS,
                f"Proctor has no tool {params.name!r}; tools/list shows the tools you can call.",
            )
        definition = tools.OWN_TOOLS[params.name]
        try:
            jsonschema.validate(arguments, definition.input_schema)
        except jsonschema.ValidationError as exc:
            where = "/".join(str(p) for p in exc.absolute_path) or "arguments"
            raise MCPError(
                types.INVALID_PARAMS,
                f"invalid arguments for {params.name}: {where}: {exc.message}",
            ) from exc
        async with heartbeat(ctx) as progress:
            return await handler(
                identity=identity,
                token=token,
                who=who,
                peer=_peer(ctx),
                arguments=arguments,
                progress=progress,
            )

    # ---- Proctor's own tools -----------------------------------------------------------------

    def _resource(self, name: str, kind: str) -> types.CallToolResult | None:
        resource = self.gw.config.resources.get(name)
        if resource is not None and resource.kind == kind:
            return None
        of_kind = ", ".join(sorted(self.gw.config.of_kind(kind))) or "none"
        return refusal(
            f"{name!r} is not a {kind} resource of this gateway. Nothing was run.",
            hint=f"{kind} resources: {of_kind}. list_resources shows every resource.",
            status="error",
        )

    async def _list_resources(self, **_: Any) -> types.CallToolResult:
        rows = []
        for name, resource in sorted(self.gw.config.resources.items()):
            about = resource.description or KIND_HELP.get(resource.kind, resource.kind)
            rows.append({"name": name, "kind": resource.kind, "description": about})
        text = "\n".join(f"{r['name']} ({r['kind']}): {r['description']}" for r in rows)
        return text_result(text or "No resources are configured.", {"resources": rows})

    async def _query(
        self, identity: IdentityConfig, token: str, who: pb.Identity, arguments: dict[str, Any],
        **_: Any,
    ) -> types.CallToolResult:  # fmt: skip
        resource = arguments["resource"]
        wrong = self._resource(resource, "postgres")
        if wrong is not None:
            return wrong
        limit = int(arguments.get("max_rows") or tools.DEFAULT_ROWS)
        try:
            if "cursor" in arguments:
                page = await self.queries.more(identity.name, arguments["cursor"], limit)
                if page is None:
                    return refusal(
                        f"There is no open cursor {arguments['cursor']!r} of yours: it was "
                        "read to its end, expired after 5 idle minutes, or was never given.",
                        hint="Run the query again.",
                        status="error",
                    )
            else:
                page = await self.queries.run(
                    identity.name, token, resource, f"mcp:{who.agent}", arguments["sql"], limit
                )
        except (UpstreamError, OSError, ConnectionError) as exc:
            fields = getattr(exc, "fields", {}) or {}
            return refusal(
                f"Proctor could not run the query on {resource}: {fields.get('M') or exc}. "
                "Nothing was run.",
                hint=fields.get("H", "Retry in a moment; if it persists, tell the operator."),
                status="unavailable",
            )
        return page_result(page, resource, limit)

    async def _kubectl(
        self, identity: IdentityConfig, token: str, arguments: dict[str, Any], **_: Any
    ) -> types.CallToolResult:
        resource = arguments["resource"]
        wrong = self._resource(resource, "kubernetes")
        if wrong is not None:
            return wrong
        return await kubectl.run_kubectl(
            self.gw.settings,
            self.kubectl,
            identity.name,
            token,
            resource,
            list(arguments["args"]),
            arguments.get("stdin"),
            self.patience,
            self.patience + 60.0,
        )

    async def _exec(
        self, identity: IdentityConfig, who: pb.Identity, peer: str, arguments: dict[str, Any],
        **_: Any,
    ) -> types.CallToolResult:  # fmt: skip
        resource = arguments["resource"]
        wrong = self._resource(resource, "ssh")
        if wrong is not None:
            return wrong
        return await run_exec(
            self.gw,
            self.hosts,
            identity,
            who.agent,
            peer,
            resource,
            arguments["command"],
            self.patience,
        )

    async def _approval_status(
        self, who: pb.Identity, arguments: dict[str, Any], **_: Any
    ) -> types.CallToolResult:
        return await approvalwait.check(self.gw, arguments["id"], who)

    async def _approval_wait(
        self, who: pb.Identity, arguments: dict[str, Any], progress: Any, **_: Any
    ) -> types.CallToolResult:
        timeout = float(arguments.get("timeout_s") or tools.MAX_WAIT)
        return await approvalwait.wait(self.gw, arguments["id"], who, timeout, progress)


def _peer(ctx: Any) -> str:
    client = getattr(ctx.request, "client", None)
    return f"{client.host}:{client.port}" if client else "?"


async def serve(gw: Gateway, stop: asyncio.Event) -> None:
    """Serve MCP clients until `stop` is set."""
    settings = gw.settings
    host, port = _host_port(settings.mcp_listen)
    tls = settings.tls_cert is not None and settings.tls_key is not None
    loopback = is_loopback(f"{host}:{port}")
    if not tls and not loopback:
        raise ConfigError(
            f"the MCP listener on {settings.mcp_listen} needs TLS (PROCTOR_TLS_CERT and "
            "PROCTOR_TLS_KEY): agents send their token with every request"
        )
    mcp_gateway = McpGateway(gw)
    use_tls = tls and not loopback
    config = uvicorn.Config(
        mcp_gateway.app(),
        host=host,
        port=port,
        log_level="warning",
        lifespan="on",
        ssl_certfile=str(settings.tls_cert) if use_tls else None,
        ssl_keyfile=str(settings.tls_key) if use_tls else None,
        timeout_graceful_shutdown=2,
        limit_concurrency=settings.mcp_max_connections,  # beyond it: 503, nothing held
    )
    server = uvicorn.Server(config)
    # Every worker process of the ingress listens on the same port, as the other listeners do.
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    log.info("ingress-proxy serving MCP on %s://%s:%d%s", "https" if use_tls else "http",
             host, port, PATH)  # fmt: skip
    try:
        await asyncio.wait(
            {task, asyncio.ensure_future(stop.wait())}, return_when=asyncio.FIRST_COMPLETED
        )
        if task.done():
            task.result()  # the server could not start: say why
    finally:
        server.should_exit = True
        with contextlib.suppress(Exception):
            await task
        await mcp_gateway.close()
