"""Shell sessions: an ssh connection's commands to one host resource (SessionOpened at its
first command there, SessionClosed when the connection ends), or one gRPC Exec call."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import uuid
from collections.abc import Awaitable
from dataclasses import dataclass

from proctor.events.v1 import events_pb2 as pb
from proctor.gateway import IdentityConfig
from proctor_ingress.emitter import SessionEvents
from proctor_ingress.gateway import Gateway
from proctor_ingress.lifecycle import Lifecycle

log = logging.getLogger("proctor.ingress.shell")

# Done once the client of the command being handled has gone (a held command is withdrawn).
client_gone: contextvars.ContextVar[asyncio.Future[None] | None] = contextvars.ContextVar(
    "shell_client_gone", default=None
)


def _current_gone() -> Awaitable[object] | None:
    return client_gone.get()


@dataclass
class ShellSession:
    session_id: str
    identity: pb.Identity
    resource: pb.Resource
    events: SessionEvents
    life: Lifecycle
    gw: Gateway

    @classmethod
    async def open(
        cls,
        gw: Gateway,
        identity: IdentityConfig,
        agent: str,
        resource: str,
        protocol: str,
        peer: str,
    ) -> ShellSession:
        who = pb.Identity(human=identity.name, agent=agent, groups=list(identity.groups))
        where = pb.Resource(name=resource, kind=pb.RESOURCE_KIND_SHELL)
        session_id = uuid.uuid4().hex
        events = SessionEvents(gw.nc, gw.js, gw.settings.stream_name, session_id, who, where)
        life = Lifecycle(
            gw,
            events,
            session_id,
            who,
            where,
            tuple(sorted(identity.groups)),
            client_gone=_current_gone,
        )
        await events.emit(
            session_opened=pb.SessionOpened(
                protocol=protocol, client_address=peer, client_name=agent
            )
        )
        await life.open()
        gw.sessions += 1
        return cls(session_id, who, where, events, life, gw)

    async def close(self, reason: str) -> None:
        self.gw.sessions -= 1
        await self.life.close()
        with contextlib.suppress(Exception):
            await self.events.emit(
                session_closed=pb.SessionClosed(reason=reason, command_count=self.life.commands)
            )
        log.info(
            "shell session %s (%s on %s) closed: %s",
            self.session_id,
            self.identity.human,
            self.resource.name,
            reason,
        )
