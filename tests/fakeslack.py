"""A local stand-in for Slack: its Web API, and the signed interactivity requests it sends.

`FakeSlack` serves Slack's Web API (`POST /api/<method>`, form or JSON arguments, a bot token
as `Authorization: Bearer`) on 127.0.0.1, records every call and answers as Slack does
(`{"ok": true, "channel": ..., "ts": ...}`; `{"ok": false, "error": "invalid_auth"}` for a
wrong token). It keeps each posted message as chat.update leaves it, and it plays the
Slack client too: a click on a message's button, a modal's submission, each POSTed to the
app's request URL with a valid, forged or stale `X-Slack-Signature`.

    async with FakeSlack() as slack:                   # FAKE_BOT_TOKEN, FAKE_SIGNING_SECRET
        env = slack.env(channel="C0APPROVALS")         # PROCTOR_SLACK_* for the service
        ... start the approval service with env; its events URL is http://HOST:PORT/slack/events
        slack.events_url = "http://127.0.0.1:6580/slack/events"

        message = await slack.wait_for_message(approval_id)      # the posted request
        message.buttons()                                        # ["proctor_approve", ...]
        reply = await slack.deny(message, user="U0BOB", note="wrong namespace")
        assert reply.status == 200
        updated = await slack.wait_for_update(message)           # chat.update without buttons
        await slack.approve(other_message, user="U0BOB", note="fine")

        # Step by step, and the refusals:
        reply = await slack.click(message, "U0BOB", "deny")      # block_actions
        view = await slack.wait_for_modal(reply.trigger_id)      # what views.open showed
        reply = await slack.submit(view, "U0BOB", note="")       # view_submission
        reply.json()  # {"response_action": "errors", "errors": {"note": "..."}}
        await slack.click(message, "U0BOB", "deny", signature="forged")   # → 401
        await slack.click(message, "U0BOB", "deny", signature="stale")    # → 401
        await slack.wait_for_ephemeral("U0EVE")                  # chat.postEphemeral to a user

Socket Mode: `slack.env(channel, socket_mode=True)` gives the service an app token instead of
the signing secret; the fake answers `apps.connections.open` with its own WebSocket, and once
`await slack.wait_for_socket()` returns, `click`/`submit`/`approve`/`deny` go over that socket
as Socket Mode envelopes (the reply is the app's acknowledgement, e.g. its modal errors).

Other parts: `slack.calls` (every `SlackCall`: method, args, token), `calls_to(method)`,
`wait_for_call(method, match)`, `messages` (by ts, current content), `fail(method, error,
times)` to make Slack refuse the next calls (e.g. "ratelimited"), and the pure helpers
`sign`, `block_actions_payload` and `view_submission_payload`; `with_slack_users(config,
{"bob": "U0BOB"})` copies a gateway config with identities mapped to Slack members.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode

import aiohttp
import yaml
from aiohttp import web
from slack_sdk.signature import SignatureVerifier

FAKE_BOT_TOKEN = "xoxb-fake-test-token"
FAKE_SIGNING_SECRET = "fake-signing-secret"
FAKE_APP_TOKEN = "xapp-fake-test-token"
TEAM_ID = "T0FAKETEAM"
BOT_USER = "U0FAKEBOT"

Signature = Literal["valid", "forged", "stale"]


@dataclass
class SlackCall:
    """One Web API call as the fake received it."""

    method: str
    args: dict[str, Any]
    token: str
    answer: dict[str, Any] = field(default_factory=dict)  # what the fake replied
    at: float = field(default_factory=time.monotonic)


@dataclass
class Message:
    """A message as posted, and as chat.update has left it since."""

    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    updates: int = 0
    posted: list[dict[str, Any]] = field(default_factory=list)  # the blocks as first posted

    def buttons(self) -> list[str]:
        """The action ids of the message's buttons (none once decided)."""
        return [
            element["action_id"]
            for block in self.blocks
            if block.get("type") == "actions"
            for element in block.get("elements", [])
            if element.get("type") == "button"
        ]

    def button(self, action_id: str) -> tuple[str, str]:
        """(block_id, value) of a button. Once the buttons are gone, those first posted: a
        click then comes from a client still showing them (a double click)."""
        for blocks in (self.blocks, self.posted):
            for block in blocks:
                for element in block.get("elements", []) if block.get("type") == "actions" else []:
                    if element.get("action_id") == action_id:
                        return str(block.get("block_id", "")), str(element.get("value", ""))
        raise KeyError(f"the message never had a button {action_id!r}")

    def button_value(self, action_id: str) -> str:
        return self.button(action_id)[1]

    def all_text(self) -> str:
        """Every piece of text in the blocks, joined: handy for `in` assertions."""
        return "\n".join([self.text, *_texts(self.blocks)])


