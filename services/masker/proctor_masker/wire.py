"""proctor.masker.v1 requests and replies, read and written with a Python object per value
instead of three.

A MaskRequest's rows are read as a wire-compatible message whose `Row.values` are `bytes`: each
is one Value message as sent, which for the common value (text under 128 bytes, no other field)
is `0x0A`, its length and its UTF-8; such values are decoded from those bytes, any other (NULL,
longer text, fields in another order or repeated) by protobuf itself. Reply rows are written the
same way, the counts and the rest of the reply by protobuf; a message's fields may come in any
order, so the two parts concatenated are the whole reply.
"""

from __future__ import annotations

from collections.abc import Sequence

from proctor.masker.v1 import masker_pb2 as mpb
from proctor.masker.v1 import masker_wire_pb2 as wpb

_WireRequest = wpb.RawMaskRequest  # the same bytes, each Value kept as sent
_NULL = b"\x10\x01"  # Value(null=True)


def _value(raw: bytes) -> str | None:
    """One Value message's text, or None for NULL."""
    if len(raw) >= 2 and raw[0] == 0x0A and raw[1] < 0x80 and raw[1] == len(raw) - 2:
        return raw[2:].decode()  # text only, under 128 bytes
    if raw == _NULL:
        return None
    if not raw:
        return ""
    value = mpb.Value.FromString(raw)
    return None if value.null else value.text


# Values repeat, down a column and across requests: what the last few thousand short ones
# read as and are written as is remembered (a bounded memo, emptied when full).
MEMO_SIZE = 16384
MEMO_BYTES = 256
_decoded: dict[bytes, str | None] = {}
_encoded: dict[str | None, bytes] = {}


def forget() -> None:
    """Empty the memos (for measuring values never seen)."""
    _decoded.clear()
    _encoded.clear()


def _decode_new(raw: bytes) -> str | None:
    value = _value(raw)
    if len(raw) <= MEMO_BYTES:
        if len(_decoded) >= MEMO_SIZE:
            _decoded.clear()
        _decoded[raw] = value
    return value


def decode_request(body: bytes) -> tuple[list[mpb.Column], list[list[str | None]]]:
    """A MaskRequest's columns and rows (None for NULL); raises protobuf's DecodeError or
    UnicodeDecodeError (a ValueError) on a malformed request."""
    request = _WireRequest.FromString(body)
    columns = [mpb.Column.FromString(c) for c in request.columns]
    get = _decoded.get
    rows: list[list[str | None]] = []
    for row in request.rows:
        out: list[str | None] = []
        append = out.append
        for raw in row.values:
            value = get(raw, raw)  # the raw bytes themselves: not seen before
            append(_decode_new(raw) if value is raw else value)  # type: ignore[arg-type]
        rows.append(out)
    return columns, rows


def _varint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


_NULL_FIELD = b"\x0a\x02" + _NULL  # Row.values: a NULL Value


def _value_field(value: str | None) -> bytes:
    """Row.values field (number 1) holding Value(text=value), or Value(null=True)."""
    if value is None:
        return _NULL_FIELD
    text = value.encode()
    if not text:
        return b"\x0a\x00"
    inner = b"\x0a" + _varint(len(text)) + text
    return b"\x0a" + _varint(len(inner)) + inner


def _encode_new(value: str | None) -> bytes:
    field = _value_field(value)
    if len(field) <= MEMO_BYTES:
        if len(_encoded) >= MEMO_SIZE:
            _encoded.clear()
        _encoded[value] = field
    return field


def encode_rows(rows: Sequence[Sequence[str | None]]) -> bytes:
    """MaskResponse.rows (field 1), serialised: to be followed by the reply's other fields."""
    get = _encoded.get
    parts: list[bytes] = []
    for row in rows:
        body = b"".join([get(value) or _encode_new(value) for value in row])
        parts += (b"\x0a", _varint(len(body)), body)
    return b"".join(parts)
