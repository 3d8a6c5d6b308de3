"""Upstream MCP servers' tools, governed: listed to the agent as `<resource>.<tool>` (those the
policy blocks whatever their arguments are left out), and each call put through the command
lifecycle like any other command: classified on the tool, its hints and its arguments; held
for review when the policy says so or when the tool's definition changed since the gateway
first saw it; recorded with its arguments masked; its result masked leaf by leaf."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

import jsonschema
import mcp_types as types
from mcp.shared.exceptions import MCPError

from proctor.classifier.v1 import classifier_pb2 as cpb
from proctor.errors import BusError, MaskUnavailable, UpstreamError
from proctor.events import codec
from proctor.events.v1 import events_pb2 as pb
from proctor.gateway import IdentityConfig
from proctor_ingress.emitter import SessionEvents
from proctor_ingress.gateway import Gateway
from proctor_ingress.kube.maskcall import masker_over_nats
from proctor_ingress.lifecycle import Ask, Lifecycle, binding_of
from proctor_ingress.masking import MaskStats
from proctor_ingress.mcp.leaves import mask_arguments, mask_result
from proctor_ingress.mcp.render import outcome_result, refusal
from proctor_ingress.mcp.upstream import Upstreams, UpstreamTool
from proctor_ingress.outcomes import Kind

log = logging.getLogger("proctor.ingress.mcp")

LIST_TIMEOUT = 10.0  # seconds an upstream has to list its tools for one tools/list


def canonical(arguments: dict[str, Any]) -> str:
    return json.dumps(arguments, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def detail_of(found: UpstreamTool, arguments: str) -> pb.CommandDetail:
    hints = found.tool.annotations
    return pb.CommandDetail(
        mcp=pb.McpDetail(
            server=found.resource,
            tool=found.tool.name,
            arguments=arguments,
            read_only=bool(hints is not None and hints.read_only_hint),
            destructive=bool(hints is not None and hints.destructive_hint),
            definition_sha256=found.fingerprint,
            definition_changed=found.changed,
        )
    )


class Proxy:
    def __init__(self, gw: Gateway, upstreams: Upstreams, patience: float) -> None:
        self.gw = gw
        self.upstreams = upstreams
        self.patience = patience

    def owns(self, name: str) -> bool:
        resource, dot, _ = name.partition(".")
        return bool(dot) and resource in self.gw.config.of_kind("mcp")

    async def tools(self, identity: IdentityConfig) -> list[types.Tool]:
        """Every upstream tool this identity may call with some arguments. An upstream that
        does not answer in LIST_TIMEOUT, or a tool the classifier cannot judge now, is left
        out of this listing (fail closed), not waited for."""
        who = pb.Identity(human=identity.name, groups=list(identity.groups))
        listings = await asyncio.gather(
            *(self._offered(who, r) for r in sorted(self.gw.config.of_kind("mcp")))
        )
        return [tool for listing in listings for tool in listing]

    async def _offered(self, who: pb.Identity, resource: str) -> list[types.Tool]:
        try:
            found = await asyncio.wait_for(self.upstreams.tools(resource), LIST_TIMEOUT)
        except (UpstreamError, BusError, TimeoutError) as exc:
            log.warning("upstream MCP server %s is not listed: %s", resource, exc or "timed out")
            return []
        verdicts = await asyncio.gather(
            *(self._listing_verdict(who, tool) for tool in found), return_exceptions=True
        )
        offered = []
        for tool, verdict in zip(found, verdicts, strict=True):
            if isinstance(verdict, BaseException) or verdict.action == pb.ACTION_BLOCK:
                continue  # blocked whatever its arguments, or not judged now: not offered
            offered.append(
                tool.tool.model_copy(
                    update={
                        "name": tool.name,
                        "description": f"[{resource}, through Proctor] "
                        + (tool.tool.description or ""),
                    }
                )
            )
        return offered

    async def _listing_verdict(self, who: pb.Identity, tool: UpstreamTool) -> Any:
        verdict, _ = await self.gw.verdicts.classify(
            f"{tool.name} {{}}",
            who,
            pb.Resource(name=tool.resource, kind=pb.RESOURCE_KIND_MCP),
            kind=cpb.COMMAND_KIND_MCP,
            detail=detail_of(tool, "{}"),
        )
        return verdict

    async def call(
        self,
        identity: IdentityConfig,
        who: pb.Identity,
        peer: str,
        name: str,
        arguments: dict[str, Any],
    ) -> types.CallToolResult:
        resource, _, tool_name = name.partition(".")
        try:
            found = await self.upstreams.tool(resource, tool_name)
        except BusError as exc:  # whether its definition changed cannot be told: fail closed
            return refusal(
                f"Proctor could not check the definition of {name} ({exc}). Nothing was run.",
                hint="Retry in a moment; if it persists, the gateway's NATS needs attention.",
                status="unavailable",
            )
        except UpstreamError as exc:
            return refusal(
                f"Proctor could not reach the MCP server {resource}: {exc}. Nothing was run.",
                hint="Retry in a moment; if it persists, tell the operator.",
                status="unavailable",
            )
        if found is None:
            raise MCPError(
                types.INVALID_PARAMS,
                f"{resource} has no tool {tool_name!r}; tools/list shows the tools you can call.",
            )
        try:
            jsonschema.validate(arguments, found.tool.input_schema)
        except jsonschema.ValidationError as exc:
            where = "/".join(str(p) for p in exc.absolute_path) or "arguments"
            raise MCPError(
                types.INVALID_PARAMS, f"invalid arguments for {name}: {where}: {exc.message}"
            ) from exc
        except jsonschema.SchemaError:
            pass  # the upstream's schema is its own business; the upstream judges
        stats = MaskStats()  # of the result
        mask = masker_over_nats(
            self.gw.nc, self.gw.settings.mask_timeout, self.gw.prefilter, MaskStats()
        )
        try:
            shown = await mask_arguments(arguments, mask)
        except MaskUnavailable as exc:
            return refusal(
                f"Proctor could not mask this call's arguments for the record ({exc}), so it "
                "did not run it.",
                hint="Retry in a moment; if it persists, the gateway's masker needs attention.",
                status="unavailable",
            )
        raw = canonical(arguments)
        text = f"{name} {canonical(shown)}"
        if found.changed:
            text += (
                f"\n(the definition of {name} changed since Proctor first saw it; it is now: "
                f"{found.tool.description or '(no description)'} / input schema "
                f"{canonical(dict(found.tool.input_schema))})"
            )
        session = await McpSession.open(self.gw, identity, who, resource, peer)
        life = session.life
        life.patience = self.patience
        material = detail_of(found, raw).SerializeToString(deterministic=True)
        ask = Ask(
            codec.new_hex_id(),
            text,
            lambda: binding_of(material, who.human.encode(), resource.encode()),
            kind=cpb.COMMAND_KIND_MCP,
            detail=detail_of(found, canonical(shown)),
            judged_detail=detail_of(found, raw),
        )
        try:
            outcome = await life.decide(ask)
            if not outcome.runs:
                return outcome_result(outcome)
            return await self._run(life, ask.command_id, found, arguments, stats)
        finally:
            await session.close()

    async def _run(
        self,
        life: Lifecycle,
        command_id: str,
        found: UpstreamTool,
        arguments: dict[str, Any],
        stats: MaskStats,
    ) -> types.CallToolResult:
        started = time.monotonic()
        try:
            result = await self.upstreams.call(found.resource, found.tool.name, arguments)
        except UpstreamError as exc:
            life.executed(command_id, 0, _since(started), "upstream", str(exc))
            await life.events.flush()
            return refusal(
                f"The MCP server {found.resource} failed during the call: {exc}. It may or may "
                "not have acted.",
                hint="Check its state with a read tool before trying again.",
                status="error",
            )
        if found.changed:  # a human approved a call of the new definition: it is the one now
            await self.upstreams.accept(found.resource, found.tool.name, found.fingerprint)
        mask = masker_over_nats(self.gw.nc, self.gw.settings.mask_timeout, self.gw.prefilter, stats)
        try:
            masked = await mask_result(result, mask)
        except MaskUnavailable as exc:
            life.executed(command_id, 0, _since(started), "mask", str(exc))
            await life.events.flush()
            return refusal(
                f"The call ran, but Proctor could not mask its result ({exc}), so the result "
                "is withheld.",
                hint="Retry a read in a moment; if it persists, the masker needs attention.",
                status=Kind.UNAVAILABLE.value,
            )
        life.executed(
            command_id,
            len(result.content),
            _since(started),
            "tool_error" if result.is_error else "",
            stats=stats,
        )
        await life.events.flush()
        return masked


def _since(started: float) -> int:
    return int((time.monotonic() - started) * 1_000_000)


class McpSession:
    """One upstream tool call's session (SessionOpened(protocol="mcp") ... SessionClosed)."""

    def __init__(self, events: SessionEvents, life: Lifecycle) -> None:
        self.events = events
        self.life = life

    @classmethod
    async def open(
        cls, gw: Gateway, identity: IdentityConfig, who: pb.Identity, resource: str, peer: str
    ) -> McpSession:
        where = pb.Resource(name=resource, kind=pb.RESOURCE_KIND_MCP)
        session_id = codec.new_hex_id() + codec.new_hex_id()[:8]
        events = SessionEvents(gw.nc, gw.js, gw.settings.stream_name, session_id, who, where)
        life = Lifecycle(gw, events, session_id, who, where, tuple(sorted(identity.groups)))
        await events.emit(
            session_opened=pb.SessionOpened(
                protocol="mcp", client_address=peer, client_name=who.agent
            )
        )
        await life.open()
        gw.sessions += 1
        return cls(events, life)

    async def close(self) -> None:
        self.life.gw.sessions -= 1
        await self.life.close()
        await self.events.emit(
            session_closed=pb.SessionClosed(reason="call ended", command_count=self.life.commands)
        )
