"""The event codec: wire round trips, subjects, JSON, and the upcaster proved on a stored event.

`tests/golden/command_executed_v1.bin` holds an event as schema v1 of command_executed wrote it.
It must stay as committed: it stands for bytes already in streams and stores. If it is ever lost,
`python tests/unit/test_codec.py` writes it again from `command_executed_v1()`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from hypothesis import given
from hypothesis import strategies as st

from proctor.errors import InvalidEvent, UndecodableEvent
from proctor.events import codec
from proctor.events.codec import (
    CURRENT_SCHEMA_VERSIONS,
    EVENT_TYPES,
    decode,
    encode,
    event_type,
    new_event,
    normalise_type,
    subject_filter,
    subject_for,
    to_dict,
)
from proctor.events.describe import describe
from proctor.events.v1 import events_pb2 as pb

GOLDEN_V1 = Path(__file__).resolve().parents[1] / "golden" / "command_executed_v1.bin"
SESSION = "5f0c8a4e2b7d4c1e9a3f6b8d0e2c4a6f"
WHO = pb.Identity(human="alice@example.com", agent="claude-code", groups=["engineering"])
WHERE = pb.Resource(name="demo", kind=pb.RESOURCE_KIND_POSTGRES)
AT = datetime(2025, 3, 14, 9, 26, 53, 589793, tzinfo=UTC)

# One non-default body per payload type, so a round trip has something to lose.
SAMPLE_PAYLOADS: dict[str, Message] = {
    "session_opened": pb.SessionOpened(
        protocol="postgres", client_address="127.0.0.1:50000", client_name="psql"
    ),
    "session_closed": pb.SessionClosed(reason="client closed", command_count=4),
    "command_received": pb.CommandReceived(text="SELECT 1", parameter_count=2),
    "command_classified": pb.CommandClassified(
        action=pb.ACTION_REVIEW,
        rule_ids=["write.update"],
        reasons=["writes need approval"],
        policy_version="v7",
        cached=True,
    ),
    "command_blocked": pb.CommandBlocked(
        rule_ids=["ddl.drop"], reason="DROP destroys data", hint="ask a human"
    ),
    "approval_requested": pb.ApprovalRequested(
        approval_id="a1b2c3d4e5f6",
        command_text="UPDATE t SET x = 1",
        rule_ids=["write.update"],
        reason="writes need approval",
        command_hash="sha256:00ff",
        expires_at=Timestamp(seconds=1_800_000_000),
        approver_groups=["sre", "dba"],
    ),
    "approval_granted": pb.ApprovalGranted(
        approval_id="a1b2c3d4e5f6", approver="bob@example.com", note="ok for staging"
    ),
    "approval_denied": pb.ApprovalDenied(
        approval_id="a1b2c3d4e5f6", approver="bob@example.com", note="wrong namespace"
    ),
    "approval_expired": pb.ApprovalExpired(approval_id="a1b2c3d4e5f6"),
    "approval_voted": pb.ApprovalVoted(approval_id="a1b2c3d4e5f6", approver="bob@example.com"),
    "approval_withdrawn": pb.ApprovalWithdrawn(
        approval_id="a1b2c3d4e5f6", reason="client disconnected"
    ),
    "approval_redeemed": pb.ApprovalRedeemed(
        approval_id="a1b2c3d4e5f6", decision="approval_granted"
    ),
    "command_executed": pb.CommandExecuted(
        error_code="42P01", error_message="relation does not exist", row_count=0, duration_us=91
    ),
    "result_masked": pb.ResultMasked(
        row_count=3,
        values_masked=2,
        counts=[pb.MaskCount(column="email", entity_type="EMAIL_ADDRESS", count=2)],
    ),
}


def sample(kind: str, session_id: str = SESSION) -> pb.Event:
    return new_event(
        session_id=session_id,
        identity=WHO,
        resource=WHERE,
        source="test",
        command_id="c0ffee",
        occurred_at=AT,
        trace=pb.TraceContext(
            traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
        ),
        **{kind: SAMPLE_PAYLOADS[kind]},
    )


def command_executed_v1() -> bytes:
    """The golden file's bytes: an event as schema v1 of command_executed wrote it."""
    event = pb.Event(
        event_id="6b1f7d0e-2c4a-4e8b-9f3d-1a2b3c4d5e6f",
        command_id="9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b",
        session_id=SESSION,
        identity=WHO,
        resource=WHERE,
        schema_version=1,
        source="ingress-proxy",
        command_executed=pb.CommandExecuted(rows=42, duration_ms=7),
    )
    event.occurred_at.FromDatetime(AT)
    return event.SerializeToString(deterministic=True)


