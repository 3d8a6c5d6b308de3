"""What one client can make the proxy hold is bounded, against a real proxy process: a message
declared larger than PROCTOR_PG_MAX_MESSAGE is refused at its header (three of 300 MB leave the
proxy's memory where it was), connections are capped per identity and in total with a clear
error, and a client that does not authenticate in time is told so and disconnected."""

from __future__ import annotations

import asyncio
import contextlib
import struct
from pathlib import Path

import asyncpg
import pytest

from proctor import pgwire
from proctor.embedded import EmbeddedNats
from tests.integration.conftest import APPROVER_TOKEN, RunningGateway, eventually
from tests.integration.test_proxy_protocol import RawClient

pytestmark = pytest.mark.integration

MAX_CONNECTIONS = 12
PER_IDENTITY = 3


@pytest.fixture
def gateway_env() -> dict[str, str]:
    return {
        "PROCTOR_PG_MAX_CONNECTIONS": str(MAX_CONNECTIONS),
        "PROCTOR_PG_MAX_CONNECTIONS_PER_IDENTITY": str(PER_IDENTITY),
        "PROCTOR_PG_AUTH_TIMEOUT": "2",
        "PROCTOR_OUTBOX_MAX_BYTES": str(1 << 16),
        "PROCTOR_OUTBOX_WAIT": "1",
    }


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def error_fields(msg: pgwire.Message) -> dict[str, str]:
    assert msg.type == b"E", msg
    return pgwire.error_fields(msg.body)


async def refused_at_header(gateway: RunningGateway) -> dict[str, str]:
    """Declare a 300 MB Query and send its body, reading what the proxy says meanwhile."""
    client = await RawClient.login(gateway)
    said = asyncio.create_task(client.closed_by_peer(15))
    client.send(b"Q" + struct.pack("!i", 300 << 20))
    chunk = b"x" * (1 << 20)
    with contextlib.suppress(ConnectionError, TimeoutError):
        for _ in range(300):  # the whole body, unless the proxy hangs up first
            client.send(chunk)
            await asyncio.wait_for(client.writer.drain(), 5)
    messages = await said
    client.writer.close()
    errors = [error_fields(m) for m in messages if m.type == b"E"]
    assert len(errors) == 1, messages
    return errors[0]


async def test_resources_a_client_can_hold_are_bounded(gateway: RunningGateway) -> None:
    assert gateway.proxy.proc is not None
    pid = gateway.proxy.proc.pid
    before = rss_mb(pid)

    # Three clients each declare a 300 MB message: refused at the header, none buffered.
    refusals = await asyncio.gather(*(refused_at_header(gateway) for _ in range(3)))
    for fields in refusals:
        assert fields["S"] == "FATAL" and fields["C"] == "54000", fields
        assert "314572801 bytes" in fields["M"] and "67108864" in fields["M"], fields
        assert "PROCTOR_PG_MAX_MESSAGE" in fields["H"]
    assert rss_mb(pid) - before < 40, (before, rss_mb(pid))

    # Per identity: the fourth session of alice is refused; bob still gets in.
    held = [await asyncpg.connect(gateway.dsn(), ssl=False) for _ in range(PER_IDENTITY)]
    try:
        with pytest.raises(asyncpg.TooManyConnectionsError) as refused:
            await asyncpg.connect(gateway.dsn(), ssl=False)
        assert 'identity "alice"' in str(refused.value)
        assert "PROCTOR_PG_MAX_CONNECTIONS_PER_IDENTITY" in (refused.value.hint or "")
        bob = await asyncpg.connect(gateway.dsn("bob", APPROVER_TOKEN), ssl=False)
        assert await bob.fetchval("SELECT 1") == 1
        await bob.close()

        # In total: sockets that never start up count too, until the cap.
        idle = [
            await asyncio.open_connection(gateway.host, gateway.port)
            for _ in range(MAX_CONNECTIONS - PER_IDENTITY)
        ]
        await asyncio.sleep(0.2)
        one_more = await RawClient.connect(gateway)
        said = await one_more.closed_by_peer(5)
        assert [error_fields(m)["C"] for m in said] == ["53300"], said
        assert "PROCTOR_PG_MAX_CONNECTIONS" in error_fields(said[0])["H"]

        # Those that never authenticate are told so and disconnected after the deadline.
        reader = idle[0][0]
        data = await asyncio.wait_for(reader.read(65536), 5)
        buf = pgwire.MessageBuffer()
        buf.feed(data)
        fields = error_fields(next(iter(buf.messages())))
        assert fields["C"] == "57014" and "authentication" in fields["M"], fields
        assert await asyncio.wait_for(reader.read(65536), 5) == b""
        for _, w in idle:
            w.close()
    finally:
        for conn in held:
            await conn.close()
    # Once they are gone, alice connects again.
    again = await asyncpg.connect(gateway.dsn(), ssl=False)
    assert await again.fetchval("SELECT 2") == 2
    await again.close()


async def test_with_the_broker_away_statements_run_while_the_outbox_has_room(
    gateway: RunningGateway, nats_server: EmbeddedNats
) -> None:
    agent = await asyncpg.connect(gateway.dsn(), ssl=False)
    try:
        assert await agent.fetchval("SELECT owner FROM accounts WHERE id = 1") == "owner1"
        nats_server.stop()
        ran = 0
        with pytest.raises(asyncpg.InsufficientResourcesError) as refused:
            for n in range(2, 2000):  # one verdict, from the cache, for every one of them
                await agent.fetchval(f"SELECT owner FROM accounts WHERE id = {n % 100 + 1}")
                ran += 1
        assert 10 < ran < 1000, ran
        assert "outbox is full" in str(refused.value) and "Nothing was run" in str(refused.value)
        assert "PROCTOR_OUTBOX_MAX_BYTES" in (refused.value.hint or "")
        nats_server.start()

        async def runs_again() -> bool:
            try:
                return bool(await agent.fetchval("SELECT owner FROM accounts WHERE id = 5"))
            except asyncpg.InsufficientResourcesError:
                return False

        await eventually(runs_again, 30, "statements run again once the broker is back")
    finally:
        await agent.close()
