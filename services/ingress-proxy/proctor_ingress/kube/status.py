"""What kubectl is told when the gateway does not forward a request: a `Status` object, as the
API server itself answers errors, so kubectl prints its message ("Error from server
(Forbidden): ..."). The words come from the lifecycle's Outcome (outcomes.py)."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from proctor_ingress.outcomes import Kind, Outcome

# Status reasons the API server uses, by HTTP code.
REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    413: "RequestEntityTooLarge",
    415: "UnsupportedMediaType",
    429: "TooManyRequests",
    500: "InternalError",
    501: "NotImplemented",
    502: "BadGateway",
    503: "ServiceUnavailable",
    504: "Timeout",
}


def status_object(code: int, message: str, causes: list[dict[str, str]] | None = None) -> bytes:
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": REASONS.get(code, "Unknown"),
        "code": code,
    }
    if causes:
        body["details"] = {"causes": causes}
    return json.dumps(body).encode()


def status(code: int, message: str, causes: list[dict[str, str]] | None = None) -> web.Response:
    return web.Response(
        status=code,
        body=status_object(code, message, causes),
        content_type="application/json",
    )


def refusal(outcome: Outcome) -> web.Response:
    """A request that did not run: 403 for a rule, an approver or a pending review; 503 when a
    service the decision needs did not answer."""
    message, detail, hint = outcome.words("request")
    code = 503 if outcome.kind is Kind.UNAVAILABLE else 403
    text = " ".join(
        part for part in (message, detail and f"({detail})", hint and f"Next: {hint}") if part
    )
    causes = [{"reason": "ProctorRule", "field": rule} for rule in outcome.rule_ids]
    if outcome.approval_id:
        causes.append({"reason": "ProctorApproval", "field": outcome.approval_id})
    if outcome.note:
        causes.append({"reason": "ProctorApproverNote", "message": outcome.note})
    return status(code, text, causes)
