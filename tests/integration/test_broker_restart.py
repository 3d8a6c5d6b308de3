"""A NATS restart under a live gateway: the agent's connection stays up; while the broker is
gone a statement that needs the classifier fails closed with a clear error (nothing runs
unjudged); once it is back, statements are judged, run and masked again, and the session's
events keep reaching the stream."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import asyncpg
import pytest

from proctor.embedded import EmbeddedNats
from proctor.events import codec
from tests.integration.conftest import RunningGateway, eventually

pytestmark = pytest.mark.integration


async def stored(js: Any, subject: str) -> list[Any]:
    """The events the stream holds on `subject`, in order."""
    sub = await js.subscribe(subject, ordered_consumer=True)
    found: list[Any] = []
    try:
        while True:
            try:
                msg = await sub.next_msg(timeout=1)
            except TimeoutError:
                return found
            found.append(codec.decode(msg.data))
    finally:
        await sub.unsubscribe()


async def stored_types(js: Any, session: str) -> list[str]:
    return [codec.event_type(e) for e in await stored(js, codec.subject_filter(None, session))]


async def test_the_gateway_rides_out_a_broker_restart(
    gateway: RunningGateway, nats_server: EmbeddedNats, js: Any
) -> None:
    agent = await asyncpg.connect(gateway.dsn(), ssl=False)
    try:
        assert await agent.fetchval("SELECT count(*) FROM accounts") == 100
        assert await agent.fetchval("SELECT 'x'") == "x"

        nats_server.stop()
        # A statement the proxy has no verdict for cannot be judged: refused, with the reason.
        with pytest.raises(asyncpg.PostgresError, match="could not judge"):
            await agent.fetchval("SELECT owner FROM accounts WHERE id = 7")
        nats_server.start()

        async def judged_again() -> bool:
            try:
                return await agent.fetchval("SELECT owner FROM accounts WHERE id = 8") == "owner8"
            except asyncpg.PostgresError:
                return False

        await eventually(judged_again, 30, "statements judged again after the restart")
        # Masking works again too: an email in a result comes back masked.
        masked = await agent.fetchval("SELECT 'reach me at jane.roe@example.com'")
        assert "jane.roe@example.com" not in masked
    finally:
        await agent.close()

    # The session's events after the restart reached the stream, ending with its close.
    nc = js._nc
    await eventually(lambda: _connected(nc), 30, "the test's own connection back")
    sessions = await _sessions(js)
    assert sessions, "no session_opened on the stream"
    types = await stored_types(js, sessions[-1])
    assert types[0] == "session_opened"
    assert "command_executed" in types
    await eventually(
        lambda: _ends_closed(js, sessions[-1]), 15, "session_closed stored after the restart"
    )


async def _connected(nc: Any) -> bool:
    return bool(nc.is_connected)


async def _sessions(js: Any) -> list[str]:
    return [e.session_id for e in await stored(js, codec.subject_filter("session_opened"))]


async def _ends_closed(js: Any, session: str) -> bool:
    types = await stored_types(js, session)
    return bool(types) and types[-1] == "session_closed"


async def test_services_stop_promptly_and_cleanly_after_the_broker_died(
    gateway: RunningGateway, nats_server: EmbeddedNats
) -> None:
    """NATS goes away, then each service is told to stop: each exits at once with status 0
    (what its client could not send is dropped with a warning, not raised)."""
    nats_server.stop()
    await asyncio.sleep(2)  # the clients are reconnecting
    for runner in (gateway.proxy, gateway.classifier, gateway.masker):
        started = time.monotonic()
        code = runner.stop(timeout=20)
        took = time.monotonic() - started
        assert code == 0 and took < 10, (
            f"{runner.module}: {code} after {took:.1f} s\n{runner.output()}"
        )
    nats_server.start()  # for the fixtures' own teardown
