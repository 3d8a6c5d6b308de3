"""The approval service's HTTP API, for `proctor approvals` and scripts.

    GET  /approvals                 pending approvals
    GET  /approvals/{id}            one approval, pending or decided
    POST /approvals/{id}/approve    {"note": "..."} optional
    POST /approvals/{id}/deny       {"note": "..."} required
    POST /slack/events              Slack interactivity (when Slack runs in HTTP mode)

Every call but Slack's carries `Authorization: Bearer <token>`, an identity's token from the gateway
config (optionally `X-Proctor-Identity: <name>` to say whose). Errors are JSON `{"error": ...}`.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from proctor.errors import BusError
from proctor.gateway import GatewayConfig, hash_token
from proctor_approval.core import RefusalCode
from proctor_approval.service import ApprovalService

_STATUS = {
    RefusalCode.UNKNOWN: 404,
    RefusalCode.NOT_APPROVER: 403,
    RefusalCode.OWN_COMMAND: 403,
    RefusalCode.ALREADY_DECIDED: 409,
    RefusalCode.ALREADY_VOTED: 409,
    RefusalCode.EXPIRED: 409,
    RefusalCode.WITHDRAWN: 409,
    RefusalCode.NOTE_REQUIRED: 400,
}
SLACK_EVENTS_PATH = "/slack/events"
_SLACK_ROUTE = "slack-events"
SERVICE: web.AppKey[ApprovalService] = web.AppKey("service", ApprovalService)
CONFIG: web.AppKey[GatewayConfig] = web.AppKey("config", GatewayConfig)


def _error(status: int, message: str, code: str = "") -> web.Response:
    return web.json_response({"error": message, "code": code}, status=status)


def authenticate(config: GatewayConfig, request: web.Request) -> str | None:
    """The identity a request's bearer token belongs to, or None."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    token = token.strip()
    name = request.headers.get("X-Proctor-Identity")
    if name:
        found = config.authenticate(name, token)
        return found.name if found else None
    digest = hash_token(token)
    matches = [
        i.name for i in config.identities.values() if hmac.compare_digest(digest, i.token_sha256)
    ]
    return matches[0] if len(matches) == 1 else None


@web.middleware
async def _auth(request: web.Request, handler: Any) -> web.StreamResponse:
    if request.match_info.route.name == _SLACK_ROUTE:
        # Slack carries no Proctor token: bolt verifies the request's Slack signature instead.
        slack: web.StreamResponse = await handler(request)
        return slack
    who = authenticate(request.app[CONFIG], request)
    if who is None:
        return _error(
            401,
            "a valid `Authorization: Bearer <token>` of a Proctor identity is required",
            "unauthenticated",
        )
    request["identity"] = who
    try:
        result: web.StreamResponse = await handler(request)
    except web.HTTPException as exc:
        return _error(exc.status, exc.reason, "http")
    return result


async def _list(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    who = request["identity"]
    # What this identity may decide, and its own requests; not the rest of the queue.
    visible = [p for p in service.state.pending.values()
               if p.requester == who or service.rules.may_approve(who, p)]  # fmt: skip
    pending = sorted(visible, key=lambda p: p.requested_at)
    return web.json_response({"pending": [p.to_json() for p in pending]})


async def _show(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    aid = request.match_info["id"]
    if aid in service.state.pending:
        item = service.state.pending[aid]
        who = request["identity"]
        if item.requester != who and not service.rules.may_approve(who, item):
            return _error(403, f"{who} may not see approval {aid}", "not_approver")
        return web.json_response({"status": "pending", **item.to_json()})
    done = service.state.decided.get(aid)
    if done is None:
        return _error(404, f"no approval {aid} is known", RefusalCode.UNKNOWN.value)
    return web.json_response(
        {
            "status": done.kind.removeprefix("approval_"),
            "approval_id": aid,
            "approver": done.approver,
            "note": done.note,
        }
    )


async def _note(request: web.Request) -> str:
    if not request.can_read_body:
        return ""
    try:
        body = await request.json()
    except json.JSONDecodeError as exc:
        raise web.HTTPBadRequest(reason=f"the body is not JSON: {exc}") from exc
    note = body.get("note", "") if isinstance(body, dict) else None
    if not isinstance(note, str):
        raise web.HTTPBadRequest(reason='the body must be {"note": "<text>"}')
    return note


async def _decide(request: web.Request, approve: bool) -> web.Response:
    service = request.app[SERVICE]
    aid = request.match_info["id"]
    note = await _note(request)
    try:
        decision = await service.vote(aid, request["identity"], approve, note)
    except BusError as exc:
        return _error(503, f"the decision was not recorded: {exc}", "bus")
    if decision.refusal is not None:
        r = decision.refusal
        return _error(_STATUS[r.code], r.message, r.code.value)
    if aid in decision.state.pending:  # a vote recorded; more approvals are needed
        pending = decision.state.pending[aid]
        return web.json_response(
            {
                "status": "pending",
                "approval_id": aid,
                "approvals": list(pending.approvals),
                "approvals_required": service.rules.approvals_required,
            }
        )
    return web.json_response(
        {
            "status": "granted" if approve else "denied",
            "approval_id": aid,
            "approver": request["identity"],
            "note": note.strip(),
        }
    )


async def _approve(request: web.Request) -> web.Response:
    return await _decide(request, True)


async def _deny(request: web.Request) -> web.Response:
    return await _decide(request, False)


def make_app(
    service: ApprovalService,
    config: GatewayConfig,
    slack: Callable[[web.Request], Awaitable[web.StreamResponse]] | None = None,
) -> web.Application:
    app = web.Application(middlewares=[_auth])
    app[SERVICE] = service
    app[CONFIG] = config
    app.router.add_get("/approvals", _list)
    app.router.add_get("/approvals/{id}", _show)
    app.router.add_post("/approvals/{id}/approve", _approve)
    app.router.add_post("/approvals/{id}/deny", _deny)
    if slack is not None:
        app.router.add_post(SLACK_EVENTS_PATH, slack, name=_SLACK_ROUTE)
    return app
