"""The state of one Postgres session, shared by its two halves: what the client sends
(client.py) and what the target answers (target.py). session.py joins them."""

from __future__ import annotations

import asyncio
from collections import deque

from proctor.events.v1 import events_pb2 as pb
from proctor.masker.v1 import masker_pb2 as mpb
from proctor.maskrules import Prefilter
from proctor.pgwire import MessageBuffer
from proctor_ingress.emitter import SessionEvents
from proctor_ingress.gateway import Gateway
from proctor_ingress.lifecycle import Lifecycle
from proctor_ingress.masking import MaskStats
from proctor_ingress.postgres.pipes import Pipe
from proctor_ingress.postgres.results import Descriptions, Result
from proctor_ingress.postgres.statements import SqlStatements
from proctor_ingress.postgres.tracking import CommandTracker
from proctor_ingress.postgres.upstream import Upstream

REFUSED_MARKER = "PROCTOR_REFUSED_"
PROTOCOL_VIOLATION = "08P01"
ADMIN_SHUTDOWN = "57P01"
HELD_READ_LIMIT = 1 << 20  # bytes of client input kept while a statement awaits approval
UPSTREAM_READ_LIMIT = 1 << 20  # bytes of target output kept while the client or masker lags
MASKING_FAILED = "58000"
WITHHELD_FIELD = "(withheld by Proctor: masking was unavailable)"

# A batch masked: its frames (candidate rows rebuilt), the answer, its number of candidate rows.
Masked = tuple[list[bytes], mpb.MaskResponse, int]


class SessionState:
    """Attributes of a session (set in ClientSession.__init__ and _open)."""

    gw: Gateway
    writer: asyncio.StreamWriter
    session_id: str
    tracker: CommandTracker
    statements: SqlStatements
    replacements: dict[str, bytes]
    skip_until_sync: bool
    client_buf: MessageBuffer
    client_pipe: Pipe | None
    upstream_pipe: Pipe | None
    linger: bool
    upstream: Upstream | None
    events: SessionEvents | None
    life: Lifecycle | None
    identity: pb.Identity
    groups: tuple[str, ...]
    resource: pb.Resource
    prefilter: Prefilter
    descriptions: Descriptions
    result: Result | None
    batch: list[tuple[bytes, list[bytes | None], list[str | None]]]
    batch_bytes: int
    batch_values: int
    in_flight: deque[tuple[int, asyncio.Task[Masked]]]
    out: list[bytes | bytearray]
    withheld: str | None
    drop_until_ready: bool
    mask_stats: dict[str, MaskStats]
