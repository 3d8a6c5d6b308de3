"""PostgreSQL wire protocol (v3): framing, and the few messages a proxy reads or writes.

Only what the gateway needs to see is decoded; everything else is forwarded as bytes. Message
boundaries are found with one header read per message (type byte, int32 length).
"""

from __future__ import annotations

import struct
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from proctor.errors import ProtocolError as ProtocolError

PROTOCOL_3_0 = 196608
SSL_REQUEST = 80877103
GSSENC_REQUEST = 80877104
CANCEL_REQUEST = 80877102
MAX_MESSAGE = 1 << 30  # Postgres's own limit for a message
MAX_STARTUP = 10_000

_I32 = struct.Struct("!i")
_HEADER = struct.Struct("!ci")


class MessageTooLarge(ProtocolError):
    """A message's header declares more bytes than the reader accepts; seen at the header,
    before any of the body is kept."""

    def __init__(self, kind: bytes, length: int, limit: int) -> None:
        super().__init__(f"message of {length} bytes (type {kind!r}) exceeds {limit} bytes")
        self.kind = kind
        self.length = length
        self.limit = limit


@dataclass(frozen=True, slots=True)
class Message:
    """One typed message: its type byte, its body, and the whole frame as received."""

    type: bytes
    body: bytes

    @property
    def frame(self) -> bytes:
        return self.type + _I32.pack(len(self.body) + 4) + self.body


def frame(kind: bytes, body: bytes = b"") -> bytes:
    return kind + _I32.pack(len(body) + 4) + body


class MessageBuffer:
    """Accumulates bytes and yields complete typed messages; keeps the incomplete tail.
    Given a `buffer` that something else fills (a protocol's), it reads that one in place."""

    __slots__ = ("_buf", "max_message")

    def __init__(self, buffer: bytearray | None = None, max_message: int = MAX_MESSAGE) -> None:
        self._buf = bytearray() if buffer is None else buffer
        self.max_message = max_message  # the largest message accepted, header included

    def feed(self, data: bytes | bytearray) -> None:
        self._buf += data

    def __len__(self) -> int:
        return len(self._buf)

    def messages(self) -> Iterator[Message]:
        buf = self._buf
        pos = 0
        end = len(buf)
        try:
            while end - pos >= 5:
                kind, length = _HEADER.unpack_from(buf, pos)
                if length < 4 or length > MAX_MESSAGE:
                    raise ProtocolError(f"invalid message length {length} for type {kind!r}")
                if length + 1 > self.max_message:
                    raise MessageTooLarge(kind, length + 1, self.max_message)
                if end - pos < length + 1:
                    break
                start = pos
                pos += 1 + length  # consumed even if the caller stops after this one
                yield Message(kind, bytes(buf[start + 5 : pos]))
        finally:
            del buf[:pos]

    def take_raw(self) -> bytes:
        data = bytes(self._buf)
        self._buf.clear()
        return data


def cstring(body: bytes, pos: int) -> tuple[str, int]:
    """A NUL-terminated string at `pos`, and the position after it."""
    end = body.find(b"\0", pos)
    if end < 0:
        raise ProtocolError("a string in the message is not NUL-terminated")
    return body[pos:end].decode("utf-8", "replace"), end + 1


def parse_startup(body: bytes) -> dict[str, str]:
    """The parameters of a StartupMessage body (after the protocol version)."""
    params: dict[str, str] = {}
    pos = 4
    while pos < len(body) and body[pos] != 0:
        key, pos = cstring(body, pos)
        value, pos = cstring(body, pos)
        params[key] = value
    return params


def startup_message(params: dict[str, str]) -> bytes:
    body = (
        _I32.pack(PROTOCOL_3_0)
        + b"".join(k.encode() + b"\0" + v.encode() + b"\0" for k, v in params.items())
        + b"\0"
    )
    return _I32.pack(len(body) + 4) + body


def query_text(body: bytes) -> str:
    """The SQL of a Query message."""
    return body[:-1].decode("utf-8", "replace") if body.endswith(b"\0") else body.decode()


@dataclass(frozen=True, slots=True)
class Parse:
    statement: str
    query: str
    param_types: bytes  # the raw int16 count + oids, kept to re-encode


