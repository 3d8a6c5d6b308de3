"""A Kubernetes API request's URL read as the API server reads it: the path as Go's url.Parse
decodes it, the query as Go's url.Values holds it, list options and field selectors as
k8s.io/apimachinery converts them. Where the gateway and the server could disagree about what a
path means, the path is refused (UnreadableRequest) rather than guessed at.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from proctor.errors import UnreadableRequest

_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_INT64 = re.compile(r"[+-]?[0-9]+")

Pairs = Sequence[tuple[str, str]]


def path_segments(path: str) -> list[str]:
    """The decoded segments of a request path (without its query), or UnreadableRequest for a
    path that another reader (a router, an HTTP client that normalises paths) could take to
    mean something else: `//`, `.` and `..` segments, an encoded `/`, control characters, a bad
    percent escape."""
    if not path.startswith("/"):
        raise UnreadableRequest(f"the request path {path!r} does not start with /")
    if "?" in path or "#" in path:
        raise UnreadableRequest(f"the request path {path!r} holds a query or fragment")
    if "//" in path:
        raise UnreadableRequest(f"the request path {path!r} has an empty segment (//)")
    trimmed = path.strip("/")
    if not trimmed:
        return []
    segments: list[str] = []
    for raw in trimmed.split("/"):
        if _BAD_ESCAPE.search(raw):
            raise UnreadableRequest(f"the request path {path!r} has a bad percent escape")
        segment = _unquote(raw, plus=False)
        if "/" in segment:
            raise UnreadableRequest(f"the request path {path!r} has an encoded / (%2F)")
        if segment in {".", ".."}:
            raise UnreadableRequest(f"the request path {path!r} has a {segment!r} segment")
        if any(ord(c) < 0x20 or ord(c) == 0x7F for c in segment):
            raise UnreadableRequest(f"the request path {path!r} has a control character")
        segments.append(segment)
    return segments


def query_pairs(query: str) -> list[tuple[str, str]]:
    """The query's key/value pairs in order, as Go's url.ParseQuery keeps them: a pair with a
    `;` or a bad percent escape is dropped, `+` is a space, a key without `=` has the value ""."""
    pairs: list[tuple[str, str]] = []
    for pair in query.split("&"):
        if not pair or ";" in pair:
            continue
        key, _, value = pair.partition("=")
        if _BAD_ESCAPE.search(key) or _BAD_ESCAPE.search(value):
            continue
        pairs.append((_unquote(key, plus=True), _unquote(value, plus=True)))
    return pairs


def query_values(pairs: Pairs, key: str) -> list[str]:
    """Every value of `key`, in order."""
    return [v for k, v in pairs if k == key]


def query_flag(pairs: Pairs, key: str) -> bool:
    """A boolean option as apimachinery converts it: present, and its first value neither `0`
    nor `false` (in any case); `?watch` alone is true."""
    values = query_values(pairs, key)
    return bool(values) and values[0] != "0" and values[0].lower() != "false"


def list_options(pairs: Pairs) -> tuple[bool, str]:
    """For a GET of a collection: whether it is a watch, and the name that a `metadata.name`
    field selector pins it to. The name is "" when the server would not take it, as when any
    list option fails to decode (RequestInfo then keeps only `watch`)."""
    watch = query_flag(pairs, "watch")
    for key in ("limit", "timeoutSeconds"):
        values = query_values(pairs, key)
        if values and not _is_int64(values[0]):
            return watch, ""
    selectors = query_values(pairs, "fieldSelector")
    terms = field_selector(selectors[0]) if selectors else None
    for field, operator, value in terms or []:
        if field == "metadata.name" and operator != "!=":
            return watch, value if _valid_path_segment_name(value) else ""
    return watch, ""


def field_selector(selector: str) -> list[tuple[str, str, str]] | None:
    """The terms (field, operator, value) of a field selector as apimachinery's
    fields.ParseSelector reads it (terms sorted, values unescaped), or None when the server
    would reject it."""
    terms: list[tuple[str, str, str]] = []
    for part in sorted(_split_unescaped(selector, ",")):
        if not part:
            continue
        found = _split_term(part)
        if found is None:
            return None
        field, operator, value = found
        unescaped = _unescape_selector_value(value)
        if unescaped is None:
            return None
        terms.append((field, operator, unescaped))
    return terms


def _unquote(text: str, *, plus: bool) -> str:
    """Percent-decoding of text whose escapes were checked; bytes that are not UTF-8 become
    U+FFFD."""
    if plus:
        text = text.replace("+", " ")
    if "%" not in text:
        return text
    raw = bytearray()
    i = 0
    while i < len(text):
        if text[i] == "%":
            raw.append(int(text[i + 1 : i + 3], 16))
            i += 3
        else:
            raw += text[i].encode()
            i += 1
    return raw.decode("utf-8", errors="replace")


def _is_int64(text: str) -> bool:
    return bool(_INT64.fullmatch(text)) and -(2**63) <= int(text) < 2**63


def _split_unescaped(text: str, separator: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    escaped = False
    for c in text:
        if escaped:
            current.append(c)
            escaped = False
        elif c == "\\":
            current.append(c)
            escaped = True
        elif c == separator:
            parts.append("".join(current))
            current = []
        else:
            current.append(c)
    parts.append("".join(current))
    return parts


def _split_term(term: str) -> tuple[str, str, str] | None:
    for i in range(len(term)):
        for operator in ("!=", "==", "="):
            if term.startswith(operator, i):
                return term[:i], operator, term[i + len(operator) :]
    return None


def _unescape_selector_value(value: str) -> str | None:
    out: list[str] = []
    escaped = False
    for c in value:
        if escaped:
            if c not in "\\,=":
                return None
            out.append(c)
            escaped = False
        elif c == "\\":
            escaped = True
        elif c in ",=":
            return None
        else:
            out.append(c)
    return None if escaped else "".join(out)


def _valid_path_segment_name(name: str) -> bool:
    # apimachinery path.IsValidPathSegmentName
    return name not in {".", ".."} and "/" not in name and "%" not in name
