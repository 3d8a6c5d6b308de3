"""Literal values a text gives its variables (`D=/var`, `for d in / /tmp`, `${D:-/}`), so that a
command using them (`rm -rf $D`) is judged once more with each value written in.

The variants only ever add to a verdict: the command is still judged as written (an expansion
is known only at run time), because a value can change out of sight (`read`, `eval`, `source`,
a function). A variant can make a verdict stricter, never looser.
"""

from __future__ import annotations

import itertools
import re

from tree_sitter import Node

from proctor_classifier.shell.words import ParserHazard, parse, source, word

#: Values tried per variable, and variants per command.
MAX_VALUES = 4
MAX_VARIANTS = 8
_PLAIN = re.compile(r"^\$\{?([A-Za-z_][A-Za-z0-9_]*|[0-9]|[@*])\}?$")
_DEFAULT = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*):?[-=]([^$`{}]*)\}$")
# Characters bash would not read again after an expansion: a value holding them is written in
# single quotes, so it stays one word.
_SPECIAL = re.compile(r"[;&|<>()$`\"'\\\n*?\[\]{}~#!]")


def literal_values(root: Node) -> dict[str, list[str]]:
    """Every literal value assigned to each variable anywhere in the text."""
    found: dict[str, list[str]] = {}
    stack = [root]
    while stack:
        node = stack.pop()
        stack.extend(node.children)
        if node.type == "variable_assignment":
            name = node.child_by_field_name("name")
            value = node.child_by_field_name("value")
            if name is not None and value is not None:
                w = word(value)
                if w.literal:
                    _add(found, source(name), w.text)
        elif node.type == "for_statement":
            name = node.child_by_field_name("variable")
            if name is not None:
                for value in node.children_by_field_name("value"):
                    w = word(value)
                    if w.literal:
                        _add(found, source(name), w.text)
    return found


def _add(found: dict[str, list[str]], name: str, value: str) -> None:
    values = found.setdefault(name, [])
    if value not in values and len(values) < MAX_VALUES:
        values.append(value)


def variants(node: Node, values: dict[str, list[str]], sigil: str = "") -> list[tuple[str, str]]:
    """The command's text with literal values written in for its expansions, and which values
    (`D=/var`); none when it uses no variable with a known value."""
    data = node.text or b""
    base = node.start_byte
    spots: list[tuple[Node, str, list[str]]] = []
    stack = [node]
    while stack:
        n = stack.pop()
        if n.type in {"simple_expansion", "expansion"}:
            text = source(n)
            plain, default = _PLAIN.match(text), _DEFAULT.match(text)
            name = (plain or default).group(1) if (plain or default) else ""  # type: ignore[union-attr]
            choices = list(values.get(name, []))
            if default is not None:
                choices.append(default.group(2))
            if choices:
                spots.append((n, name, choices))
            continue
        stack.extend(n.children)
    if not spots:
        return []
    spots.sort(key=lambda s: s[0].start_byte)
    out: list[tuple[str, str]] = []
    for combo in itertools.islice(itertools.product(*(s[2] for s in spots)), MAX_VARIANTS):
        pieces: list[bytes] = []
        at = 0
        for (n, _, _), value in zip(spots, combo, strict=True):
            pieces.append(data[at : n.start_byte - base])
            pieces.append(_written(value, _quoted(n)).encode())
            at = n.end_byte - base
        pieces.append(data[at:])
        given = ", ".join(sorted({f"{sigil}{s[1]}={v}" for s, v in zip(spots, combo, strict=True)}))
        out.append((b"".join(pieces).decode(errors="replace"), given))
    return out


def _quoted(node: Node) -> bool:
    parent = node.parent
    return parent is not None and parent.type == "string"


def _written(value: str, in_double_quotes: bool) -> str:
    """`value` as text that bash reads back as the expansion's result."""
    if in_double_quotes:
        return re.sub(r'([$`"\\])', r"\\\1", value)
    if _SPECIAL.search(value):
        return "'" + value.replace("'", "'\\''") + "'"
    return value  # split on blanks as the expansion would be


def positional_variants(code: str, args: list[str]) -> list[tuple[str, str]]:
    """`bash -c CODE NAME ARG...`: CODE with $0 as NAME, $1... as the ARGs, $@ and $* as all
    of them, written in (as `variants`)."""
    values = {str(i): [a] for i, a in enumerate(args[:10])}
    if len(args) > 1:
        values["@"] = values["*"] = [" ".join(args[1:])]
    try:
        return variants(parse(code), values, "$")
    except ParserHazard:
        return []  # the code as written is judged (and refused) on its own
