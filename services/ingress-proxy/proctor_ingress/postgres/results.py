"""Masking result rows on their way to the agent: the pure part (which columns and rows need the
masker, DataRows to a MaskRequest and back) and the NATS call.

Each column of a result gets a plan from its type OID and format:
- PASS: a type that holds no free text (kind OTHER, arrays of such types): never sent.
- every other column is sent; a row is a *candidate* when one of its non-NULL values in such a
  column passes the masker's own prefilter (`proctor.maskrules`), or lies in a date-of-birth
  column (always masked). Rows without candidates are forwarded untouched. Of a candidate row
  only those values travel; the others go as NULL, which the masker returns as NULL, and are
  kept as they were (the masker's prefilter would have passed them untouched anyway).

Binary format (asyncpg asks for it): text, varchar, bpchar, name and json are their UTF-8 bytes;
jsonb is a version byte 1 then the text; one-dimensional or nested arrays of those are decoded
element by element, sent as a text array literal and re-encoded with the original header. A
binary value of any other non-OTHER type is sent as text when it is valid UTF-8 (the masker's
changes are then what the client gets); when it is not, it passes only if the prefilter finds
nothing in its Latin-1 reading, else the whole result is refused (`Unmaskable`): fail closed.
Known gap: inet/cidr/macaddr in binary carry addresses as raw bytes and pass unscanned.
"""

from __future__ import annotations

import logging
import struct
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from proctor import pgarray, pgwire, subjects
from proctor.errors import Unmaskable
from proctor.masker.v1 import masker_pb2 as mpb
from proctor.maskrules import (
    DOB_COLUMN,
    MAYBE_PERSON,
    ColumnKind,
    Prefilter,
    column_hint,
    is_date_type,
    kind_for_type,
)
from proctor.personnames import looks_like_person
from proctor.pgwire import Field
from proctor.pgwire import with_formats as pgwire_with_formats

log = logging.getLogger("proctor.ingress")

MASK_SUBJECT = subjects.MASK
# A batch goes to the masker at whichever bound it reaches first. The values sent (those that
# pass the prefilter) are the masker's work: bounding them lets the batches of one large result
# spread over the masker replicas, while each still outweighs the ~1 ms a request costs.
BATCH_VALUES = 512
BATCH_ROWS = 500
BATCH_BYTES = 512 * 1024  # under NATS's default 1 MiB max_payload with the protobuf overhead
MASK_IN_FLIGHT = 4  # batches of one session at the masker at once

# Built-in type OIDs (pg_type.dat) and the names the masker knows them by.
TYPE_NAMES: dict[int, str] = {
    16: "bool",
    17: "bytea",
    18: "char",
    19: "name",
    20: "int8",
    21: "int2",
    23: "int4",
    24: "regproc",
    25: "text",
    26: "oid",
    28: "xid",
    114: "json",
    142: "xml",
    700: "float4",
    701: "float8",
    790: "money",
    869: "inet",
    650: "cidr",
    829: "macaddr",
    1042: "bpchar",
    1043: "varchar",
    1082: "date",
    1083: "time",
    1114: "timestamp",
    1184: "timestamptz",
    1186: "interval",
    1266: "timetz",
    1700: "numeric",
    2205: "regclass",
    2206: "regtype",
    2950: "uuid",
    3802: "jsonb",
    # arrays
    199: "_json",
    1000: "_bool",
    1002: "_char",
    1003: "_name",
    1005: "_int2",
    1007: "_int4",
    1009: "_text",
    1014: "_bpchar",
    1015: "_varchar",
    1016: "_int8",
    1021: "_float4",
    1022: "_float8",
    1028: "_oid",
    1115: "_timestamp",
    1182: "_date",
    1185: "_timestamptz",
    1231: "_numeric",
    2951: "_uuid",
    3807: "_jsonb",
}
# OIDs whose binary form is their UTF-8 text (jsonb: after a version byte).
_TEXT_BINARY = frozenset({18, 19, 25, 114, 142, 1042, 1043})
_JSONB = 3802
# Types with no free text beyond kind_for_type's list (system identifiers, bytes are opaque).
_EXTRA_OTHER = frozenset({"regproc", "regclass", "regtype", "xid", "oid", "_oid", "bytea"})


def type_name(oid: int) -> str:
    """The type's name; an unknown OID gets a name that kind_for_type reads as TEXT."""
    return TYPE_NAMES.get(oid, f"oid{oid}")


class Plan(Enum):
    PASS = "pass"  # never sent
    SCAN = "scan"  # sent when the prefilter says it could hold something
    ALL = "all"  # a column of dates of birth, people or addresses by its name: every value
    PERSON = "person"  # a `name`-like column: values that look like a person's name, or SCAN


