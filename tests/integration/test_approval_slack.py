"""Slack approvals end to end: the approval service as a real process on a real nats-server,
Slack's Web API replaced by a local server (tests/fakeslack.py) and every request from
"Slack" signed, so bolt's own verification runs on it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from proctor import bus
from proctor.embedded import free_port
from proctor.events import codec, new_event
from proctor.events.v1 import events_pb2 as pb
from proctor.gateway import hash_token
from proctor.settings import Settings
from proctor.testing import ServiceRunner
from tests.fakeslack import FAKE_BOT_TOKEN, FakeSlack
from tests.integration.conftest import APPROVER_TOKEN, eventually
from tests.integration.test_approval_service import api_call, wait_listening

pytestmark = pytest.mark.integration

UPDATE = "UPDATE deployments SET replicas = 3 WHERE namespace = 'prod'"
CHANNEL = "C0APPROVALS"
ALICE, BOB, CAROL, EVE, STRANGER = "U0ALICE", "U0BOB", "U0CAROL", "U0EVE", "U0STRANGER"
DECISIONS = ("approval_granted", "approval_denied", "approval_expired")


@dataclass
class SlackApproval:
    """One approval service process with Slack on, and the fake Slack it talks to."""

    runner: ServiceRunner
    listen: str
    slack: FakeSlack

    async def http(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """The approval HTTP API as bob (an approver)."""
        return await api_call(self.listen, method, path, APPROVER_TOKEN, body)

    async def status(self, approval_id: str) -> str:
        _, body = await self.http("GET", f"/approvals/{approval_id}")
        return str(body.get("status", body))


@pytest.fixture
def identities(tmp_path: Path) -> Path:
    """alice and eve (engineering) may not approve; bob and carol (sre) may. Each has a Slack
    member id; U0STRANGER is nobody's."""
    path = tmp_path / "gateway.yaml"
    spec = {
        "alice": (["engineering"], ALICE),
        "bob": (["sre"], BOB),
        "carol": (["sre"], CAROL),
        "eve": (["engineering"], EVE),
    }
    path.write_text(yaml.safe_dump({"identities": {
        name: {"groups": groups, "token_sha256": hash_token(f"{name}-token" if name != "bob"
               else APPROVER_TOKEN), "slack_user": user}
        for name, (groups, user) in spec.items()
    }}))  # fmt: skip
    return path


async def _start(settings: Settings, tmp_path: Path, config: Path, slack: FakeSlack,
                 name: str = "approval", socket_mode: bool = False) -> SlackApproval:  # fmt: skip
    port = free_port()
    env = {
        "PROCTOR_GATEWAY_CONFIG": str(config),
        "PROCTOR_APPROVAL_HTTP_LISTEN": f"127.0.0.1:{port}",
        "PROCTOR_APPROVAL_EXPIRY_GRACE": "0.2",
        **slack.env(channel=CHANNEL, socket_mode=socket_mode),
    }
    runner = ServiceRunner("proctor_approval", settings, tmp_path / f"{name}.log", env).start()
    await wait_listening(runner, port)
    return SlackApproval(runner, f"127.0.0.1:{port}", slack)


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as fake:
        yield fake


@pytest.fixture
async def service(
    settings: Settings, tmp_path: Path, identities: Path, slack: FakeSlack
) -> AsyncIterator[SlackApproval]:
    running = await _start(settings, tmp_path, identities, slack)
    slack.events_url = f"http://{running.listen}/slack/events"
    try:
        yield running
    finally:
        running.runner.stop()


@pytest.fixture
async def decisions(js: Any) -> AsyncIterator[asyncio.Queue[pb.Event]]:
    """Every decision event stored from now on."""
    queue: asyncio.Queue[pb.Event] = asyncio.Queue()

    async def on_message(msg: Any) -> None:
        await queue.put(codec.decode(msg.data))

    subs = [await js._nc.subscribe(codec.subject_filter(k), cb=on_message) for k in DECISIONS]
    try:
        yield queue
    finally:
        for sub in subs:
            await sub.unsubscribe()


