"""Postgres array literals in text format (`{a,"b c",NULL,{d}}`): parse, and write back.

Only what the masker needs: elements are strings or NULL, nesting is kept, a dimension prefix
(`[0:1]={...}`) is kept as it was. Written elements are always quoted, which Postgres accepts.
"""

from __future__ import annotations

from collections.abc import Callable

Element = str | None | list["Element"]


class ArrayLiteralError(ValueError):
    """The text is not a Postgres array literal."""


def parse(text: str) -> tuple[str, list[Element]]:
    """The dimension prefix (often '') and the elements of an array literal."""
    prefix = ""
    if text.startswith("["):
        eq = text.find("=")
        if eq < 0:
            raise ArrayLiteralError("dimension prefix without '='")
        prefix, text = text[: eq + 1], text[eq + 1 :]
    if not text.startswith("{"):
        raise ArrayLiteralError("array literal must start with '{'")
    items, end = _parse_array(text, 0)
    if text[end:].strip():
        raise ArrayLiteralError("text after the closing '}'")
    return prefix, items


def _parse_array(text: str, pos: int) -> tuple[list[Element], int]:
    assert text[pos] == "{"
    pos += 1
    items: list[Element] = []
    n = len(text)
    while True:
        while pos < n and text[pos].isspace():
            pos += 1
        if pos >= n:
            raise ArrayLiteralError("unterminated array")
        ch = text[pos]
        if ch == "}" and not items:
            return items, pos + 1
        if ch == "{":
            sub, pos = _parse_array(text, pos)
            items.append(sub)
        elif ch == '"':
            chars: list[str] = []
            pos += 1
            while True:
                if pos >= n:
                    raise ArrayLiteralError("unterminated quoted element")
                c = text[pos]
                if c == "\\" and pos + 1 < n:
                    chars.append(text[pos + 1])
                    pos += 2
                elif c == '"':
                    pos += 1
                    break
                else:
                    chars.append(c)
                    pos += 1
            items.append("".join(chars))
        else:
            chars = []
            while pos < n and text[pos] not in ",}":
                if text[pos] == "\\" and pos + 1 < n:
                    chars.append(text[pos + 1])
                    pos += 2
                else:
                    chars.append(text[pos])
                    pos += 1
            raw = "".join(chars).strip()
            items.append(None if raw.upper() == "NULL" else raw)
        while pos < n and text[pos].isspace():
            pos += 1
        if pos >= n:
            raise ArrayLiteralError("unterminated array")
        if text[pos] == ",":
            pos += 1
        elif text[pos] == "}":
            return items, pos + 1
        else:
            raise ArrayLiteralError(f"unexpected {text[pos]!r} at {pos}")


def write(prefix: str, items: list[Element]) -> str:
    """The literal for `items`, every string element quoted."""
    return prefix + _write(items)


def _write(items: list[Element]) -> str:
    parts = []
    for item in items:
        if item is None:
            parts.append("NULL")
        elif isinstance(item, list):
            parts.append(_write(item))
        else:
            parts.append('"' + item.replace("\\", "\\\\").replace('"', '\\"') + '"')
    return "{" + ",".join(parts) + "}"


def map_strings(items: list[Element], fn: Callable[[str], str]) -> list[Element]:
    """`items` with `fn` applied to every string element; NULLs and nesting kept."""
    out: list[Element] = []
    for item in items:
        if item is None:
            out.append(None)
        elif isinstance(item, list):
            out.append(map_strings(item, fn))
        else:
            out.append(fn(item))
    return out