def parse_parse(body: bytes) -> Parse:
    name, pos = cstring(body, 0)
    query, pos = cstring(body, pos)
    return Parse(name, query, body[pos:])


def build_parse(statement: str, query: str, param_types: bytes = b"\0\0") -> bytes:
    return frame(b"P", statement.encode() + b"\0" + query.encode() + b"\0" + param_types)


def parse_bind(body: bytes) -> tuple[str, str, int]:
    """(portal, statement, number of parameter values) of a Bind message."""
    portal, pos = cstring(body, 0)
    statement, pos = cstring(body, pos)
    try:
        (n_formats,) = struct.unpack_from("!h", body, pos)
        pos += 2 + 2 * n_formats
        (n_params,) = struct.unpack_from("!h", body, pos)
    except struct.error as exc:
        raise ProtocolError(f"truncated Bind message: {exc}") from exc
    return portal, statement, n_params


def type_oids(raw: bytes) -> list[int]:
    """The type oids of a Parse's parameter part or a ParameterDescription's body (an int16
    count, then that many int32 oids; 0 means unspecified)."""
    try:
        (count,) = struct.unpack_from("!h", raw, 0)
        return list(struct.unpack_from(f"!{count}I", raw, 2))
    except struct.error as exc:
        raise ProtocolError(f"truncated parameter types: {exc}") from exc


_EPOCH_2000 = datetime(2000, 1, 1)
_BINARY_INT = {20: 8, 21: 2, 23: 4, 26: 4}  # int8, int2, int4, oid: their sizes
# name, text, json, xml, unknown, char(n), varchar: their UTF-8 bytes
_BINARY_TEXT = frozenset({19, 25, 114, 142, 705, 1042, 1043})


def _binary_value(oid: int, raw: bytes) -> str | None:
    """A binary-format value of a common type as Postgres prints it (times in UTC); None
    for other types and values it cannot show (infinite times)."""
    try:
        return _binary_text(oid, raw)
    except (OverflowError, ValueError):
        return None


def _binary_text(oid: int, raw: bytes) -> str | None:
    if oid in _BINARY_INT and len(raw) == _BINARY_INT[oid]:
        return str(int.from_bytes(raw, "big", signed=oid != 26))
    if oid in _BINARY_TEXT:
        return raw.decode("utf-8", "replace")
    if oid == 3802 and raw[:1] == b"\x01":  # jsonb: a version byte, then the text
        return raw[1:].decode("utf-8", "replace")
    if oid == 16 and len(raw) == 1:
        return "true" if raw[0] else "false"
    if oid in (700, 701) and len(raw) in (4, 8):
        return repr(struct.unpack("!f" if len(raw) == 4 else "!d", raw)[0])
    if oid == 2950 and len(raw) == 16:
        return str(uuid.UUID(bytes=raw))
    if oid == 1082 and len(raw) == 4:
        return (
            (_EPOCH_2000 + timedelta(days=int.from_bytes(raw, "big", signed=True)))
            .date()
            .isoformat()
        )
    if oid in (1114, 1184) and len(raw) == 8:
        at = _EPOCH_2000 + timedelta(microseconds=int.from_bytes(raw, "big", signed=True))
        text = at.isoformat(sep=" ")
        if at.microsecond:
            text = text.rstrip("0")
        return text + ("+00" if oid == 1184 else "")
    if oid == 1700 and len(raw) >= 8:
        return _numeric(raw)
    return None


def _numeric(raw: bytes) -> str | None:
    ndigits, weight, sign, dscale = struct.unpack_from("!hhHh", raw, 0)
    if sign == 0xC000:
        return "NaN"
    if len(raw) != 8 + 2 * ndigits:
        return None
    digits = struct.unpack_from(f"!{ndigits}h", raw, 8)  # base 10,000; the first at `weight`
    whole = "".join(f"{digits[i] if i < ndigits else 0:04d}" for i in range(weight + 1))
    groups = "0000" * max(-weight - 1, 0) + "".join(f"{d:04d}" for d in digits[weight + 1 :])
    fraction = (groups + "0" * dscale)[:dscale]
    text = (whole.lstrip("0") or "0") + ("." + fraction if dscale > 0 else "")
    return "-" + text if sign == 0x4000 else text


