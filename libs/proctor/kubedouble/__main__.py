"""`python -m proctor.kubedouble`: run the Kubernetes API server double until SIGTERM or SIGINT.

python -m proctor.kubedouble --host 127.0.0.1 --port 6443 --token-file TOKEN [--tls-dir DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from pathlib import Path

from proctor.children import watch_parent
from proctor.kubedouble.server import local_tls, serve


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m proctor.kubedouble",
        description="A Kubernetes API server double (in memory) for tests and the demo.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--token-file", type=Path, help="bearer token every request must carry")
    parser.add_argument("--tls-dir", type=Path, help="serve HTTPS with the local CA kept here")
    parser.add_argument("--no-demo", action="store_true", help="start with an empty cluster")
    return parser.parse_args(argv)


async def run(args: argparse.Namespace) -> None:
    token = args.token_file.read_text().strip() if args.token_file else None
    context = None
    if args.tls_dir:
        context, files = local_tls(args.tls_dir, args.host)
    double = await serve(
        args.host, args.port, token=token, ssl_context=context, demo=not args.no_demo
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"kube double listening on {double.url}", flush=True)
    if args.tls_dir:
        print(f"kube double CA certificate: {files.ca}", flush=True)
    parent = asyncio.create_task(watch_parent(stop))
    try:
        await stop.wait()
    finally:
        parent.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await parent
        await double.stop()


def main(argv: list[str] | None = None) -> int:
    asyncio.run(run(parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
