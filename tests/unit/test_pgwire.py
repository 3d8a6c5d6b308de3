"""Wire framing and the proxy's command tracking, without a server."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from proctor import pgwire
from proctor_ingress.postgres.statements import SqlStatements
from proctor_ingress.postgres.tracking import Command, CommandTracker

messages = st.lists(
    st.tuples(st.sampled_from([b"Q", b"P", b"B", b"E", b"S", b"D", b"C"]), st.binary(max_size=300)),
    max_size=20,
)


@given(messages, st.lists(st.integers(min_value=1, max_value=50), max_size=40))
def test_framing_survives_any_split(msgs: list[tuple[bytes, bytes]], cuts: list[int]) -> None:
    stream = b"".join(pgwire.frame(kind, body) for kind, body in msgs)
    buf = pgwire.MessageBuffer()
    seen: list[tuple[bytes, bytes]] = []
    pos = 0
    for cut in [*cuts, len(stream)]:
        buf.feed(stream[pos : pos + cut])
        pos += cut
        seen.extend((m.type, m.body) for m in buf.messages())
    buf.feed(stream[pos:])
    seen.extend((m.type, m.body) for m in buf.messages())
    assert seen == msgs
    assert len(buf) == 0


def test_a_message_taken_is_consumed_even_if_the_reader_stops() -> None:
    buf = pgwire.MessageBuffer()
    buf.feed(pgwire.frame(b"R", b"\0\0\0\0") + pgwire.frame(b"Z", b"I"))
    first = next(iter(buf.messages()))
    second = next(iter(buf.messages()))
    assert (first.type, second.type) == (b"R", b"Z")


def test_a_buffer_filled_elsewhere_is_read_in_place() -> None:
    """What arrives while a reader holds a message (a protocol appending to the buffer) is
    kept for the next pass, and only what was read is taken."""
    raw = bytearray(pgwire.frame(b"Q", b"SELECT 1\0") + pgwire.frame(b"S")[:3])
    buf = pgwire.MessageBuffer(raw)
    reader = buf.messages()
    assert next(reader).body == b"SELECT 1\0"
    raw += pgwire.frame(b"S")[3:] + pgwire.frame(b"X")
    assert list(reader) == []  # not seen in this pass: it came after it began
    assert [m.type for m in buf.messages()] == [b"S", b"X"]
    assert raw == bytearray()


def test_invalid_length_is_a_protocol_error() -> None:
    buf = pgwire.MessageBuffer()
    buf.feed(b"Q" + struct.pack("!i", 2))
    try:
        list(buf.messages())
    except pgwire.ProtocolError as exc:
        assert "invalid message length" in str(exc)
    else:
        raise AssertionError("a length below 4 must be refused")


def test_error_response_round_trips() -> None:
    frame = pgwire.error_response("nope", code="42501", hint="do this", detail="why")
    fields = pgwire.error_fields(frame[5:])
    assert fields["C"] == "42501" and fields["M"] == "nope" and fields["H"] == "do this"


def test_startup_and_parse_messages() -> None:
    startup = pgwire.startup_message({"user": "alice", "database": "demo"})
    assert pgwire.parse_startup(startup[4:]) == {"user": "alice", "database": "demo"}
    parse = pgwire.build_parse("s1", "SELECT $1", b"\0\1\0\0\0\x17")
    parsed = pgwire.parse_parse(parse[5:])
    assert (parsed.statement, parsed.query, parsed.param_types) == (
        "s1",
        "SELECT $1",
        b"\0\1\0\0\0\x17",
    )
    assert pgwire.command_tag_rows(b"INSERT 0 5\0") == 5
    assert pgwire.command_tag_rows(b"BEGIN\0") == 0


def _error(code: str) -> bytes:
    return pgwire.error_response("x", code=code)[5:]


def test_tracker_simple_query_with_several_statements() -> None:
    tracker = CommandTracker()
    cmd = Command("c1", "SELECT 1; SELECT 2")
    tracker.query(cmd)
    assert tracker.backend(b"C", b"SELECT 1\0") == []
    assert tracker.backend(b"C", b"SELECT 1\0") == []
    [done] = tracker.backend(b"Z", b"I")
    assert done.command is cmd and done.rows == 2 and done.error_code == ""
    assert len(tracker) == 0


def test_tracker_pipeline_error_skips_to_sync() -> None:
    tracker = CommandTracker()
    first, second, third = Command("a", "s1"), Command("b", "s2"), Command("c", "s3")
    tracker.execute(first)
    tracker.execute(second)
    tracker.execute(third)
    tracker.sync()
    tracker.add_rows(3)
    [a] = tracker.backend(b"C", b"SELECT 3\0")
    assert a.command is first and a.rows == 3
    [b] = tracker.backend(b"E", _error("22012"))
    assert b.command is second and b.error_code == "22012"
    assert tracker.backend(b"Z", b"I") == []  # the third was skipped by the server
    assert len(tracker) == 0 and tracker.status == b"I"


def test_tracker_refused_commands_are_never_executed() -> None:
    tracker = CommandTracker()
    tracker.query(Command("r", "DROP TABLE t", refused=True))
    tracker.backend(b"E", _error("42601"))
    assert tracker.backend(b"Z", b"E") == []
    assert tracker.status == b"E"


def test_execute_of_sql_prepared_statement_is_judged_by_its_body() -> None:
    statements = SqlStatements()
    statements.simple_query("PREPARE wipe AS DELETE FROM t", Command("p", "PREPARE ..."))
    assert statements.judged_text("EXECUTE wipe") == "DELETE FROM t"
    assert statements.judged_text("EXECUTE other(1)") == "EXECUTE other(1)"
    statements.simple_query("DEALLOCATE wipe", Command("d", "DEALLOCATE wipe"))
    assert statements.judged_text("EXECUTE wipe") == "EXECUTE wipe"


@given(
    st.integers(-(2**31), 2**31 - 1),
    st.text(alphabet=st.characters(blacklist_characters="\0", blacklist_categories=["Cs"])),
    st.text(alphabet=st.characters(blacklist_characters="\0", blacklist_categories=["Cs"])),
)
def test_a_notification_reads_back_as_written(pid: int, channel: str, payload: str) -> None:
    frame = pgwire.notification(pid, channel, payload)
    assert frame[:1] == b"A"
    assert pgwire.parse_notification(frame[5:]) == (pid, channel, payload)


def test_a_message_over_the_limit_is_refused_at_its_header() -> None:
    buf = pgwire.MessageBuffer(max_message=1024)
    buf.feed(pgwire.frame(b"Q", b"SELECT 1\0") + b"Q" + struct.pack("!i", 300 << 20) + b"xx")
    messages = buf.messages()
    assert next(messages).type == b"Q"
    with pytest.raises(pgwire.MessageTooLarge) as refused:
        next(messages)
    assert (refused.value.kind, refused.value.length, refused.value.limit) == (
        b"Q", (300 << 20) + 1, 1024,
    )  # fmt: skip
