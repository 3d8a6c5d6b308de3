"""The approval service's NATS adapter: follows every approval event on the stream into the
core's state, publishes the decisions the core returns, and expires what nobody decided.

Each replica needs every request (any replica may be asked over HTTP), so each reads the
approval subjects through its own ephemeral consumer instead of sharing a durable one, from the
latest checkpoint of the live state (checkpoint_store.py) or else from the first stored event:
a restart rebuilds the same state and loses nothing, and reads only what came after the
checkpoint. When more than one
approval is required, each yes is an ApprovalVoted event, so votes cast on different replicas add
up: the replica that folds the deciding vote publishes the grant (deterministic id, stored once).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from nats.errors import Error as NatsError
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js import api as js_api

from proctor.decisions import DecisionSigner, DecisionVerifier
from proctor.errors import BusError, ProctorError
from proctor.events import codec
from proctor.events.v1 import events_pb2 as pb
from proctor.faults import Backoff, Outage
from proctor.settings import Settings
from proctor.telemetry import inject_headers
from proctor_approval.checkpoint_store import CheckpointStore
from proctor_approval.core import (
    ApprovalState,
    ApprovalStatus,
    ApproverRules,
    Decision,
    RedeemOutcome,
    Redemption,
    Refusal,
    RefusalCode,
    Resubmission,
    Vote,
    complete,
    decide,
    evolve,
    expire,
    redeem,
    status_of,
)

log = logging.getLogger("proctor.approval")

APPROVAL_SUBJECTS = [
    codec.subject_filter(kind)
    for kind in (
        "approval_requested",
        "approval_granted",
        "approval_denied",
        "approval_expired",
        "approval_redeemed",
        "approval_voted",
        "approval_withdrawn",
    )
]


class ApprovalService:
    """The state of every approval, kept current from the stream, and the actions on it."""

    def __init__(
        self,
        js: JetStreamContext,
        settings: Settings,
        rules: ApproverRules,
        signer: DecisionSigner | None = None,
    ) -> None:
        self.js = js
        self.settings = settings
        self.rules = rules
        # Signs every decision, so a proxy can tell it came from here (proctor.decisions).
        self.signer = signer
        self.verifier = DecisionVerifier([signer.public]) if signer else DecisionVerifier(())
        self.rejected = 0  # decisions on the stream that this service did not sign
        self.state = ApprovalState()
        self.checkpoints = CheckpointStore(js, settings.stream_replicas)
        self.caught_up = asyncio.Event()
        self._sub: Any = None  # the approval events' consumer, while there is one
        self._lock = asyncio.Lock()  # one decision at a time, so two votes cannot both win

    # ---- following the stream ---------------------------------------------------------------

    def apply(self, event: pb.Event) -> None:
        if not self.signed_here(event):
            return
        self.state = evolve(self.state, event)

    def signed_here(self, event: pb.Event) -> bool:
        """A grant or denial counts only if this service signed it: one published by anybody
        else must not close the request either (an expiry, which runs nothing, may come from
        the proxy, and so may a withdrawal)."""
        kind = codec.event_type(event)
        if self.signer is None or kind not in ("approval_granted", "approval_denied"):
            return True
        body = getattr(event, kind)
        asked = self.state.pending.get(body.approval_id)
        if (asked is None or asked.command_hash == body.command_hash) and self.verifier.verify(
            body.signature, kind, body.approval_id, body.command_hash
        ):
            return True
        self.rejected += 1
        log.warning(
            "ignored an unverifiable %s for approval %s (%d so far)",
            kind,
            body.approval_id,
            self.rejected,
        )
        return False

    async def _subscribe(self, start_seq: int) -> Any:
        """An ephemeral consumer of the approval subjects from `start_seq` (0: the first)."""
        config = js_api.ConsumerConfig(
            description="Proctor approval state (one per replica)",
            deliver_policy=js_api.DeliverPolicy.ALL,
            # Acknowledged, not AckPolicy.NONE: a message the server hands to a pull request
            # that just timed out is otherwise lost; unacked it comes again after ack_wait
            # (the fold tolerates repeats and reordering).
            ack_policy=js_api.AckPolicy.EXPLICIT,
            ack_wait=5.0,
            max_deliver=-1,
            filter_subjects=APPROVAL_SUBJECTS,
            inactive_threshold=60.0,
            mem_storage=True,
        )
        if start_seq:
            config.deliver_policy = js_api.DeliverPolicy.BY_START_SEQUENCE
            config.opt_start_seq = start_seq
        info = await self.js.add_consumer(self.settings.stream_name, config)
        if info.num_pending == 0:
            self.caught_up.set()
        return await self.js.pull_subscribe_bind(
            consumer=info.name, stream=self.settings.stream_name
        )

    async def _start_seq(self) -> int:
        """Start from the latest checkpoint (state and sequence), if there is a usable one."""
        info = await self.js.stream_info(self.settings.stream_name)
        found = await self.checkpoints.load(info.state.last_seq)
        if found is None:
            return 0
        self.state, seq = found
        log.info("approval state from the checkpoint at seq %d (%d pending)", seq,
                 len(self.state.pending))  # fmt: skip
        return seq

    async def follow(self, stop: asyncio.Event) -> None:
        """Read every approval event after the latest checkpoint (or from the first one on);
        set `caught_up` at the head."""
        last_seq = await self._start_seq()
        sub = self._sub = await self._subscribe(last_seq + 1 if last_seq else 0)
        outage, backoff = Outage("the approval events", log), Backoff(0.1, 5.0)
        while not stop.is_set():
            try:
                if sub is None:
                    # The consumer was lost (e.g. the NATS server restarted): carry on from
                    # the last event folded, so nothing is missed or folded twice.
                    sub = self._sub = await self._subscribe(last_seq + 1)
                msgs = await sub.fetch(256, timeout=1)
            except (NatsTimeout, TimeoutError):  # nats-py raises either on an empty fetch
                self.caught_up.set()  # nothing more stored: we are at the head
                continue
            except NatsError as exc:
                outage.failed(exc)
                sub = None
                await asyncio.sleep(backoff.next())
                continue
            outage.recovered()
            backoff.reset()
            for msg in msgs:
                last_seq = msg.metadata.sequence.stream
                try:
                    self.apply(codec.decode(msg.data))
                except ProctorError as exc:  # never crash on one bad message
                    log.warning("skipping unreadable message on %s: %s", msg.subject, exc)
                with contextlib.suppress(NatsError):  # unacked, it is redelivered and refolded
                    await msg.ack()
            if msgs and msgs[-1].metadata.num_pending == 0:
                self.caught_up.set()
            if msgs:
                await self.checkpoints.maybe_save(self.state, last_seq)
            if msgs and self.caught_up.is_set():
                await self._complete_voted()

    # ---- deciding ---------------------------------------------------------------------------

    async def vote(self, approval_id: str, approver: str, approve: bool, note: str) -> Decision:
        async with self._lock:
            decision = decide(
                self.state,
                Vote(approval_id, approver, approve, note, datetime.now(UTC)),
                self.rules,
            )
            return await self._commit(decision)

    async def settle(self, timeout: float = 2.0) -> None:
        """Wait (up to `timeout`) until every approval event stored so far is folded, so an
        answer reflects every request acknowledged before it was asked."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            sub = self._sub
            if sub is not None:
                try:
                    info = await sub.consumer_info()
                except NatsError:
                    info = None
                if info is not None and info.num_pending == 0 and info.num_ack_pending == 0:
                    return
            await asyncio.sleep(0.02)

    def status(self, approval_id: str, human: str) -> ApprovalStatus:
        """One approval's status, as the human who requested it may be told (core.status_of);
        `settle` first for one requested a moment ago."""
        return status_of(self.state, approval_id, human, datetime.now(UTC))

    async def redeem(self, resubmission: Resubmission) -> Redemption:
        """A command re-submitted in async mode: claim the decision on its approval, if any."""
        async with self._lock:
            redemption = redeem(self.state, resubmission)
            for event in redemption.events:
                if await self._publish(event):
                    # Another replica claimed it first: this submission gets nothing from it.
                    return Redemption(self.state, RedeemOutcome.PENDING, redemption.approval)
            self.state = redemption.state
            return redemption

    async def _complete_voted(self) -> None:
        """Grant what votes folded from the stream (cast on any replica) now approve."""
        try:
            async with self._lock:
                await self._commit(complete(self.state, self.rules, datetime.now(UTC)))
        except BusError as exc:  # the next batch of events tries again
            log.warning("could not grant a completed approval: %s", exc)

    async def expire_due(self, now: datetime | None = None) -> Decision:
        now = now or datetime.now(UTC)
        grace = timedelta(seconds=self.settings.approval_expiry_grace)
        async with self._lock:
            # The proxy that holds the command expires it on time; we follow `grace` later for
            # requests whose proxy is gone, so the record is complete either way.
            return await self._commit(expire(self.state, now - grace))

    async def _commit(self, decision: Decision) -> Decision:
        for event in decision.events:
            duplicate = await self._publish(event)
            if duplicate:
                # Another replica decided first; its event will arrive through `follow`.
                return Decision(
                    self.state,
                    refusal=Refusal(
                        RefusalCode.ALREADY_DECIDED, "another approver decided it first"
                    ),
                )
        self.state = decision.state
        return decision

    async def _publish(self, event: pb.Event) -> bool:
        if self.signer is not None:
            self.signer.sign_event(event)
        headers = inject_headers({js_api.Header.MSG_ID: event.event_id})
        try:
            ack = await self.js.publish(
                codec.subject_for(event),
                codec.encode(event),
                timeout=5.0,
                stream=self.settings.stream_name,
                headers=headers,
            )
        except (TimeoutError, NatsError) as exc:
            raise BusError(f"decision {event.event_id} was not stored: {exc}") from exc
        kind = codec.event_type(event)
        body = getattr(event, kind)
        if kind == "approval_redeemed":
            log.info("%s %s by command %s", kind, body.approval_id, event.command_id)
        else:
            log.info("%s %s by %r", kind, body.approval_id, getattr(body, "approver", ""))
        return bool(ack.duplicate)

    async def expire_loop(self, stop: asyncio.Event, interval: float = 1.0) -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)
            if stop.is_set():
                return
            try:
                await self.expire_due()
            except BusError as exc:
                log.warning("could not expire approvals: %s", exc)
