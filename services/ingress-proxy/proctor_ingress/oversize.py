"""Statements too large to record whole are refused, and recorded by an excerpt and a digest.

An event must fit in one NATS message (max_payload, 1 MB by default) with everything around
it; a statement over the limit would otherwise be dropped by the broker and run unrecorded.
So the proxy refuses it before it reaches the classifier or the target: the agent gets an
ERROR naming the limit and the setting, and the stream gets the command's CommandReceived (its
first EXCERPT characters, its size and its SHA-256) and CommandBlocked."""

from __future__ import annotations

import hashlib

from proctor import pgwire

PROGRAM_LIMIT_EXCEEDED = "54000"
RULE = "gateway.statement_too_large"
EXCERPT = 2000  # characters of a refused statement kept in its events
ENVELOPE = 64 << 10  # bytes of a NATS message left for the rest of the largest event


def statement_limit(setting: int, max_payload: int) -> int:
    """The largest statement recorded whole: the setting, or less if the broker's messages
    are too small to hold it with its event around it."""
    if max_payload <= 0:
        return setting
    return max(min(setting, max_payload - ENVELOPE), 1024)


def digest(text: str) -> tuple[int, str]:
    data = text.encode("utf-8", "surrogateescape")
    return len(data), hashlib.sha256(data).hexdigest()


def excerpt(text: str, size: int, sha256: str) -> str:
    """What CommandReceived records of a refused statement."""
    return (
        f"{text[:EXCERPT]}\n… [statement of {size} bytes refused as too large; this is its "
        f"first {EXCERPT} characters; sha256 {sha256}]"
    )


def reason(size: int, limit: int, sha256: str) -> str:
    return (
        f"statement of {size} bytes exceeds the limit of {limit} bytes per statement "
        f"(PROCTOR_PG_MAX_STATEMENT); sha256 {sha256}"
    )


def refusal(size: int, limit: int, sha256: str) -> bytes:
    return pgwire.error_response(
        f"Proctor refused this statement: it is {size} bytes, over the limit of {limit} bytes "
        "per statement that the audit trail records whole. Nothing was run.",
        code=PROGRAM_LIMIT_EXCEEDED,
        detail=f"Recorded with its first {EXCERPT} characters and sha256 {sha256}.",
        hint="Split it into smaller statements, or pass large values as bound parameters; "
        "the operator can raise PROCTOR_PG_MAX_STATEMENT (up to the NATS server's "
        "max_payload less 64 KiB).",
    )