@dataclass(frozen=True, slots=True)
class ColumnPlan:
    name: str
    type_oid: int
    binary: bool
    type_name: str  # what the masker is told (a binary array travels as a text literal)
    kind: ColumnKind
    plan: Plan


def plan_column(f: Field) -> ColumnPlan:
    name = type_name(f.type_oid)
    kind = kind_for_type(name)
    if name in _EXTRA_OTHER:
        kind = ColumnKind.OTHER
    if kind is ColumnKind.ARRAY and kind_for_type(name[1:]) is ColumnKind.OTHER:
        kind = ColumnKind.OTHER  # int4[], uuid[], ...: no text in them
    # A column whose name says it holds dates of birth, people or addresses: every value.
    hinted = column_hint(f.name)
    dob = DOB_COLUMN.search(f.name) is not None and (kind is ColumnKind.TEXT or is_date_type(name))
    if hinted == MAYBE_PERSON and kind is ColumnKind.TEXT:
        plan = Plan.PERSON
    elif dob or (hinted is not None and kind is ColumnKind.TEXT):
        plan = Plan.ALL
    elif kind is ColumnKind.OTHER:
        plan = Plan.PASS
    else:
        plan = Plan.SCAN
    sent = "_text" if kind is ColumnKind.ARRAY and f.binary else name
    return ColumnPlan(f.name, f.type_oid, f.binary, sent, kind, plan)


@dataclass(frozen=True, slots=True)
class _BinaryArray:
    header: bytes
    elements: list[bytes | None]


def decode_binary_array(raw: bytes) -> _BinaryArray:
    """A binary array: header (ndim, flags, element OID, dimensions) and its elements."""
    try:
        ndim, _, _ = struct.unpack_from("!iiI", raw, 0)
        pos = 12
        count = 1 if ndim else 0
        for _ in range(ndim):
            (size, _) = struct.unpack_from("!ii", raw, pos)
            count *= size
            pos += 8
        header = raw[:pos]
        elements: list[bytes | None] = []
        for _ in range(count):
            (length,) = struct.unpack_from("!i", raw, pos)
            pos += 4
            if length < 0:
                elements.append(None)
            else:
                elements.append(raw[pos : pos + length])
                pos += length
    except struct.error as exc:
        raise Unmaskable(f"malformed binary array: {exc}") from exc
    return _BinaryArray(header, elements)


def encode_binary_array(array: _BinaryArray) -> bytes:
    parts = [array.header]
    for e in array.elements:
        parts.append(struct.pack("!i", -1) if e is None else struct.pack("!i", len(e)) + e)
    return b"".join(parts)


def _element_text(elem_oid: int, raw: bytes) -> str:
    if elem_oid == _JSONB and raw[:1] == b"\x01":
        return raw[1:].decode()
    return raw.decode()


def _element_bytes(elem_oid: int, text: str) -> bytes:
    return (b"\x01" if elem_oid == _JSONB else b"") + text.encode()


_TEXT_ELEMENTS = _TEXT_BINARY | {_JSONB}


def sniff_binary_array(raw: bytes) -> bool:
    """Whether a value of unknown type and format is exactly a binary array of text elements
    (rows of an Execute whose RowDescription the proxy did not see, e.g. asyncpg's prepared
    statements, which Describe the statement once and then only Bind and Execute)."""
    if len(raw) < 12:
        return False
    ndim, flags, elem = struct.unpack_from("!iiI", raw, 0)
    if not 0 <= ndim <= 6 or flags not in (0, 1) or elem not in _TEXT_ELEMENTS:
        return False
    try:
        array = decode_binary_array(raw)
    except Unmaskable:
        return False
    return len(encode_binary_array(array)) == len(raw)


def _is_binary_array(col: ColumnPlan, raw: bytes) -> bool:
    if col.type_oid == 0:
        return sniff_binary_array(raw)
    return col.binary and col.kind is ColumnKind.ARRAY


def to_text(col: ColumnPlan, raw: bytes, prefilter: Prefilter) -> str | None:
    """The value as the masker reads it; None when it needs no masking (opaque binary that the
    prefilter clears). Raises Unmaskable for opaque binary that could hold something."""
    try:
        if col.type_oid == 0 and sniff_binary_array(raw):
            array = decode_binary_array(raw)
            elem_oid = struct.unpack_from("!I", raw, 8)[0]
            return pgarray.write(
                "", [None if e is None else _element_text(elem_oid, e) for e in array.elements]
            )
        if not col.binary or col.type_oid in _TEXT_BINARY:
            return raw.decode()
        if col.type_oid == _JSONB and raw[:1] == b"\x01":
            return raw[1:].decode()
        if col.kind is ColumnKind.ARRAY:
            array = decode_binary_array(raw)
            elem_oid = struct.unpack_from("!I", raw, 8)[0]
            items: list[pgarray.Element] = [
                None if e is None else _element_text(elem_oid, e) for e in array.elements
            ]
            return pgarray.write("", items)
        return raw.decode()
    except UnicodeDecodeError:
        if prefilter.could_contain(raw.decode("latin-1")):
            raise Unmaskable(
                f"a binary value of column {col.name!r} (type {col.type_name}) cannot be"
                " masked; ask for text format"
            ) from None
        return None


