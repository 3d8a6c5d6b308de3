"""What a command reads on its input when the text tells: a heredoc, echo or printf of
constant words, and what decoders make of them (`echo cm0gLXJmIC8= | base64 -d`)."""

from __future__ import annotations

import base64
import binascii
import re

from tree_sitter import Node

from proctor_classifier.shell.context import Feed
from proctor_classifier.shell.words import Word, ansi_c, fetches, source


def heredoc(node: Node) -> Feed:
    start = next((c for c in node.children if c.type == "heredoc_start"), None)
    body = next((c for c in node.children if c.type == "heredoc_body"), None)
    text = source(body) if body is not None else ""
    if any(c.type == "-" for c in node.children) or source(node).startswith("<<-"):
        text = "\n".join(line.lstrip("\t") for line in text.split("\n"))
    quoted = start is not None and any(q in source(start) for q in "'\"\\")
    return Feed(
        text=text,
        fetched=not quoted and body is not None and fetches(body),
        what="a heredoc",
    )


def printed(name: str, args: list[Word]) -> str | None:
    """What echo or printf of constant words writes; None when it is not known."""
    if any(not w.literal for w in args):
        return None
    texts = [w.text for w in args]
    if name == "echo":
        escapes, newline = False, True
        while texts and re.fullmatch(r"-[neE]+", texts[0]):
            escapes = escapes or "e" in texts[0]
            newline = newline and "n" not in texts[0]
            texts = texts[1:]
        out = " ".join(texts)
        return (ansi_c(out) if escapes else out) + ("\n" if newline else "")
    if not texts:
        return None
    fmt, rest = texts[0], texts[1:]
    if re.search(r"%(?!%|s)", fmt):
        return None
    pieces = fmt.split("%s")
    if len(pieces) - 1 < len(rest) and len(pieces) > 1:
        return None  # the format would repeat
    out = pieces[0]
    for i, piece in enumerate(pieces[1:]):
        out += (rest[i] if i < len(rest) else "") + piece
    return ansi_c(out.replace("%%", "%"))


def decoded(name: str, args: list[Word], text: str | None) -> str | None:
    """What a decoder writes for a known input; None when it is not known."""
    opts = {w.text for w in args}
    if text is None:
        return None
    try:
        if name in {"base64", "base32", "basenc"} and opts & {"-d", "--decode", "-D", "-di"}:
            raw = "".join(text.split())
            data = (
                base64.b64decode(raw + "=" * (-len(raw) % 4))
                if name != "base32"
                else (base64.b32decode(raw + "=" * (-len(raw) % 8)))
            )
            return data.decode(errors="replace")
        if name == "xxd" and "-r" in opts:
            return binascii.unhexlify("".join(text.split())).decode(errors="replace")
        if name == "rev":
            return "\n".join(line[::-1] for line in text.split("\n"))
    except (ValueError, binascii.Error):
        return None
    return None
