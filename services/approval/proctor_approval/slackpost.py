"""Posting approvals to Slack: one message per request, updated once decided.

Replicas share one durable JetStream consumer of the approval subjects, so each event is
handled by one replica. The message's channel and ts are kept in a NATS KV bucket keyed by
approval id, so whichever replica handles the decision (made by a button, the CLI, the HTTP
API or expiry) can update the message. Slack failures are retried (the event is redelivered
later), are logged, and never hold up a decision: decisions are made on the stream, and the
message follows them.

A replica that dies between posting and recording the message may leave a second message
when the event is redelivered; that is the only way to get two.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp
from nats.errors import Error as NatsError
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js import api as js_api
from nats.js.errors import BadRequestError, BucketNotFoundError, KeyNotFoundError
from nats.js.kv import KeyValue
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from proctor.errors import ProctorError
from proctor.events import codec
from proctor.events.v1 import events_pb2 as pb
from proctor_approval.core import DECISIONS, WITHDRAWN, ApprovalState, PendingApproval, evolve
from proctor_approval.service import ApprovalService
from proctor_approval.slackblocks import Shown, decided_message, request_message

log = logging.getLogger("proctor.approval.slack")

BUCKET = "proctor_approval_slack"
DURABLE = "approval-slack"
SUBJECTS = [codec.subject_filter(kind) for kind in ("approval_requested", *DECISIONS)]
MESSAGE_TTL = 30 * 24 * 3600.0  # seconds a message's ts is kept: long after any decision
ACK_WAIT = 60.0
# A decision whose request message is not recorded yet (still being posted, or Slack was
# down) waits; after this many tries it is dropped, and a late post shows the decision.
DECISION_TRIES = 40
SLACK_ERRORS = (SlackApiError, SlackClientError, aiohttp.ClientError, TimeoutError)
_KEY = re.compile(r"[-_=a-zA-Z0-9]+")


@dataclass(frozen=True, slots=True)
class PostedMessage:
    """Where an approval's Slack message is, and the request it shows."""

    channel: str
    ts: str
    requested: bytes  # the ApprovalRequested event, encoded

    def dump(self) -> bytes:
        data = base64.b64encode(self.requested).decode()
        return json.dumps({"channel": self.channel, "ts": self.ts, "requested": data}).encode()

    @classmethod
    def load(cls, raw: bytes) -> PostedMessage:
        data = json.loads(raw)
        return cls(str(data["channel"]), str(data["ts"]), base64.b64decode(data["requested"]))

    def request(self) -> PendingApproval:
        return request_of(codec.decode(self.requested))


def request_of(event: pb.Event) -> PendingApproval:
    """The pending approval an ApprovalRequested describes (the core's own reading of it)."""
    state = evolve(ApprovalState(), event)
    return state.pending[event.approval_requested.approval_id]


def key_for(approval_id: str) -> str:
    """A KV key for an approval id (ids outside KV's key alphabet are hashed)."""
    if _KEY.fullmatch(approval_id):
        return approval_id
    return "h_" + hashlib.sha256(approval_id.encode()).hexdigest()


async def message_store(js: JetStreamContext, replicas: int) -> KeyValue:
    """The bucket of posted messages, created by whichever replica comes first."""
    try:
        return await js.key_value(BUCKET)
    except BucketNotFoundError:
        return await js.create_key_value(
            bucket=BUCKET,
            description="Proctor approvals: the Slack message of each approval",
            history=1,
            ttl=MESSAGE_TTL,
            storage=js_api.StorageType.FILE,
            replicas=replicas,
        )