def from_text(col: ColumnPlan, raw: bytes, text: str) -> bytes:
    """The wire value for the masked `text` of `raw`."""
    if col.type_oid != 0 and (not col.binary or col.type_oid in _TEXT_BINARY):
        return text.encode()
    if col.type_oid == _JSONB and raw[:1] == b"\x01":
        return b"\x01" + text.encode()
    if _is_binary_array(col, raw):
        array = decode_binary_array(raw)
        elem_oid = struct.unpack_from("!I", raw, 8)[0]
        try:
            _, items = pgarray.parse(text)
        except pgarray.ArrayLiteralError as exc:
            raise Unmaskable(f"the masker returned no array for {col.name!r}: {exc}") from exc
        if len(items) != len(array.elements) or any(isinstance(i, list) for i in items):
            raise Unmaskable(f"the masker changed the shape of an array in {col.name!r}")
        elements = [None if i is None else _element_bytes(elem_oid, str(i)) for i in items]
        return encode_binary_array(_BinaryArray(array.header, elements))
    return text.encode()


@dataclass(slots=True)
class Result:
    """The columns of the result being read, and the rows waiting to be masked."""

    plans: list[ColumnPlan]
    sent: list[int]  # indices of the columns sent to the masker
    copy: bool = False  # rows are CopyData lines of a text COPY TO STDOUT, one value each

    @classmethod
    def describe(cls, fields: Sequence[Field]) -> Result:
        plans = [plan_column(f) for f in fields]
        return cls(plans, [i for i, p in enumerate(plans) if p.plan is not Plan.PASS])

    @classmethod
    def copy_out(cls) -> Result:
        """A text-format COPY TO STDOUT: each CopyData line is scanned as one text value."""
        result = cls.describe([Field("copy", 25, False)])
        result.copy = True
        return result

    def values(self, frame: bytes) -> list[bytes | None]:
        """The values of a DataRow frame (a CopyData line is one value)."""
        return [frame[5:]] if self.copy else pgwire.parse_data_row(frame[5:])

    def frame(self, values: list[bytes | None]) -> bytes:
        if self.copy:
            assert values[0] is not None
            return pgwire.frame(b"d", values[0])
        return pgwire.data_row(values)

    @classmethod
    def unknown(cls, width: int) -> Result:
        """Rows that came without a RowDescription in this response: every value is scanned,
        read as text unless it is exactly a binary text array (sniffed)."""
        return cls.describe([Field(f"column{i + 1}", 0, False) for i in range(width)])

    @property
    def needs_masking(self) -> bool:
        return bool(self.sent)

    def candidate(self, values: list[bytes | None], prefilter: Prefilter) -> list[str | None]:
        """When the row is a candidate, the texts of the sent columns that could need masking,
        None for the others (NULL, or cleared by the prefilter: the masker would return them
        as they are, so they travel as NULL and are kept); else []."""
        if len(values) != len(self.plans):
            raise Unmaskable("a DataRow does not match its RowDescription")
        texts: list[str | None] = []
        hit = False
        for i in self.sent:
            raw = values[i]
            if raw is None:
                texts.append(None)
                continue
            col = self.plans[i]
            text = to_text(col, raw, prefilter)
            if text is not None and (
                col.plan is Plan.ALL
                or prefilter.could_contain(text)
                or (col.plan is Plan.PERSON and looks_like_person(text))
                # an escape may hide what the prefilter looks for
                or (col.kind in (ColumnKind.JSON, ColumnKind.ARRAY) and "\\" in text)
            ):
                hit = True
                texts.append(text)
            else:
                texts.append(None)
        return texts if hit else []

    def request(self, rows: Sequence[list[str | None]]) -> mpb.MaskRequest:
        request = mpb.MaskRequest(
            columns=[
                mpb.Column(name=self.plans[i].name, type_name=self.plans[i].type_name)
                for i in self.sent
            ]
        )
        add_row = request.rows.add
        for row in rows:
            add = add_row().values.add  # adding in place: 2.5x faster than building messages
            for t in row:
                if t is None:
                    add(null=True)
                else:
                    add(text=t)
        return request

    def rebuild(
        self, values: list[bytes | None], sent: list[str | None], masked: mpb.Row
    ) -> list[bytes | None] | None:
        """The row's values after masking, or None when nothing changed."""
        if len(masked.values) != len(self.sent):
            raise Unmaskable("the masker answered a row of another width")
        out: list[bytes | None] | None = None
        for i, before, after in zip(self.sent, sent, masked.values, strict=True):
            if before is None or after.null or after.text == before:
                continue
            raw = values[i]
            assert raw is not None
            if out is None:
                out = list(values)
            out[i] = from_text(self.plans[i], raw, after.text)
        return out


