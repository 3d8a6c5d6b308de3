"""`proctor-ingress`: the ingress-proxy. It runs the listener of each protocol
PROCTOR_INGRESS_PROTOCOLS names (default: every protocol the gateway config has resources of),
all on one command lifecycle, so each protocol can also run and scale as its own replicas."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Awaitable, Callable

from proctor import bus
from proctor.errors import ConfigError
from proctor.gateway import GatewayConfig, load_gateway_config
from proctor.runtime import run_service
from proctor.settings import Settings
from proctor_ingress.catalog import Catalogs
from proctor_ingress.gateway import Gateway
from proctor_ingress.masking import probe_masker
from proctor_ingress.outbox import Outbox
from proctor_ingress.postgres import server as pg_server
from proctor_ingress.trust import DecisionCheck
from proctor_ingress.verdicts import VerdictCache, Verdicts
from proctor_ingress.workers import is_worker, serve_cancels, with_workers


async def _serve_kubernetes(gw: Gateway, stop: asyncio.Event) -> None:
    from proctor_ingress.kube import server as kube_server

    await kube_server.serve(gw, stop)


async def _serve_ssh(gw: Gateway, stop: asyncio.Event) -> None:
    from proctor_ingress.ssh import server as ssh_server

    await ssh_server.serve(gw, stop)


async def _serve_grpc(gw: Gateway, stop: asyncio.Event) -> None:
    from proctor_ingress.grpcapi import server as grpc_server

    await grpc_server.serve(gw, stop)


async def _serve_mcp(gw: Gateway, stop: asyncio.Event) -> None:
    from proctor_ingress.mcp import server as mcp_server

    await mcp_server.serve(gw, stop)


# Each protocol's listener, by the name PROCTOR_INGRESS_PROTOCOLS and resource kinds use.
LISTENERS: dict[str, Callable[[Gateway, asyncio.Event], Awaitable[None]]] = {
    "postgres": pg_server.serve,
    "kubernetes": _serve_kubernetes,
    "ssh": _serve_ssh,
    "grpc": _serve_grpc,
    "mcp": _serve_mcp,
}
# The resource kind a listener serves, where it is not its own name (`proctor exec` reaches
# host resources over gRPC).
SERVES = {"grpc": "ssh"}


def protocols(settings: Settings, config: GatewayConfig) -> list[str]:
    """The protocols this replica serves."""
    if not settings.ingress_protocols.strip():
        configured = [p for p in LISTENERS if p != "mcp" and config.of_kind(SERVES.get(p, p))]
        # MCP reaches every kind of resource (and upstream MCP servers): it always runs.
        return [*(configured or ["postgres"]), "mcp"]
    chosen = [p.strip() for p in settings.ingress_protocols.split(",") if p.strip()]
    unknown = [p for p in chosen if p not in LISTENERS]
    if unknown:
        raise ConfigError(
            f"PROCTOR_INGRESS_PROTOCOLS names {', '.join(unknown)}; known: {', '.join(LISTENERS)}"
        )
    return chosen


async def run(settings: Settings) -> None:
    if settings.gateway_config is None:
        raise ConfigError(
            "PROCTOR_GATEWAY_CONFIG is not set: the proxy needs identities and resources"
        )
    config = load_gateway_config(settings.gateway_config)
    serving = protocols(settings, config)
    nc = await bus.connect_patiently(settings, "ingress-proxy")
    outbox = Outbox(
        settings.outbox_dir or settings.run_dir / "outbox",
        nc,
        settings.stream_name,
        max_bytes=settings.outbox_max_bytes,
        fsync_interval=settings.outbox_fsync_interval,
    )
    try:
        js = nc.jetstream(publish_async_max_pending=4000)
        await bus.ensure_stream(js, settings, update=False)
        await outbox.start()
        catalogs = Catalogs(
            {name: r.url for name, r in config.of_kind("postgres").items()}, settings.catalog_ttl
        )
        verdicts = Verdicts(
            nc, VerdictCache(settings.verdict_cache_size), settings.classify_timeout, catalogs
        )
        await verdicts.start()
        gw = Gateway(
            settings,
            config,
            nc,
            js,
            verdicts,
            ssl=pg_server.tls_context(settings),
            trust=DecisionCheck.from_settings(settings),
        )
        gw.prefilter.everything = settings.mask_all_text
        await serve_cancels(nc, gw.cancel)
        stop = asyncio.Event()
        probe = asyncio.create_task(probe_masker(nc, gw.prefilter, stop))
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        workers = 1 if is_worker() else settings.ingress_workers

        async def serve(stopped: asyncio.Event) -> None:
            await asyncio.gather(*(LISTENERS[p](gw, stopped) for p in serving))

        await with_workers(workers, serve, stop)
        probe.cancel()
        await catalogs.close()
    finally:
        if outbox.is_open:
            await outbox.close()
        await bus.close(nc)


def main() -> int:
    return run_service("proctor-ingress", run, fast_loop=True)


if __name__ == "__main__":
    sys.exit(main())
