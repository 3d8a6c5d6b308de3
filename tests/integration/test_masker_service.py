"""The masker as its own process over a real nats-server: masked rows, errors, replicas."""

from __future__ import annotations

import asyncio
from pathlib import Path

import nats
import pytest

from proctor.masker.v1 import masker_pb2 as mpb
from proctor.settings import Settings
from proctor.testing import ServiceRunner, wait_until

pytestmark = pytest.mark.integration


def request() -> mpb.MaskRequest:
    return mpb.MaskRequest(
        columns=[
            mpb.Column(name="id", type_name="int4"),
            mpb.Column(name="email", type_name="text"),
            mpb.Column(name="profile", type_name="jsonb"),
            mpb.Column(name="tags", type_name="_text"),
        ],
        rows=[
            mpb.Row(values=[
                mpb.Value(text="1"),
                mpb.Value(text="ada@example.com"),
                mpb.Value(text='{"card": "4242424242424242", "tier": "pro"}'),
                mpb.Value(text='{vip,ada@example.com}'),
            ]),
            mpb.Row(values=[
                mpb.Value(text="2"), mpb.Value(null=True), mpb.Value(null=True),
                mpb.Value(text="{}"),
            ]),
        ],
    )  # fmt: skip


async def test_masks_rows_over_nats(settings: Settings, tmp_path: Path) -> None:
    service = ServiceRunner("proctor_masker", settings, tmp_path / "masker.log").start()
    nc = await nats.connect(settings.nats_url)
    try:

        async def answering() -> bool:
            try:
                await nc.request("proctor.rpc.mask", b"", timeout=1)
            except Exception:
                return False
            return True

        assert await wait_until(answering, timeout=60, interval=0.2), service.output()
        reply = await nc.request("proctor.rpc.mask", request().SerializeToString(), timeout=10)
        response = mpb.MaskResponse.FromString(reply.data)
        assert not response.error
        first, second = response.rows
        assert first.values[0].text == "1"
        assert "ada@example.com" not in first.values[1].text
        assert "4242424242424242" not in first.values[2].text and '"tier": "pro"' in (
            first.values[2].text
        )
        assert "ada@example.com" not in first.values[3].text
        assert second.values[1].null and second.values[2].null
        assert response.values_masked == 3
        assert {(c.column, c.entity_type) for c in response.counts} >= {
            ("email", "EMAIL_ADDRESS"), ("profile", "CREDIT_CARD"),
        }  # fmt: skip

        garbage = await nc.request("proctor.rpc.mask", b"\xff\xff\xff", timeout=10)
        refused = mpb.MaskResponse.FromString(garbage.data)
        assert refused.error and not refused.rows
        await asyncio.sleep(0.1)
        assert service.proc is not None and service.proc.poll() is None, "masker crashed"
    finally:
        await nc.close()
        assert service.stop() == 0
    assert "masker stopped; served" in service.output()
