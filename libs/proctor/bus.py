"""Bus wiring: the immutable JetStream stream of events, connecting, and publishing events.

The stream `PROCTOR_EVENTS` captures `proctor.evt.>` on file storage and denies message delete
and purge, so the broker itself refuses to rewrite history. Each event is published with its
event id as `Nats-Msg-Id`, so a retry within the duplicate window is stored once.
"""

from __future__ import annotations

import asyncio
import logging
import time

import nats
from nats.aio.client import Client as NATS
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js import api as js_api
from nats.js.errors import BadRequestError, NotFoundError

from proctor.busaccess import inbox_prefix
from proctor.errors import BusError
from proctor.events import codec
from proctor.events.v1 import events_pb2 as pb
from proctor.faults import Backoff, Outage, bus_callbacks, describe
from proctor.settings import Settings
from proctor.telemetry import inject_headers

log = logging.getLogger(__name__)

EVENT_SUBJECTS = f"{codec.SUBJECT_PREFIX}.>"


def stream_config(settings: Settings) -> js_api.StreamConfig:
    """The configuration of the event stream: file storage, no limits, no delete, no purge."""
    return js_api.StreamConfig(
        name=settings.stream_name,
        description="Proctor command-lifecycle events (immutable)",
        subjects=[EVENT_SUBJECTS],
        retention=js_api.RetentionPolicy.LIMITS,
        storage=js_api.StorageType.FILE,
        num_replicas=settings.stream_replicas,
        duplicate_window=settings.stream_duplicate_window,
        deny_delete=True,
        deny_purge=True,
        allow_rollup_hdrs=False,
    )


async def connect(settings: Settings, name: str) -> NATS:
    """Connect to NATS, retrying for a while so services can start before the broker. With a
    user, replies come on that user's own inbox prefix (the only one it may subscribe)."""
    servers = [s.strip() for s in settings.nats_url.split(",") if s.strip()]
    user, password = settings.nats_auth()
    try:
        return await nats.connect(
            servers=servers,
            name=f"proctor-{name}",
            user=user,
            password=password,
            inbox_prefix=inbox_prefix(user),
            connect_timeout=2,
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.5,
            allow_reconnect=True,
            **bus_callbacks(f"NATS at {settings.nats_url}", log),
        )
    except (TimeoutError, NatsError, OSError) as exc:
        raise BusError(f"cannot connect to NATS at {settings.nats_url}: {exc}") from exc


async def connect_patiently(settings: Settings, name: str, wait: float = 60.0) -> NATS:
    """`connect`, trying again with back-off for up to `wait` seconds while the broker is not
    there yet (a service started with it, or during its restart); logged once, not per try."""
    deadline = time.monotonic() + wait
    outage = Outage(f"NATS at {settings.nats_url}", log)
    backoff = Backoff(0.2, 5.0)
    while True:
        try:
            nc = await connect(settings, name)
        except BusError as exc:
            if time.monotonic() >= deadline:
                raise
            outage.failed(exc.__cause__ or exc, "waiting for it")
            await asyncio.sleep(backoff.next())
            continue
        outage.recovered()
        return nc


CLOSE_TIMEOUT = 3.0  # seconds a stop waits for the NATS client to close


async def close(nc: NATS, timeout: float = CLOSE_TIMEOUT) -> None:
    """Close a connection at a stop. With its broker gone, nats-py's close fails on the data
    it still holds (pull requests, publishes made while reconnecting): that data cannot be
    sent anyway, so it is dropped with a warning rather than turning an orderly stop into a
    failure; and the close waits `timeout` seconds at most."""
    try:
        await asyncio.wait_for(nc.close(), timeout)
    except (OSError, TimeoutError, NatsError, RuntimeError) as exc:
        # RuntimeError: uvloop's answer to a write on a transport already closed.
        log.warning("NATS connection closed without sending what it held (%s)", describe(exc))


async def ensure_stream(
    js: JetStreamContext, settings: Settings, update: bool = True
) -> js_api.StreamInfo:
    """Create the event stream, or bring an existing one to the configured settings. With
    `update=False` (services whose NATS user may create but not change it) an existing stream
    is used as it is."""
    config = stream_config(settings)
    if not update:
        info = await stream_info(js, settings)
        if info is not None:
            return info
    try:
        return await js.add_stream(config)
    except BadRequestError:
        # It exists with other settings (e.g. replicas changed); update what may be updated.
        try:
            return await js.update_stream(config)
        except NatsError as exc:
            raise BusError(f"cannot update stream {settings.stream_name}: {exc}") from exc
    except NatsError as exc:
        raise BusError(f"cannot create stream {settings.stream_name}: {exc}") from exc


async def stream_info(js: JetStreamContext, settings: Settings) -> js_api.StreamInfo | None:
    """The event stream's info, or None if it does not exist yet."""
    try:
        return await js.stream_info(settings.stream_name)
    except NotFoundError:
        return None


class EventPublisher:
    """Publishes events on their subjects and waits for the stream to store them."""

    def __init__(self, js: JetStreamContext, settings: Settings) -> None:
        self._js = js
        self._stream = settings.stream_name

    async def publish(self, event: pb.Event, timeout: float = 5.0) -> int:
        """Store one event on the stream; returns its stream sequence."""
        try:
            ack = await self._js.publish(
                codec.subject_for(event),
                codec.encode(event),
                timeout=timeout,
                stream=self._stream,
                headers=self._headers(event),
            )
        except (TimeoutError, NatsError) as exc:
            raise BusError(f"event {event.event_id} was not stored: {exc}") from exc
        return ack.seq

    async def publish_many(self, events: list[pb.Event], timeout: float = 10.0) -> list[int]:
        """Store several events with pipelined acknowledgements; returns their sequences."""
        try:
            futures = [
                await self._js.publish_async(
                    codec.subject_for(e),
                    codec.encode(e),
                    wait_stall=timeout,
                    stream=self._stream,
                    headers=self._headers(e),
                )
                for e in events
            ]
            acks = await asyncio.wait_for(asyncio.gather(*futures), timeout)
        except (TimeoutError, NatsError) as exc:
            raise BusError(f"{len(events)} events were not all stored: {exc}") from exc
        return [a.seq for a in acks]

    @staticmethod
    def _headers(event: pb.Event) -> dict[str, str]:
        headers = inject_headers({js_api.Header.MSG_ID: event.event_id})
        if event.trace.traceparent and "traceparent" not in headers:
            headers["traceparent"] = event.trace.traceparent
        return headers
