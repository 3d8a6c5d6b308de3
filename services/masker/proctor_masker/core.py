"""The masker's pure core: `mask(batch, settings) -> MaskedBatch`, no I/O.

Each distinct string is looked at once per batch: the prefilter drops what cannot match, the
recognizers find spans in the rest, and each span is replaced in the style its entity asks for.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections import Counter
from collections.abc import Callable, Sequence
from functools import lru_cache, partial

from proctor import pgarray
from proctor.maskrules import DOB_COLUMN, MAYBE_PERSON, PERSON, column_hint
from proctor.personnames import looks_like_person
from proctor_masker.model import (
    Column,
    ColumnKind,
    EntityCount,
    MaskedBatch,
    MaskingReport,
    MaskRequestBatch,
    MaskSettings,
    Style,
    is_date_type,
)
from proctor_masker.recognizers import Detector, Finding, build_detector

_SHORT_NAMES = {
    "EMAIL_ADDRESS": "email",
    "PHONE_NUMBER": "phone",
    "CREDIT_CARD": "card",
    "IBAN_CODE": "iban",
    "IP_ADDRESS": "ip",
    "US_SSN": "ssn",
}
# A column that holds dates of birth says so in its name; its values need no label.
_DOB_COLUMN = DOB_COLUMN
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"(\s*:)?', re.DOTALL)
DATE_OF_BIRTH = "DATE_OF_BIRTH"
# A date column must still hold a date the client can parse: a fixed stand-in keeps the type.
_DATE_STAND_IN = {
    "date": "1900-01-01",
    "timestamp": "1900-01-01 00:00:00",
    "timestamptz": "1900-01-01 00:00:00+00",
}


@lru_cache(maxsize=1)
def default_detector() -> Detector:
    """The process's detector, built on first use."""
    return build_detector()


def replacement(entity: str, value: str, settings: MaskSettings) -> str:
    """What replaces `value`, a finding of `entity`, under `settings`."""
    style = settings.style_for(entity)
    if style is Style.PARTIAL:
        keep = 4
        chars = list(value)
        for i in range(len(chars) - 1, -1, -1):
            if chars[i].isalnum():
                if keep:
                    keep -= 1
                else:
                    chars[i] = "*"
        return "".join(chars)
    if style is Style.TOKEN:
        digest = hmac.new(
            settings.token_key, f"{entity}\0{value}".encode(), hashlib.sha256
        ).hexdigest()
        short = _SHORT_NAMES.get(entity, entity.lower())
        return f"tok_{short}_{digest[: settings.token_length]}"
    return f"<{entity}>"


def apply(text: str, findings: Sequence[Finding], settings: MaskSettings) -> str:
    """`text` with each (non-overlapping, ordered) finding replaced."""
    out: list[str] = []
    pos = 0
    for f in findings:
        out.append(text[pos : f.start])
        out.append(replacement(f.entity, text[f.start : f.end], settings))
        pos = f.end
    out.append(text[pos:])
    return "".join(out)


# What a value becomes: (masked value, entities found, whether it changed, whether it was
# analysed, i.e. passed the prefilter).
_Result = tuple[str, tuple[str, ...], bool, bool]


def _results(detector: Detector, settings: MaskSettings) -> Callable[[str], _Result]:
    """`result(value)` under `settings`, remembered across batches per value (an LRU like the
    detector's findings), so a value seen before costs one look-up instead of re-applying its
    findings. Kept on the detector, one per settings object (a service has one)."""
    kept = detector.results.get(id(settings))
    if kept is not None and kept[0] is settings:
        return kept[1]

    could_contain = detector.prefilter.could_contain

    def compute(value: str) -> _Result:
        # Remembered here, so not also in the detector's cache of prefilter verdicts.
        if not could_contain(value):
            return (value, (), False, False)
        findings = detector.find(value)
        masked = apply(value, findings, settings)
        return (masked, tuple(f.entity for f in findings), masked != value, True)

    cached = lru_cache(maxsize=detector.cache_size)(compute)
    limit = detector.CACHED_CHARS

    def result(value: str) -> _Result:
        return cached(value) if len(value) <= limit else compute(value)

    if len(detector.results) >= 8:
        detector.results.clear()
    detector.results[id(settings)] = (settings, result)
    return result


