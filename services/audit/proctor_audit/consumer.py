"""The audit service's NATS adapter: a durable pull consumer, shared by replicas, that hands
batches to the store and acknowledges only what the store committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable
from datetime import UTC, datetime

from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js import api as js_api
from nats.js.errors import BadRequestError, NotFoundError
from opentelemetry import metrics

from proctor.bus import EVENT_SUBJECTS
from proctor.faults import Backoff, Outage, describe, transient_db_error
from proctor.settings import Settings
from proctor.telemetry import extract_context, setup_tracing
from proctor_audit.store import (
    AppendResult,
    AuditStore,
    PreparedMessage,
    StreamMessage,
    dead_letter,
    prepare,
)

log = logging.getLogger("proctor.audit")
_meter = metrics.get_meter("proctor.audit")
stored_counter = _meter.create_counter("proctor.audit.events_stored", description="Events stored")
undecodable_counter = _meter.create_counter(
    "proctor.audit.undecodable", description="Messages stored as undecodable and terminated"
)
dead_letter_counter = _meter.create_counter(
    "proctor.audit.dead_letters", description="Messages stored raw after failing to store"
)


def consumer_config(settings: Settings) -> js_api.ConsumerConfig:
    return js_api.ConsumerConfig(
        durable_name=settings.audit_durable,
        description="Proctor audit store (shared by audit replicas)",
        deliver_policy=js_api.DeliverPolicy.ALL,
        ack_policy=js_api.AckPolicy.EXPLICIT,
        ack_wait=settings.audit_ack_wait,
        max_deliver=-1,
        max_ack_pending=settings.audit_batch_size * 8,
        filter_subject=EVENT_SUBJECTS,
    )


async def align_consumer(js: JetStreamContext, store: AuditStore, settings: Settings) -> None:
    """Start the durable consumer where the store ends.

    Acknowledgements follow commits, so the consumer's ack floor is never past the store's head
    unless the database is new or restored from a backup. Then the consumer is recreated to
    deliver again from the store's head, so the store catches up instead of waiting forever.
    """
    head = await store.head_seq()
    try:
        info = await js.consumer_info(settings.stream_name, settings.audit_durable)
    except NotFoundError:
        info = None
    floor = info.ack_floor.stream_seq if info and info.ack_floor else 0
    if info is not None and floor > head:
        log.warning(
            "the audit store ends at seq %d but consumer %r acknowledged up to %d "
            "(a new or restored database); delivering again from seq %d",
            head, settings.audit_durable, floor, head + 1,
        )  # fmt: skip
        await js.delete_consumer(settings.stream_name, settings.audit_durable)
        info = None
    if info is None:
        config = consumer_config(settings)
        if head:
            config.deliver_policy = js_api.DeliverPolicy.BY_START_SEQUENCE
            config.opt_start_seq = head + 1
        with contextlib.suppress(BadRequestError):  # a replica created it first
            await js.add_consumer(settings.stream_name, config)


def _stream_message(msg: Msg) -> StreamMessage:
    meta = msg.metadata
    stored_at = meta.timestamp if meta.timestamp is not None else datetime.now(UTC)
    return StreamMessage(
        seq=meta.sequence.stream, subject=msg.subject, data=msg.data, stored_at=stored_at
    )


class AuditConsumer:
    """Fetches batches and stores them; never crashes on a bad message, an idle stream, a
    broker outage or a dead database. A message that fails to store `audit_dead_letter_after`
    times (for a reason other than the database being away) is stored raw as a dead letter,
    so the chain moves on."""

    def __init__(
        self,
        js: JetStreamContext,
        store: AuditStore,
        settings: Settings,
        fetch_timeout: float = 1.0,
    ) -> None:
        self.js = js
        self.store = store
        self.settings = settings
        self.fetch_timeout = fetch_timeout
        self.tracer = setup_tracing("audit")
        self.stored = 0
        self.undecodable = 0
        self.dead_letters = 0
        self.fetches = 0
        self.bus = Outage("the event stream", log)
        self.db = Outage("the audit store", log)
        self._bus_backoff = Backoff(0.1, 5.0)
        self._db_backoff = Backoff(0.5, 5.0)

    async def _subscribe(self) -> JetStreamContext.PullSubscription:
        return await self.js.pull_subscribe(
            EVENT_SUBJECTS,
            durable=self.settings.audit_durable,
            stream=self.settings.stream_name,
            config=consumer_config(self.settings),
        )

    async def run(self, stop: asyncio.Event) -> None:
        sub: JetStreamContext.PullSubscription | None = None
        while not stop.is_set():
            try:
                if sub is None:
                    sub = await self._subscribe()
                    log.info("consuming %s as durable %r", EVENT_SUBJECTS,
                             self.settings.audit_durable)  # fmt: skip
                self.fetches += 1
                msgs = await sub.fetch(self.settings.audit_batch_size, timeout=self.fetch_timeout)
            except (NatsTimeout, TimeoutError):  # nats-py raises either on an empty fetch
                continue
            except NatsError as exc:
                # The broker is away, or lost the consumer: subscribe again once it answers.
                self.bus.failed(exc)
                sub = None
                await _sleep_or_stop(stop, self._bus_backoff.next())
                continue
            self.bus.recovered()
            self._bus_backoff.reset()
            await self.handle(msgs)

    async def handle(self, msgs: list[Msg]) -> None:
        """Store a batch; wait briefly for other replicas to fill gaps; nak what is left."""
        by_seq = {m.metadata.sequence.stream: m for m in msgs}
        pending = [prepare(_stream_message(m)) for m in msgs]
        deadline = time.monotonic() + self.settings.audit_ack_wait / 3
        pause = 0.005
        while pending:
            first = by_seq[min(by_seq)]
            with self.tracer.start_as_current_span(
                "audit.append", context=extract_context(first.headers)
            ) as span:
                span.set_attribute("proctor.batch_size", len(pending))
                try:
                    result = await self.store.append(pending)
                except Exception as exc:
                    if transient_db_error(exc):
                        await self._store_unavailable(by_seq, pending, exc)
                    else:
                        log.error("storing %d events failed (%s); storing them one at a time",
                                  len(pending), describe(exc))  # fmt: skip
                        await self._store_one_by_one(by_seq, pending)
                    return
            self.db.recovered()
            self._db_backoff.reset()
            waiting = await self._settle(by_seq, result)
            pending = [m for m in pending if m.seq in waiting]
            if pending:
                if time.monotonic() > deadline:
                    await self._nak(by_seq, list(waiting), delay=0.2)
                    return
                # Another replica holds an earlier sequence; it will commit it shortly.
                await asyncio.sleep(pause)
                pause = min(pause * 2, 0.1)

    async def _store_unavailable(
        self, by_seq: dict[int, Msg], pending: list[PreparedMessage], exc: BaseException
    ) -> None:
        self.db.failed(exc, "events are redelivered until it answers")
        delay = self._db_backoff.next()
        await self._nak(by_seq, [m.seq for m in pending], delay=delay)
        await asyncio.sleep(delay)

    async def _store_one_by_one(
        self, by_seq: dict[int, Msg], pending: list[PreparedMessage]
    ) -> None:
        """Find the message that cannot be stored: store the batch one message at a time.

        The one that fails is stored as a dead letter once it has been delivered
        `audit_dead_letter_after` times, else it and those after it come again later."""
        ordered = sorted(pending, key=lambda m: m.seq)
        for i, msg in enumerate(ordered):
            rest = [m.seq for m in ordered[i:]]
            try:
                result = await self.store.append([msg])
            except Exception as exc:
                if transient_db_error(exc):
                    await self._store_unavailable(by_seq, ordered[i:], exc)
                    return
                deliveries = by_seq[msg.seq].metadata.num_delivered or 1
                if deliveries < self.settings.audit_dead_letter_after:
                    log.warning("stream seq %d failed to store (delivery %d of %d): %s",
                                msg.seq, deliveries, self.settings.audit_dead_letter_after,
                                describe(exc))  # fmt: skip
                    await self._nak(by_seq, rest, delay=self._db_backoff.next())
                    return
                try:
                    result = await self.store.append([dead_letter(msg, describe(exc))])
                except Exception as again:
                    log.error("stream seq %d cannot be stored even as a dead letter (%s)",
                              msg.seq, describe(again))  # fmt: skip
                    await self._nak(by_seq, rest, delay=self._db_backoff.next())
                    return
            if await self._settle(by_seq, result):  # an earlier sequence is not stored yet
                await self._nak(by_seq, rest, delay=0.2)
                return

    async def _settle(self, by_seq: dict[int, Msg], result: AppendResult) -> set[int]:
        """Acknowledge what was stored, count it; returns the sequences still waiting."""
        for seq in (*result.stored, *result.duplicates):
            await _quietly(by_seq[seq].ack())
        for seq in result.undecodable:
            log.warning("stream seq %d is not a readable event; stored as undecodable", seq)
            await _quietly(by_seq[seq].term())
        for seq in result.dead_letters:
            log.error("stream seq %d stored as a dead letter after %d failed deliveries "
                      "(proctor audit verify counts them)",
                      seq, by_seq[seq].metadata.num_delivered or 1)  # fmt: skip
            await _quietly(by_seq[seq].term())
        self.stored += len(result.stored)
        self.undecodable += len(result.undecodable)
        self.dead_letters += len(result.dead_letters)
        stored_counter.add(len(result.stored))
        undecodable_counter.add(len(result.undecodable))
        dead_letter_counter.add(len(result.dead_letters))
        return set(result.waiting)

    @staticmethod
    async def _nak(by_seq: dict[int, Msg], seqs: list[int], delay: float) -> None:
        for seq in seqs:
            await _quietly(by_seq[seq].nak(delay=delay))


async def _quietly(ack: Awaitable[None]) -> None:
    # A lost ack or nak only means the message comes again (after ack_wait); the store
    # takes it as a duplicate.
    try:
        await ack
    except NatsError as exc:
        log.debug("acknowledgement failed: %s", exc)


async def _sleep_or_stop(stop: asyncio.Event, delay: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), delay)
