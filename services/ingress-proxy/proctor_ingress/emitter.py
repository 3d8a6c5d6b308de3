"""A session's events, written to the process's outbox (outbox.py) as they happen.

Every event is appended to the outbox file when it is made, so the events that lead up to a
statement running (received, classified) are written before the statement is forwarded to the
target, and a CommandExecuted before its result reaches the client: whatever a client saw run
has its events in the outbox, and from there on the stream even if this process dies or the
broker is away. The outbox's drainer publishes them in order and sends again until the stream
acknowledges each one, so nothing is counted as "not stored" that is in fact on its way.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from nats.aio.client import Client as NATS
from nats.js import JetStreamContext

from proctor.errors import BusError
from proctor.events import codec
from proctor.events.codec import EventFactory
from proctor.events.v1 import events_pb2 as pb
from proctor_ingress.outbox import Outbox, outbox_of

STORED_TIMEOUT = 5.0  # seconds emit_stored waits for the stream


class SessionEvents:
    """Builds the events of one agent session and appends them to the outbox."""

    def __init__(
        self,
        nc: NATS,
        js: JetStreamContext,
        stream: str,
        session_id: str,
        identity: pb.Identity,
        resource: pb.Resource,
        outbox: Outbox | None = None,
    ) -> None:
        self.nc = nc
        self.js = js
        self.stream = stream
        self.session_id = session_id
        self.identity = identity
        self.resource = resource
        self.outbox = outbox or outbox_of(nc)
        self.failures = 0  # events that could not be written to the outbox
        self._events = EventFactory(
            session_id=session_id, identity=identity, resource=resource, source="ingress-proxy"
        )
        self._subjects: dict[str, str] = {}  # payload type -> subject, once one was valid

    def later(self, command_id: str = "", *, acknowledged: bool = True, **payload: Any) -> None:
        """Record an event now (with the time it happened); the outbox publishes it.
        `acknowledged` is kept for callers of the earlier emitter: the stream acknowledges
        every event now."""
        self._append(self._events.make(command_id, time.time_ns(), **payload), payload)

    def flush_soon(self, delay: float = 0.0) -> None:
        """Nothing to do: every event is in the outbox as soon as it is made."""

    async def flush(self) -> None:
        """Wait (up to STORED_TIMEOUT) until the stream has what this process recorded so
        far, for an event another service is about to publish after these (a redemption)."""
        await self.outbox.flush(STORED_TIMEOUT)

    async def emit(
        self, command_id: str = "", *, acknowledged: bool = True, **payload: Any
    ) -> pb.Event:
        """Record an event now."""
        event = self._events.make(command_id, None, **payload)
        self._append(event, payload)
        return event

    async def emit_stored(self, command_id: str = "", **payload: Any) -> pb.Event:
        """Record an event and wait until the stream has stored it (and every event of the
        process before it); BusError if that takes over STORED_TIMEOUT seconds."""
        event = self._events.make(command_id, None, **payload)
        record = self._append(event, payload, wait=True)
        assert record.stored is not None
        try:
            await asyncio.wait_for(asyncio.shield(record.stored), STORED_TIMEOUT)
        except TimeoutError as exc:
            raise BusError(
                f"the event was not stored in {STORED_TIMEOUT:g} s (it stays in the outbox)"
            ) from exc
        return event

    def _append(self, event: pb.Event, payload: dict[str, Any], wait: bool = False) -> Any:
        try:
            return self.outbox.append(
                self._subject(event, payload), event.event_id, codec.encode(event), wait=wait
            )
        except BusError:
            self.failures += 1
            raise

    def _subject(self, event: pb.Event, payload: dict[str, Any]) -> str:
        # A subject depends on the payload type and the session only: validated once per type.
        kind = next(iter(payload))
        subject = self._subjects.get(kind)
        if subject is None:
            subject = self._subjects[kind] = codec.subject_for(event)
        return subject
