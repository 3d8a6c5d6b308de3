"""Bash text as tree-sitter-bash parses it, and its words as bash sees them after quote removal.

A word keeps what the analyzer needs to judge it: its literal text (`r''m`, `\\rm`, `"rm"` and
`$'\\x72m'` are all `rm`), whether any part of it is only known at run time (an expansion), and
whether bash would still expand it (an unquoted glob, brace or leading tilde).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import tree_sitter_bash
from tree_sitter import Language, Node, Parser

_PARSER = Parser(Language(tree_sitter_bash.language()))

#: Node types whose value is only known at run time.
EXPANSIONS = frozenset({
    "simple_expansion", "expansion", "command_substitution", "process_substitution",
    "arithmetic_expansion",
})  # fmt: skip
_GLOB = re.compile(r"[*?]|\[.*\]")
_BRACE = re.compile(r"\{[^{}]*(,|\.\.)[^{}]*\}")


@dataclass(frozen=True, slots=True)
class Word:
    """One word after quote removal. `text` keeps expansions as written (`$HOME`);
    `dynamic`: part of it is only known at run time; `glob`, `brace`, `tilde`: bash would
    still expand an unquoted `*`/`?`/`[...]`, `{a,b}`, or a leading `~`."""

    text: str
    dynamic: bool = False
    glob: bool = False
    brace: bool = False
    tilde: bool = False
    node: Node | None = None

    @property
    def literal(self) -> bool:
        return not (self.dynamic or self.brace)


class ParserHazard(ValueError):
    """Text that tree-sitter-bash 0.25.1 cannot be given: its scanner passes the character
    after `{` (or after `{N..`) to isdigit(), which reads out of bounds, and may crash the
    process, for a code point above U+00FF (tree-sitter-bash issue #337). `at` is 0-based."""

    def __init__(self, at: int) -> None:
        super().__init__(f"a character the parser cannot read safely at character {at + 1}")
        self.at = at


# `{`, optional digits (or `{N..N`), then a character above U+00FF: what reaches isdigit().
_HAZARD = re.compile(r"\{[0-9]*(?:\.\.[0-9]*)?[^\x00-\xff]")


def parse(text: str) -> Node:
    """The root of the syntax tree of `text`; ParserHazard where the parser would misbehave."""
    hazard = _HAZARD.search(text)
    if hazard is not None:
        raise ParserHazard(hazard.end() - 1)
    return _PARSER.parse(text.encode()).root_node


def source(node: Node) -> str:
    return (node.text or b"").decode(errors="replace")


def has_error(root: Node) -> bool:
    return root.has_error


def word(node: Node) -> Word:
    """The word a command-line node stands for."""
    parts: list[tuple[str, bool, bool]] = []  # (text, quoted, dynamic)
    _parts(node, parts)
    text = "".join(p[0] for p in parts)
    dynamic = any(p[2] for p in parts)
    unquoted = "".join(p[0] if not p[1] and not p[2] else "\0" * len(p[0]) for p in parts)
    return Word(
        text=text,
        dynamic=dynamic,
        glob=bool(_GLOB.search(unquoted)),
        brace=bool(_BRACE.search(unquoted)),
        tilde=bool(parts) and not parts[0][1] and not parts[0][2] and text.startswith("~"),
        node=node,
    )


def literal_word(text: str) -> Word:
    """A word given as-is (an argv element: no shell, no expansion)."""
    return Word(text)


def _parts(node: Node, out: list[tuple[str, bool, bool]]) -> None:
    kind = node.type
    if kind in EXPANSIONS:
        out.append((source(node), False, True))
    elif kind == "raw_string":
        out.append((source(node)[1:-1], True, False))
    elif kind == "ansi_c_string":
        out.append((ansi_c(source(node)[2:-1]), True, False))
    elif kind in {"string", "translated_string"}:
        _string(node, out)
    elif kind == "concatenation":
        _gaps(node, out, quoted=False)
    elif kind in {"word", "number", "test_operator", "command_name", "extglob_pattern"}:
        if node.named_child_count and kind == "command_name":
            for child in node.named_children:
                _parts(child, out)
        else:
            out.append((unescape(source(node)), False, False))
    elif kind == "brace_expression":
        out.append((source(node), False, False))
    else:  # anything else standing for a word is only known at run time
        out.append((source(node), False, True))


def _string(node: Node, out: list[tuple[str, bool, bool]]) -> None:
    """A double-quoted string: its content, with the expansions in it."""
    start = node.start_byte + (2 if node.type == "translated_string" else 1)
    end = node.end_byte - 1
    raw = node.text or b""
    base = node.start_byte
    at = start
    for child in node.named_children:
        if child.type in EXPANSIONS:
            if child.start_byte > at:
                out.append((_dq(raw[at - base : child.start_byte - base].decode()), True, False))
            out.append((source(child), True, True))
            at = child.end_byte
    if end > at:
        out.append((_dq(raw[at - base : end - base].decode(errors="replace")), True, False))


def _gaps(node: Node, out: list[tuple[str, bool, bool]], quoted: bool) -> None:
    """Children of a concatenation, with any text between them as unquoted word text."""
    raw = node.text or b""
    base = node.start_byte
    at = node.start_byte
    for child in node.children:
        if child.start_byte > at:
            out.append((unescape(raw[at - base : child.start_byte - base].decode()), quoted, False))
        _parts(child, out)
        at = child.end_byte
    if node.end_byte > at:
        out.append((unescape(raw[at - base :].decode(errors="replace")), quoted, False))


def unescape(text: str) -> str:
    """Quote removal in an unquoted word: `\\x` is x, backslash-newline is nothing."""
    return re.sub(r"\\(\n|.)", lambda m: "" if m.group(1) == "\n" else m.group(1), text, flags=re.S)


def _dq(text: str) -> str:
    """Quote removal inside double quotes: a backslash escapes only $ ` " \\ and newline."""
    return re.sub(r'\\([$`"\\\n])', lambda m: "" if m.group(1) == "\n" else m.group(1), text)


_C_ESCAPES = {"a": "\a", "b": "\b", "e": "\x1b", "E": "\x1b", "f": "\f", "n": "\n", "r": "\r",
              "t": "\t", "v": "\v", "\\": "\\", "'": "'", '"': '"', "?": "?"}  # fmt: skip
_C_ESCAPE = re.compile(
    r"\\(x[0-9a-fA-F]{1,2}|u[0-9a-fA-F]{1,4}|U[0-9a-fA-F]{1,8}|[0-7]{1,3}|c.|.)", re.S
)


def ansi_c(text: str) -> str:
    """The value of `$'...'` (also echo -e and printf escapes): \\n, \\x72, \\162, \\u0072..."""

    def one(m: re.Match[str]) -> str:
        e = m.group(1)
        if e[0] in "xuU" and len(e) > 1:
            try:
                return chr(int(e[1:], 16))
            except (ValueError, OverflowError):
                return ""
        if e[0] in "01234567":
            return chr(int(e, 8) & 0xFF)
        if e[0] == "c" and len(e) == 2:
            return chr(ord(e[1]) & 0x1F)
        return _C_ESCAPES.get(e, "\\" + e)

    return _C_ESCAPE.sub(one, text)


def expand_braces(text: str, limit: int = 64) -> list[str]:
    """Bash brace expansion of a literal (`/{etc,var}` → /etc, /var), at most `limit` words."""
    m = _BRACE.search(text)
    if not m:
        return [text]
    inner = m.group(0)[1:-1]
    if ".." in inner and "," not in inner:
        lo, _, hi = inner.partition("..")
        if lo.isdigit() and hi.isdigit() and abs(int(hi) - int(lo)) < limit:
            step = 1 if int(hi) >= int(lo) else -1
            choices = [str(i) for i in range(int(lo), int(hi) + step, step)]
        else:
            choices = [inner]
    else:
        choices = inner.split(",")
    out: list[str] = []
    for choice in choices:
        for rest in expand_braces(text[: m.start()] + choice + text[m.end() :], limit):
            out.append(rest)
            if len(out) >= limit:
                return out
    return out


#: Programs that fetch from the network: what they write is code nobody has seen.
FETCHERS = frozenset({
    "curl", "wget", "fetch", "nc", "ncat", "netcat", "socat", "http", "https", "aria2c",
    "lynx", "links", "ftp", "tftp", "scp", "rsync", "ssh",
})  # fmt: skip
#: Programs that decode their input: what they write is hidden from anyone reading the text.
DECODERS = frozenset({"base64", "base32", "basenc", "xxd", "rev", "openssl", "gpg", "gunzip",
                      "zcat", "bzcat", "xzcat", "uudecode", "gzip", "bzip2", "xz", "zstd",
                      "tr"})  # fmt: skip


def program_name(text: str) -> str:
    """The program a command word names: `/usr/bin/rm` is rm."""
    return text.rsplit("/", 1)[-1] if "/" in text.rstrip("/") else text


def fetches(node: Node | None) -> bool:
    """Whether a command that fetches from the network runs anywhere in `node`."""
    stack = [node] if node is not None else []
    while stack:
        n = stack.pop()
        if n.type == "command":
            name = n.child_by_field_name("name")
            if name is not None and program_name(word(name).text) in FETCHERS:
                return True
        stack.extend(n.children)
    return False
