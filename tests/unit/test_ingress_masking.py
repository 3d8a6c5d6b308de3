"""The proxy's pure masking helpers: RowDescription and DataRow codecs, column plans, binary
values, candidate rows, and which description the rows of an Execute have."""

from __future__ import annotations

import struct

from proctor import pgwire
from proctor.masker.v1 import masker_pb2 as mpb
from proctor.maskrules import Prefilter
from proctor.pgwire import Field
from proctor_ingress.masking import learn_masker
from proctor_ingress.postgres.results import (
    Descriptions,
    Plan,
    Result,
    decode_binary_array,
    encode_binary_array,
    from_text,
    plan_column,
    sniff_binary_array,
    to_text,
)


def row_description(*cols: tuple[str, int, int]) -> bytes:
    body = struct.pack("!h", len(cols))
    for name, oid, fmt in cols:
        body += name.encode() + b"\0" + struct.pack("!ihIhih", 0, 0, oid, -1, -1, fmt)
    return body


def binary_text_array(items: list[str | None], oid: int = 25) -> bytes:
    out = struct.pack("!iiIii", 1, int(None in items), oid, len(items), 1)
    for item in items:
        out += struct.pack("!i", -1) if item is None else struct.pack("!i", len(item.encode()))
        out += b"" if item is None else item.encode()
    return out


def test_row_description_is_parsed() -> None:
    body = row_description(("id", 23, 1), ("email", 25, 0), ("tags", 1009, 1))
    assert pgwire.parse_row_description(body) == [
        Field("id", 23, True),
        Field("email", 25, False),
        Field("tags", 1009, True),
    ]


def test_data_row_round_trip() -> None:
    values: list[bytes | None] = [b"1", None, b"", "é@x".encode()]
    frame = pgwire.data_row(values)
    assert frame[:1] == b"D"
    assert pgwire.parse_data_row(frame[5:]) == values


def test_bind_result_formats_and_with_formats() -> None:
    body = b"p\0s\0" + struct.pack("!hh", 1, 0) + struct.pack("!hi", 1, 2) + b"42"
    body += struct.pack("!hhh", 2, 1, 0)
    assert pgwire.bind_result_formats(body) == [1, 0]
    fields = [Field("a", 25, False), Field("b", 23, False)]
    assert pgwire.with_formats(fields, [1]) == [Field("a", 25, True), Field("b", 23, True)]
    assert pgwire.with_formats(fields, []) == fields


def test_column_plans() -> None:
    assert plan_column(Field("id", 23, True)).plan is Plan.PASS
    assert plan_column(Field("ids", 1007, True)).plan is Plan.PASS  # int4[]
    assert plan_column(Field("email", 25, False)).plan is Plan.SCAN
    assert plan_column(Field("x", 99999, False)).plan is Plan.SCAN  # unknown: scanned
    assert plan_column(Field("dob", 1082, False)).plan is Plan.ALL
    # Columns named for people or addresses: every value; a `name` column: those that look
    # like a person's name (and what the prefilter passes).
    assert plan_column(Field("customer_name", 25, False)).plan is Plan.ALL
    assert plan_column(Field("street_address", 1043, False)).plan is Plan.ALL
    assert plan_column(Field("name", 25, False)).plan is Plan.PERSON
    assert plan_column(Field("username", 25, False)).plan is Plan.SCAN
    tags = plan_column(Field("tags", 1009, True))
    assert tags.plan is Plan.SCAN and tags.type_name == "_text"


def test_binary_values_to_text_and_back() -> None:
    pf = Prefilter()
    jsonb = plan_column(Field("p", 3802, True))
    assert to_text(jsonb, b'\x01{"a": 1}', pf) == '{"a": 1}'
    assert from_text(jsonb, b'\x01{"a": 1}', '{"a": 2}') == b'\x01{"a": 2}'
    tags = plan_column(Field("tags", 1009, True))
    raw = binary_text_array(["vip", None, "a@b.co"])
    assert decode_binary_array(raw).elements == [b"vip", None, b"a@b.co"]
    assert encode_binary_array(decode_binary_array(raw)) == raw
    assert to_text(tags, raw, pf) == '{"vip",NULL,"a@b.co"}'
    assert from_text(tags, raw, '{"vip",NULL,"<E>"}') == binary_text_array(["vip", None, "<E>"])
    assert sniff_binary_array(raw) and not sniff_binary_array(b"{a,b}")


def test_candidates_request_and_rebuild() -> None:
    pf = Prefilter()
    result = Result.describe([Field("id", 23, True), Field("email", 25, False)])
    assert result.sent == [1]
    plain: list[bytes | None] = [struct.pack("!i", 64), b"nobody"]
    assert result.candidate(plain, pf) == []
    assert result.candidate([struct.pack("!i", 1), None], pf) == []
    values: list[bytes | None] = [struct.pack("!i", 1), b"ada@example.com"]
    texts = result.candidate(values, pf)
    assert texts == ["ada@example.com"]
    request = result.request([texts])
    assert [c.type_name for c in request.columns] == ["text"]
    masked = mpb.Row(values=[mpb.Value(text="<EMAIL_ADDRESS>")])
    assert result.rebuild(values, texts, masked) == [values[0], b"<EMAIL_ADDRESS>"]
    assert result.rebuild(values, texts, mpb.Row(values=[mpb.Value(text=texts[0])])) is None
    assert not Result.describe([Field("n", 1700, False)]).needs_masking


def test_descriptions_follow_prepared_statements() -> None:
    d = Descriptions()
    cols = [Field("email", 25, False)]
    # Parse + Describe statement + Sync, answered 1 t T Z.
    d.parse("s1")
    d.describe("S", "s1")
    d.sync()
    d.backend(b"1")
    d.backend(b"t")
    assert d.backend(b"T", cols) is None
    d.backend(b"Z")
    # Bind (binary results) + Execute + Sync: rows come without a RowDescription.
    d.bind("", "s1", [1])
    d.execute("")
    d.sync()
    d.backend(b"2")
    assert d.execution() == (True, [Field("email", 25, True)])
    d.backend(b"Z")
    # A Query's RowDescription describes the rows that follow.
    d.sync()
    assert d.backend(b"T", cols) == cols
    d.backend(b"Z")
    # A new Parse of the name forgets the old description; an error skips to the Sync.
    d.parse("s1")
    d.bind("", "s1", [])
    d.execute("")
    d.sync()
    d.backend(b"1")
    d.backend(b"2")
    assert d.execution() == (True, None)
    d.parse("s2")
    d.execute("")
    d.sync()
    d.backend(b"E")
    assert d.execution() == (False, None)
    d.backend(b"Z")


def test_a_masker_that_analyses_all_text_gets_every_text_value() -> None:
    prefilter = Prefilter()
    assert not prefilter.could_contain("Zorblat Quux")  # no recognizer finds a name it knows not
    learn_masker(prefilter, mpb.MaskResponse())
    assert not prefilter.could_contain("Zorblat Quux")
    learn_masker(prefilter, mpb.MaskResponse(analyses_all_text=True))
    assert prefilter.could_contain("Zorblat Quux") and prefilter.could_contain("x")


def test_the_masker_says_whether_it_analyses_all_text() -> None:
    from proctor_masker.core import default_detector
    from proctor_masker.model import MaskSettings
    from proctor_masker.service import handle_request

    probe = handle_request(mpb.MaskRequest().SerializeToString(), MaskSettings())
    assert not probe.error
    assert probe.analyses_all_text == default_detector().uses_ner