# What a value of a column named for what it holds (column_hint) becomes: the masked value and
# the entity it counts as ("" for a blank value), or None for the entity when it is masked as
# text after all (a `name` column's value that does not look like a person's name).
_Hinted = tuple[str, str | None]


def _hinted(detector: Detector, settings: MaskSettings) -> Callable[[str, str], _Hinted]:
    """`hinted(hint, value)` under `settings`, remembered across batches like `_results`."""
    key = (id(settings), "hinted")
    kept = detector.results.get(key)
    if kept is not None and kept[0] is settings:
        return kept[1]

    def compute(hint: str, value: str) -> _Hinted:
        if hint == MAYBE_PERSON:
            if not looks_like_person(value):
                return (value, None)
            hint = PERSON
        if not value.strip():
            return (value, "")
        return (replacement(hint, value, settings), hint)

    cached = lru_cache(maxsize=detector.cache_size)(compute)
    limit = detector.CACHED_CHARS

    def hinted(hint: str, value: str) -> _Hinted:
        return cached(hint, value) if len(value) <= limit else compute(hint, value)

    if len(detector.results) >= 8:
        detector.results.clear()
    detector.results[key] = (settings, hinted)
    return hinted


class _BatchMasker:
    """The per-batch state: the distinct strings seen in this batch and the counts."""

    def __init__(self, settings: MaskSettings, detector: Detector) -> None:
        self.settings = settings
        self.detector = detector
        self.prefilter = detector.prefilter
        self.result = _results(detector, settings)
        self.hint_result = _hinted(detector, settings)
        self.cache: dict[str, _Result] = {}
        self.counts: Counter[tuple[str, str]] = Counter()
        self.analysed = 0

    def _first(self, value: str) -> _Result:
        hit = self.cache[value] = self.result(value)
        self.analysed += hit[3]
        return hit

    def text(self, column: str, value: str) -> str:
        hit = self.cache.get(value)
        if hit is None:
            hit = self._first(value)
        for entity in hit[1]:
            self.counts[column, entity] += 1
        return hit[0] if hit[2] else value

    def text_column(
        self, column: str, values: Sequence[str | None]
    ) -> tuple[list[str | None], int]:
        """A TEXT column's values masked, and how many changed: `text` over a column, with
        the per-value work of the loop kept to a look-up."""
        get = self.cache.get
        first = self._first
        counts = self.counts
        out: list[str | None] = []
        append = out.append
        changed = 0
        for value in values:
            if value is None:
                append(None)
                continue
            hit = get(value)
            if hit is None:
                hit = first(value)
            if hit[1]:
                for entity in hit[1]:
                    counts[column, entity] += 1
            if hit[2]:
                changed += 1
                append(hit[0])
            else:
                append(value)
        return out, changed

    def json(self, column: str, value: str) -> str:
        if "\\" not in value and not self.prefilter.could_contain(value):
            return value  # no escapes, so no string inside can match either
        try:
            json.loads(value)
        except ValueError:
            return self.text(column, value)  # not JSON after all: mask it as text

        key: list[str | None] = [None]  # the key the next string is the value of

        def one(m: re.Match[str]) -> str:
            if m.group(1) is not None:  # an object key
                key[0] = json.loads(m.group(0)[: m.start(1) - m.start(0)])
                return m.group(0)
            decoded: str = json.loads(m.group(0))
            hint = column_hint(key[0]) if key[0] else None
            key[0] = None
            if hint is not None and hint != DATE_OF_BIRTH:
                masked = self.whole(column, hint, decoded)
            else:
                masked = self.text(column, decoded)
            return m.group(0) if masked == decoded else json.dumps(masked, ensure_ascii=False)

        return _JSON_STRING.sub(one, value)

    def array(self, column: str, value: str) -> str:
        if "\\" not in value and not self.prefilter.could_contain(value):
            return value
        try:
            prefix, items = pgarray.parse(value)
        except pgarray.ArrayLiteralError:
            return self.text(column, value)
        masked = pgarray.map_strings(items, lambda s: self.text(column, s))
        return value if masked == items else pgarray.write(prefix, masked)

    def whole(self, column: str, hint: str, value: str) -> str:
        """A value its column's name (or JSON key) says is a person's name, an address or a
        secret: all of it. For MAYBE_PERSON (a `name` column), all of it when it looks like a
        person's name, else masked as text."""
        masked, entity = self.hint_result(hint, value)
        if entity is None:
            return self.text(column, value)
        if entity:
            self.counts[column, entity] += 1
        return masked

    def hinted_column(
        self, column: str, hint: str, values: Sequence[str | None]
    ) -> tuple[list[str | None], int]:
        """A text column whose name says what it holds (column_hint), in one loop with the
        per-value work kept to a look-up, as in `text_column`."""
        hint_result = self.hint_result
        tally: Counter[str] = Counter()
        out: list[str | None] = []
        append = out.append
        changed = 0
        for value in values:
            if value is None:
                append(None)
                continue
            masked, entity = hint_result(hint, value)
            if entity is None:
                masked = self.text(column, value)
            elif entity:
                tally[entity] += 1
            changed += masked != value
            append(masked)
        for entity, n in tally.items():
            self.counts[column, entity] += n
        return out, changed

    def date_of_birth(self, column: Column, value: str) -> str:
        self.counts[column.name, DATE_OF_BIRTH] += 1
        if is_date_type(column.type_name):
            return _DATE_STAND_IN[column.type_name.strip().lower()]
        return replacement(DATE_OF_BIRTH, value, self.settings)

    def reader(self, column: Column) -> Callable[[str], str] | None:
        """How the values of `column` are masked; None: they pass untouched."""
        if _DOB_COLUMN.search(column.name) and (
            column.kind is ColumnKind.TEXT or is_date_type(column.type_name)
        ):
            return partial(self.date_of_birth, column)
        hint = column_hint(column.name) if column.kind is ColumnKind.TEXT else None
        if hint is not None:
            return partial(self.whole, column.name, hint)
        if column.kind is ColumnKind.TEXT:
            return partial(self.text, column.name)
        if column.kind is ColumnKind.JSON:
            return partial(self.json, column.name)
        if column.kind is ColumnKind.ARRAY:
            return partial(self.array, column.name)
        return None


