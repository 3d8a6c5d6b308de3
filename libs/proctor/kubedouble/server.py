"""Running the double on a TCP port, in plain HTTP or over TLS."""

from __future__ import annotations

import ssl
from pathlib import Path

from aiohttp import web

from proctor.kubedouble import demo as demo_content
from proctor.kubedouble.app import build_app
from proctor.kubedouble.store import Store
from proctor.localca import TlsFiles, ensure_local_tls

SHUTDOWN_SECONDS = 1.0  # streams still open when the double stops are cut after this


def tls_context(files: TlsFiles) -> ssl.SSLContext:
    """A server context for the local CA's server certificate (HTTP/1.1 only: no ALPN h2)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(files.cert, files.key)
    return context


def local_tls(directory: Path, host: str) -> tuple[ssl.SSLContext, TlsFiles]:
    """A context and the files (CA to trust, certificate, key) for a double on `host`."""
    files = ensure_local_tls(directory, host)
    return tls_context(files), files


class KubeDouble:
    """The double listening on `host:port` (port 0 picks a free one; `.port` says which)."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        token: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
        demo: bool = True,
        store: Store | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.token = token
        self.ssl_context = ssl_context
        self.store = store or Store()
        if demo and store is None:
            demo_content.seed(self.store)
        self.app = build_app(self.store, token)
        self.runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        scheme = "https" if self.ssl_context else "http"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}"

    async def start(self) -> KubeDouble:
        self.runner = web.AppRunner(
            self.app,
            handler_cancellation=True,
            shutdown_timeout=SHUTDOWN_SECONDS,
            access_log=None,
        )
        await self.runner.setup()
        site = web.TCPSite(self.runner, self.host, self.port, ssl_context=self.ssl_context)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        if sockets:
            self.port = int(sockets[0].getsockname()[1])
        return self

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None


async def serve(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    token: str | None = None,
    ssl_context: ssl.SSLContext | None = None,
    demo: bool = True,
    store: Store | None = None,
) -> KubeDouble:
    """Start the double in the running event loop; `await double.stop()` ends it."""
    double = KubeDouble(host, port, token=token, ssl_context=ssl_context, demo=demo, store=store)
    return await double.start()