MASKED_FIELDS = ("M", "D", "H", "W")


def message_candidates(fields: dict[str, str], prefilter: Prefilter) -> list[str]:
    """The codes of an error or notice's fields the masker must see."""
    return [c for c in MASKED_FIELDS if c in fields and prefilter.could_contain(fields[c])]


class Descriptions:
    """Which columns (and formats) the rows of each result have, when the target does not send a
    RowDescription before them: an Execute of a portal whose statement was Described earlier
    (asyncpg prepares once, then only Binds and Executes).

    The client side records what it forwards, in order; the target answers in the same order,
    so each answer consumes the oldest matching expectation. An error makes the target skip to
    the Sync, so it drops the expectations up to the next Sync; a ReadyForQuery ends a Sync's.
    What cannot be resolved is None, and its rows are scanned as values of unknown type.
    """

    def __init__(self) -> None:
        self._expect: deque[tuple[str, str, str, list[int]]] = deque()
        self._statements: dict[str, list[Field]] = {}
        self._portals: dict[str, list[Field] | None] = {}
        self._describing: str | None = None  # statement whose RowDescription comes next
        self._parameter_types: dict[str, list[int]] = {}  # statement -> type oids of $1, $2...

    # client -> target, in the order forwarded
    def parse(self, name: str, parameter_types: list[int] | None = None) -> None:
        self._expect.append(("P", name, "", []))
        # Known at once: a Bind right behind it in the same pipeline may need them before
        # the target has answered the Parse.
        self._parameter_types[name] = parameter_types or []

    def describe(self, kind: str, name: str) -> None:
        self._expect.append(("DS" if kind == "S" else "DP", name, "", []))

    def bind(self, portal: str, statement: str, formats: list[int]) -> None:
        self._expect.append(("B", portal, statement, formats))

    def execute(self, portal: str) -> None:
        self._expect.append(("X", portal, "", []))

    def sync(self) -> None:
        """A Sync or a Query: the target answers it with a ReadyForQuery."""
        self._expect.append(("Z", "", "", []))

    # target -> client
    def _take(self, kind: str) -> tuple[str, str, str, list[int]] | None:
        while self._expect and self._expect[0][0] != "Z":
            entry = self._expect.popleft()
            if entry[0] == kind:
                return entry
        return None

    def parameter_types(self, statement: str) -> list[int]:
        """The type oids of a prepared statement's parameters, as its Parse named them or the
        target described them; [] when neither said."""
        return self._parameter_types.get(statement, [])

    def backend(
        self, kind: bytes, fields: list[Field] | None = None, parameter_types: Sequence[int] = ()
    ) -> list[Field] | None:
        """Account for a target message. For a RowDescription ('T', with `fields`) or NoData
        ('n'), returns the columns of the rows that follow it directly (a Query's result or a
        described portal), or None when they describe a statement or a later Execute. A
        ParameterDescription ('t') comes with its `parameter_types`."""
        if kind == b"1":
            entry = self._take("P")
            if entry is not None:
                self._statements.pop(entry[1], None)
        elif kind == b"t":
            entry = self._take("DS")
            self._describing = entry[1] if entry is not None else None
            if self._describing is not None:
                self._parameter_types[self._describing] = list(parameter_types)
        elif kind in (b"T", b"n"):
            columns = fields or []
            if self._describing is not None:
                self._statements[self._describing] = columns
                self._describing = None
                return None
            head = self._expect[0] if self._expect else None
            if head is not None and head[0] in ("P", "DS", "DP", "B"):
                entry = self._take("DP")
                if entry is not None:
                    self._portals[entry[1]] = columns
                    return None
            return columns  # a Query's result
        elif kind == b"2":
            entry = self._take("B")
            if entry is not None:
                described = self._statements.get(entry[2])
                self._portals[entry[1]] = (
                    None if described is None else pgwire_with_formats(described, entry[3])
                )
        elif kind == b"E":
            self._describing = None
            while self._expect and self._expect[0][0] != "Z":
                self._expect.popleft()
        elif kind == b"Z":
            self._describing = None
            while self._expect:
                if self._expect.popleft()[0] == "Z":
                    break
        return None

    def execution(self) -> tuple[bool, list[Field] | None]:
        """At the first answer of an Execute (a DataRow, or its end): (whether an Execute was
        expected, the columns of its portal if known)."""
        entry = self._take("X")
        if entry is None:
            return False, None
        return True, self._portals.get(entry[1])
