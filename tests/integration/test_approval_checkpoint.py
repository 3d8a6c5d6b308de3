"""Approval start-up from a checkpoint, against a real nats-server: a replica that folded a
long history saves its live state; the next one starts from it, reads only what came after,
and has the same state."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from proctor import bus
from proctor.settings import Settings
from proctor.testing import approval_history
from proctor_approval.checkpoint_store import EVERY_EVENTS
from proctor_approval.core import ApproverRules
from proctor_approval.service import ApprovalService
from tests.integration.conftest import eventually

pytestmark = pytest.mark.integration


async def started(js: Any, settings: Settings) -> tuple[ApprovalService, asyncio.Event, Any]:
    service = ApprovalService(js, settings, ApproverRules(identities={}))
    stop = asyncio.Event()
    task = asyncio.create_task(service.follow(stop))
    await asyncio.wait_for(service.caught_up.wait(), 30)
    return service, stop, task


async def test_a_replica_starts_from_the_checkpoint_of_the_live_state(
    js: Any, settings: Settings
) -> None:
    past = approval_history(3 * EVERY_EVENTS // 2)  # requested and granted: 3 * EVERY_EVENTS events
    await bus.EventPublisher(js, settings).publish_many(past)
    first, stop, task = await started(js, settings)

    async def saved() -> bool:
        return first.checkpoints.saved_seq >= EVERY_EVENTS

    await eventually(saved, 10, "a checkpoint saved")
    stop.set()
    await task
    assert not first.state.pending and len(first.state.decided) <= 256

    second, stop, task = await started(js, settings)
    try:
        assert second.checkpoints.saved_seq == first.checkpoints.saved_seq
        assert second.state == first.state
    finally:
        stop.set()
        await task
