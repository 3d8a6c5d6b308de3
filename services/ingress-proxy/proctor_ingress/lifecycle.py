"""The life of a command, whatever protocol it came in: one lifecycle for every adapter.

A protocol adapter (postgres/, kube/, ...) turns what its client sent into an `Ask`: the kind,
a typed detail, the text shown to people, and what an approval is bound to. `Lifecycle.decide`
takes it through the verdict (the proxy's cache, then the classifier), a block, or a review (the
agent waits for the decision, or is told at once that it is pending and re-submits; a held
command is withdrawn when its client leaves; a grant is redeemed once), records every step as
an event, and returns an Outcome the adapter renders in its protocol. Once the command ran, the
adapter reports it with `executed`, with what masking did to its result.

Fail closed: whatever does not answer in time (classifier, approval service) makes the outcome
UNAVAILABLE, and the command does not run.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from google.protobuf.timestamp_pb2 import Timestamp
from nats.aio.subscription import Subscription

from proctor.approval.v1 import approval_pb2 as apb
from proctor.classifier.v1 import classifier_pb2 as cpb
from proctor.errors import BusError, ClassifierUnavailable, SessionEnded
from proctor.events import codec
from proctor.events.v1 import events_pb2 as pb
from proctor_ingress.approvals import redeem
from proctor_ingress.emitter import SessionEvents
from proctor_ingress.masking import MaskStats
from proctor_ingress.outcomes import REVIEW_EACH_EXECUTION, RUN, Kind, Outcome, blocked

if TYPE_CHECKING:
    from proctor_ingress.gateway import Gateway

RECHECK_SECONDS = 5.0  # a command waiting with patience asks for its decision this often
DECISIONS = ("approval_granted", "approval_denied", "approval_expired")
WITHDRAWN = "withdrawn"

# (kind, approver, note) of a decision on a held command.
Decision = tuple[str, str, str]


@dataclass(slots=True)
class Ask:
    """One command an adapter puts to the lifecycle."""

    command_id: str
    text: str  # as people see it: CommandReceived.text, the approver's message
    binding: Callable[[], str]  # what an approval of it is bound to (with identity, resource)
    kind: cpb.CommandKind = cpb.COMMAND_KIND_SQL
    detail: pb.CommandDetail | None = None
    judged: str | None = None  # SQL: the text the classifier judges (default: text)
    # What the classifier judges when the detail recorded in events is masked (MCP arguments)
    judged_detail: pb.CommandDetail | None = None
    # The execution's parameter values, shown to the approver and used for the planner's
    # estimate; None when not known yet (a Postgres Parse: each execution is reviewed).
    values: Callable[[], list[str]] | None = None
    executing: bool = True  # False: nothing runs yet, review each execution later
    parameter_count: int = 0


def binding_of(*parts: bytes) -> str:
    """A hash over length-prefixed parts: no two different lists of parts share one."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


