"""`proctor-approval`: run the approval service (stream follower, expiry, HTTP API, Slack)."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

from aiohttp import web

from proctor import bus
from proctor.decisions import DecisionSigner
from proctor.errors import ConfigError
from proctor.gateway import load_gateway_config
from proctor.runtime import run_service
from proctor.settings import Settings
from proctor_approval.api import make_app
from proctor_approval.core import ApproverRules
from proctor_approval.grants import serve_redemptions
from proctor_approval.service import ApprovalService
from proctor_approval.slack import start_slack
from proctor_approval.status import serve_status

log = logging.getLogger("proctor.approval")


def _host_port(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError(f"approval_http_listen {listen!r} is not host:port")
    return host, int(port)


async def serve(settings: Settings) -> None:
    if settings.gateway_config is None:
        raise ConfigError("PROCTOR_GATEWAY_CONFIG is not set: approvers are identities there")
    config = load_gateway_config(settings.gateway_config)
    rules = ApproverRules.from_config(
        config,
        tuple(settings.approver_groups),
        settings.approvals_required,
        settings.allow_self_approval,
    )
    if settings.approval_signing_key is None:
        raise ConfigError(
            "PROCTOR_APPROVAL_SIGNING_KEY is not set: the approval service signs every decision "
            "with it (an Ed25519 private key, PEM), and proxies act only on signed decisions"
        )
    signer = DecisionSigner.from_file(settings.approval_signing_key)
    host, port = _host_port(settings.approval_http_listen)
    nc = await bus.connect_patiently(settings, "approval")
    runner: web.AppRunner | None = None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        js = nc.jetstream()
        await bus.ensure_stream(js, settings, update=False)
        service = ApprovalService(js, settings, rules, signer)
        tasks = [asyncio.create_task(service.follow(stop), name="follow")]
        # Serve only once the state is rebuilt, so nobody sees a partial list after a restart.
        ready = asyncio.create_task(service.caught_up.wait())
        await asyncio.wait((ready, tasks[0]), return_when=asyncio.FIRST_COMPLETED)
        if tasks[0].done():
            ready.cancel()
            tasks[0].result()  # the follower failed: raise its error
        tasks.append(asyncio.create_task(service.expire_loop(stop), name="expire"))
        await serve_redemptions(nc, service)
        await serve_status(nc, service)
        slack = await start_slack(service, config, settings)
        if slack is not None:
            tasks.append(asyncio.create_task(slack[0].run(stop, slack[1]), name="slack"))
        slack_http = slack[0].http_handler if slack is not None else None
        runner = web.AppRunner(make_app(service, config, slack_http), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, host, port).start()
        log.info(
            "approval service ready on http://%s:%d (%d pending)",
            host,
            port,
            len(service.state.pending),
        )
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait((stopping, *tasks), return_when=asyncio.FIRST_COMPLETED)
        stop.set()
        stopping.cancel()
        # A task that ended before the stop failed: raise its error, so the process exits
        # non-zero and is restarted (it rebuilds its state from the stream).
        await asyncio.gather(*tasks)
    finally:
        if runner is not None:
            await runner.cleanup()
        await bus.close(nc)
    log.info("approval service stopped")


def main(argv: list[str] | None = None) -> int:
    return run_service("proctor-approval", serve)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
