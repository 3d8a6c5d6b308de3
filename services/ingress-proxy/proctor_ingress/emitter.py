"""Publishing a session's events without waiting on the hot path.

Publishes are pipelined (acknowledged asynchronously); nats-py bounds how many may be pending,
and past that bound a new command waits rather than run unrecorded.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from nats.js import JetStreamContext
from nats.js import api as js_api

from proctor.events import codec, new_event
from proctor.events.v1 import events_pb2 as pb

log = logging.getLogger("proctor.ingress.events")


class SessionEvents:
    """Builds and publishes the events of one agent session."""

    def __init__(
        self,
        js: JetStreamContext,
        stream: str,
        session_id: str,
        identity: pb.Identity,
        resource: pb.Resource,
    ) -> None:
        self.js = js
        self.stream = stream
        self.session_id = session_id
        self.identity = identity
        self.resource = resource
        self.failures = 0

    async def emit(self, command_id: str = "", **payload: Any) -> pb.Event:
        event = new_event(
            session_id=self.session_id,
            identity=self.identity,
            resource=self.resource,
            source="ingress-proxy",
            command_id=command_id,
            **payload,
        )
        future = await self.js.publish_async(
            codec.subject_for(event),
            codec.encode(event),
            wait_stall=30,
            stream=self.stream,
            headers={js_api.Header.MSG_ID: event.event_id},
        )
        future.add_done_callback(self._check)
        return event

    def _check(self, future: asyncio.Future[Any]) -> None:
        if future.cancelled() or future.exception() is None:
            return
        self.failures += 1
        log.error("an event of session %s was not stored: %s", self.session_id, future.exception())