def parameter_values(part: bytes, types: Sequence[int] = (), limit: int = 4096) -> list[str]:
    """The values in the parameter part of a Bind (see `bind_parameters`; b"" for none) for
    a human to read: text-format ones as text, NULL as "NULL", binary ones of common types (by
    `types`, the statement's parameter type oids) as Postgres prints them, others as \\x and
    hex digits; each cut to `limit` characters."""
    if not part:
        return []
    body, pos = part, 0
    values: list[str] = []
    try:
        (n_formats,) = struct.unpack_from("!h", body, pos)
        formats = struct.unpack_from(f"!{n_formats}h", body, pos + 2)
        pos += 2 + 2 * n_formats
        (n_params,) = struct.unpack_from("!h", body, pos)
        pos += 2
        for i in range(n_params):
            (length,) = _I32.unpack_from(body, pos)
            pos += 4
            if length < 0:
                values.append("NULL")
                continue
            raw = body[pos : pos + length]
            pos += length
            if pos > len(body):
                raise ProtocolError("truncated Bind message: a parameter runs past its end")
            binary = (formats[0] if n_formats == 1 else formats[i] if n_formats else 0) == 1
            if binary:
                oid = types[i] if i < len(types) else 0
                shown = _binary_value(oid, raw)
                text = "\\x" + raw.hex() if shown is None else shown
            else:
                text = raw.decode("utf-8", "replace")
            values.append(text if len(text) <= limit else text[: limit - 1] + "…")
    except (struct.error, IndexError) as exc:
        raise ProtocolError(f"truncated Bind message: {exc}") from exc
    return values


def _parameters_end(body: bytes, start: int) -> int:
    """Where the parameter part of a Bind (format codes, then values) that begins at `start`
    ends."""
    try:
        (n_formats,) = struct.unpack_from("!h", body, start)
        pos: int = start + 2 + 2 * n_formats
        (n_params,) = struct.unpack_from("!h", body, pos)
        pos += 2
        for _ in range(n_params):
            (length,) = _I32.unpack_from(body, pos)
            pos += 4 + max(length, 0)
    except struct.error as exc:
        raise ProtocolError(f"truncated Bind message: {exc}") from exc
    if pos > len(body):
        raise ProtocolError("truncated Bind message: a parameter runs past its end")
    return pos


def bind_parameters(body: bytes) -> bytes:
    """The parameter part of a Bind message (format codes and values, as sent): what an
    approval of one execution is bound to, besides the statement."""
    _, pos = cstring(body, 0)
    _, start = cstring(body, pos)
    return body[start : _parameters_end(body, start)]


def parse_execute(body: bytes) -> tuple[str, int]:
    portal, pos = cstring(body, 0)
    try:
        (max_rows,) = _I32.unpack_from(body, pos)
    except struct.error as exc:
        raise ProtocolError(f"truncated Execute message: {exc}") from exc
    return portal, max_rows


def parse_close(body: bytes) -> tuple[str, str]:
    """(b'S' or b'P' as str, name) of a Close message."""
    if not body:
        raise ProtocolError("empty Close message")
    kind = chr(body[0])
    name, _ = cstring(body, 1)
    return kind, name


def error_fields(body: bytes) -> dict[str, str]:
    """The fields of an ErrorResponse or NoticeResponse, by field code."""
    fields: dict[str, str] = {}
    pos = 0
    while pos < len(body) and body[pos] != 0:
        code = chr(body[pos])
        value, pos = cstring(body, pos + 1)
        fields[code] = value
    return fields


def error_response(
    message: str,
    *,
    code: str = "42501",
    severity: str = "ERROR",
    detail: str | None = None,
    hint: str | None = None,
) -> bytes:
    parts = [("S", severity), ("V", severity), ("C", code), ("M", message)]
    if detail:
        parts.append(("D", detail))
    if hint:
        parts.append(("H", hint))
    body = b"".join(k.encode() + v.encode("utf-8") + b"\0" for k, v in parts) + b"\0"
    return frame(b"E", body)


def command_tag_rows(body: bytes) -> int:
    """Rows affected or returned, from a CommandComplete tag ("SELECT 5", "INSERT 0 1")."""
    tag = body.rstrip(b"\0").split(b" ")
    try:
        return int(tag[-1]) if len(tag) > 1 else 0
    except ValueError:
        return 0


def ready_for_query(status: bytes = b"I") -> bytes:
    return frame(b"Z", status)