def requested(approval_id: str, requester: str = "alice", expires_in: float = 300) -> pb.Event:
    body = pb.ApprovalRequested(
        approval_id=approval_id,
        command_text=UPDATE,
        rule_ids=["write.update"],
        reason="writes need approval",
    )
    body.expires_at.FromDatetime(datetime.now(UTC) + timedelta(seconds=expires_in))
    return new_event(
        session_id="s" * 32, command_id=f"c-{approval_id}",
        identity=pb.Identity(human=requester, agent="claude-code", groups=["engineering"]),
        resource=pb.Resource(name="target", kind=pb.RESOURCE_KIND_POSTGRES),
        source="ingress-proxy", approval_requested=body,
    )  # fmt: skip


async def request(js: Any, settings: Settings, event: pb.Event) -> None:
    await bus.EventPublisher(js, settings).publish(event)


async def nothing_more(queue: asyncio.Queue[pb.Event], wait: float = 0.5) -> None:
    await asyncio.sleep(wait)
    assert queue.empty(), f"unexpected decision: {queue.get_nowait()}"


# ---- the happy paths -------------------------------------------------------------------------


async def test_a_request_is_posted_denied_with_a_note_and_updated(
    service: SlackApproval, slack: FakeSlack, js: Any, settings: Settings,
    decisions: asyncio.Queue[pb.Event],
) -> None:  # fmt: skip
    await request(js, settings, requested("ap-deny"))
    message = await slack.wait_for_message("ap-deny")

    # Who (human and agent), which resource, the exact command in a code block, rule, reason.
    post = slack.calls_to("chat.postMessage")[0]
    assert post.token == FAKE_BOT_TOKEN and message.channel == CHANNEL
    text = message.all_text()
    for shown in ("alice", f"<@{ALICE}>", "claude-code", "target", "`write.update`",
                  "writes need approval", "ap-deny"):  # fmt: skip
        assert shown in text, shown
    assert f"```{UPDATE}```" in text
    assert message.buttons() == ["proctor_approve", "proctor_deny"]
    assert message.button_value("proctor_deny") == "ap-deny"

    # Deny opens a modal whose note is required.
    click = await slack.click(message, BOB, "deny")
    assert click.status == 200
    view = await slack.wait_for_modal(click.trigger_id)
    assert view["callback_id"] == "proctor_deny_note"
    note_input = next(b for b in view["blocks"] if b["type"] == "input")
    assert note_input["optional"] is False
    assert UPDATE in json.dumps(view)

    # An empty note is refused in the modal, with an error on the field.
    for blank in ("", "   ", None):
        empty = await slack.submit(view, BOB, blank)
        assert empty.status == 200
        assert empty.json()["response_action"] == "errors"
        assert "note" in empty.json()["errors"]
    await nothing_more(decisions)
    assert await service.status("ap-deny") == "pending"

    # With a note: ApprovalDenied on the stream, and the message shows it, without buttons.
    denied = await slack.submit(view, BOB, "wrong namespace")
    assert denied.status == 200 and denied.json() is None  # the modal closes
    event = await asyncio.wait_for(decisions.get(), 10)
    assert codec.event_type(event) == "approval_denied"
    assert event.approval_denied.approval_id == "ap-deny"
    assert event.approval_denied.approver == "bob"
    assert event.approval_denied.note == "wrong namespace"
    updated = await slack.wait_for_update(message)
    assert updated.buttons() == []
    after = updated.all_text()
    assert "Denied" in after and "bob" in after and f"<@{BOB}>" in after
    assert "wrong namespace" in after and "<!date^" in after
    assert UPDATE in after  # the command is still shown

    # A second click (stale client, or a second approver): refused, nothing decided.
    seen = len(slack.calls)
    again = await slack.click(message, BOB, "approve")
    assert again.status == 200
    told = await slack.wait_for_ephemeral(BOB, after=seen)
    assert "already denied" in told.args["text"]
    assert told.args["channel"] == CHANNEL
    assert not slack.calls_to("views.open")[1:]
    await nothing_more(decisions)