def test_every_event_type_has_a_sample() -> None:
    assert set(SAMPLE_PAYLOADS) == set(EVENT_TYPES)


@pytest.mark.parametrize("kind", EVENT_TYPES)
def test_round_trip(kind: str) -> None:
    event = sample(kind)
    data = encode(event)

    back = decode(data)

    assert back == event
    assert event_type(back) == kind
    assert back.schema_version == CURRENT_SCHEMA_VERSIONS[kind]
    assert encode(back) == data


@given(text=st.text(), parameter_count=st.integers(0, 2**32 - 1))
def test_command_received_round_trip(text: str, parameter_count: int) -> None:
    event = sample("command_received")
    event.command_received.text = text
    event.command_received.parameter_count = parameter_count

    back = decode(encode(event))

    assert back.command_received.text == text
    assert back.command_received.parameter_count == parameter_count
    assert back == event


@pytest.mark.parametrize("kind", EVENT_TYPES)
def test_subject_for(kind: str) -> None:
    assert subject_for(sample(kind)) == f"proctor.evt.{kind}.{SESSION}"


@pytest.mark.parametrize("session_id", ["a-Z_9", "x" * 64])
def test_subject_for_accepts_the_widest_session_ids(session_id: str) -> None:
    assert subject_for(sample("session_opened", session_id)).endswith(f".{session_id}")


@pytest.mark.parametrize(
    "session_id",
    ["abc.def", "abc def", "", "x" * 65, "abc*", "abc>", "abc\n", "sessión"],
    ids=["dot", "space", "empty", "too-long", "star", "gt", "newline", "non-ascii"],
)
def test_subject_for_rejects_bad_session_ids(session_id: str) -> None:
    with pytest.raises(InvalidEvent, match="session id"):
        subject_for(sample("session_opened", session_id))


def test_subject_for_rejects_an_event_without_payload() -> None:
    event = pb.Event(event_id="e-1", session_id=SESSION)
    with pytest.raises(InvalidEvent, match="no payload"):
        subject_for(event)


@pytest.mark.parametrize(
    ("kind", "session_id", "expected"),
    [
        (None, None, "proctor.evt.>"),
        ("command_blocked", None, "proctor.evt.command_blocked.*"),
        ("CommandBlocked", None, "proctor.evt.command_blocked.*"),
        (None, SESSION, f"proctor.evt.*.{SESSION}"),
        ("CommandBlocked", SESSION, f"proctor.evt.command_blocked.{SESSION}"),
    ],
)
def test_subject_filter(kind: str | None, session_id: str | None, expected: str) -> None:
    assert subject_filter(kind, session_id) == expected


@pytest.mark.parametrize("kind", EVENT_TYPES)
def test_camel_case_names_normalise(kind: str) -> None:
    camel = "".join(part.title() for part in kind.split("_"))
    assert normalise_type(camel) == kind
    assert subject_filter(camel) == f"proctor.evt.{kind}.*"


@pytest.mark.parametrize("kind", ["command_exploded", "CommandExploded", "commandBlocked", "*"])
def test_subject_filter_rejects_unknown_types(kind: str) -> None:
    with pytest.raises(InvalidEvent, match="unknown event type"):
        subject_filter(kind)


@pytest.mark.parametrize("session_id", ["a.b", "", ">", "abc\n"])
def test_subject_filter_rejects_bad_session_ids(session_id: str) -> None:
    with pytest.raises(InvalidEvent):
        subject_filter("command_received", session_id)