@dataclass
class Reply:
    """The app's HTTP answer to a request Slack sent it."""

    status: int
    body: str
    trigger_id: str = ""

    def json(self) -> Any:
        return json.loads(self.body) if self.body.strip() else None


def _texts(value: Any) -> list[str]:
    if isinstance(value, dict):
        found = [value["text"]] if isinstance(value.get("text"), str) else []
        return found + [t for k, v in value.items() if k != "text" for t in _texts(v)] + (
            _texts(value["text"]) if isinstance(value.get("text"), dict) else []
        )  # fmt: skip
    if isinstance(value, list):
        return [t for item in value for t in _texts(item)]
    return []


# ---- what Slack sends to an app: payloads and signatures ---------------------------------------


def sign(
    body: str, secret: str = FAKE_SIGNING_SECRET, timestamp: int | None = None
) -> dict[str, str]:
    """The headers Slack puts on a request: its timestamp and v0 signature over the body."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature}


def _user(user: str) -> dict[str, str]:
    return {"id": user, "username": user.lower(), "name": user.lower(), "team_id": TEAM_ID}


def block_actions_payload(
    message: Message, user: str, action_id: str, trigger_id: str
) -> dict[str, Any]:
    """The block_actions payload of a click on one of a message's buttons."""
    block_id, value = message.button(action_id)
    return {
        "type": "block_actions",
        "team": {"id": TEAM_ID, "domain": "fake"},
        "user": _user(user),
        "api_app_id": "A0FAKEAPP",
        "token": "legacy-verification-token-unused",
        "container": {
            "type": "message",
            "message_ts": message.ts,
            "channel_id": message.channel,
            "is_ephemeral": False,
        },
        "trigger_id": trigger_id,
        "channel": {"id": message.channel, "name": "approvals"},
        "message": {
            "type": "message",
            "ts": message.ts,
            "text": message.text,
            "blocks": message.blocks,
            "user": BOT_USER,
        },
        "response_url": "https://hooks.slack.invalid/actions/fake",
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": block_id,
                "value": value,
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }


def view_submission_payload(view: dict[str, Any], user: str, note: str | None) -> dict[str, Any]:
    """The view_submission payload of a modal (as views.open received it), with `note` typed
    into its input (None: left untouched)."""
    values: dict[str, dict[str, Any]] = {}
    for block in view.get("blocks", []):
        if block.get("type") == "input":
            element = block["element"]
            values[block["block_id"]] = {
                element["action_id"]: {"type": element["type"], "value": note}
            }
    submitted = {
        **view,
        "id": view.get("id", "V0FAKEVIEW"),
        "team_id": TEAM_ID,
        "state": {"values": values},
        "hash": "fake-view-hash",
    }
    return {
        "type": "view_submission",
        "team": {"id": TEAM_ID, "domain": "fake"},
        "user": _user(user),
        "api_app_id": "A0FAKEAPP",
        "token": "legacy-verification-token-unused",
        "trigger_id": _trigger_id(),
        "view": submitted,
        "response_urls": [],
    }


_counter = itertools.count(1)


def _trigger_id() -> str:
    return f"{next(_counter)}.{int(time.time())}.{uuid.uuid4().hex}"


