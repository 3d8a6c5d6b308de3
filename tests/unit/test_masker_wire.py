"""The masker's own reading and writing of requests and replies agrees with protobuf's."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proctor.masker.v1 import masker_pb2 as mpb
from proctor_masker import wire
from proctor_masker.model import MaskSettings
from proctor_masker.service import handle_bytes, handle_request, to_batch

_VALUES = st.one_of(
    st.none(),
    st.text(max_size=10),
    st.text(max_size=300),
    st.sampled_from(["", "a", "x" * 127, "x" * 128, "é" * 64, "ada@example.com"]),
)
_ROWS = st.lists(st.lists(_VALUES, min_size=3, max_size=3), max_size=8)


def _request(rows: list[list[str | None]]) -> mpb.MaskRequest:
    return mpb.MaskRequest(
        columns=[
            mpb.Column(name="a", type_name="text"),
            mpb.Column(name="b", type_name="jsonb"),
            mpb.Column(name="c", type_name="int4"),
        ],
        rows=[
            mpb.Row(values=[mpb.Value(null=True) if v is None else mpb.Value(text=v) for v in r])
            for r in rows
        ],
    )


@settings(max_examples=300, deadline=None)
@given(rows=_ROWS)
def test_decode_request_reads_what_protobuf_reads(rows: list[list[str | None]]) -> None:
    request = _request(rows)
    columns, got = wire.decode_request(request.SerializeToString())
    assert [(c.name, c.type_name) for c in columns] == [
        ("a", "text"),
        ("b", "jsonb"),
        ("c", "int4"),
    ]
    assert got == [list(r) for r in to_batch(request).rows] == rows


def test_decode_request_reads_values_in_any_encoding() -> None:
    """Fields in another order, repeated (the last wins), or both text and null set."""
    text_then_null = mpb.Value(text="a").SerializeToString() + b"\x10\x01"
    null_then_text = b"\x10\x01" + mpb.Value(text="b").SerializeToString()
    twice = mpb.Value(text="a").SerializeToString() + mpb.Value(text="cd").SerializeToString()
    explicit_false = mpb.Value(text="e").SerializeToString() + b"\x10\x00"
    raws = [text_then_null, null_then_text, twice, explicit_false]
    row = b"".join(b"\x0a" + bytes([len(r)]) + r for r in raws)
    body = b"\x12" + bytes([len(row)]) + row
    request = mpb.MaskRequest.FromString(body)
    _, rows = wire.decode_request(body)
    want = [[None if v.null else v.text for v in r.values] for r in request.rows]
    assert rows == want == [[None, None, "cd", "e"]]


@pytest.mark.parametrize("body", [b"\x12\x03\x0a\x01\xff", b"\x12\x04\x0a\x02\x0a\x01"])
def test_decode_request_refuses_malformed_requests(body: bytes) -> None:
    reply = handle_request(body, MaskSettings())
    assert reply.error.startswith("not a valid proctor.masker.v1.MaskRequest") and not reply.rows


def test_invalid_utf8_is_refused() -> None:
    row = b"\x0a\x04\x0a\x02\xc3\x28"
    reply = handle_request(b"\x12" + bytes([len(row)]) + row, MaskSettings())
    assert reply.error and not reply.rows


@settings(max_examples=300, deadline=None)
@given(rows=_ROWS)
def test_encode_rows_writes_what_protobuf_writes(rows: list[list[str | None]]) -> None:
    reply = mpb.MaskResponse()
    for r in rows:
        add = reply.rows.add().values.add
        for v in r:
            if v is None:
                add(null=True)
            else:
                add(text=v)
    assert mpb.MaskResponse.FromString(wire.encode_rows(rows)) == reply
    assert wire.encode_rows(rows) == reply.SerializeToString()


def test_handle_bytes_masks_and_counts() -> None:
    rows = [["mail ada@example.com", '{"card": "4242424242424242"}', "1"], [None, None, None]]
    reply = mpb.MaskResponse.FromString(
        handle_bytes(_request(rows).SerializeToString(), MaskSettings())
    )
    assert [[None if v.null else v.text for v in r.values] for r in reply.rows] == [
        ["mail <EMAIL_ADDRESS>", '{"card": "************4242"}', "1"],
        [None, None, None],
    ]
    assert reply.values_masked == 2 and not reply.error
    assert {(c.column, c.entity_type, c.count) for c in reply.counts} == {
        ("a", "EMAIL_ADDRESS", 1),
        ("b", "CREDIT_CARD", 1),
    }
