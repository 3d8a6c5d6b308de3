"""What a Postgres agent is told when a statement does not run: the lifecycle's Outcome (its
words are in outcomes.py, shared by every protocol) as an ErrorResponse frame."""

from __future__ import annotations

from proctor import pgwire
from proctor_ingress.outcomes import Kind, Outcome

INSUFFICIENT_PRIVILEGE = "42501"
SYSTEM_ERROR = "58000"
QUERY_CANCELED = "57014"


_CODES = {Kind.WITHDRAWN: QUERY_CANCELED, Kind.UNAVAILABLE: SYSTEM_ERROR}


def render(outcome: Outcome) -> bytes:
    """A command that did not run, as the ErrorResponse the agent gets."""
    message, detail, hint = outcome.words("statement")
    return pgwire.error_response(
        message,
        code=_CODES.get(outcome.kind, INSUFFICIENT_PRIVILEGE),
        detail=detail or None,
        hint=hint or None,
    )


def function_call() -> bytes:
    return pgwire.error_response(
        "Proctor does not forward the fast-path function call protocol. Nothing was run.",
        code=INSUFFICIENT_PRIVILEGE,
        hint="Call the function in a SQL statement instead, e.g. SELECT f(...).",
    )
