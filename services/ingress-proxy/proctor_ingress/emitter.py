"""Publishing a session's events without waiting on the hot path.

Publishes are pipelined and their acknowledgements batched: the events that lead up to a
statement running (received, classified as allowed) go out without asking for an
acknowledgement, and the next acknowledged event of the session (executed, blocked, closed, ...)
confirms them, since the server stores one connection's messages to a stream in order.
nats-py bounds how many acknowledgements may be pending; past that bound a new command waits
rather than run unrecorded.

Events of an allowed statement may be queued (`later`) and published by `flush` right after
the pump has handed the statement to the target (or the result to the client), so building and
sending them overlaps the target's work instead of delaying it. Every `emit` publishes what is
queued first, so a session's events reach the stream in the order they happened. A queued event
that asks for an acknowledgement gets one for a batch: every CONFIRM_EVERY events of a busy
session, or at once when the session's last acknowledgement is older than CONFIRM_AFTER
seconds, so an acknowledgement round trip is not paid on every statement.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from nats.aio.client import Client as NATS
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js import api as js_api

from proctor.errors import BusError
from proctor.events import codec
from proctor.events.codec import EventFactory
from proctor.events.v1 import events_pb2 as pb

log = logging.getLogger("proctor.ingress.events")

CONFIRM_EVERY = 16  # events a busy session publishes per acknowledgement
CONFIRM_AFTER = 1.0  # seconds after which the next event is acknowledged anyway
_MSG_ID = str(js_api.Header.MSG_ID.value)
FLUSH_DELAY = 0.005  # seconds a forwarded statement's events may wait for its result's


class SessionEvents:
    """Builds and publishes the events of one agent session."""

    def __init__(
        self,
        nc: NATS,
        js: JetStreamContext,
        stream: str,
        session_id: str,
        identity: pb.Identity,
        resource: pb.Resource,
    ) -> None:
        self.nc = nc
        self.js = js
        self.stream = stream
        self.unconfirmed = 0  # events sent since the last acknowledged one
        self.session_id = session_id
        self.identity = identity
        self.resource = resource
        self.failures = 0
        self._events = EventFactory(
            session_id=session_id, identity=identity, resource=resource, source="ingress-proxy"
        )
        self._confirmed_at = 0.0  # time.monotonic() of the last acknowledged publish
        self._queued: list[tuple[str, bool, int, dict[str, Any]]] = []
        # One publisher at a time: a publish may wait (for acknowledgement slots), and two
        # pumps publishing at once must not reorder the session's events.
        self._lock = asyncio.Lock()
        self._timer: asyncio.TimerHandle | None = None
        self._timed: asyncio.Task[None] | None = None

    def later(self, command_id: str = "", *, acknowledged: bool = True, **payload: Any) -> None:
        """Queue an event (with the time it happened) for the next `flush` or `emit`."""
        self._queued.append((command_id, acknowledged, time.time_ns(), payload))

    def flush_soon(self, delay: float = FLUSH_DELAY) -> None:
        """Publish what is queued within `delay` seconds, unless a `flush` does it first:
        a quick statement's events then go out together with its result's, in one write."""
        if self._queued and self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(delay, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        if self._queued and (self._timed is None or self._timed.done()):
            self._timed = asyncio.create_task(self._flush_logged())

    async def _flush_logged(self) -> None:
        try:
            await self.flush()
        except Exception as exc:  # the next emit of the session raises it again
            log.warning("events of session %s not published yet: %s", self.session_id, exc)

    async def flush(self) -> None:
        """Publish what is queued, in order."""
        if self._queued:
            async with self._lock:
                await self._publish_queued()

    async def _publish_queued(self) -> None:
        while self._queued:
            queued, self._queued = self._queued, []
            for command_id, acknowledged, at, payload in queued:
                if acknowledged and self.unconfirmed + 1 < CONFIRM_EVERY:
                    acknowledged = time.monotonic() - self._confirmed_at > CONFIRM_AFTER
                await self._publish(command_id, acknowledged, at, payload)

    async def emit(
        self, command_id: str = "", *, acknowledged: bool = True, **payload: Any
    ) -> pb.Event:
        """Publish an event now, after whatever is queued."""
        async with self._lock:
            await self._publish_queued()
            return await self._publish(command_id, acknowledged, None, payload)

    async def emit_stored(self, command_id: str = "", **payload: Any) -> pb.Event:
        """Publish an event (after whatever is queued) and wait until the stream has stored
        it; BusError if it was not."""
        async with self._lock:
            await self._publish_queued()
            event = self._events.make(command_id, None, **payload)
            try:
                await self.js.publish(
                    codec.subject_for(event),
                    codec.encode(event),
                    timeout=5.0,
                    stream=self.stream,
                    headers={_MSG_ID: event.event_id},
                )
            except (TimeoutError, NatsError) as exc:
                raise BusError(f"the event was not stored: {exc or type(exc).__name__}") from exc
            self.unconfirmed = 0
            self._confirmed_at = time.monotonic()
            return event

    async def _publish(
        self, command_id: str, acknowledged: bool, at_ns: int | None, payload: dict[str, Any]
    ) -> pb.Event:
        event = self._events.make(command_id, at_ns, **payload)
        headers = {_MSG_ID: event.event_id}
        if not acknowledged:
            await self.nc.publish(codec.subject_for(event), codec.encode(event), headers=headers)
            self.unconfirmed += 1
            return event
        covered, self.unconfirmed = self.unconfirmed, 0
        self._confirmed_at = time.monotonic()
        future = await self.js.publish_async(
            codec.subject_for(event),
            codec.encode(event),
            wait_stall=30,
            stream=self.stream,
            headers=headers,
        )
        future.add_done_callback(lambda f: self._check(f, covered))
        return event

    def _check(self, future: asyncio.Future[Any], covered: int) -> None:
        if future.cancelled() or future.exception() is None:
            return
        self.failures += 1
        log.error("an event of session %s (and up to %d sent before it) was not stored: %s",
                  self.session_id, covered, future.exception())  # fmt: skip
