"""Two approvals required, two approval replicas: bob's vote reaches one, carol's the other,
and the held statement runs once both have voted; one vote alone runs nothing."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import yaml

from proctor.embedded import free_port
from proctor.gateway import hash_token
from proctor.settings import Settings
from proctor.testing import ServiceRunner
from tests.integration.conftest import RunningGateway, eventually, next_request, target_state
from tests.integration.test_approval_service import RunningApproval, wait_listening

pytestmark = pytest.mark.integration

CAROL_TOKEN = "prx_test_carol_token_not_a_secret"
UPDATE = "UPDATE accounts SET balance = 0 WHERE id = 1"


async def test_votes_on_different_replicas_add_up(
    gateway: RunningGateway, settings: Settings, tmp_path: Path, approval_requests: Any
) -> None:
    config = yaml.safe_load((tmp_path / "gateway.yaml").read_text())
    config["identities"]["carol"] = {"groups": ["sre"], "token_sha256": hash_token(CAROL_TOKEN)}
    path = tmp_path / "gateway-carol.yaml"
    path.write_text(yaml.safe_dump(config))
    replicas: list[RunningApproval] = []
    try:
        for name in ("a", "b"):
            port = free_port()
            env = {
                "PROCTOR_GATEWAY_CONFIG": str(path),
                "PROCTOR_APPROVAL_HTTP_LISTEN": f"127.0.0.1:{port}",
                "PROCTOR_APPROVALS_REQUIRED": "2",
            }
            runner = ServiceRunner("proctor_approval", settings, tmp_path / f"{name}.log", env)
            runner.start()
            await wait_listening(runner, port)
            replicas.append(RunningApproval(runner, f"127.0.0.1:{port}", tmp_path / "run"))
        a, b = replicas
        before = await target_state(gateway)
        conn = await asyncpg.connect(gateway.dsn(), ssl=False)
        try:
            held = asyncio.create_task(conn.execute(UPDATE))
            aid = (await next_request(approval_requests)).approval_requested.approval_id
            for replica in replicas:

                async def listed(r: RunningApproval = replica) -> bool:
                    return aid in await r.pending_ids()

                await eventually(listed, 10, "the request on both replicas")
            bob = "prx_test_approver_token_not_a_secret"
            status, body = await a.http("POST", f"/approvals/{aid}/approve", bob, {"note": ""})
            assert status == 200 and body.get("status") != "granted", body
            await asyncio.sleep(1.0)
            assert not held.done() and await target_state(gateway) == before
            status, body = await b.http("POST", f"/approvals/{aid}/approve", CAROL_TOKEN, {})
            assert status == 200, body
            assert await asyncio.wait_for(held, 15) == "UPDATE 1"
        finally:
            await conn.close()

        async def decided_everywhere() -> bool:
            return all([aid not in await r.pending_ids() for r in replicas])

        await eventually(decided_everywhere, 10, "the grant folded on both replicas")
    finally:
        for replica in replicas:
            replica.runner.stop()
