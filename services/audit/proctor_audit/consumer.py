"""The audit service's NATS adapter: a durable pull consumer, shared by replicas, that hands
batches to the store and acknowledges only what the store committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import UTC, datetime

import asyncpg
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js import api as js_api
from nats.js.errors import BadRequestError, NotFoundError
from opentelemetry import metrics

from proctor.bus import EVENT_SUBJECTS
from proctor.errors import StoreError
from proctor.settings import Settings
from proctor.telemetry import extract_context, setup_tracing
from proctor_audit.store import AuditStore, StreamMessage, prepare

log = logging.getLogger("proctor.audit")
_meter = metrics.get_meter("proctor.audit")
stored_counter = _meter.create_counter("proctor.audit.events_stored", description="Events stored")
undecodable_counter = _meter.create_counter(
    "proctor.audit.undecodable", description="Messages stored as undecodable and terminated"
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
    """Fetches batches and stores them; never crashes on a bad message or a dead database."""

    def __init__(self, js: JetStreamContext, store: AuditStore, settings: Settings) -> None:
        self.js = js
        self.store = store
        self.settings = settings
        self.tracer = setup_tracing("audit")
        self.stored = 0
        self.undecodable = 0

    async def run(self, stop: asyncio.Event) -> None:
        sub = await self.js.pull_subscribe(
            EVENT_SUBJECTS,
            durable=self.settings.audit_durable,
            stream=self.settings.stream_name,
            config=consumer_config(self.settings),
        )
        log.info("consuming %s as durable %r", EVENT_SUBJECTS, self.settings.audit_durable)
        while not stop.is_set():
            try:
                msgs = await sub.fetch(self.settings.audit_batch_size, timeout=1)
            except (NatsTimeout, TimeoutError):  # nats-py raises either on an empty fetch
                continue
            except NatsError as exc:
                log.warning("fetch failed (%s); retrying", exc)
                await asyncio.sleep(0.5)
                continue
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
                except (asyncpg.PostgresError, OSError, StoreError) as exc:
                    log.error("audit store unavailable (%s); %d events will be redelivered",
                              exc, len(pending))  # fmt: skip
                    await self._nak(by_seq, [m.seq for m in pending], delay=1.0)
                    await asyncio.sleep(1.0)
                    return
                except Exception:
                    # A bug must not stop the audit trail: log it, let the batch come again.
                    log.exception("storing %d events failed; they will be redelivered",
                                  len(pending))  # fmt: skip
                    await self._nak(by_seq, [m.seq for m in pending], delay=1.0)
                    await asyncio.sleep(1.0)
                    return
            for seq in (*result.stored, *result.duplicates):
                await by_seq[seq].ack()
            for seq in result.undecodable:
                log.warning("stream seq %d is not a readable event; stored as undecodable", seq)
                await by_seq[seq].term()
            self.stored += len(result.stored)
            self.undecodable += len(result.undecodable)
            stored_counter.add(len(result.stored))
            undecodable_counter.add(len(result.undecodable))
            waiting = set(result.waiting)
            pending = [m for m in pending if m.seq in waiting]
            if pending:
                if time.monotonic() > deadline:
                    await self._nak(by_seq, list(waiting), delay=0.2)
                    return
                # Another replica holds an earlier sequence; it will commit it shortly.
                await asyncio.sleep(pause)
                pause = min(pause * 2, 0.1)

    @staticmethod
    async def _nak(by_seq: dict[int, Msg], seqs: list[int], delay: float) -> None:
        for seq in seqs:
            try:
                await by_seq[seq].nak(delay=delay)
            except NatsError as exc:  # it will be redelivered after ack_wait anyway
                log.debug("nak of seq %d failed: %s", seq, exc)
