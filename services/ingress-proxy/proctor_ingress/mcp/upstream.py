"""The gateway's connections to upstream MCP servers (`kind: mcp` resources): their tools,
each with its definition's fingerprint and whether it changed since it was accepted, and
calls of them that never hang and never crash the caller.

One SDK `Client` per resource per process, opened on first use (over streamable HTTP with the
gateway's own headers, or by running the resource's command over stdio), opened again on the
next use after the upstream died, closed by `close`. Each Client lives in a task of its own:
the SDK's task groups must be left by the task that entered them, and the caller that
happened to open one may be long gone when it closes.

What an upstream server asks of the client (sampling, elicitation, roots) is refused: the
agent is not the upstream's user, and the approver is not either.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import mcp_types as types
from mcp import Client
from mcp.client.session import ClientRequestContext, IncomingMessage
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.exceptions import MCPError

from proctor import __version__
from proctor.errors import ConfigError, UpstreamError, UpstreamLost
from proctor.gateway import McpResource
from proctor_ingress.mcp.definitions import ToolDefinitions, fingerprint

__all__ = ["UpstreamError", "UpstreamLost", "UpstreamTool", "Upstreams"]

log = logging.getLogger("proctor.ingress")

# Seconds a listing is recent enough to call a tool by it: none, so a definition that changed
# is seen by the very next call (one tools/list round trip to the upstream per call).
FRESH = 0.0
LIST_PAGES = 100  # tools/list pages at most: a paginator that never ends cannot hang a listing
CLOSE_WAIT = 5.0  # seconds a closing connection may take before its task is cancelled
# Seconds opening a connection may take at least (a stdio server's interpreter starting, npx
# fetching its package); a resource's longer call timeout applies to it too.
OPEN_WAIT = 20.0


@dataclass(frozen=True)
class UpstreamTool:
    """A tool of an upstream server as the gateway lists it: `changed` when its definition's
    fingerprint is not the accepted one (see definitions.py)."""

    resource: str
    tool: types.Tool
    fingerprint: str
    changed: bool

    @property
    def name(self) -> str:
        """The name agents call it by: `<resource>.<tool>`."""
        return f"{self.resource}.{self.tool.name}"


@dataclass
class _Link:
    """One open Client and the task that holds it open."""

    client: Client | None = None
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    broken: bool = False  # the transport closed under a request: open a new one next time

    @property
    def alive(self) -> bool:
        return not self.broken and self.task is not None and not self.task.done()

    async def close(self) -> None:
        self.stop.set()
        if self.task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(self.task), CLOSE_WAIT)
        except TimeoutError:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task


class Upstreams:
    """The upstream MCP servers of the gateway config, by resource name."""

    def __init__(
        self,
        resources: Mapping[str, McpResource],
        definitions: ToolDefinitions,
        environ: Mapping[str, str] | None = None,
        fresh: float = FRESH,
    ) -> None:
        self.resources = dict(resources)
        self.definitions = definitions
        self.environ = os.environ if environ is None else environ
        self.fresh = fresh
        self._links: dict[str, _Link] = {}
        self._opening: dict[str, asyncio.Lock] = {}
        self._listing: dict[str, asyncio.Lock] = {}
        self._listed: dict[str, tuple[float, dict[str, UpstreamTool]]] = {}
        self._refusals_logged: set[tuple[str, str]] = set()

    # -- the interface -------------------------------------------------------------------

    async def tools(self, resource: str) -> list[UpstreamTool]:
        """The upstream's tools (every page of tools/list), fingerprinted and judged against
        the accepted definitions. UpstreamError when it cannot be listed; BusError when the
        accepted definitions cannot be read."""
        async with self._listing.setdefault(resource, asyncio.Lock()):
            return await self._list(resource)

    async def tool(self, resource: str, name: str) -> UpstreamTool | None:
        """One tool's definition, listed again unless a listing is under `fresh` seconds old
        (so a definition changed since is seen before the tool is called); None when the
        upstream has no such tool."""
        loop = asyncio.get_running_loop()
        async with self._listing.setdefault(resource, asyncio.Lock()):
            listed = self._listed.get(resource)
            if listed is None or loop.time() - listed[0] > self.fresh:
                await self._list(resource)
                listed = self._listed[resource]
        return listed[1].get(name)

    async def call(
        self, resource: str, name: str, arguments: dict[str, Any]
    ) -> types.CallToolResult:
        """The upstream's result for a call of its tool `name`, unmasked. An error the
        upstream answers (a JSON-RPC error included) is a result with `is_error`, its words the
        upstream's, to be masked like any result. UpstreamError when the call could not be
        sent; UpstreamLost when it was sent and the upstream died, or did not answer within
        the resource's timeout, or answered something that is not a tool result."""
        config = self._config(resource)
        link = await self._link(resource)
        assert link.client is not None
        try:
            async with asyncio.timeout(config.timeout):
                return await link.client.call_tool(name, arguments)
        except TimeoutError:
            raise UpstreamLost(
                f"{resource}.{name} did not answer within {config.timeout:g} s; it may still "
                f"be running on {resource}. Check its effect (for example with a read-only "
                "tool) before calling it again."
            ) from None
        except MCPError as exc:
            if exc.code != types.CONNECTION_CLOSED and link.alive:
                return types.CallToolResult(
                    content=[types.TextContent(text=_failed(resource, name, exc))], is_error=True
                )
            await self._drop(resource, link)
            raise UpstreamLost(_died(resource, name)) from exc
        except Exception as exc:
            # A result that is not one (pydantic's ValidationError, an output that breaks the
            # tool's own output schema), or the transport failing under the call.
            if not link.alive:
                await self._drop(resource, link)
                raise UpstreamLost(_died(resource, name)) from exc
            log.warning("MCP upstream %s: call of %s failed: %r", resource, name, exc)
            raise UpstreamLost(
                f"{resource}.{name} answered something that is not an MCP tool result "
                f"({type(exc).__name__}); it may have run. Tell the gateway's operator if "
                "this persists."
            ) from exc

    async def accept(self, resource: str, name: str, fingerprint: str) -> None:
        """Record `fingerprint` as the accepted definition of the tool (a human approved a call
        of it as it is now): it is no longer `changed`, in every replica, after restarts."""
        await self.definitions.accept(resource, name, fingerprint)
        self._listed.pop(resource, None)

    async def close(self) -> None:
        """Close every open connection (stdio servers are stopped)."""
        links, self._links = list(self._links.values()), {}
        await asyncio.gather(*(link.close() for link in links), return_exceptions=True)

    # -- listing -------------------------------------------------------------------------

    async def _list(self, resource: str) -> list[UpstreamTool]:
        listed = await self._listed_tools(resource)
        judged = await asyncio.gather(*(self._judge(resource, tool) for tool in listed))
        loop = asyncio.get_running_loop()
        self._listed[resource] = (loop.time(), {t.tool.name: t for t in judged})
        return list(judged)

    async def _judge(self, resource: str, tool: types.Tool) -> UpstreamTool:
        seen = fingerprint(tool)
        accepted = await self.definitions.first_seen(resource, tool.name, seen)
        return UpstreamTool(resource, tool, seen, changed=seen != accepted)

    async def _listed_tools(self, resource: str) -> list[types.Tool]:
        """Every page of tools/list. Listing is harmless to repeat, so a failure on an open
        connection (the upstream restarted, its session expired) is retried once on a new
        one."""
        config = self._config(resource)
        for attempt in (1, 2):
            link = await self._link(resource)
            assert link.client is not None
            try:
                async with asyncio.timeout(config.timeout):
                    return await _pages(link.client)
            except TimeoutError:
                raise UpstreamError(
                    f"{resource} did not list its tools within {config.timeout:g} s"
                ) from None
            except UpstreamError:
                raise
            except Exception as exc:
                await self._drop(resource, link)
                if attempt == 2:
                    log.warning("MCP upstream %s: tools/list failed: %r", resource, exc)
                    raise UpstreamError(
                        f"{resource} did not list its tools ({_kind_of(exc)}); tell the "
                        "gateway's operator if this persists"
                    ) from exc
        raise AssertionError("unreachable")

    # -- connections ---------------------------------------------------------------------

    def _config(self, resource: str) -> McpResource:
        config = self.resources.get(resource)
        if config is None:
            known = ", ".join(sorted(self.resources)) or "none"
            raise UpstreamError(f"no MCP server named {resource} (the gateway has: {known})")
        return config

    async def _link(self, resource: str) -> _Link:
        config = self._config(resource)
        link = self._links.get(resource)
        if link is not None and link.alive:
            return link
        async with self._opening.setdefault(resource, asyncio.Lock()):
            link = self._links.get(resource)
            if link is not None and link.alive:
                return link
            if link is not None:
                await self._drop(resource, link)
            link = await self._open(resource, config)
            self._links[resource] = link
            return link

    async def _drop(self, resource: str, link: _Link) -> None:
        link.broken = True
        if self._links.get(resource) is link:
            del self._links[resource]
        self._listed.pop(resource, None)
        await link.close()

    async def _open(self, resource: str, config: McpResource) -> _Link:
        try:
            client = self._client(resource, config)
        except ConfigError as exc:
            raise UpstreamError(f"the gateway cannot reach {resource}: {exc}") from None
        link = _Link()
        ready: asyncio.Future[Client] = asyncio.get_running_loop().create_future()
        link.task = asyncio.create_task(self._hold(resource, link, client, ready))
        wait = max(config.timeout, OPEN_WAIT)
        try:
            link.client = await asyncio.wait_for(asyncio.shield(ready), wait)
        except TimeoutError:
            await link.close()
            raise UpstreamError(
                f"{resource} did not answer the MCP handshake within {wait:g} s; nothing was "
                "sent to it. Try again later, or tell the gateway's operator if this persists."
            ) from None
        except Exception as exc:
            await link.close()
            log.warning("MCP upstream %s cannot be reached: %r", resource, exc)
            raise UpstreamError(
                f"the gateway cannot reach {resource} ({_kind_of(exc)}); nothing was sent to "
                "it. Try again later, or tell the gateway's operator if this persists."
            ) from exc
        log.info("MCP upstream %s connected (protocol %s)", resource, client.protocol_version)
        return link

    async def _hold(
        self, resource: str, link: _Link, client: Client, ready: asyncio.Future[Client]
    ) -> None:
        """Open `client`, hand it over, and keep it open until the link stops or the
        transport fails."""
        try:
            async with client:
                ready.set_result(client)
                await link.stop.wait()
        except Exception as exc:
            if not ready.done():
                ready.set_exception(exc)
            else:
                log.warning("MCP upstream %s: connection ended: %r", resource, exc)
        finally:
            link.broken = True
            if not ready.done():
                ready.cancel()

    def _client(self, resource: str, config: McpResource) -> Client:
        if config.url is not None:
            http = create_mcp_http_client(headers=config.http_headers(self.environ))
            # The transport does not close a client it was given: the link's task does.
            server: Any = _closing(streamable_http_client(config.url, http_client=http), http)
        else:
            assert config.command is not None
            server = StdioServerParameters(
                command=config.command[0],
                args=list(config.command[1:]),
                env=config.process_env(self.environ),
                cwd=config.cwd,
            )

        async def sampling(
            context: ClientRequestContext, params: types.CreateMessageRequestParams
        ) -> types.ErrorData:
            return self._refuse(resource, "sampling (an LLM completion)")

        async def elicitation(
            context: ClientRequestContext, params: types.ElicitRequestParams
        ) -> types.ErrorData:
            return self._refuse(resource, "elicitation (a question to the user)")

        async def roots(context: ClientRequestContext) -> types.ErrorData:
            return self._refuse(resource, "roots/list (the client's directories)")

        async def on_message(message: IncomingMessage) -> None:
            if isinstance(message, types.ToolListChangedNotification):
                self._listed.pop(resource, None)  # list again before the next call

        return Client(
            server,
            mode="auto",
            cache=None,  # every listing reaches the upstream: a changed tool must be seen
            client_info=types.Implementation(name="proctor", version=__version__),
            sampling_callback=sampling,
            elicitation_callback=elicitation,
            list_roots_callback=roots,
            message_handler=on_message,
        )

    def _refuse(self, resource: str, what: str) -> types.ErrorData:
        if (resource, what) not in self._refusals_logged:
            self._refusals_logged.add((resource, what))
            log.warning(
                "MCP upstream %s asked for %s; Proctor refuses what upstream servers ask of "
                "their client (logged once per resource and kind of request)",
                resource,
                what,
            )
        return types.ErrorData(
            code=types.INVALID_REQUEST,
            message=(
                f"Proctor does not relay {what} from upstream MCP servers to the agent or its "
                "user; this tool cannot run through the Proctor gateway."
            ),
        )


@contextlib.asynccontextmanager
async def _closing(transport: Any, http: Any) -> Any:
    async with http, transport as streams:
        yield streams


async def _pages(client: Client) -> list[types.Tool]:
    tools: list[types.Tool] = []
    cursor: str | None = None
    for _ in range(LIST_PAGES):
        page = await client.list_tools(cursor=cursor)
        tools.extend(page.tools)
        cursor = page.next_cursor
        if not cursor:
            return tools
    raise UpstreamError(f"tools/list did not end after {LIST_PAGES} pages")


def _failed(resource: str, name: str, exc: MCPError) -> str:
    return f"{resource}.{name} failed: {exc.message} (MCP error {exc.code})"


def _died(resource: str, name: str) -> str:
    return (
        f"{resource} went away while running {resource}.{name}; the call may have run. The "
        "gateway reconnects on the next call: check the tool's effect before calling it again."
    )


def _kind_of(exc: BaseException) -> str:
    """What went wrong, without the exception's words: they can carry the upstream's URL
    (with a token in its query) or its answer's text."""
    if isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        return _kind_of(exc.exceptions[0])
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return type(exc).__name__
