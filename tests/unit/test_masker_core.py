"""The masker's pure core: styles, tokens, JSON and arrays, NULLs, report, the per-batch cache."""

from __future__ import annotations

import json

import pytest

from proctor.errors import ConfigError
from proctor_masker import pgarray
from proctor_masker.core import default_detector, mask
from proctor_masker.model import (
    Column,
    ColumnKind,
    MaskedBatch,
    MaskRequestBatch,
    MaskSettings,
    Style,
    kind_for_type,
)
from proctor_masker.recognizers import Detector, Finding

KEY = b"test-deployment-key-0123456789"
CARD = "4242 4242 4242 4242"
EMAIL = "alice@example.com"


class CountingDetector(Detector):
    """The real detector, counting the strings it is asked about."""

    def __init__(self) -> None:
        real = default_detector()
        super().__init__(real.analyzer, real.entities, real.min_score)
        self.calls: list[str] = []

    def find(self, text: str) -> list[Finding]:
        self.calls.append(text)
        return super().find(text)


def one_column(kind: ColumnKind, *values: str | None, type_name: str = "text") -> MaskRequestBatch:
    return MaskRequestBatch(
        columns=(Column("c", type_name, kind),), rows=tuple((v,) for v in values)
    )


def run(batch: MaskRequestBatch, settings: MaskSettings | None = None) -> MaskedBatch:
    return mask(batch, settings or MaskSettings(), default_detector())


def column(result: MaskedBatch) -> list[str | None]:
    return [row[0] for row in result.rows]


def test_default_styles_redact_and_keep_last_four_of_a_card() -> None:
    result = run(one_column(ColumnKind.TEXT, f"mail {EMAIL}", CARD, "4242-4242-4242-4242"))
    assert column(result) == ["mail <EMAIL_ADDRESS>", "**** **** **** 4242", "****-****-****-4242"]


def test_token_style_is_stable_and_depends_on_the_key() -> None:
    settings = MaskSettings(default_style=Style.TOKEN, token_key=KEY)
    first = column(run(one_column(ColumnKind.TEXT, EMAIL, "bob@example.com", EMAIL), settings))
    assert first[0] == first[2] != first[1]
    assert first[0] is not None and first[0].startswith("tok_email_")
    assert len(first[0]) == len("tok_email_") + 16
    again = column(run(one_column(ColumnKind.TEXT, EMAIL), settings))
    assert again[0] == first[0]  # across batches too
    other = MaskSettings(default_style=Style.TOKEN, token_key=b"another-key-0123456789")
    assert column(run(one_column(ColumnKind.TEXT, EMAIL), other))[0] != first[0]


def test_style_per_entity() -> None:
    settings = MaskSettings(
        styles={"EMAIL_ADDRESS": Style.TOKEN, "CREDIT_CARD": Style.REDACT}, token_key=KEY
    )
    masked = column(run(one_column(ColumnKind.TEXT, f"{EMAIL} paid with {CARD}"), settings))[0]
    assert masked is not None
    assert masked.startswith("tok_email_") and masked.endswith(" paid with <CREDIT_CARD>")


def test_token_style_needs_a_key() -> None:
    with pytest.raises(ConfigError):
        MaskSettings(default_style=Style.TOKEN)
    with pytest.raises(ConfigError):
        MaskSettings(styles={"EMAIL_ADDRESS": Style.TOKEN}, token_key=b"short")


def test_json_keeps_structure_keys_and_numbers() -> None:
    doc = (
        '{"email": "alice@example.com", "n": 1.10, "nested": {"cards": ["4242 4242 4242 4242",'
        ' null, true]}, "alice@example.com": "key kept", "note": "say \\"hi\\" to bob@example.com"}'
    )
    masked = column(run(one_column(ColumnKind.JSON, doc, type_name="jsonb")))[0]
    assert masked is not None
    parsed = json.loads(masked)  # still valid JSON
    assert parsed["email"] == "<EMAIL_ADDRESS>"
    assert parsed["nested"]["cards"] == ["**** **** **** 4242", None, True]
    assert parsed["alice@example.com"] == "key kept"
    assert parsed["note"] == 'say "hi" to <EMAIL_ADDRESS>'
    assert '"n": 1.10' in masked  # numbers and layout kept as they were
    assert list(parsed) == list(json.loads(doc))


def test_json_escapes_do_not_hide_values() -> None:
    doc = '{"e": "alice\\u0040example.com"}'  # \u0040 is '@'
    masked = column(run(one_column(ColumnKind.JSON, doc)))[0]
    assert masked is not None and json.loads(masked) == {"e": "<EMAIL_ADDRESS>"}


def test_json_without_findings_is_returned_as_is() -> None:
    doc = '{ "a" : [1, 2,   3], "b": "plain" }'
    assert column(run(one_column(ColumnKind.JSON, doc))) == [doc]


def test_invalid_json_is_masked_as_text() -> None:
    masked = column(run(one_column(ColumnKind.JSON, "not json alice@example.com")))
    assert masked == ["not json <EMAIL_ADDRESS>"]


