"""`proctor-ingress`: the ingress-proxy (Postgres wire protocol)."""

from __future__ import annotations

import asyncio
import signal
import sys

from proctor import bus
from proctor.errors import ConfigError
from proctor.gateway import load_gateway_config
from proctor.runtime import run_service
from proctor.settings import Settings
from proctor_ingress.catalog import Catalogs
from proctor_ingress.masking import probe_masker
from proctor_ingress.outbox import Outbox
from proctor_ingress.server import serve, tls_context
from proctor_ingress.session import Gateway
from proctor_ingress.trust import DecisionCheck
from proctor_ingress.verdicts import VerdictCache, Verdicts
from proctor_ingress.workers import is_worker, serve_cancels, with_workers


async def run(settings: Settings) -> None:
    if settings.gateway_config is None:
        raise ConfigError(
            "PROCTOR_GATEWAY_CONFIG is not set: the proxy needs identities and resources"
        )
    config = load_gateway_config(settings.gateway_config)
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
            {name: r.url for name, r in config.resources.items()}, settings.catalog_ttl
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
            ssl=tls_context(settings),
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
        await with_workers(workers, lambda stopped: serve(gw, stopped), stop)
        probe.cancel()
        await catalogs.close()
    finally:
        if outbox.is_open:
            await outbox.close()
        await nc.close()


def main() -> int:
    return run_service("proctor-ingress", run, fast_loop=True)


if __name__ == "__main__":
    sys.exit(main())
