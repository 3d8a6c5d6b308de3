"""Kubernetes sessions. kubectl makes one HTTP request per API call, over connections it opens
and drops as it likes, and an agent runs kubectl once per command. A session here is one
identity's requests to one resource from one client program (its User-Agent) until it goes
quiet: SessionOpened at its first request, SessionClosed once it has been idle for
PROCTOR_KUBE_SESSION_IDLE seconds with nothing in flight."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import hashlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass, field

from proctor.events.v1 import events_pb2 as pb
from proctor_ingress.emitter import SessionEvents
from proctor_ingress.gateway import Gateway
from proctor_ingress.lifecycle import Lifecycle

log = logging.getLogger("proctor.ingress.kube")

REAP_EVERY = 1.0

# The future that is done once the client of the request being handled has gone.
client_gone: contextvars.ContextVar[asyncio.Future[None] | None] = contextvars.ContextVar(
    "client_gone", default=None
)


def _current_gone() -> Awaitable[object] | None:
    return client_gone.get()


@dataclass
class KubeSession:
    session_id: str
    identity: pb.Identity
    resource: pb.Resource
    events: SessionEvents
    life: Lifecycle
    last_used: float = field(default_factory=time.monotonic)
    in_flight: int = 0

    @contextlib.asynccontextmanager
    async def request(self) -> AsyncIterator[None]:
        self.in_flight += 1
        try:
            yield
        finally:
            self.in_flight -= 1
            self.last_used = time.monotonic()


class KubeSessions:
    """The live sessions of this process, by (identity, resource, kubectl session)."""

    def __init__(self, gw: Gateway) -> None:
        self.gw = gw
        self.live: dict[tuple[str, str, str], KubeSession] = {}
        self._lock = asyncio.Lock()
        self._reaper: asyncio.Task[None] | None = None
        self.idle = gw.settings.kube_session_idle

    def start(self) -> None:
        self._reaper = asyncio.create_task(self._reap())

    async def session(
        self,
        identity: pb.Identity,
        resource: pb.Resource,
        client_key: str,
        peer: str,
        patience: float | None = None,
    ) -> KubeSession:
        if patience is not None:  # its own session: its reviews wait differently
            client_key = f"{client_key};{patience:g}"
        key = (identity.human, resource.name, client_key)
        session = self.live.get(key)
        if session is not None:
            session.last_used = time.monotonic()
            return session
        async with self._lock:
            session = self.live.get(key)
            if session is not None:
                return session
            session_id = hashlib.sha256(f"{key}".encode()).hexdigest()[:8] + uuid.uuid4().hex[:24]
            events = SessionEvents(
                self.gw.nc, self.gw.js, self.gw.settings.stream_name, session_id, identity, resource
            )
            life = Lifecycle(
                self.gw,
                events,
                session_id,
                identity,
                resource,
                tuple(sorted(identity.groups)),
                client_gone=_current_gone,
            )
            await events.emit(
                session_opened=pb.SessionOpened(
                    protocol="kubernetes", client_address=peer, client_name=identity.agent
                )
            )
            life.patience = patience
            await life.open()
            session = self.live[key] = KubeSession(session_id, identity, resource, events, life)
            self.gw.sessions += 1
            return session

    async def close(self, key: tuple[str, str, str], reason: str) -> None:
        session = self.live.pop(key, None)
        if session is None:
            return
        self.gw.sessions -= 1
        await session.life.close()
        with contextlib.suppress(Exception):
            await session.events.emit(
                session_closed=pb.SessionClosed(reason=reason, command_count=session.life.commands)
            )
        log.info(
            "kubernetes session %s (%s on %s) closed: %s",
            session.session_id,
            session.identity.human,
            session.resource.name,
            reason,
        )

    async def close_all(self, reason: str) -> None:
        if self._reaper is not None:
            self._reaper.cancel()
        for key in list(self.live):
            await self.close(key, reason)

    async def _reap(self) -> None:
        while True:
            await asyncio.sleep(REAP_EVERY)
            now = time.monotonic()
            for key, session in list(self.live.items()):
                if not session.in_flight and now - session.last_used > self.idle:
                    await self.close(key, "client idle")
