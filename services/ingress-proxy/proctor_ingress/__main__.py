"""`proctor-ingress`: the ingress-proxy (Postgres wire protocol)."""

from __future__ import annotations

import asyncio
import signal
import sys

from proctor import bus
from proctor.errors import ConfigError, ProctorError
from proctor.gateway import load_gateway_config
from proctor.settings import Settings, load_settings
from proctor.telemetry import setup_logging
from proctor_ingress.server import serve, tls_context
from proctor_ingress.session import Gateway
from proctor_ingress.verdicts import VerdictCache, Verdicts


async def run(settings: Settings) -> None:
    if settings.gateway_config is None:
        raise ConfigError(
            "PROCTOR_GATEWAY_CONFIG is not set: the proxy needs identities and resources"
        )
    config = load_gateway_config(settings.gateway_config)
    nc = await bus.connect(settings, "ingress-proxy")
    try:
        js = nc.jetstream(publish_async_max_pending=4000)
        await bus.ensure_stream(js, settings)
        verdicts = Verdicts(
            nc, VerdictCache(settings.verdict_cache_size), settings.classify_timeout
        )
        await verdicts.start()
        gw = Gateway(settings, config, nc, js, verdicts, ssl=tls_context(settings))
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await serve(gw, stop)
        await js.publish_async_completed()
    finally:
        await nc.close()


def main() -> int:
    try:
        settings = load_settings()
        setup_logging(settings.log_level)
        try:
            import uvloop

            uvloop.install()
        except ImportError:
            pass
        asyncio.run(run(settings))
    except ProctorError as exc:
        print(f"proctor-ingress: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