class SlackPoster:
    """Follows the shared durable consumer and posts or updates approval messages."""

    def __init__(
        self,
        service: ApprovalService,
        client: AsyncWebClient,
        channel: str,
        mentions: dict[str, str],
    ) -> None:
        self.service = service
        self.client = client
        self.channel = channel
        self.mentions = mentions
        self.store: KeyValue | None = None

    async def _subscribe(self) -> Any:
        js = self.service.js
        stream = self.service.settings.stream_name
        config = js_api.ConsumerConfig(
            durable_name=DURABLE,
            description="Proctor approval messages in Slack (shared by replicas)",
            # Requests made before Slack was configured stay with the CLI and HTTP API.
            deliver_policy=js_api.DeliverPolicy.NEW,
            ack_policy=js_api.AckPolicy.EXPLICIT,
            ack_wait=ACK_WAIT,
            max_deliver=-1,
            filter_subjects=SUBJECTS,
        )
        try:
            await js.add_consumer(stream, config)
        except BadRequestError as exc:
            # It exists with other settings (an older version made it): use it as it is.
            log.warning("consumer %s exists with other settings (%s); using it", DURABLE, exc)
        return await js.pull_subscribe_bind(durable=DURABLE, stream=stream)

    async def start(self) -> Any:
        """The bucket and the consumer; call before serving, so no request is missed."""
        self.store = await message_store(self.service.js, self.service.settings.stream_replicas)
        return await self._subscribe()

    async def run(self, stop: asyncio.Event, sub: Any = None) -> None:
        while not stop.is_set():
            try:
                if sub is None:
                    sub = await self.start()
                msgs = await sub.fetch(1, timeout=1)
            except (NatsTimeout, TimeoutError):
                continue
            except NatsError as exc:
                log.warning("reading approval events for Slack failed (%s); retrying", exc)
                sub = None
                await asyncio.sleep(1.0)
                continue
            for msg in msgs:
                await self._handle(msg)

    async def _handle(self, msg: Any) -> None:
        tries = msg.metadata.num_delivered
        try:
            event = codec.decode(msg.data)
        except ProctorError as exc:
            log.warning("skipping unreadable message on %s: %s", msg.subject, exc)
            await _settle(msg.term())
            return
        try:
            done = await self.process(event)
        except (*SLACK_ERRORS, NatsError) as exc:
            delay = min(60.0, 2.0 ** min(tries, 6))
            log.warning("Slack message for %s failed (%s); retrying in %.0f s",
                        codec.event_type(event), _why(exc), delay)  # fmt: skip
            await _settle(msg.nak(delay=delay))
            return
        except Exception:  # a bug or a surprise from Slack must not stop the service
            log.exception("Slack message for %s failed; retrying", codec.event_type(event))
            await _settle(msg.nak(delay=min(60.0, 2.0 ** min(tries, 6))))
            return
        if done:
            await _settle(msg.ack())
        elif tries >= DECISION_TRIES:
            log.warning("no Slack message to update for %s; giving up", event.event_id)
            await _settle(msg.term())
        else:
            await _settle(msg.nak(delay=min(30.0, 0.5 * tries)))

    async def process(self, event: pb.Event) -> bool:
        """Post or update the message for one event; False: not possible yet, try later."""
        kind = codec.event_type(event)
        assert self.store is not None
        if kind == "approval_requested":
            aid = event.approval_requested.approval_id
            if await self._posted(aid) is not None:
                return True  # a redelivery: posted already
            request = request_of(event)
            outcome = self.service.state.decided.get(aid)
            if outcome is None:
                message = request_message(request, self.mentions)
            else:  # decided before it could be posted (Slack was down): show the decision
                shown = Shown(outcome.kind, outcome.approver, outcome.note, datetime.now(UTC))
                message = decided_message(request, shown, self.mentions)
            resp = await self.client.chat_postMessage(channel=self.channel, **message)
            posted = PostedMessage(str(resp["channel"]), str(resp["ts"]), codec.encode(event))
            await self.store.put(key_for(aid), posted.dump())
            log.info("posted approval %s to Slack (%s %s)", aid, posted.channel, posted.ts)
            return True
        if kind in DECISIONS:
            if not self.service.signed_here(event):
                return True  # not the approval service's: the message stays as it is
            body = getattr(event, kind)
            found = await self._posted(body.approval_id)
            if found is None:
                return False
            at = event.occurred_at.ToDatetime(tzinfo=UTC)
            note = body.reason if kind == WITHDRAWN else getattr(body, "note", "")
            shown = Shown(kind, getattr(body, "approver", ""), note, at)
            message = decided_message(found.request(), shown, self.mentions)
            await self.client.chat_update(channel=found.channel, ts=found.ts, **message)
            log.info("updated the Slack message of approval %s: %s", body.approval_id, kind)
        return True

    async def _posted(self, approval_id: str) -> PostedMessage | None:
        assert self.store is not None
        try:
            entry = await self.store.get(key_for(approval_id))
        except KeyNotFoundError:
            return None
        return PostedMessage.load(entry.value) if entry.value else None


def _why(exc: BaseException) -> str:
    if isinstance(exc, SlackApiError):
        return f"Slack said {exc.response.get('error', exc.response.status_code)}"
    return str(exc) or type(exc).__name__


async def _settle(action: Any) -> None:
    """Ack, nak or term; if the server is gone, the message comes again anyway."""
    try:
        await action
    except NatsError as exc:
        log.debug("acknowledgement lost: %s", exc)