def _truncated() -> bytes:
    return encode(sample("approval_requested"))[:-3]


@pytest.mark.parametrize(
    "data",
    [b"garbage bytes", b"\xff\xff\xff", b"", b"\x0a\x02\xff\xfe", _truncated()],
    ids=["text", "bad-varint", "empty", "bad-utf8-event-id", "truncated"],
)
def test_decode_garbage(data: bytes) -> None:
    with pytest.raises(UndecodableEvent):
        decode(data)


_VALID = encode(sample("command_classified"))


@given(
    st.one_of(
        st.binary(max_size=200),
        st.binary(max_size=40).map(lambda tail: _VALID + tail),
        st.tuples(st.integers(0, len(_VALID)), st.binary(max_size=8)).map(
            lambda cut: _VALID[: cut[0]] + cut[1] + _VALID[cut[0] + len(cut[1]) :]
        ),
    )
)
def test_decode_never_raises_anything_but_undecodable(data: bytes) -> None:
    try:
        event = decode(data)
    except UndecodableEvent:
        return
    assert isinstance(event, pb.Event)
    assert event.event_id


def test_new_event_rejects_no_payload() -> None:
    with pytest.raises(InvalidEvent, match="exactly one payload"):
        new_event(session_id=SESSION, identity=WHO, resource=WHERE, source="test")


def test_new_event_rejects_two_payloads() -> None:
    with pytest.raises(InvalidEvent, match="exactly one payload"):
        new_event(
            session_id=SESSION,
            identity=WHO,
            resource=WHERE,
            source="test",
            session_opened=pb.SessionOpened(),
            session_closed=pb.SessionClosed(),
        )


def test_new_event_rejects_an_unknown_payload_name() -> None:
    with pytest.raises(InvalidEvent, match="unknown event type"):
        new_event(
            session_id=SESSION, identity=WHO, resource=WHERE, source="t", bogus=pb.SessionOpened()
        )


def test_new_event_ids_are_fresh() -> None:
    assert sample("session_opened").event_id != sample("session_opened").event_id


@pytest.mark.parametrize("kind", EVENT_TYPES)
def test_to_dict_names_the_type(kind: str) -> None:
    out = to_dict(sample(kind))

    assert out["type"] == kind
    assert kind in out
    assert out["session_id"] == SESSION
    assert out["identity"]["human"] == "alice@example.com"


def test_to_dict_uses_proto_field_names() -> None:
    out = to_dict(sample("command_received"))
    assert out["command_received"] == {"text": "SELECT 1", "parameter_count": 2}
    assert out["occurred_at"] == "2025-03-14T09:26:53.589793Z"


def test_to_dict_of_an_event_without_payload() -> None:
    assert to_dict(pb.Event(event_id="e-1"))["type"] == "unknown"


def test_golden_file_is_still_a_v1_event() -> None:
    # Guards against the golden file being regenerated by code that already writes v2.
    raw = pb.Event.FromString(GOLDEN_V1.read_bytes())
    assert raw.schema_version == 1
    assert raw.command_executed.rows == 42
    assert raw.command_executed.duration_ms == 7
    assert raw.command_executed.row_count == 0


def test_stored_v1_event_is_upcast() -> None:
    event = decode(GOLDEN_V1.read_bytes())

    assert event.schema_version == 2
    body = event.command_executed
    assert body.row_count == 42
    assert body.duration_us == 7000
    assert body.rows == 0
    assert body.duration_ms == 0
    assert event.event_id == "6b1f7d0e-2c4a-4e8b-9f3d-1a2b3c4d5e6f"
    assert event.session_id == SESSION
    assert event.occurred_at.ToDatetime(tzinfo=UTC) == AT
    assert to_dict(event)["command_executed"] == {"row_count": "42", "duration_us": "7000"}


def test_missing_schema_version_is_read_as_v1() -> None:
    event = pb.Event.FromString(GOLDEN_V1.read_bytes())
    event.ClearField("schema_version")

    back = decode(encode(event))

    assert back.schema_version == 2
    assert back.command_executed.duration_us == 7000


