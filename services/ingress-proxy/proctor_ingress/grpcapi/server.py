"""The gRPC listener: `GatewayService.Exec` runs one command on a host resource through the
same lifecycle and host execution as the ssh entrance (shell/runner.py), streaming stdout and
stderr, masked, and ending with an `exit` that carries the status, or why the gateway did not
run the command. Callers authenticate with the metadata `authorization: Bearer
IDENTITY:TOKEN`; TLS with PROCTOR_TLS_CERT/KEY, plain text only on loopback. Each call is one
session (SessionOpened(protocol="grpc") … SessionClosed)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shlex
from typing import Any

import grpc
from grpc import aio

from proctor.api.v1 import gateway_pb2 as gpb
from proctor.api.v1 import gateway_pb2_grpc as gpb_grpc
from proctor.errors import ConfigError
from proctor.gateway import IdentityConfig
from proctor_ingress.gateway import Gateway
from proctor_ingress.postgres.authentication import is_loopback
from proctor_ingress.shell.hosts import Hosts
from proctor_ingress.shell.runner import Ended, run_command, shell_detail
from proctor_ingress.shell.sessions import ShellSession

log = logging.getLogger("proctor.ingress.grpc")

WITHDRAW_GRACE = 5.0  # seconds a cancelled call's command has to be withdrawn and recorded


class _Out:
    def __init__(self, context: aio.ServicerContext[Any, Any]) -> None:
        self.context = context

    async def stdout(self, data: bytes) -> None:
        await self.context.write(gpb.ExecReply(stdout=data))

    async def stderr(self, data: bytes) -> None:
        await self.context.write(gpb.ExecReply(stderr=data))


def exit_reply(ended: Ended) -> gpb.ExecReply:
    return gpb.ExecReply(
        exit=gpb.Exit(
            status=ended.status,
            outcome=ended.outcome,
            reason=ended.message,
            rule_ids=list(ended.rule_ids),
            hint=ended.hint,
            approval_id=ended.approval_id,
            detail=ended.detail,
        )
    )


class GatewayService(gpb_grpc.GatewayServiceServicer):
    def __init__(self, gw: Gateway) -> None:
        self.gw = gw
        self.hosts = Hosts(gw.config.of_kind("ssh"))

    def _identity(self, context: aio.ServicerContext[Any, Any]) -> IdentityConfig | None:
        metadata = dict(context.invocation_metadata() or ())
        scheme, _, credential = str(metadata.get("authorization", "")).partition(" ")
        if scheme.lower() != "bearer" or ":" not in credential:
            return None
        name, _, token = credential.strip().rpartition(":")
        return self.gw.config.authenticate(name, token)

    async def Exec(self, request: gpb.ExecRequest, context: aio.ServicerContext[Any, Any]) -> None:
        identity = self._identity(context)
        if identity is None:
            await context.abort(
                grpc.StatusCode.UNAUTHENTICATED,
                "Proctor did not accept these credentials: send the metadata "
                "`authorization: Bearer IDENTITY:TOKEN`",
            )
            return
        host = self.hosts.get(request.resource)
        if host is None:
            known = ", ".join(sorted(self.hosts.hosts)) or "none"
            await context.abort(
                grpc.StatusCode.NOT_FOUND,
                f"{request.resource!r} is not a host resource of this gateway (known: {known}). "
                "Nothing was run.",
            )
            return
        if request.command and request.argv:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "give command or argv, not both")
            return
        text = request.command.strip() or shlex.join(request.argv)
        if not text:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "no command to run")
            return
        metadata = dict(context.invocation_metadata() or ())
        agent = str(metadata.get("x-proctor-agent") or metadata.get("user-agent", "grpc"))
        gone: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def done(_: object) -> None:
            if not gone.done():
                gone.set_result(None)

        context.add_done_callback(done)
        session = await ShellSession.open(
            self.gw, identity, agent.split(" ")[0], request.resource, "grpc", context.peer()
        )
        detail = shell_detail(request.resource, text, list(request.argv), "exec")
        work = asyncio.ensure_future(run_command(session, host, text, detail, _Out(context), gone))
        try:
            ended = await asyncio.shield(work)
        except asyncio.CancelledError:
            # The caller cancelled: a held command is withdrawn, a running one stopped.
            done(None)
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(work, WITHDRAW_GRACE)
            await session.close("client cancelled")
            raise
        await session.close("call ended")
        said = ended.text()
        if said and ended.outcome != "run":
            await context.write(gpb.ExecReply(stderr=said))
        await context.write(exit_reply(ended))


def credentials(gw: Gateway) -> grpc.ServerCredentials | None:
    cert, key = gw.settings.tls_cert, gw.settings.tls_key
    if cert is None or key is None:
        return None
    return grpc.ssl_server_credentials([(key.read_bytes(), cert.read_bytes())])


async def serve(gw: Gateway, stop: asyncio.Event) -> None:
    """Serve the gRPC API until `stop` is set."""
    service = GatewayService(gw)
    server = aio.server(maximum_concurrent_rpcs=gw.settings.shell_max_connections)
    gpb_grpc.add_GatewayServiceServicer_to_server(service, server)  # type: ignore[no-untyped-call]
    listen = gw.settings.grpc_listen
    secure = credentials(gw)
    if secure is not None:
        server.add_secure_port(listen, secure)
    elif is_loopback(listen):
        server.add_insecure_port(listen)
    else:
        raise ConfigError(
            f"the gRPC listener on {listen} needs TLS (PROCTOR_TLS_CERT and PROCTOR_TLS_KEY): "
            "callers send their token with every call"
        )
    await server.start()
    log.info("ingress-proxy serving the gRPC API on %s%s", listen, " (TLS)" if secure else "")
    try:
        await stop.wait()
    finally:
        await server.stop(grace=2)
        await service.hosts.close()
