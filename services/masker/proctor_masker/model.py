"""The masker's input and output values.

A batch is a table fragment in Postgres text format: columns (name, type name, kind) and rows of
values, each `str` or `None` for SQL NULL. The proxy adapts DataRows to it; other targets (shell
output, HTTP bodies) send one TEXT or JSON column.

`kind` says how a value is read:
- TEXT: any string; scanned as a whole.
- JSON: a JSON document (json, jsonb); string values inside are masked, keys, numbers and layout
  are kept, the result is still valid JSON.
- ARRAY: a Postgres array literal (`{a,"b c",NULL}`); each element is masked as text.
- OTHER: a type that cannot carry free text (integers, numeric, bool, uuid, dates and times);
  passed through untouched, except a date in a column named like a date of birth.
`kind_for_type` picks the kind from a Postgres type name, and treats unknown types as TEXT.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

from proctor.errors import ConfigError
from proctor.maskrules import ColumnKind, is_date_type, kind_for_type

__all__ = [
    "Column",
    "ColumnKind",
    "EntityCount",
    "MaskRequestBatch",
    "MaskSettings",
    "MaskedBatch",
    "MaskingReport",
    "Style",
    "is_date_type",
    "kind_for_type",
]


@dataclass(frozen=True, slots=True)
class Column:
    """One result column: its name, its type name (as the target calls it) and how to read it."""

    name: str
    type_name: str
    kind: ColumnKind


@dataclass(frozen=True, slots=True)
class MaskRequestBatch:
    """Rows to mask. Every row has one value per column; `None` is SQL NULL."""

    columns: tuple[Column, ...]
    rows: tuple[tuple[str | None, ...], ...]

    def __post_init__(self) -> None:
        width = len(self.columns)
        for i, row in enumerate(self.rows):
            if len(row) != width:
                raise ValueError(f"row {i} has {len(row)} values for {width} columns")


class Style(StrEnum):
    """How a finding is replaced."""

    REDACT = "redact"  # <EMAIL_ADDRESS>
    PARTIAL = "partial"  # ****-****-****-4242: letters and digits hidden but the last four
    TOKEN = "token"  # tok_email_3f9a…: HMAC-SHA256 under the deployment key, stable per value


DEFAULT_STYLES: Mapping[str, Style] = MappingProxyType({"CREDIT_CARD": Style.PARTIAL})


@dataclass(frozen=True, slots=True)
class MaskSettings:
    """How to mask: a style per entity type (others get `default_style`) and the token key."""

    styles: Mapping[str, Style] = field(default_factory=lambda: DEFAULT_STYLES)
    default_style: Style = Style.REDACT
    token_key: bytes = b""
    token_length: int = 16  # hex characters of the HMAC kept in a token

    def __post_init__(self) -> None:
        uses_tokens = self.default_style is Style.TOKEN or Style.TOKEN in self.styles.values()
        if uses_tokens and len(self.token_key) < 16:
            raise ConfigError("token masking needs a per-deployment key of at least 16 bytes")
        if not 8 <= self.token_length <= 64:
            raise ConfigError("token_length must be between 8 and 64 hex characters")

    def style_for(self, entity: str) -> Style:
        return self.styles.get(entity, self.default_style)


@dataclass(frozen=True, slots=True)
class EntityCount:
    """How many findings of one entity type one column had in a batch."""

    column: str
    entity: str
    count: int


@dataclass(frozen=True, slots=True)
class MaskingReport:
    """What was masked, as counts only: never values, so it can go into events."""

    counts: tuple[EntityCount, ...]
    values: int  # non-NULL values seen
    analysed: int  # distinct strings sent to the recognizers
    masked: int  # values that changed

    @property
    def total(self) -> int:
        return sum(c.count for c in self.counts)

    def by_entity(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for c in self.counts:
            out[c.entity] = out.get(c.entity, 0) + c.count
        return out


@dataclass(frozen=True, slots=True)
class MaskedBatch:
    """The batch with sensitive values replaced: same columns, same number of rows."""

    columns: tuple[Column, ...]
    rows: tuple[tuple[str | None, ...], ...]
    report: MaskingReport