def with_slack_users(config: Path, slack_users: dict[str, str], out: Path | None = None) -> Path:
    """A copy of a gateway config (YAML) whose identities name Slack members, e.g.
    `{"bob": "U0BOB"}`; written to `out` (default: `<config>.slack.yaml`)."""
    data = yaml.safe_load(config.read_text()) or {}
    for name, user in slack_users.items():
        data["identities"][name]["slack_user"] = user
    target = out or config.with_suffix(".slack.yaml")
    target.write_text(yaml.safe_dump(data))
    return target


# ---- the fake ------------------------------------------------------------------------------------


class FakeSlack:
    """Slack's Web API on a local port, and Slack's side of interactivity. See the module."""

    def __init__(
        self,
        *,
        token: str = FAKE_BOT_TOKEN,
        signing_secret: str = FAKE_SIGNING_SECRET,
        app_token: str = FAKE_APP_TOKEN,
    ) -> None:
        self.token = token
        self.signing_secret = signing_secret
        self.app_token = app_token
        self.socket_mode = False  # True: send() goes over the app's Socket Mode connection
        self._sockets: list[web.WebSocketResponse] = []
        self._acks: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self.calls: list[SlackCall] = []
        self.messages: dict[str, Message] = {}
        self.events_url = ""
        self._failures: dict[str, list[tuple[str, int]]] = {}
        self._changed = asyncio.Condition()
        self._clock = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self.port = 0

    # ---- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> FakeSlack:
        app = web.Application()
        app.router.add_post("/api/{method}", self._api)
        app.router.add_get("/socket", self._socket)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        self._session = aiohttp.ClientSession()
        return self

    async def stop(self) -> None:
        for ws in list(self._sockets):
            await ws.close()
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> FakeSlack:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    def env(self, channel: str = "C0APPROVALS", socket_mode: bool = False) -> dict[str, str]:
        """The settings that point the approval service at this fake: HTTP mode, or Socket
        Mode (an app token, no signing secret; `send()` then goes over the socket)."""
        self.socket_mode = socket_mode
        env = {
            "PROCTOR_SLACK_BOT_TOKEN": self.token,
            "PROCTOR_SLACK_CHANNEL": channel,
            "PROCTOR_SLACK_API_URL": self.api_url,
        }
        if socket_mode:
            env["PROCTOR_SLACK_APP_TOKEN"] = self.app_token
        else:
            env["PROCTOR_SLACK_SIGNING_SECRET"] = self.signing_secret
        return env

    # ---- the Web API -------------------------------------------------------------------------

    def fail(
        self, method: str, error: str = "ratelimited", times: int = 1, status: int = 200
    ) -> None:
        """Answer the next `times` calls of `method` with `{"ok": false, "error": error}`."""
        self._failures.setdefault(method, []).extend([(error, status)] * times)

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        raw = await request.text()
        if request.content_type == "application/json":
            args: dict[str, Any] = json.loads(raw) if raw else {}
        else:
            args = dict(parse_qsl(raw, keep_blank_values=True))
            for key in ("blocks", "view", "attachments"):
                if isinstance(args.get(key), str):
                    args[key] = json.loads(args[key])
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        token = token if scheme == "Bearer" else str(args.get("token", ""))
        call = SlackCall(method, args, token)
        async with self._changed:
            self.calls.append(call)
            answer, status = self._answer(call)
            call.answer = answer
            self._changed.notify_all()
        return web.json_response(answer, status=status)

    def _answer(self, call: SlackCall) -> tuple[dict[str, Any], int]:
        if call.method == "apps.connections.open":  # Socket Mode: the app token, not the bot's
            if call.token != self.app_token:
                return {"ok": False, "error": "invalid_auth"}, 200
            return {"ok": True, "url": f"ws://127.0.0.1:{self.port}/socket"}, 200
        if call.token != self.token:
            return {"ok": False, "error": "invalid_auth"}, 200
        if self._failures.get(call.method):
            error, status = self._failures[call.method].pop(0)
            return {"ok": False, "error": error}, status
        args = call.args
        if call.method == "auth.test":
            return {"ok": True, "url": "https://fake.slack.invalid/", "team": "Fake",
                    "user": "proctor", "team_id": TEAM_ID, "user_id": BOT_USER,
                    "bot_id": "B0FAKEBOT", "is_enterprise_install": False}, 200  # fmt: skip
        if call.method == "chat.postMessage":
            channel = str(args.get("channel", ""))
            if not channel:
                return {"ok": False, "error": "channel_not_found"}, 200
            ts = f"{int(time.time())}.{next(self._clock):06d}"
            blocks = args.get("blocks") or []
            text = str(args.get("text", ""))
            self.messages[ts] = Message(channel, ts, text, blocks, posted=list(blocks))
            return {"ok": True, "channel": channel, "ts": ts,
                    "message": {"type": "message", "ts": ts, "text": args.get("text", ""),
                                "blocks": blocks, "user": BOT_USER}}, 200  # fmt: skip
        if call.method == "chat.update":
            message = self.messages.get(str(args.get("ts", "")))
            if message is None or message.channel != args.get("channel"):
                return {"ok": False, "error": "message_not_found"}, 200
            message.text = str(args.get("text", message.text))
            message.blocks = args.get("blocks") or []
            message.updates += 1
            return {"ok": True, "channel": message.channel, "ts": message.ts,
                    "text": message.text}, 200  # fmt: skip
        if call.method == "chat.postEphemeral":
            if not args.get("channel") or not args.get("user"):
                return {"ok": False, "error": "channel_not_found"}, 200
            return {"ok": True, "message_ts": f"{int(time.time())}.{next(self._clock):06d}"}, 200
        if call.method == "views.open":
            if not args.get("trigger_id"):
                return {"ok": False, "error": "invalid_trigger_id"}, 200
            view = {**args.get("view", {}), "id": f"V{next(self._clock):08d}", "team_id": TEAM_ID}
            return {"ok": True, "view": view}, 200
        return {"ok": False, "error": "unknown_method"}, 200

    def calls_to(self, method: str) -> list[SlackCall]:
        return [c for c in self.calls if c.method == method]

    async def wait_for_call(
        self, method: str, match: Callable[[SlackCall], bool] = lambda c: True,
        timeout: float = 15.0, after: int = 0,
    ) -> SlackCall:  # fmt: skip
        """The first call of `method` (from index `after` of `calls` on) that `match`es."""

        def found() -> SlackCall | None:
            return next((c for c in self.calls[after:] if c.method == method and match(c)), None)

        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(found), timeout)
        call = found()
        assert call is not None
        return call

    async def wait_for_message(self, approval_id: str, timeout: float = 15.0) -> Message:
        """The message posted for an approval (found by its id in the blocks)."""
        call = await self.wait_for_call(
            "chat.postMessage",
            lambda c: c.answer.get("ok") is True
            and approval_id in "\n".join(_texts(c.args.get("blocks"))),
            timeout,
        )  # fmt: skip
        return self.messages[call.answer["ts"]]

    async def wait_for_update(self, message: Message, timeout: float = 15.0) -> Message:
        """The message after a chat.update of it."""
        await self.wait_for_call("chat.update", lambda c: c.args.get("ts") == message.ts, timeout)
        return self.messages[message.ts]

    async def wait_for_modal(self, trigger_id: str, timeout: float = 15.0) -> dict[str, Any]:
        """The view the app opened with views.open for a click's trigger id."""
        call = await self.wait_for_call(
            "views.open", lambda c: c.args.get("trigger_id") == trigger_id, timeout
        )
        return dict(call.args["view"])

    async def wait_for_ephemeral(
        self, user: str, timeout: float = 15.0, after: int = 0
    ) -> SlackCall:
        """A chat.postEphemeral to `user` (from index `after` of `calls` on)."""
        return await self.wait_for_call(
            "chat.postEphemeral", lambda c: c.args.get("user") == user, timeout, after
        )

    # ---- Socket Mode -------------------------------------------------------------------------

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        """An app's Socket Mode connection: hello, then envelopes out and their acks back."""
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        await ws.send_json({"type": "hello", "num_connections": len(self._sockets) + 1,
                            "connection_info": {"app_id": "A0FAKEAPP"}})  # fmt: skip
        async with self._changed:
            self._sockets.append(ws)
            self._changed.notify_all()
        try:
            async for frame in ws:
                if frame.type == aiohttp.WSMsgType.TEXT:
                    ack = json.loads(frame.data)
                    waiting = self._acks.pop(str(ack.get("envelope_id", "")), None)
                    if waiting is not None and not waiting.done():
                        waiting.set_result(ack)
        finally:
            self._sockets.remove(ws)
        return ws

    async def wait_for_socket(self, timeout: float = 15.0) -> None:
        """Until the app holds a Socket Mode connection."""
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: bool(self._sockets)), timeout)

    async def _send_over_socket(self, payload: dict[str, Any], timeout: float = 10.0) -> Reply:
        await self.wait_for_socket(timeout)
        envelope_id = str(uuid.uuid4())
        waiting: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._acks[envelope_id] = waiting
        await self._sockets[-1].send_json({
            "envelope_id": envelope_id, "type": "interactive", "payload": payload,
            "accepts_response_payload": True, "retry_attempt": 0, "retry_reason": "",
        })  # fmt: skip
        ack = await asyncio.wait_for(waiting, timeout)
        body = json.dumps(ack["payload"]) if ack.get("payload") else ""
        return Reply(200, body)

    # ---- Slack's requests to the app ---------------------------------------------------------

    async def send(self, payload: dict[str, Any], signature: Signature = "valid",
                   url: str | None = None) -> Reply:  # fmt: skip
        """POST an interactivity payload to the app as Slack does (form field `payload`); in
        Socket Mode, send it over the app's connection and return its acknowledgement."""
        if self.socket_mode and url is None:
            assert signature == "valid", "Socket Mode messages are not signed"
            return await self._send_over_socket(payload)
        body = urlencode({"payload": json.dumps(payload)})
        if signature == "forged":
            headers = sign(body, "not-the-signing-secret")
        elif signature == "stale":
            headers = sign(body, self.signing_secret, int(time.time()) - 600)
        else:
            headers = sign(body, self.signing_secret)
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        assert self._session is not None, "start the fake first"
        target = url or self.events_url
        assert target, "set events_url (the app's /slack/events) or pass url="
        async with self._session.post(target, data=body.encode(), headers=headers) as resp:
            return Reply(resp.status, await resp.text())

    async def click(self, message: Message, user: str, action: str = "approve",
                    signature: Signature = "valid", url: str | None = None) -> Reply:  # fmt: skip
        """`user` clicks a button of `message`: "approve", "deny" or a full action id."""
        action_id = action if action.startswith("proctor_") else f"proctor_{action}"
        trigger_id = _trigger_id()
        payload = block_actions_payload(message, user, action_id, trigger_id)
        reply = await self.send(payload, signature, url)
        reply.trigger_id = trigger_id
        return reply

    async def submit(self, view: dict[str, Any], user: str, note: str | None,
                     signature: Signature = "valid", url: str | None = None) -> Reply:  # fmt: skip
        """`user` submits a modal with `note` in its input."""
        return await self.send(view_submission_payload(view, user, note), signature, url)

    async def decide(
        self, message: Message, user: str, approve: bool, note: str = "", url: str | None = None
    ) -> Reply:
        """Click Approve or Deny, wait for the modal, submit it with `note`: the reply to the
        submission (200 with an empty body when accepted)."""
        click = await self.click(message, user, "approve" if approve else "deny", url=url)
        assert click.status == 200, f"the click was refused: {click.status} {click.body}"
        view = await self.wait_for_modal(click.trigger_id)
        return await self.submit(view, user, note, url=url)

    async def approve(self, message: Message, user: str, note: str = "",
                      url: str | None = None) -> Reply:  # fmt: skip
        return await self.decide(message, user, True, note, url)

    async def deny(self, message: Message, user: str, note: str, url: str | None = None) -> Reply:
        return await self.decide(message, user, False, note, url)
