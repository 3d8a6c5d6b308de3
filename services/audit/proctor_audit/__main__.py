"""`proctor-audit`: run the audit service, or rebuild its projections from sequence 1."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

from proctor import auditstore, bus
from proctor.errors import ProctorError
from proctor.faults import retrying, transient_db_error
from proctor.runtime import run_service
from proctor.settings import Settings
from proctor_audit.consumer import AuditConsumer, align_consumer
from proctor_audit.store import AuditStore, migrate

log = logging.getLogger("proctor.audit")


async def serve(settings: Settings) -> None:
    if not settings.database_url:
        raise ProctorError("PROCTOR_DATABASE_URL is not set: the audit service needs Postgres")
    database_url = settings.database_url
    nc = await bus.connect_patiently(settings, "audit")
    # A database still starting (or restarting) is waited for, not a reason to exit.
    pool = await retrying(
        "the audit store",
        lambda: auditstore.create_pool(database_url),
        log=log,
        transient=transient_db_error,
    )
    try:
        js = nc.jetstream()
        info = await bus.ensure_stream(js, settings)
        await retrying("the audit store", lambda: migrate(pool), log=log,
                       transient=transient_db_error)  # fmt: skip
        store = AuditStore(pool, first_seq=info.state.first_seq or 1)
        await align_consumer(js, store, settings)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        log.info("audit service ready (stream %s)", settings.stream_name)
        await AuditConsumer(js, store, settings).run(stop)
    finally:
        # Not drain(): it waits forever on a pull subscription. Everything stored is acked.
        await bus.close(nc)
        await pool.close()
    log.info("audit service stopped")


async def rebuild(settings: Settings) -> None:
    if not settings.database_url:
        raise ProctorError("PROCTOR_DATABASE_URL is not set")
    pool = await auditstore.create_pool(settings.database_url, size=1)
    try:
        await migrate(pool)
        folded = await AuditStore(pool).rebuild()
    finally:
        await pool.close()
    print(f"projections rebuilt from sequence 1: {folded} events folded")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="proctor-audit", description=__doc__)
    parser.add_argument("command", nargs="?", default="serve", choices=["serve", "rebuild"])
    args = parser.parse_args(argv)
    return run_service("proctor-audit", serve if args.command == "serve" else rebuild)


if __name__ == "__main__":
    sys.exit(main())