async def test_approve_with_an_optional_note(
    service: SlackApproval, slack: FakeSlack, js: Any, settings: Settings,
    decisions: asyncio.Queue[pb.Event],
) -> None:  # fmt: skip
    await request(js, settings, requested("ap-ok"))
    message = await slack.wait_for_message("ap-ok")
    click = await slack.click(message, CAROL, "approve")
    view = await slack.wait_for_modal(click.trigger_id)
    assert view["callback_id"] == "proctor_approve_note"
    assert next(b for b in view["blocks"] if b["type"] == "input")["optional"] is True
    reply = await slack.submit(view, CAROL, None)  # no note
    assert reply.status == 200 and reply.json() is None
    event = await asyncio.wait_for(decisions.get(), 10)
    assert codec.event_type(event) == "approval_granted"
    assert event.approval_granted.approver == "carol" and event.approval_granted.note == ""
    updated = await slack.wait_for_update(message)
    assert updated.buttons() == [] and "Approved" in updated.all_text()
    assert "carol" in updated.all_text()

    # The helper an end-to-end test uses: one call per decision, with a note.
    await request(js, settings, requested("ap-ok-2"))
    second = await slack.wait_for_message("ap-ok-2")
    assert (await slack.approve(second, BOB, note="fine for staging")).status == 200
    event = await asyncio.wait_for(decisions.get(), 10)
    assert event.approval_granted.note == "fine for staging"
    assert "fine for staging" in (await slack.wait_for_update(second)).all_text()


async def test_decisions_made_elsewhere_update_the_message(
    service: SlackApproval, slack: FakeSlack, js: Any, settings: Settings,
    decisions: asyncio.Queue[pb.Event],
) -> None:  # fmt: skip
    await request(js, settings, requested("ap-cli"))
    await request(js, settings, requested("ap-late", expires_in=1))
    by_cli = await slack.wait_for_message("ap-cli")
    late = await slack.wait_for_message("ap-late")

    status, _ = await service.http("POST", "/approvals/ap-cli/deny", {"note": "use a migration"})
    assert status == 200
    updated = await slack.wait_for_update(by_cli)
    assert updated.buttons() == [] and "use a migration" in updated.all_text()

    expired = await slack.wait_for_update(late)
    assert expired.buttons() == [] and "Expired" in expired.all_text()
    kinds = sorted([codec.event_type(await asyncio.wait_for(decisions.get(), 10)) for _ in "12"])
    assert kinds == ["approval_denied", "approval_expired"]
    # One message per request, one update per decision.
    assert len(slack.calls_to("chat.postMessage")) == 2
    assert len(slack.calls_to("chat.update")) == 2


async def test_a_withdrawn_request_is_shown_withdrawn_and_a_click_changes_nothing(
    service: SlackApproval, slack: FakeSlack, js: Any, settings: Settings,
    decisions: asyncio.Queue[pb.Event],
) -> None:  # fmt: skip
    asked = requested("ap-gone")
    await request(js, settings, asked)
    message = await slack.wait_for_message("ap-gone")
    # The agent's client left: the proxy stores ApprovalWithdrawn.
    gone = new_event(
        session_id=asked.session_id, command_id=asked.command_id, identity=asked.identity,
        resource=asked.resource, source="ingress-proxy",
        approval_withdrawn=pb.ApprovalWithdrawn(approval_id="ap-gone",
                                                reason="the client disconnected"),
    )  # fmt: skip
    await request(js, settings, gone)
    updated = await slack.wait_for_update(message)
    assert updated.buttons() == []
    assert "Withdrawn" in updated.all_text() and "the client disconnected" in updated.all_text()
    assert await service.status("ap-gone") == "withdrawn"

    seen = len(slack.calls)
    reply = await slack.click(message, BOB, "approve")
    assert reply.status == 200
    if slack.calls_to("views.open"):  # the approve modal: its submission is refused
        view = await slack.wait_for_modal(reply.trigger_id)
        await slack.submit(view, BOB, "")
    told = await slack.wait_for_ephemeral(BOB, after=seen)
    assert "withdrawn" in told.args["text"] and "nobody waits" in told.args["text"]
    await nothing_more(decisions)