def auth_request(code: int, data: bytes = b"") -> bytes:
    return frame(b"R", _I32.pack(code) + data)


def backend_key_data(pid: int, key: int) -> bytes:
    return frame(b"K", struct.pack("!ii", pid, key))


def parse_notification(body: bytes) -> tuple[int, str, str]:
    """(backend pid, channel, payload) of a NotificationResponse."""
    try:
        (pid,) = _I32.unpack_from(body, 0)
    except struct.error as exc:
        raise ProtocolError(f"truncated NotificationResponse: {exc}") from exc
    channel, pos = cstring(body, 4)
    payload, _ = cstring(body, pos)
    return pid, channel, payload


def notification(pid: int, channel: str, payload: str) -> bytes:
    """A NotificationResponse frame."""
    body = _I32.pack(pid) + channel.encode() + b"\0" + payload.encode() + b"\0"
    return frame(b"A", body)


def cancel_request(pid: int, key: int) -> bytes:
    return struct.pack("!iiii", 16, CANCEL_REQUEST, pid, key)


@dataclass(frozen=True, slots=True)
class Field:
    """One column of a RowDescription."""

    name: str
    type_oid: int
    binary: bool  # format code 1; 0 is text


def parse_row_description(body: bytes) -> list[Field]:
    """The columns of a RowDescription ('T') body."""
    try:
        (count,) = struct.unpack_from("!h", body, 0)
        pos = 2
        fields = []
        for _ in range(count):
            name, pos = cstring(body, pos)
            # table oid (4), column number (2), type oid (4), size (2), modifier (4), format (2)
            _, _, oid, _, _, fmt = struct.unpack_from("!ihIhih", body, pos)
            pos += 18
            fields.append(Field(name, oid, fmt == 1))
    except struct.error as exc:
        raise ProtocolError(f"truncated RowDescription: {exc}") from exc
    return fields


def parse_data_row(body: bytes) -> list[bytes | None]:
    """The values of a DataRow ('D') body; None is SQL NULL."""
    try:
        (count,) = struct.unpack_from("!h", body, 0)
        pos = 2
        values: list[bytes | None] = []
        for _ in range(count):
            (length,) = _I32.unpack_from(body, pos)
            pos += 4
            if length < 0:
                values.append(None)
            else:
                if pos + length > len(body):
                    raise ProtocolError("a DataRow value runs past the message")
                values.append(body[pos : pos + length])
                pos += length
    except struct.error as exc:
        raise ProtocolError(f"truncated DataRow: {exc}") from exc
    return values


def data_row(values: list[bytes | None]) -> bytes:
    """A whole DataRow frame."""
    parts = [struct.pack("!h", len(values))]
    for value in values:
        if value is None:
            parts.append(_I32.pack(-1))
        else:
            parts.append(_I32.pack(len(value)))
            parts.append(value)
    return frame(b"D", b"".join(parts))


def fields_message(kind: bytes, fields: dict[str, str]) -> bytes:
    """An ErrorResponse ('E') or NoticeResponse ('N') frame with these fields, in order."""
    body = b"".join(k.encode() + v.encode("utf-8") + b"\0" for k, v in fields.items()) + b"\0"
    return frame(kind, body)


def bind_result_formats(body: bytes) -> list[int]:
    """The result-column format codes of a Bind message (empty: all text)."""
    _, pos = cstring(body, 0)
    _, pos = cstring(body, pos)
    pos = _parameters_end(body, pos)
    try:
        (n_results,) = struct.unpack_from("!h", body, pos)
        return list(struct.unpack_from(f"!{n_results}h", body, pos + 2))
    except struct.error as exc:
        raise ProtocolError(f"truncated Bind message: {exc}") from exc


def parse_describe(body: bytes) -> tuple[str, str]:
    """(b'S' or b'P' as str, name) of a Describe message."""
    return parse_close(body)


def with_formats(fields: list[Field], formats: list[int]) -> list[Field]:
    """A statement's columns with the result formats a Bind asked for."""
    if not formats:
        codes = [0] * len(fields)
    elif len(formats) == 1:
        codes = formats * len(fields)
    else:
        codes = formats
    return [Field(f.name, f.type_oid, c == 1) for f, c in zip(fields, codes, strict=False)]