class Lifecycle:
    """The commands of one agent session."""

    def __init__(
        self,
        gw: Gateway,
        events: SessionEvents,
        session_id: str,
        identity: pb.Identity,
        resource: pb.Resource,
        groups: tuple[str, ...],
        client_gone: Callable[[], Awaitable[object] | None] | None = None,
    ) -> None:
        self.gw = gw
        self.events = events
        self.session_id = session_id
        self.identity = identity
        self.resource = resource
        self.groups = groups  # sorted, for the verdict cache's key
        self.client_gone = client_gone  # a future done once the client left
        self.commands = 0
        # Seconds a command under review waits for its decision before the agent is told it
        # is pending (and re-submits it, or waits on); None: as the policy's mode says (wait
        # mode holds it until it is decided or expires). For clients that cannot stay silent
        # for long, such as MCP tool calls.
        self.patience: float | None = None
        self.decisions: dict[str, asyncio.Future[Decision]] = {}
        self.bindings: dict[str, str] = {}  # approval id -> the binding of the command held
        self._subscriptions: list[Subscription] = []

    # ---- the session's decisions -----------------------------------------------------------

    async def open(self) -> None:
        """Listen for the decisions on this session's held commands (only those, not every
        event of the session, which this proxy publishes)."""
        for kind in DECISIONS:
            self._subscriptions.append(
                await self.gw.nc.subscribe(
                    codec.subject_filter(kind, self.session_id), cb=self._on_decision
                )
            )

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            for sub in self._subscriptions:
                await sub.unsubscribe()
        self._subscriptions.clear()
        for fut in self.decisions.values():
            fut.cancel()

    def withdraw_held(self) -> bool:
        """The client cancelled: every command held for a decision is withdrawn (it must not
        run later). True when one was."""
        held = [fut for fut in self.decisions.values() if not fut.done()]
        for fut in held:
            fut.set_result((WITHDRAWN, "", ""))
        return bool(held)

    async def _on_decision(self, msg: object) -> None:
        try:
            event = codec.decode(getattr(msg, "data", b""))
        except Exception:
            return
        kind = codec.event_type(event)
        if kind not in DECISIONS:
            return
        decision = getattr(event, kind)
        fut = self.decisions.get(decision.approval_id)
        if fut is None or fut.done():
            return
        binding = self.bindings.get(decision.approval_id, "")
        if self.gw.trust.decision(kind, decision, binding, self.session_id):
            fut.set_result((kind, getattr(decision, "approver", ""), getattr(decision, "note", "")))

    # ---- one command ------------------------------------------------------------------------

    def received(self, ask: Ask, text: str | None = None) -> None:
        """Record that the command arrived (confirmed with whatever follows)."""
        self.commands += 1
        self.events.later(
            ask.command_id,
            acknowledged=False,
            command_received=pb.CommandReceived(
                text=ask.text if text is None else text,
                parameter_count=ask.parameter_count,
                detail=ask.detail,
            ),
        )

    async def decide(self, ask: Ask) -> Outcome:
        """Classify (and, for a review, wait for a decision or redeem one): RUN, or why not."""
        self.received(ask)
        try:
            verdict, cached = await self.gw.verdicts.classify(
                ask.text if ask.judged is None else ask.judged,
                self.identity,
                self.resource,
                self.groups,
                ask.values,
                kind=ask.kind,
                detail=ask.detail if ask.judged_detail is None else ask.judged_detail,
            )
        except ClassifierUnavailable as exc:
            return await self.unavailable(ask.command_id, str(exc), "classifier")
        self.events.later(
            ask.command_id,
            acknowledged=False,
            command_classified=pb.CommandClassified(
                action=verdict.action,
                rule_ids=[m.rule_id for m in verdict.matches],
                reasons=[m.reason for m in verdict.matches],
                policy_version=verdict.policy_version,
                cached=cached,
            ),
        )
        outcome = await self._judged(ask, verdict)
        if verdict.changes_catalog:
            self.gw.verdicts.catalog_changed(self.resource.name)  # before it runs, and after
            outcome = replace(outcome, changes_catalog=True)
        return outcome

    async def _judged(self, ask: Ask, verdict: cpb.ClassifyResponse) -> Outcome:
        if verdict.action == pb.ACTION_ALLOW:
            return RUN
        if verdict.action == pb.ACTION_REVIEW:
            if not ask.executing:
                # Nothing runs yet, and the values it will run with are not known: every
                # execution is reviewed, where the approver sees them and the approval is
                # bound to them.
                return REVIEW_EACH_EXECUTION
            if self.patience is not None:
                return await self._redeem_within(ask, verdict, self.patience)
            if verdict.approval_mode != pb.APPROVAL_MODE_ASYNC:
                return await self._review(ask, verdict)
            return await self._redeem(ask, verdict)
        outcome = blocked(verdict)
        blocking = [m for m in verdict.matches if m.action == pb.ACTION_BLOCK] or verdict.matches
        await self.events.emit(
            ask.command_id,
            command_blocked=pb.CommandBlocked(
                rule_ids=[m.rule_id for m in blocking],
                reason="; ".join(m.reason for m in blocking),
                hint=" ".join(m.hint for m in blocking if m.hint),
            ),
        )
        return outcome

    async def unavailable(self, command_id: str, why: str, service: str) -> Outcome:
        """Fail closed when a service the decision needs does not answer."""
        with contextlib.suppress(BusError):
            await self.events.emit(
                command_id,
                command_blocked=pb.CommandBlocked(rule_ids=["gateway.unavailable"], reason=why),
            )
        return Outcome(
            Kind.UNAVAILABLE, rule_ids=("gateway.unavailable",), reason=why, service=service
        )

    def executed(
        self,
        command_id: str,
        rows: int,
        duration_us: int,
        error_code: str = "",
        error_message: str = "",
        stats: MaskStats | None = None,
    ) -> None:
        """Record that the command ran (and how its result was masked)."""
        if stats is not None and (stats.values_masked or stats.counts):
            self.events.later(
                command_id,
                acknowledged=False,
                result_masked=pb.ResultMasked(
                    row_count=stats.rows,
                    values_masked=stats.values_masked,
                    counts=[
                        pb.MaskCount(column=column, entity_type=entity, count=n)
                        for (column, entity), n in sorted(stats.counts.items())
                    ],
                ),
            )
        self.events.later(
            command_id,
            command_executed=pb.CommandExecuted(
                row_count=rows,
                duration_us=duration_us,
                error_code=error_code,
                error_message=error_message,
            ),
        )

    # ---- review -----------------------------------------------------------------------------

    def _approval_request(
        self,
        approval_id: str,
        ask: Ask,
        verdict: cpb.ClassifyResponse,
        binding: str,
        mode: pb.ApprovalMode = pb.APPROVAL_MODE_WAIT,
    ) -> pb.ApprovalRequested:
        expires = Timestamp()
        timeout = self.gw.settings.approval_timeout
        expires.FromDatetime(datetime.now(UTC) + timedelta(seconds=timeout))
        reviewing = [m for m in verdict.matches if m.action == pb.ACTION_REVIEW]
        return pb.ApprovalRequested(
            approval_id=approval_id,
            command_text=ask.text,
            rule_ids=[m.rule_id for m in reviewing],
            reason="; ".join(m.reason for m in reviewing),
            command_hash=binding,
            expires_at=expires,
            approver_groups=list(verdict.approver_groups),
            mode=mode,
            parameters=ask.values() if ask.values is not None else [],
            estimated_rows=(verdict.estimated_rows if verdict.HasField("estimated_rows") else None),
        )

    async def _redeem_within(
        self, ask: Ask, verdict: cpb.ClassifyResponse, patience: float
    ) -> Outcome:
        """Async mode with patience: ask for (or find) the approval, wait up to `patience`
        seconds for its decision, and redeem it as soon as it comes; still undecided, the
        command is pending, and its approval stays open for a re-submission."""
        outcome = await self._redeem(ask, verdict, quiet=True)
        if outcome.kind is not Kind.PENDING:
            return outcome
        approval_id, binding = outcome.approval_id, ask.binding()
        fut: asyncio.Future[Decision] = asyncio.get_running_loop().create_future()
        self.decisions[approval_id] = fut
        self.bindings[approval_id] = binding
        deadline = asyncio.get_running_loop().time() + patience
        try:
            while (left := deadline - asyncio.get_running_loop().time()) > 0:
                # Woken by the decision's event; asking again every few seconds as well
                # covers a decision published before this listened for it.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(fut), min(left, RECHECK_SECONDS))
                again = await self._redeem(ask, verdict, quiet=True)
                if again.kind is not Kind.PENDING:
                    return again
                fut = self.decisions[approval_id] = (
                    fut if not fut.done() else asyncio.get_running_loop().create_future()
                )
        finally:
            self.decisions.pop(approval_id, None)
            self.bindings.pop(approval_id, None)
        await self._still_pending(ask.command_id, approval_id)
        return replace(outcome, waited=patience)

    async def _still_pending(self, command_id: str, approval_id: str) -> None:
        await self.events.emit(
            command_id,
            command_blocked=pb.CommandBlocked(
                rule_ids=["approval.pending"],
                reason=f"approval {approval_id} is still pending",
                hint="re-submit the same command once it is approved",
            ),
        )

    async def _redeem(
        self, ask: Ask, verdict: cpb.ClassifyResponse, *, quiet: bool = False
    ) -> Outcome:
        """Async mode: run the command if its approval was granted (once), report a denial or
        expiry, or ask for an approval and tell the agent to re-submit after it. `quiet`:
        a pending one is not recorded as refused yet (the caller waits on)."""
        # The approval service records the redemption on the stream: this command's own
        # events (received, classified) must be there before it.
        await self.events.flush()
        binding = ask.binding()
        request = apb.RedeemRequest(
            command_hash=binding,
            session_id=self.session_id,
            command_id=ask.command_id,
            identity=self.identity,
            resource=self.resource,
        )
        try:
            found = await redeem(self.gw.nc, request, self.gw.settings.classify_timeout)
        except BusError as exc:
            return await self.unavailable(ask.command_id, str(exc), "approval service")
        outcome = found.outcome
        if outcome == apb.REDEEM_OUTCOME_GRANTED:
            if not self.gw.trust.redemption(found, binding, ask.command_id):
                why = f"the grant of approval {found.approval_id} could not be verified"
                return await self.unavailable(ask.command_id, why, "approval service")
            return RUN  # the grant is used up by this command (ApprovalRedeemed)
        if outcome == apb.REDEEM_OUTCOME_DENIED:
            return Outcome(
                Kind.DENIED,
                approval_id=found.approval_id,
                approver=found.approver,
                note=found.note,
            )
        if outcome == apb.REDEEM_OUTCOME_EXPIRED:
            return Outcome(Kind.EXPIRED, approval_id=found.approval_id, asynchronous=True)
        approvers = tuple(verdict.approver_groups)
        if outcome == apb.REDEEM_OUTCOME_PENDING:
            if not quiet:
                await self._still_pending(ask.command_id, found.approval_id)
            return Outcome(Kind.PENDING, approval_id=found.approval_id, approvers=approvers)
        approval_id = uuid.uuid4().hex[:12]
        try:  # stored before the agent is told, so its re-submission finds it
            await self.events.emit_stored(
                ask.command_id,
                approval_requested=self._approval_request(
                    approval_id, ask, verdict, binding, pb.APPROVAL_MODE_ASYNC
                ),
            )
        except BusError as exc:
            return await self.unavailable(ask.command_id, str(exc), "approval service")
        return Outcome(Kind.PENDING, approval_id=approval_id, approvers=approvers, new=True)

    async def _review(self, ask: Ask, verdict: cpb.ClassifyResponse) -> Outcome:
        """Wait mode: hold the command until an approver decides, the request expires, or
        the client leaves (then it is withdrawn: it must not run for nobody)."""
        approval_id = uuid.uuid4().hex[:12]
        fut: asyncio.Future[Decision] = asyncio.get_running_loop().create_future()
        self.decisions[approval_id] = fut
        timeout = self.gw.settings.approval_timeout
        binding = ask.binding()
        self.bindings[approval_id] = binding
        await self.events.emit(
            ask.command_id,
            approval_requested=self._approval_request(approval_id, ask, verdict, binding),
        )
        try:
            kind, approver, note = await self._await_decision(approval_id, fut, timeout)
        except SessionEnded:
            await self._withdraw(ask.command_id, approval_id, "the client disconnected")
            raise
        except TimeoutError:
            await self.events.emit(
                ask.command_id, approval_expired=pb.ApprovalExpired(approval_id=approval_id)
            )
            return Outcome(Kind.EXPIRED, approval_id=approval_id, waited=timeout)
        finally:
            self.decisions.pop(approval_id, None)
            self.bindings.pop(approval_id, None)
        if kind == "approval_granted":
            return RUN
        if kind == WITHDRAWN:
            await self._withdraw(ask.command_id, approval_id, "the client cancelled the command")
            return Outcome(Kind.WITHDRAWN, approval_id=approval_id)
        if kind == "approval_denied":
            return Outcome(Kind.DENIED, approval_id=approval_id, approver=approver, note=note)
        return Outcome(Kind.EXPIRED, approval_id=approval_id, waited=timeout)

    async def _withdraw(self, command_id: str, approval_id: str, reason: str) -> None:
        """Nobody waits for this approval any more: approvers stop being asked (wait mode;
        an async request is not waited on and stays open)."""
        with contextlib.suppress(BusError):  # the approval then expires as it would have
            await self.events.emit(
                command_id,
                approval_withdrawn=pb.ApprovalWithdrawn(approval_id=approval_id, reason=reason),
            )

    async def _await_decision(
        self, approval_id: str, fut: asyncio.Future[Decision], timeout: float
    ) -> Decision:
        """The decision on a held command (TimeoutError after `timeout`); SessionEnded when
        the client leaves meanwhile."""
        waiting: set[Awaitable[object]] = {fut}
        gone = self.client_gone() if self.client_gone is not None else None
        if gone is not None:
            waiting.add(gone)
        await asyncio.wait(waiting, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)  # type: ignore[type-var]
        if fut.done():
            return fut.result()
        if gone is not None and asyncio.isfuture(gone) and gone.done():
            raise SessionEnded(
                f"client left while approval {approval_id} was pending; it was withdrawn"
            )
        raise TimeoutError
