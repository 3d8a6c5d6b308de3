"""Command-lifecycle events: the generated protobuf messages and their codec."""

from proctor.events.codec import (
    CURRENT_SCHEMA_VERSIONS,
    EVENT_TYPES,
    SUBJECT_PREFIX,
    decode,
    encode,
    event_type,
    new_event,
    subject_filter,
    subject_for,
    to_dict,
    upcast,
)
from proctor.events.v1 import events_pb2 as pb

__all__ = [
    "CURRENT_SCHEMA_VERSIONS",
    "EVENT_TYPES",
    "SUBJECT_PREFIX",
    "decode",
    "encode",
    "event_type",
    "new_event",
    "pb",
    "subject_filter",
    "subject_for",
    "to_dict",
    "upcast",
]
