"""The Postgres listener: accepts agents, one ClientSession each."""

from __future__ import annotations

import asyncio
import logging
import ssl

from proctor.settings import Settings
from proctor_ingress.gateway import Gateway
from proctor_ingress.limits import too_many_connections
from proctor_ingress.postgres.session import ClientSession

log = logging.getLogger("proctor.ingress")

SHUTDOWN_GRACE = 5.0  # seconds open sessions get to close once told the gateway is going


def tls_context(settings: Settings) -> ssl.SSLContext | None:
    if settings.tls_cert is None:
        return None
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(settings.tls_cert, settings.tls_key)
    return ctx


def listen_address(settings: Settings) -> tuple[str, int]:
    host, _, port = settings.pg_listen.rpartition(":")
    return host or "127.0.0.1", int(port)


async def serve(gw: Gateway, stop: asyncio.Event) -> None:
    handlers: set[asyncio.Task[object]] = set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        if not gw.limits.admit():
            writer.write(too_many_connections(gw.limits.total))
            writer.close()
            return
        handlers.add(task)
        try:
            await ClientSession(gw, reader, writer).run()
        except asyncio.CancelledError:
            writer.close()  # shutdown gave up waiting on it; the task just ends
        except Exception:
            # One broken session must never take the listener down.
            log.exception("session failed")
            writer.close()
        finally:
            gw.limits.release()
            handlers.discard(task)

    host, port = listen_address(gw.settings)
    server = await asyncio.start_server(
        handle, host, port, reuse_port=True, limit=1 << 20, backlog=1024
    )
    log.info("ingress-proxy listening for Postgres clients on %s:%d", host, port)
    async with server:
        await stop.wait()
        server.close()
        await _end_sessions(gw, handlers)
    log.info("ingress-proxy stopped")


async def _end_sessions(gw: Gateway, handlers: set[asyncio.Task[object]]) -> None:
    """Tell every open session the gateway is going, let them close (and record it), and
    cancel what is still starting up after a grace period."""
    for session in list(gw.cancel_keys.values()):
        session.shutdown()
    if handlers:
        await asyncio.wait(set(handlers), timeout=SHUTDOWN_GRACE)
    for task in list(handlers):
        task.cancel()
    if handlers:
        await asyncio.wait(set(handlers), timeout=1.0)
