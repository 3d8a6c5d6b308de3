"""The masker's NATS adapter: request/reply on `proctor.rpc.mask` in the queue group `masker`.
A request that cannot be masked gets an error reply, never rows: the proxy then sends nothing."""

from __future__ import annotations

import asyncio
import logging

from google.protobuf.message import DecodeError

from proctor import subjects
from proctor.events.v1 import events_pb2 as pb
from proctor.masker.v1 import masker_pb2 as mpb
from proctor.rpc import make_broker, raw_body, start_broker, stop_broker
from proctor.settings import Settings
from proctor_masker import wire
from proctor_masker.core import default_detector, mask
from proctor_masker.model import Column, MaskRequestBatch, MaskSettings, kind_for_type

log = logging.getLogger("proctor.masker")

MASK_SUBJECT = subjects.MASK
MASK_QUEUE = subjects.MASK_QUEUE


def to_batch(request: mpb.MaskRequest) -> MaskRequestBatch:
    columns = tuple(
        Column(c.name, c.type_name, kind_for_type(c.type_name)) for c in request.columns
    )
    rows = tuple(tuple(None if v.null else v.text for v in row.values) for row in request.rows)
    return MaskRequestBatch(columns, rows)


def _error(message: str) -> bytes:
    return mpb.MaskResponse(error=message).SerializeToString()


def handle_bytes(body: bytes, settings: MaskSettings) -> bytes:
    """The pure part of serving: request bytes in, reply bytes out (errors become error
    replies). Rows are read and written by `wire`, a Python object per value."""
    try:
        columns, rows = wire.decode_request(body)
        batch = MaskRequestBatch(
            tuple(Column(c.name, c.type_name, kind_for_type(c.type_name)) for c in columns),
            tuple(map(tuple, rows)),
        )
    except (DecodeError, RuntimeError, ValueError) as exc:
        return _error(f"not a valid proctor.masker.v1.MaskRequest: {exc}")
    result = mask(batch, settings)
    rest = mpb.MaskResponse(
        counts=[
            pb.MaskCount(column=c.column, entity_type=c.entity, count=c.count)
            for c in result.report.counts
        ],
        values_masked=result.report.masked,
        analyses_all_text=default_detector().uses_ner,
    )
    return wire.encode_rows(result.rows) + rest.SerializeToString()


def handle_request(body: bytes, settings: MaskSettings) -> mpb.MaskResponse:
    """`handle_bytes`, its reply parsed."""
    return mpb.MaskResponse.FromString(handle_bytes(body, settings))


class MaskerService:
    def __init__(self, settings: Settings, mask_settings: MaskSettings) -> None:
        self.nats_url = settings.nats_url
        self.mask_settings = mask_settings
        self.served = 0
        self.broker = make_broker(settings, "proctor-masker")
        self.broker.subscriber(MASK_SUBJECT, queue=MASK_QUEUE, decoder=raw_body)(self.handle)

    async def handle(self, body: bytes) -> bytes:
        self.served += 1
        try:
            return handle_bytes(body, self.mask_settings)
        except Exception as exc:  # a bug must not take the masker down; the proxy fails closed
            log.exception("masking a batch failed")
            return _error(f"the masker failed on this batch: {exc}")

    async def run(self, stop: asyncio.Event) -> None:
        default_detector().warm_up()  # load the recognizers (and say what is not detected)
        if not await start_broker(self.broker, stop, self.nats_url):
            return
        log.info("masker ready on %s (queue %s)", MASK_SUBJECT, MASK_QUEUE)
        try:
            await stop.wait()
        finally:
            await stop_broker(self.broker)
            log.info("masker stopped; served %d batches", self.served)