def test_arrays_mask_each_element() -> None:
    value = '{plain,"alice@example.com",NULL,"4242 4242 4242 4242",{"x","bob@example.com"}}'
    masked = column(run(one_column(ColumnKind.ARRAY, value, "{a,b}", type_name="_text")))
    assert masked[1] == "{a,b}"
    assert masked[0] is not None
    _, items = pgarray.parse(masked[0])
    assert items == [
        "plain",
        "<EMAIL_ADDRESS>",
        None,
        "**** **** **** 4242",
        ["x", "<EMAIL_ADDRESS>"],
    ]


def test_array_literal_round_trip() -> None:
    for text in ('{a,"b c","q\\"uote","back\\\\slash",NULL,{}}', "[0:1]={x,y}", "{}"):
        prefix, items = pgarray.parse(text)
        assert pgarray.parse(pgarray.write(prefix, items)) == (prefix, items)


def test_nulls_stay_null_and_non_text_passes_untouched() -> None:
    columns = (
        Column("id", "int8", ColumnKind.OTHER),
        Column("ref", "uuid", ColumnKind.OTHER),
        Column("at", "timestamptz", ColumnKind.OTHER),
        Column("email", "text", ColumnKind.TEXT),
    )
    rows = (
        (
            "4242424242424242",
            "0b6b2b1e-2f4a-4f8e-9b1d-0c2f6a3d4e5f",
            "2024-01-02 03:04:05+00",
            None,
        ),
        (None, None, None, EMAIL),
    )
    result = run(MaskRequestBatch(columns, rows))
    assert result.rows[0] == rows[0]
    assert result.rows[1] == (None, None, None, "<EMAIL_ADDRESS>")
    assert result.columns == columns


def test_date_of_birth_columns_keep_their_type() -> None:
    columns = (
        Column("date_of_birth", "date", ColumnKind.OTHER),
        Column("dob", "text", ColumnKind.TEXT),
    )
    result = run(MaskRequestBatch(columns, (("1990-01-02", "02/01/1990"),)))
    assert result.rows == (("1900-01-01", "<DATE_OF_BIRTH>"),)
    assert result.report.by_entity() == {"DATE_OF_BIRTH": 2}


def test_report_counts_per_column_and_entity_never_values() -> None:
    columns = (Column("a", "text", ColumnKind.TEXT), Column("b", "jsonb", ColumnKind.JSON))
    rows = (
        (f"{EMAIL} and bob@example.com", '{"x": "alice@example.com"}'),
        (CARD, None),
        ("nothing here", '{"y": 1}'),
    )
    report = run(MaskRequestBatch(columns, rows)).report
    assert {(c.column, c.entity, c.count) for c in report.counts} == {
        ("a", "EMAIL_ADDRESS", 2),
        ("a", "CREDIT_CARD", 1),
        ("b", "EMAIL_ADDRESS", 1),
    }
    assert (report.values, report.masked, report.total) == (5, 3, 4)
    assert EMAIL not in repr(report)


def test_repeated_values_are_analysed_once_per_batch() -> None:
    detector = CountingDetector()
    values = [EMAIL, "plain", EMAIL, CARD, EMAIL, CARD, "ORD-123456", "ORD-123456"]
    result = mask(one_column(ColumnKind.TEXT, *values), MaskSettings(), detector)
    # "plain" never reaches the recognizers; each other distinct value once.
    assert sorted(detector.calls) == sorted([EMAIL, CARD, "ORD-123456"])
    assert result.report.analysed == 3
    assert result.report.by_entity() == {"EMAIL_ADDRESS": 3, "CREDIT_CARD": 2}


def test_rows_must_match_the_columns() -> None:
    with pytest.raises(ValueError):
        MaskRequestBatch((Column("a", "text", ColumnKind.TEXT),), (("x", "y"),))


@pytest.mark.parametrize(
    ("type_name", "kind"),
    [
        ("int4", ColumnKind.OTHER),
        ("uuid", ColumnKind.OTHER),
        ("timestamptz", ColumnKind.OTHER),
        ("jsonb", ColumnKind.JSON),
        ("_text", ColumnKind.ARRAY),
        ("text[]", ColumnKind.ARRAY),
        ("varchar", ColumnKind.TEXT),
        ("citext", ColumnKind.TEXT),  # unknown types are scanned
    ],
)
def test_kind_for_type(type_name: str, kind: ColumnKind) -> None:
    assert kind_for_type(type_name) is kind


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("password", True),
        ("password_hash", True),
        ("api_key", True),
        ("refresh_token", True),
        ("clientSecret", True),
        ("sort_key", False),  # identifiers the agent needs keep their values
        ("object_key", False),
        ("api_key_id", False),
        ("password_updated_at", False),
        ("notes", False),
    ],
)
def test_a_column_named_for_a_secret_is_masked_whole(name: str, masked: bool) -> None:
    value = "hunter2-not-real"
    batch = MaskRequestBatch(
        columns=(Column(name, "text", ColumnKind.TEXT),), rows=((value,), (None,), ("",))
    )
    out = column(run(batch))
    assert (out[0] != value) is masked, out
    assert out[1:] == [None, ""]  # NULL and empty stay what they are


def test_a_json_key_named_for_a_secret_is_masked_whole() -> None:
    doc = json.dumps({"user": "ops", "password": "hunter2-not-real", "sort_key": "a1"})
    (out,) = column(run(one_column(ColumnKind.JSON, doc, type_name="jsonb")))
    assert json.loads(out)["password"] != "hunter2-not-real"
    assert json.loads(out)["sort_key"] == "a1" and json.loads(out)["user"] == "ops"
