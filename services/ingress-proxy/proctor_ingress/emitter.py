"""Publishing a session's events without waiting on the hot path.

Publishes are pipelined and their acknowledgements batched: the events that lead up to a
statement running (received, classified as allowed) go out without asking for an
acknowledgement, and the next acknowledged event of the session (executed, blocked, closed, ...)
confirms them, since the server stores one connection's messages to a stream in order.
The acknowledgements of all sessions on a connection come back on one reply subscription; at
most MAX_PENDING_ACKS may be awaited at a time, and past that bound a new acknowledged publish
waits rather than run unrecorded. A rejected publish, a "no responders" reply, or no reply
within ACK_TIMEOUT seconds counts as a failure of the session (`failures`) and is logged.

Events of an allowed statement may be queued (`later`) and published by `flush` right after
the proxy has handed the statement to the target (or the result to the client), so building and
sending them overlaps the target's work instead of delaying it. Every `emit` publishes what is
queued first, so a session's events reach the stream in the order they happened. A queued event
that asks for an acknowledgement gets one for a batch: every CONFIRM_EVERY events of a busy
session, or at once when the session's last acknowledgement is older than CONFIRM_AFTER
seconds, so an acknowledgement round trip is not paid on every statement.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import time
import weakref
from typing import Any

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js import api as js_api
from nats.js.errors import APIError, NoStreamResponseError

from proctor.errors import BusError
from proctor.events import codec
from proctor.events.codec import EventFactory
from proctor.events.v1 import events_pb2 as pb
from proctor_ingress.drive import start

log = logging.getLogger("proctor.ingress.events")

CONFIRM_EVERY = 16  # events a busy session publishes per acknowledgement
CONFIRM_AFTER = 1.0  # seconds after which the next event is acknowledged anyway
ACK_TIMEOUT = 30.0  # seconds after which an awaited acknowledgement counts as failed
MAX_PENDING_ACKS = 4000  # acknowledgements one connection may await before publishes wait
FLUSH_DELAY = 0.005  # seconds a forwarded statement's events may wait for its result's
_MSG_ID = str(js_api.Header.MSG_ID.value)
_EXPECTED_STREAM = str(js_api.Header.EXPECTED_STREAM.value)
_STATUS = str(js_api.Header.STATUS.value)
_NO_RESPONDERS = "503"


class _Acknowledgements:
    """The acknowledgements awaited on one NATS connection, all answered on one subscription
    to `<inbox>.*`; each acknowledged publish asks for its reply on `<inbox>.<token>`."""

    def __init__(self, nc: NATS) -> None:
        self.prefix = f"{nc.new_inbox()}."
        # token -> (deadline, session, events it confirms); insertion order is deadline order
        self.awaited: dict[str, tuple[float, SessionEvents, int]] = {}
        self._tokens = itertools.count()
        self._room = asyncio.Event()
        self._room.set()
        self._expiry: asyncio.TimerHandle | None = None

    async def subscribe(self, nc: NATS) -> None:
        await nc.subscribe(f"{self.prefix}*", cb=self._on_reply)

    async def room(self) -> None:
        """Until fewer than MAX_PENDING_ACKS acknowledgements are awaited."""
        while len(self.awaited) >= MAX_PENDING_ACKS:
            self._room.clear()
            await self._room.wait()

    def expect(self, events: SessionEvents, covered: int, now: float) -> str:
        """Await an acknowledgement for `events`; returns the subject it is to come on."""
        token = str(next(self._tokens))
        self.awaited[token] = (now + ACK_TIMEOUT, events, covered)
        if self._expiry is None:
            self._expiry = asyncio.get_running_loop().call_later(ACK_TIMEOUT, self._expire)
        return self.prefix + token

    def forget(self, reply: str) -> None:
        self.awaited.pop(reply[len(self.prefix) :], None)
        self._made_room()

    def _made_room(self) -> None:
        if not self._room.is_set() and len(self.awaited) < MAX_PENDING_ACKS:
            self._room.set()

    async def _on_reply(self, msg: Msg) -> None:
        entry = self.awaited.pop(msg.subject[len(self.prefix) :], None)
        if entry is None:  # it timed out already
            return
        self._made_room()
        error: Exception
        if msg.headers and msg.headers.get(_STATUS) == _NO_RESPONDERS:
            error = NoStreamResponseError()
        else:
            try:
                reply = json.loads(msg.data)
            except ValueError:
                reply = None
            if isinstance(reply, dict) and "seq" in reply and "error" not in reply:
                return
            error = _rejection(reply, msg.data)
        _, events, covered = entry
        events._not_stored(covered, error)

    def _expire(self) -> None:
        self._expiry = None
        now = time.monotonic()
        late: list[str] = []
        for token, (deadline, _, _) in self.awaited.items():
            if deadline > now:
                break
            late.append(token)
        for token in late:
            _, events, covered = self.awaited.pop(token)
            events._not_stored(covered, TimeoutError(f"no acknowledgement in {ACK_TIMEOUT:g} s"))
        self._made_room()
        if self.awaited:
            first = next(iter(self.awaited.values()))[0]
            loop = asyncio.get_running_loop()
            self._expiry = loop.call_later(max(first - now, 0.0), self._expire)


def _rejection(reply: Any, data: bytes) -> Exception:
    """The error a JetStream reply to a publish reports."""
    error = reply.get("error") if isinstance(reply, dict) else None
    if not isinstance(error, dict):
        return APIError(description=f"not a JetStream acknowledgement: {data[:200]!r}")
    try:
        APIError.from_error(error)  # raises the error's class (BadRequestError, ...)
    except APIError as exc:
        return exc
    except (KeyError, TypeError):
        pass
    return APIError(code=error.get("code"), description=str(error.get("description", error)))


# Shared by every session publishing on the connection; gone with the connection.
_ACKNOWLEDGEMENTS: weakref.WeakKeyDictionary[NATS, _Acknowledgements] = weakref.WeakKeyDictionary()


async def _acknowledgements(nc: NATS) -> _Acknowledgements:
    acks = _ACKNOWLEDGEMENTS.get(nc)
    if acks is None:
        acks = _ACKNOWLEDGEMENTS[nc] = _Acknowledgements(nc)
        try:
            await acks.subscribe(nc)
        except BaseException:
            _ACKNOWLEDGEMENTS.pop(nc, None)
            raise
    return acks


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
        # handlers publishing at once must not reorder the session's events.
        self._lock = asyncio.Lock()
        self._timer: asyncio.TimerHandle | None = None
        self._timed: asyncio.Task[None] | None = None
        self._acks = _ACKNOWLEDGEMENTS.get(nc)
        self._subjects: dict[str, str] = {}  # payload type -> subject, once one was valid

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
            # Most flushes never wait: they run here, and only one that waits costs a Task.
            try:
                done, task = start(self.flush())
            except Exception as exc:
                self._not_published(exc)
                return
            if not done:
                task.set_name(f"events of session {self.session_id}")
                task.add_done_callback(self._timed_done)
                self._timed = task

    def _timed_done(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and isinstance(exc := task.exception(), Exception):
            self._not_published(exc)

    def _not_published(self, exc: Exception) -> None:
        # The next emit of the session raises it again.
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
                    self._subject(event, payload),
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
        subject = self._subject(event, payload)
        if not acknowledged:
            await self.nc.publish(subject, codec.encode(event), headers={_MSG_ID: event.event_id})
            self.unconfirmed += 1
            return event
        acks = self._acks or await self._acknowledgements()
        if len(acks.awaited) >= MAX_PENDING_ACKS:
            await acks.room()
        covered, self.unconfirmed = self.unconfirmed, 0
        self._confirmed_at = now = time.monotonic()
        reply = acks.expect(self, covered, now)
        headers = {_MSG_ID: event.event_id, _EXPECTED_STREAM: self.stream}
        try:
            await self.nc.publish(subject, codec.encode(event), reply=reply, headers=headers)
        except BaseException:
            acks.forget(reply)
            raise
        return event

    async def _acknowledgements(self) -> _Acknowledgements:
        self._acks = await _acknowledgements(self.nc)
        return self._acks

    def _subject(self, event: pb.Event, payload: dict[str, Any]) -> str:
        # A subject depends on the payload type and the session only: validated once per type.
        kind = next(iter(payload))
        subject = self._subjects.get(kind)
        if subject is None:
            subject = self._subjects[kind] = codec.subject_for(event)
        return subject

    def _not_stored(self, covered: int, error: Exception) -> None:
        self.failures += 1
        log.error("an event of session %s (and up to %d sent before it) was not stored: %s",
                  self.session_id, covered, error)  # fmt: skip
