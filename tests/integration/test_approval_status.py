"""One approval's status over the bus, asked the way the ingress-proxy asks it, from the real
approval service on a real nats-server: pending, then granted or denied with the approver's
note; UNKNOWN for another human, as for an id that does not exist."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from nats.aio.client import Client as NATS

from proctor import bus, subjects
from proctor.approval.v1 import approval_pb2 as apb
from proctor.errors import BusError
from proctor.events.v1 import events_pb2 as pb
from proctor.settings import Settings
from proctor_ingress.approvals import approval_status
from tests.integration.conftest import APPROVER_TOKEN
from tests.integration.test_approval_service import (  # noqa: F401
    UPDATE,
    _request,
    approval_service,
    identities,
)

pytestmark = pytest.mark.integration

ALICE = pb.Identity(human="alice", agent="claude-code")
BOB = pb.Identity(human="bob", agent="claude-code")


async def test_the_requester_follows_an_approval_to_its_decision(
    settings: Settings,
    js: Any,
    nc: NATS,
    tmp_path: Path,
    identities: Path,  # noqa: F811
) -> None:
    with pytest.raises(BusError, match="did not answer"):  # nobody serves the subject yet
        await approval_status(nc, "st1", ALICE, timeout=0.5)
    publisher = bus.EventPublisher(js, settings)
    async with approval_service(settings, tmp_path, identities) as running:
        await publisher.publish(_request("st1", 300))
        await publisher.publish(_request("st2", 300))

        # Asked at once: the service folds what is stored before it answers.
        pending = await approval_status(nc, "st1", ALICE, timeout=5)
        assert pending.state == apb.APPROVAL_STATE_PENDING and pending.approval_id == "st1"
        assert pending.command_text == UPDATE and pending.resource == "target"
        assert list(pending.rule_ids) == ["write.update"]
        assert pending.reason == "writes need approval"
        assert pending.mode == pb.APPROVAL_MODE_WAIT
        assert pending.expires_at.seconds > pending.requested_at.seconds > 0
        assert not pending.approver and not pending.note and not pending.redeemed

        status, _ = await running.http(
            "POST", "/approvals/st1/deny", APPROVER_TOKEN, {"note": "wrong namespace"}
        )
        assert status == 200
        denied = await approval_status(nc, "st1", ALICE, timeout=5)
        assert denied.state == apb.APPROVAL_STATE_DENIED
        assert (denied.approver, denied.note) == ("bob", "wrong namespace")
        assert denied.command_text == UPDATE

        approved = await running.cli("approve", "st2", "--as", "bob", "--note", "fine",
                                     token=APPROVER_TOKEN)  # fmt: skip
        assert approved.returncode == 0, approved.stderr
        granted = await approval_status(nc, "st2", ALICE, timeout=5)
        assert granted.state == apb.APPROVAL_STATE_GRANTED
        assert (granted.approver, granted.note) == ("bob", "fine")

        # bob decided them, but did not request them: to him they do not exist, exactly as
        # an id nobody ever requested does not.
        for aid in ("st1", "st2"):
            unknown = apb.ApprovalStatusResponse(state=apb.APPROVAL_STATE_UNKNOWN, approval_id=aid)
            assert await approval_status(nc, aid, BOB, timeout=5) == unknown
        missing = apb.ApprovalStatusResponse(state=apb.APPROVAL_STATE_UNKNOWN, approval_id="nope")
        assert await approval_status(nc, "nope", ALICE, timeout=5) == missing


async def test_an_unreadable_request_gets_an_error_and_the_service_answers_on(
    settings: Settings,
    js: Any,
    nc: NATS,
    tmp_path: Path,
    identities: Path,  # noqa: F811
) -> None:
    async with approval_service(settings, tmp_path, identities):
        reply = await nc.request(subjects.APPROVAL_STATUS, b"\xff\xff not protobuf", timeout=5)
        assert "undecodable" in apb.ApprovalStatusResponse.FromString(reply.data).error
        with pytest.raises(BusError, match="approval_id"):
            await approval_status(nc, "", ALICE, timeout=5)
        await bus.EventPublisher(js, settings).publish(_request("st3", 300))
        found = await approval_status(nc, "st3", ALICE, timeout=5)
        assert found.state == apb.APPROVAL_STATE_PENDING