def mask(
    batch: MaskRequestBatch, settings: MaskSettings, detector: Detector | None = None
) -> MaskedBatch:
    """`batch` with every finding replaced, and a report of counts per column and entity."""
    detector = detector or default_detector()
    masker = _BatchMasker(settings, detector)
    n_rows = len(batch.rows)
    # Column by column: each column's values in one sequence, read the same way.
    columns_in: list[Sequence[str | None]] = (
        list(zip(*batch.rows, strict=True)) if batch.columns and n_rows else []
    )
    columns_out: list[Sequence[str | None]] = []
    values = changed = 0
    for i, column in enumerate(batch.columns):
        col = columns_in[i] if columns_in else ()
        values += len(col) - col.count(None)
        hint = column_hint(column.name) if column.kind is ColumnKind.TEXT else None
        if column.kind is ColumnKind.TEXT and hint is None:
            masked_col, n = masker.text_column(column.name, col)
            changed += n
            columns_out.append(masked_col)
            continue
        if hint is not None and hint != DATE_OF_BIRTH:
            masked_col, n = masker.hinted_column(column.name, hint, col)
            changed += n
            columns_out.append(masked_col)
            continue
        read = masker.reader(column)
        if read is None:
            columns_out.append(col)
        else:
            out: list[str | None] = []
            for value in col:
                if value is None:
                    out.append(None)
                    continue
                masked = read(value)
                changed += masked != value
                out.append(masked)
            columns_out.append(out)
    if columns_out and n_rows:
        rows: tuple[tuple[str | None, ...], ...] = tuple(zip(*columns_out, strict=True))
    else:
        rows = tuple(() for _ in batch.rows)
    counts = tuple(
        EntityCount(column, entity, n) for (column, entity), n in sorted(masker.counts.items())
    )
    report = MaskingReport(counts=counts, values=values, analysed=masker.analysed, masked=changed)
    return MaskedBatch(columns=batch.columns, rows=rows, report=report)