def test_negative_v1_rows_become_zero() -> None:
    event = pb.Event.FromString(GOLDEN_V1.read_bytes())
    event.command_executed.rows = -1

    assert decode(encode(event)).command_executed.row_count == 0


def test_current_version_is_not_upcast_again() -> None:
    event = sample("command_executed")
    event.command_executed.row_count = 5
    event.command_executed.duration_us = 123

    back = decode(encode(event))

    assert back.command_executed.row_count == 5
    assert back.command_executed.duration_us == 123


def test_future_version_is_passed_through_untouched() -> None:
    # A newer writer's event is kept as written rather than refused: readers must not stall.
    event = pb.Event.FromString(GOLDEN_V1.read_bytes())
    event.schema_version = 3

    back = decode(encode(event))

    assert back.schema_version == 3
    assert back.command_executed.rows == 42
    assert back.command_executed.row_count == 0


def test_missing_upcaster_is_undecodable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(codec._UPCASTERS, ("command_executed", 1))
    with pytest.raises(UndecodableEvent, match="no upcaster for command_executed schema version 1"):
        decode(GOLDEN_V1.read_bytes())


def test_version_bump_without_upcaster_is_undecodable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(codec.CURRENT_SCHEMA_VERSIONS, "session_opened", 2)
    data = encode(pb.Event(event_id="e-1", schema_version=1, session_opened=pb.SessionOpened()))
    with pytest.raises(UndecodableEvent, match="no upcaster for session_opened schema version 1"):
        decode(data)


def test_upcast_of_an_unknown_payload_is_a_no_op() -> None:
    event = pb.Event(event_id="e-1", schema_version=9)
    assert decode(encode(event)).schema_version == 9


if __name__ == "__main__":
    GOLDEN_V1.write_bytes(command_executed_v1())


def test_event_ids_are_version_4_uuids_and_unique() -> None:
    import uuid

    from proctor.events.codec import new_hex_id, new_id

    ids = {new_id() for _ in range(10000)}
    assert len(ids) == 10000
    for text in list(ids)[:200]:
        parsed = uuid.UUID(text)
        assert str(parsed) == text
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122
    hexes = {new_hex_id() for _ in range(10000)}
    assert len(hexes) == 10000 and all(len(h) == 32 for h in hexes)


def test_an_event_factory_builds_what_new_event_builds() -> None:
    from proctor.events.codec import EventFactory

    who = pb.Identity(human="alice@example.com", agent="psql", groups=["eng"])
    where = pb.Resource(name="demo", kind=pb.RESOURCE_KIND_POSTGRES)
    factory = EventFactory(session_id="s" * 32, identity=who, resource=where, source="test")
    body = pb.CommandExecuted(row_count=3, duration_us=120)
    made = factory.make("c1", 1_700_000_000_123_456_789, command_executed=body)
    reference = new_event(
        session_id="s" * 32, identity=who, resource=where, source="test", command_id="c1",
        command_executed=body,
    )  # fmt: skip
    assert made.occurred_at.seconds == 1_700_000_000 and made.occurred_at.nanos == 123_456_789
    reference.event_id = made.event_id
    reference.occurred_at.CopyFrom(made.occurred_at)
    assert made == reference
    assert decode(encode(made)) == made
    with pytest.raises(InvalidEvent):
        factory.make("c1", no_such_payload=body)
    with pytest.raises(InvalidEvent):
        factory.make("c1")


def test_an_approval_request_describes_the_values_it_runs_with() -> None:
    event = new_event(
        session_id="s1",
        identity=pb.Identity(human="alice"),
        resource=pb.Resource(name="db"),
        source="test",
        approval_requested=pb.ApprovalRequested(
            approval_id="ap1", reason="writes need approval", parameters=["mallory", "x" * 100]
        ),
    )
    text = describe(event)
    assert "(with $1 = mallory, $2 = " + "x" * 59 + "…)" in text
    assert text.endswith(": writes need approval")
    event.approval_requested.ClearField("parameters")
    assert "with" not in describe(event)
