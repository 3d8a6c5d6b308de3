"""Where approval checkpoints live: one key in a JetStream KV bucket, written by any replica
(every replica folds the same stream, so any checkpoint is as good as another's)."""

from __future__ import annotations

import logging
import time

from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js import api as js_api
from nats.js.errors import BucketNotFoundError, KeyNotFoundError
from nats.js.kv import KeyValue

from proctor.busaccess import STATE_BUCKET
from proctor_approval.checkpoint import restore, snapshot
from proctor_approval.core import ApprovalState

log = logging.getLogger("proctor.approval")

BUCKET = STATE_BUCKET  # the approval user's NATS rights name it (busaccess)
KEY = "checkpoint"
EVERY_EVENTS = 1000  # approval events folded between checkpoints
EVERY_SECONDS = 30.0  # or this long, when anything was folded


class CheckpointStore:
    def __init__(self, js: JetStreamContext, replicas: int) -> None:
        self.js = js
        self.replicas = replicas
        self.kv: KeyValue | None = None
        self.saved_seq = 0
        self._saved_at = time.monotonic()

    async def _bucket(self) -> KeyValue:
        if self.kv is None:
            try:
                self.kv = await self.js.key_value(BUCKET)
            except BucketNotFoundError:
                self.kv = await self.js.create_key_value(
                    bucket=BUCKET,
                    description="Proctor approvals: the latest checkpoint of the live state",
                    history=1,
                    storage=js_api.StorageType.FILE,
                    replicas=self.replicas,
                )
        return self.kv

    async def load(self, stream_last_seq: int) -> tuple[ApprovalState, int] | None:
        """The latest checkpoint, unless there is none, it is unreadable, or it is ahead of
        the stream (a stream created anew): then the fold starts from sequence 1."""
        try:
            entry = await (await self._bucket()).get(KEY)
            state, seq = restore(entry.value or b"")
        except KeyNotFoundError:
            return None
        except (ValueError, NatsError) as exc:
            log.warning("approval checkpoint not used (%s); folding from sequence 1", exc)
            return None
        if seq > stream_last_seq:
            log.warning("approval checkpoint at seq %d is ahead of the stream (%d); folding "
                        "from sequence 1", seq, stream_last_seq)  # fmt: skip
            return None
        self.saved_seq = seq
        return state, seq

    async def maybe_save(self, state: ApprovalState, seq: int) -> None:
        """Save when enough was folded since the last checkpoint; failures only delay it."""
        if seq <= self.saved_seq:
            return
        due = seq - self.saved_seq >= EVERY_EVENTS
        if not due and time.monotonic() - self._saved_at < EVERY_SECONDS:
            return
        try:
            await (await self._bucket()).put(KEY, snapshot(state, seq))
        except NatsError as exc:
            log.warning("approval checkpoint not saved: %s", exc)
            return
        self.saved_seq = seq
        self._saved_at = time.monotonic()