# ---- refusals: nothing is decided ------------------------------------------------------------


async def test_clicks_of_those_who_may_not_decide_are_refused(
    service: SlackApproval, slack: FakeSlack, js: Any, settings: Settings,
    decisions: asyncio.Queue[pb.Event],
) -> None:  # fmt: skip
    await request(js, settings, requested("ap-mine", requester="bob"))
    message = await slack.wait_for_message("ap-mine")

    cases = [
        (EVE, "approve", "eve is not an approver"),
        (EVE, "deny", "eve is not an approver"),
        (STRANGER, "approve", f"slack_user: {STRANGER}"),
        (BOB, "approve", "bob requested this command and cannot decide on it"),
    ]
    for user, action, why in cases:
        seen = len(slack.calls)
        reply = await slack.click(message, user, action)
        assert reply.status == 200
        told = await slack.wait_for_ephemeral(user, after=seen)
        assert why in told.args["text"], told.args["text"]
    assert slack.calls_to("views.open") == []
    assert message.updates == 0 and message.buttons() == ["proctor_approve", "proctor_deny"]

    # A modal submitted by someone who may not decide (a view kept from elsewhere) is refused
    # too: the core decides, not the button.
    click = await slack.click(message, CAROL, "deny")
    view = await slack.wait_for_modal(click.trigger_id)
    seen = len(slack.calls)
    reply = await slack.submit(view, EVE, "looks wrong")
    assert reply.status == 200
    told = await slack.wait_for_ephemeral(EVE, after=seen)
    assert "not an approver" in told.args["text"]
    await nothing_more(decisions)
    assert await service.status("ap-mine") == "pending"


async def test_forged_and_stale_requests_are_refused(
    service: SlackApproval, slack: FakeSlack, js: Any, settings: Settings,
    decisions: asyncio.Queue[pb.Event],
) -> None:  # fmt: skip
    await request(js, settings, requested("ap-forged"))
    message = await slack.wait_for_message("ap-forged")
    click = await slack.click(message, BOB, "deny")
    view = await slack.wait_for_modal(click.trigger_id)
    seen = len(slack.calls)

    for signature in ("forged", "stale"):
        reply = await slack.click(message, BOB, "approve", signature=signature)  # type: ignore[arg-type]
        assert reply.status == 401, (signature, reply)
        reply = await slack.submit(view, BOB, "wrong namespace", signature=signature)  # type: ignore[arg-type]
        assert reply.status == 401, (signature, reply)
    # Unsigned.
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            slack.events_url, data={"payload": json.dumps({"type": "block_actions"})}
        ) as resp,
    ):
        assert resp.status == 401
    await nothing_more(decisions)
    assert slack.calls[seen:] == []  # no modal, no message, nothing
    assert await service.status("ap-forged") == "pending"


# ---- Slack trouble and replicas --------------------------------------------------------------


async def test_slack_failures_are_retried_and_never_block_a_decision(
    service: SlackApproval, slack: FakeSlack, js: Any, settings: Settings,
    decisions: asyncio.Queue[pb.Event],
) -> None:  # fmt: skip
    slack.fail("chat.postMessage", "ratelimited", times=1, status=429)
    slack.fail("chat.update", "internal_error", times=1)
    await request(js, settings, requested("ap-flaky"))
    message = await slack.wait_for_message("ap-flaky", timeout=20)
    assert [c.answer["ok"] for c in slack.calls_to("chat.postMessage")] == [False, True]
    status, _ = await service.http("POST", "/approvals/ap-flaky/approve")
    assert status == 200  # decided at once, whatever Slack does
    assert codec.event_type(await asyncio.wait_for(decisions.get(), 10)) == "approval_granted"
    updated = await slack.wait_for_update(message, timeout=20)
    await eventually(lambda: _true(updated.updates == 1), 20, "the retried update")
    assert "Approved" in updated.all_text()
    assert service.runner.proc is not None and service.runner.proc.poll() is None


