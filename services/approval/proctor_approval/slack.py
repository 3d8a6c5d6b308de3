"""Slack as a front end of the approval service (slack-bolt): Approve / Deny buttons open a
note modal, and its submission is a vote like one from the CLI. Slack user ids map to Proctor
identities (`slack_user` in the gateway config); the core decides who may decide.

HTTP mode: Slack POSTs interactions to `/slack/events` on the approval service's HTTP server,
and bolt checks every request's signature and timestamp against the signing secret. Socket
Mode (an app-level token is set): the service connects out to Slack instead, and nothing
is served. Messages are posted and updated by `slackpost.SlackPoster`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from pydantic import SecretStr
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from proctor.errors import BusError, ConfigError
from proctor.gateway import GatewayConfig
from proctor.settings import Settings
from proctor_approval.core import Refusal, Vote, decide
from proctor_approval.service import ApprovalService
from proctor_approval.slackblocks import (
    ACTION_APPROVE,
    ACTION_DENY,
    VIEW_APPROVE,
    VIEW_DENY,
    ModalContext,
    note_error,
    note_modal,
    note_of,
)
from proctor_approval.slackpost import SLACK_ERRORS, SlackPoster

log = logging.getLogger("proctor.approval.slack")

NOT_MAPPED = (
    "Your Slack account is not mapped to a Proctor identity, so you cannot decide approvals. "
    "Ask an operator to add `slack_user: {user}` to your identity in the gateway config."
)
NOTE_NEEDED = "A denial needs a note: the agent is told why, so it can adjust."


@dataclass(frozen=True, slots=True)
class SlackConfig:
    """The Slack settings, checked: all that HTTP or Socket Mode needs, or nothing at all."""

    bot_token: str
    signing_secret: str
    channel: str
    app_token: str | None
    api_url: str

    @property
    def socket_mode(self) -> bool:
        return self.app_token is not None

    @classmethod
    def from_settings(cls, settings: Settings) -> SlackConfig | None:
        """None when no bot token is set (Slack is off); ConfigError when half configured."""
        if settings.slack_bot_token is None or not settings.slack_bot_token.get_secret_value():
            return None
        token = settings.slack_bot_token.get_secret_value()
        app_token = _secret(settings.slack_app_token)
        secret = _secret(settings.slack_signing_secret)
        if not settings.slack_channel:
            raise ConfigError("PROCTOR_SLACK_CHANNEL is not set: approvals need a channel id")
        if not app_token and not secret:
            raise ConfigError(
                "PROCTOR_SLACK_SIGNING_SECRET is not set: requests from Slack cannot be "
                "verified (or set PROCTOR_SLACK_APP_TOKEN for Socket Mode)"
            )
        api_url = settings.slack_api_url if settings.slack_api_url.endswith("/") else (
            settings.slack_api_url + "/"
        )  # fmt: skip
        return cls(token, secret, settings.slack_channel, app_token or None, api_url)


def _secret(value: SecretStr | None) -> str:
    return value.get_secret_value() if value is not None else ""


class SlackApprovals:
    """The bolt app on top of an ApprovalService, and the poster of its messages."""

    def __init__(
        self, service: ApprovalService, gateway: GatewayConfig, config: SlackConfig
    ) -> None:
        self.service = service
        self.config = config
        self.identities = {
            i.slack_user: i.name for i in gateway.identities.values() if i.slack_user
        }
        self.mentions = {name: user for user, name in self.identities.items()}
        self.client = AsyncWebClient(token=config.bot_token, base_url=config.api_url, timeout=10)
        self.app = AsyncApp(
            client=self.client,
            signing_secret=config.signing_secret,
            # Socket Mode frames come over the app's own authenticated connection, unsigned.
            request_verification_enabled=not config.socket_mode,
            logger=log,
        )
        # bolt logs each refused request with its whole body; we log one line instead.
        for name in ("RequestVerification", "AsyncRequestVerification"):
            logging.getLogger(f"slack_bolt.{name}").setLevel(logging.WARNING)
        self.poster = SlackPoster(service, self.client, config.channel, self.mentions)
        self._register()

    # ---- HTTP mode ---------------------------------------------------------------------------

    async def handle_http(self, request: web.Request) -> web.Response:
        """POST /slack/events: bolt verifies the signature (401 when forged or stale)."""
        response = await self.app.async_dispatch(await to_bolt_request(request))
        if response.status == 401:
            log.warning("refused a request to %s from %s: invalid or stale Slack signature",
                        request.path, request.remote)  # fmt: skip
        return await to_aiohttp_response(response)

    @property
    def http_handler(self) -> Any:
        return None if self.config.socket_mode else self.handle_http

    # ---- running -----------------------------------------------------------------------------

    async def start(self) -> Any:
        """The message store and shared consumer, before the service serves anything."""
        return await self.poster.start()

    async def run(self, stop: asyncio.Event, sub: Any = None) -> None:
        """Post and update messages until `stop`; in Socket Mode, hold the connection too."""
        socket = asyncio.create_task(self._socket_mode(stop)) if self.config.socket_mode else None
        try:
            await self.poster.run(stop, sub)
        finally:
            if socket is not None:
                # It closes by itself once `stop` is set; cancelled only if it hangs (or the
                # poster failed and nothing is stopping).
                done, _ = await asyncio.wait({socket}, timeout=5.0 if stop.is_set() else 0)
                if not done:
                    socket.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await socket

    async def _socket_mode(self, stop: asyncio.Event) -> None:
        """Connect out to Slack (slack_sdk retries until Slack answers, and reconnects) and
        hold the connection until `stop` (or cancellation)."""
        handler = AsyncSocketModeHandler(self.app, self.config.app_token, web_client=self.client)
        try:
            await handler.connect_async()  # type: ignore[no-untyped-call]
            log.info("connected to Slack in Socket Mode")
            await stop.wait()
        finally:
            with contextlib.suppress(Exception):  # closing a dead connection
                await handler.close_async()  # type: ignore[no-untyped-call]

    # ---- what a click and a submission do ----------------------------------------------------

    def identity_of(self, slack_user: str) -> str | None:
        return self.identities.get(slack_user)

    def precheck(self, approval_id: str, identity: str, approve: bool) -> Refusal | None:
        """Would this vote be refused now? Asked before opening the modal, with the core's own
        rules (a placeholder note: the note is asked for in the modal)."""
        vote = Vote(approval_id, identity, approve, "(note in the modal)", datetime.now(UTC))
        return decide(self.service.state, vote, self.service.rules).refusal

    async def tell(self, channel: str, user: str, text: str) -> None:
        """An ephemeral message only `user` sees; failures are logged, not raised."""
        try:
            await self.client.chat_postEphemeral(channel=channel, user=user, text=text)
        except SLACK_ERRORS as exc:
            log.warning("could not tell %s in Slack: %s", user, exc)

    async def on_click(self, body: dict[str, Any]) -> None:
        action = body["actions"][0]
        approve = action["action_id"] == ACTION_APPROVE
        aid = str(action.get("value", ""))
        user = body["user"]["id"]
        container = body.get("container", {})
        channel = body.get("channel", {}).get("id") or container.get("channel_id", "")
        identity = self.identity_of(user)
        if identity is None:
            log.info("Slack user %s (not mapped) clicked on approval %s", user, aid)
            await self.tell(channel, user, NOT_MAPPED.format(user=user))
            return
        refusal = self.precheck(aid, identity, approve)
        request = self.service.state.pending.get(aid)
        if refusal is not None or request is None:
            message = refusal.message if refusal else f"no approval {aid} is pending"
            log.info("Slack click on %s by %s refused: %s", aid, identity, message)
            await self.tell(channel, user, message)
            return
        context = ModalContext(aid, channel, str(container.get("message_ts", "")))
        try:
            await self.client.views_open(
                trigger_id=body["trigger_id"], view=note_modal(request, approve, context)
            )
        except SLACK_ERRORS as exc:
            log.warning("could not open the note modal for %s: %s", aid, exc)
            await self.tell(channel, user, "Slack did not open the form; please click again.")

    async def on_submit(self, body: dict[str, Any], view: dict[str, Any], ack: Any) -> None:
        approve = view.get("callback_id") == VIEW_APPROVE
        note = note_of(view).strip()
        if not approve and not note:
            await ack(response_action="errors", errors=note_error(NOTE_NEEDED))
            return
        await ack()  # closes the modal; what follows is told in the channel
        context = ModalContext.load(view.get("private_metadata", ""))
        user = body["user"]["id"]
        if context is None:
            log.warning("a Slack view submission from %s had no approval in it", user)
            return
        identity = self.identity_of(user)
        if identity is None:
            await self.tell(context.channel, user, NOT_MAPPED.format(user=user))
            return
        try:
            decision = await self.service.vote(context.approval_id, identity, approve, note)
        except BusError as exc:
            log.warning("a Slack vote on %s was not recorded: %s", context.approval_id, exc)
            await self.tell(context.channel, user,
                            "Your decision was not recorded (the event bus did not answer); "
                            "please try again.")  # fmt: skip
            return
        if decision.refusal is not None:
            log.info("Slack vote on %s by %s refused: %s",
                     context.approval_id, identity, decision.refusal.message)  # fmt: skip
            await self.tell(context.channel, user, decision.refusal.message)
        elif context.approval_id in decision.state.pending:  # a vote; more are needed
            pending = decision.state.pending[context.approval_id]
            wanted = self.service.rules.approvals_required - len(pending.approvals)
            await self.tell(context.channel, user,
                            f"Your approval is recorded; {wanted} more needed.")  # fmt: skip

    def _register(self) -> None:
        # bolt passes listeners the arguments they name: ack, body, view.
        async def clicked(ack: Any, body: dict[str, Any]) -> None:
            await ack()
            await self.on_click(body)

        async def submitted(ack: Any, body: dict[str, Any], view: dict[str, Any]) -> None:
            await self.on_submit(body, view, ack)

        for action in (ACTION_APPROVE, ACTION_DENY):
            self.app.action(action)(clicked)
        for callback in (VIEW_APPROVE, VIEW_DENY):
            self.app.view(callback)(submitted)


async def start_slack(
    service: ApprovalService, gateway: GatewayConfig, settings: Settings
) -> tuple[SlackApprovals, Any] | None:
    """The Slack front end, ready to run, or None (logged) when Slack is not configured."""
    config = SlackConfig.from_settings(settings)
    if config is None:
        log.info("Slack approvals are off: PROCTOR_SLACK_BOT_TOKEN is not set")
        return None
    slack = SlackApprovals(service, gateway, config)
    sub = await slack.start()
    mode = "Socket Mode" if config.socket_mode else "HTTP at /slack/events"
    log.info("Slack approvals on: channel %s, %s, %d Slack users mapped",
             config.channel, mode, len(slack.identities))  # fmt: skip
    return slack, sub
