"""Where tree-sitter-bash's tree cannot be trusted, so the text fails closed: errors and
missing nodes, text no node covers, heredoc bodies read as words, reserved words read as
command names."""

from __future__ import annotations

import re

from tree_sitter import Node

from proctor_classifier.shell.context import shown
from proctor_classifier.shell.words import source

RESERVED = frozenset({
    "if", "then", "else", "elif", "fi", "case", "esac", "for", "select", "while", "until", "do",
    "done", "in", "function", "{", "}", "[[", "]]", "coproc",
})  # fmt: skip


def problem(root: Node) -> str:
    stack = [root]
    while stack:
        node = stack.pop()
        if node.is_missing:
            return f"`{node.type}` is missing at character {node.start_byte + 1}"
        if node.is_error:
            near = shown(source(node))[:40]
            return f"unexpected `{near}` at character {node.start_byte + 1}"
        stack.extend(reversed(node.children))
    return "syntax error"


# Nodes whose whole range is their text (the parser covers it, even where no child does).
_OPAQUE = frozenset({
    "heredoc_body", "string", "raw_string", "ansi_c_string", "translated_string", "comment",
    "word", "heredoc_start", "heredoc_end", "regex", "extglob_pattern", "number",
    "string_content", "heredoc_content",
})  # fmt: skip
# tree-sitter-bash drops a lone `-` argument before a heredoc (`psql -f - <<EOF`): see
# `walk._Walker.redirected`, which puts it back.
_DASH_BEFORE_HEREDOC = re.compile(rb"(?<=\s)-[ \t]+(?=<<)")


def uncovered(root: Node, data: bytes) -> int | None:
    """The first byte of text no node covers (tree-sitter skipped it without an error), other
    than blanks, line continuations and the dash put back before a heredoc; None if none."""
    covered = bytearray(len(data))
    stack = [root]
    while stack:
        node = stack.pop()
        if node.child_count == 0 or node.type in _OPAQUE:
            covered[node.start_byte : node.end_byte] = b"\x01" * (node.end_byte - node.start_byte)
        else:
            stack.extend(node.children)
    for m in _DASH_BEFORE_HEREDOC.finditer(data):
        covered[m.start()] = 1
    i = 0
    while i < len(data):
        if not covered[i] and data[i] not in b" \t\r\n":
            if data[i : i + 2] == b"\\\n":
                i += 2
                continue
            return i
        i += 1
    return None


def misread_heredoc(root: Node, data: bytes) -> int | None:
    """A heredoc whose body tree-sitter read as words of its first line (it does so for a body
    that starts with a backslash): where, or None."""
    stack = [root]
    while stack:
        node = stack.pop()
        stack.extend(node.children)
        if node.type != "heredoc_redirect":
            continue
        start = next((c for c in node.children if c.type == "heredoc_start"), None)
        if start is None:
            return node.start_byte
        newline = data.find(b"\n", start.end_byte)
        for child in node.children:
            if child.type in {"heredoc_body", "heredoc_end"} or newline < 0:
                continue
            if child.end_byte > newline and child.start_byte > start.end_byte:
                if child.type == "pipeline" or child.start_byte < newline:
                    continue  # `cat <<EOF | sh` and `cat <<EOF && x` on the first line
                return node.start_byte
    return None