async def _true(value: bool) -> bool:
    return value


async def test_two_replicas_post_one_message_per_request(
    settings: Settings, tmp_path: Path, identities: Path, slack: FakeSlack, js: Any,
    decisions: asyncio.Queue[pb.Event],
) -> None:  # fmt: skip
    first = await _start(settings, tmp_path, identities, slack, "approval-1")
    second = await _start(settings, tmp_path, identities, slack, "approval-2")
    try:
        ids = [f"ap-r{i}" for i in range(6)]
        for aid in ids:
            await request(js, settings, requested(aid))
        messages = [await slack.wait_for_message(aid) for aid in ids]
        # Decide through either replica: the message is updated once, by whichever holds it.
        for i, aid in enumerate(ids):
            replica = (first, second)[i % 2]
            await eventually(lambda r=replica, a=aid: _pending(r, a), 10, f"{aid} known")  # type: ignore[misc]
            status, _ = await replica.http("POST", f"/approvals/{aid}/deny", {"note": f"no {i}"})
            assert status == 200
        for i, message in enumerate(messages):
            updated = await slack.wait_for_update(message)
            assert f"no {i}" in updated.all_text()
        await asyncio.sleep(1.0)
        posts = slack.calls_to("chat.postMessage")
        assert len(posts) == len(ids)
        assert len(slack.calls_to("chat.update")) == len(ids)
        # Clicks may reach any replica: the other one still knows the decision.
        seen = len(slack.calls)
        slack.events_url = f"http://{second.listen}/slack/events"
        await slack.click(messages[0], CAROL, "approve")
        assert "already denied" in (await slack.wait_for_ephemeral(CAROL, after=seen)).args["text"]
    finally:
        first.runner.stop()
        second.runner.stop()


async def _pending(replica: SlackApproval, approval_id: str) -> bool:
    return await replica.status(approval_id) == "pending"


async def test_socket_mode(
    settings: Settings, tmp_path: Path, identities: Path, slack: FakeSlack, js: Any,
    decisions: asyncio.Queue[pb.Event],
) -> None:  # fmt: skip
    """With an app token the service connects out to Slack; interactions come over the socket,
    and nothing is served at /slack/events."""
    running = await _start(settings, tmp_path, identities, slack, socket_mode=True)
    try:
        await slack.wait_for_socket()
        opened = slack.calls_to("apps.connections.open")
        assert opened and opened[0].token == slack.app_token
        async with (
            aiohttp.ClientSession() as http,
            http.post(f"http://{running.listen}/slack/events", data={"payload": "{}"}) as resp,
        ):
            # Not bolt's endpoint: the approvals API asks for a Proctor token.
            assert resp.status == 401 and "Bearer" in await resp.text()

        await request(js, settings, requested("ap-socket"))
        message = await slack.wait_for_message("ap-socket")
        click = await slack.click(message, BOB, "deny")
        view = await slack.wait_for_modal(click.trigger_id)
        empty = await slack.submit(view, BOB, "")
        assert empty.json()["response_action"] == "errors"
        seen = len(slack.calls)
        await slack.click(message, EVE, "approve")
        assert "not an approver" in (await slack.wait_for_ephemeral(EVE, after=seen)).args["text"]
        await nothing_more(decisions)

        assert (await slack.submit(view, BOB, "wrong namespace")).json() is None
        event = await asyncio.wait_for(decisions.get(), 10)
        assert event.approval_denied.note == "wrong namespace"
        assert (await slack.wait_for_update(message)).buttons() == []
    finally:
        # In a thread: the fake must answer the socket's close while the service stops.
        assert await asyncio.to_thread(running.runner.stop) == 0, running.runner.output()
