"""The one codec between wire bytes and Event messages: versions, upcasting, subjects, JSON.

Subjects are `proctor.evt.<type>.<session_id>`, so a consumer takes everything
(`proctor.evt.>`), one event type (`proctor.evt.command_received.*`) or one session
(`proctor.evt.*.<session_id>`).
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError

from proctor.errors import InvalidEvent, UndecodableEvent
from proctor.events.v1 import events_pb2 as pb

SUBJECT_PREFIX = "proctor.evt"

#: Every payload type, in the order of the `Event.payload` oneof.
EVENT_TYPES: tuple[str, ...] = tuple(
    f.name for f in pb.Event.DESCRIPTOR.oneofs_by_name["payload"].fields
)

#: The schema version each payload type is written with today.
CURRENT_SCHEMA_VERSIONS: dict[str, int] = {name: 1 for name in EVENT_TYPES} | {
    "command_executed": 2,
}

_SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}\Z")
_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def event_type(event: pb.Event) -> str:
    """The payload type of an event (`command_received`, ...), or `unknown` if none is set."""
    return event.WhichOneof("payload") or "unknown"


def normalise_type(name: str) -> str:
    """Accept `CommandReceived` or `command_received`; return the subject token."""
    snake = _CAMEL.sub("_", name).lower() if name[:1].isupper() else name
    if snake not in EVENT_TYPES:
        raise InvalidEvent(f"unknown event type {name!r}; known: {', '.join(EVENT_TYPES)}")
    return snake


def subject_for(event: pb.Event) -> str:
    """The NATS subject an event is published on."""
    kind = event.WhichOneof("payload")
    if kind is None:
        raise InvalidEvent(f"event {event.event_id or '?'} has no payload")
    if not _SESSION_ID.match(event.session_id):
        raise InvalidEvent(
            f"event {event.event_id or '?'} has session id {event.session_id!r}; "
            "it must be 1-64 characters of letters, digits, '-' or '_'"
        )
    return f"{SUBJECT_PREFIX}.{kind}.{event.session_id}"


def subject_filter(event_type_name: str | None = None, session_id: str | None = None) -> str:
    """A subscription subject for all events, one type, one session, or both."""
    if event_type_name is None and session_id is None:
        return f"{SUBJECT_PREFIX}.>"
    kind = normalise_type(event_type_name) if event_type_name else "*"
    if session_id is not None and not _SESSION_ID.match(session_id):
        raise InvalidEvent(f"session id {session_id!r} is not valid in a subject")
    return f"{SUBJECT_PREFIX}.{kind}.{session_id or '*'}"


_bits = random.getrandbits  # reseeded in forked children; ids need uniqueness, not secrecy
_VERSION_4 = (0xF000 << 64, 0x4000 << 64)
_VARIANT = (0xC000 << 48, 0x8000 << 48)


def new_id() -> str:
    """A random UUID (version 4) as text, ~3x cheaper than str(uuid.uuid4())."""
    n = (_bits(128) & ~_VERSION_4[0] | _VERSION_4[1]) & ~_VARIANT[0] | _VARIANT[1]
    h = f"{n:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def new_hex_id() -> str:
    """128 random bits as 32 hex digits (command and session ids)."""
    return f"{_bits(128):032x}"


def new_event(
    *,
    session_id: str,
    identity: pb.Identity,
    resource: pb.Resource,
    source: str,
    command_id: str = "",
    occurred_at: datetime | None = None,
    trace: pb.TraceContext | None = None,
    **payload: Any,
) -> pb.Event:
    """Build an event with a fresh id, the current schema version and exactly one payload."""
    if len(payload) != 1:
        raise InvalidEvent(f"an event carries exactly one payload, got {sorted(payload)}")
    ((kind, body),) = payload.items()
    if kind not in EVENT_TYPES:
        raise InvalidEvent(f"unknown event type {kind!r}")
    event = pb.Event(
        event_id=new_id(),
        command_id=command_id,
        session_id=session_id,
        identity=identity,
        resource=resource,
        schema_version=CURRENT_SCHEMA_VERSIONS[kind],
        source=source,
    )
    if trace is not None:
        event.trace.CopyFrom(trace)
    if occurred_at is not None:
        event.occurred_at.FromDatetime(occurred_at)
    else:  # the hot path: a few times cheaper than going through a datetime
        now = time.time_ns()
        event.occurred_at.seconds, event.occurred_at.nanos = divmod(now, 1_000_000_000)
    getattr(event, kind).CopyFrom(body)
    return event


class EventFactory:
    """Builds the events of one session (same session, identity, resource and source) from a
    template: about twice as fast as `new_event`, for a publisher on the hot path."""

    def __init__(
        self, *, session_id: str, identity: pb.Identity, resource: pb.Resource, source: str
    ) -> None:
        self._template = pb.Event(
            session_id=session_id, identity=identity, resource=resource, source=source
        )

    def make(
        self, command_id: str = "", occurred_ns: int | None = None, **payload: Any
    ) -> pb.Event:
        """An event with a fresh id, the current schema version and exactly one payload."""
        if len(payload) != 1:
            raise InvalidEvent(f"an event carries exactly one payload, got {sorted(payload)}")
        ((kind, body),) = payload.items()
        version = CURRENT_SCHEMA_VERSIONS.get(kind)
        if version is None:
            raise InvalidEvent(f"unknown event type {kind!r}")
        event = pb.Event()
        event.CopyFrom(self._template)
        event.event_id = new_id()
        event.command_id = command_id
        event.schema_version = version
        now = time.time_ns() if occurred_ns is None else occurred_ns
        event.occurred_at.seconds, event.occurred_at.nanos = divmod(now, 1_000_000_000)
        getattr(event, kind).CopyFrom(body)
        return event


def encode(event: pb.Event) -> bytes:
    """Wire bytes of an event (deterministic field order, so equal events give equal bytes)."""
    return event.SerializeToString(deterministic=True)


def decode(data: bytes) -> pb.Event:
    """Parse wire bytes and upcast the payload to its current schema version."""
    return upcast(parse(data))


def parse(data: bytes) -> pb.Event:
    """Parse wire bytes as written, without upcasting."""
    event = pb.Event()
    try:
        event.ParseFromString(data)
    except (DecodeError, RuntimeError, ValueError) as exc:
        raise UndecodableEvent(f"not a proctor.events.v1.Event: {exc}") from exc
    if not event.event_id:
        raise UndecodableEvent("not a proctor.events.v1.Event: no event_id")
    return event


def _command_executed_v1_to_v2(event: pb.Event) -> None:
    body = event.command_executed
    body.row_count = max(body.rows, 0)
    body.duration_us = body.duration_ms * 1000
    body.ClearField("rows")
    body.ClearField("duration_ms")


# (payload type, version read) -> function that lifts the event in place to version + 1.
_UPCASTERS: dict[tuple[str, int], Callable[[pb.Event], None]] = {
    ("command_executed", 1): _command_executed_v1_to_v2,
}


def upcast(event: pb.Event) -> pb.Event:
    """Lift an event written with an older schema version to the current one, step by step."""
    kind = event_type(event)
    current = CURRENT_SCHEMA_VERSIONS.get(kind)
    if current is None:
        return event
    version = event.schema_version or 1
    while version < current:
        step = _UPCASTERS.get((kind, version))
        if step is None:
            raise UndecodableEvent(f"no upcaster for {kind} schema version {version}")
        step(event)
        version += 1
    event.schema_version = version
    return event


def to_dict(event: pb.Event) -> dict[str, Any]:
    """A JSON-ready dict of an event, with proto field names (the SIEM and store format)."""
    out: dict[str, Any] = json_format.MessageToDict(
        event, preserving_proto_field_name=True, always_print_fields_with_no_presence=False
    )
    out["type"] = event_type(event)
    return out
