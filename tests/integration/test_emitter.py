"""The ingress-proxy's session events and their outbox against a real nats-server: order, ids,
events written during a broker outage stored once it is back (with no failure reported), the
bound on what waits, an outbox left by a dead process replayed by the next, and waiting for
the stream when a caller needs it."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.aio.client import Client as NATS

from proctor import bus
from proctor.embedded import EmbeddedNats
from proctor.errors import BusError
from proctor.events import codec
from proctor.events.v1 import events_pb2 as pb
from proctor.settings import Settings
from proctor_ingress.emitter import SessionEvents
from proctor_ingress.outbox import SUFFIX, Outbox, read_records

pytestmark = pytest.mark.integration

IDENTITY = pb.Identity(human="alice", agent="test", groups=["readers"])
RESOURCE = pb.Resource(name="target", kind=pb.RESOURCE_KIND_POSTGRES)


@pytest.fixture
async def stream(nc: NATS, nats_server: EmbeddedNats) -> str:
    settings = Settings(nats_url=nats_server.url)
    await bus.ensure_stream(nc.jetstream(), settings)
    return settings.stream_name


@pytest.fixture
async def proxy_nc(nats_server: EmbeddedNats) -> AsyncIterator[NATS]:
    """The proxy's own connection, which reconnects through outages."""
    conn = await bus.connect(Settings(nats_url=nats_server.url), "test-proxy")
    try:
        yield conn
    finally:
        await conn.close()


@pytest.fixture
async def outbox(proxy_nc: NATS, stream: str, tmp_path: Path) -> AsyncIterator[Outbox]:
    box = Outbox(tmp_path / "outbox", proxy_nc, stream, max_bytes=1 << 16)
    await box.start()
    try:
        yield box
    finally:
        await box.close(timeout=1)


def session(outbox: Outbox) -> SessionEvents:
    return SessionEvents(
        outbox.nc, outbox.nc.jetstream(), outbox.stream, codec.new_hex_id(), IDENTITY, RESOURCE
    )


async def eventually(check: Callable[[], Awaitable[bool] | bool], timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = check()
        if await result if isinstance(result, Awaitable) else result:
            return
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def stored(nc: NATS, stream: str) -> list[pb.Event]:
    js = nc.jetstream()
    info = await js.stream_info(stream)
    return [
        codec.decode((await js.get_msg(stream, seq)).data or b"")
        for seq in range(info.state.first_seq, info.state.last_seq + 1)
    ]


async def stored_count(nc: NATS, stream: str, n: int) -> bool:
    info = await nc.jetstream().stream_info(stream)
    return bool(info.state.messages >= n)


def received(command: str) -> dict[str, Any]:
    return {"command_received": pb.CommandReceived(text=command)}


def executed(rows: int) -> dict[str, Any]:
    return {"command_executed": pb.CommandExecuted(row_count=rows)}


async def test_events_are_stored_in_the_order_they_happened(
    nc: NATS, stream: str, outbox: Outbox
) -> None:
    events = session(outbox)
    opened = await events.emit(session_opened=pb.SessionOpened(protocol="postgres"))
    for n in range(40):
        events.later(f"c{n}", acknowledged=False, **received(f"SELECT {n}"))
        events.later(f"c{n}", **executed(n))
    closed = await events.emit(session_closed=pb.SessionClosed())
    last = await events.emit_stored(session_closed=pb.SessionClosed(reason="stored"))

    got = await stored(nc, stream)
    assert [e.event_id for e in got[:1]] == [opened.event_id]
    assert [(e.command_id, codec.event_type(e)) for e in got[1:81]] == [
        (f"c{n}", kind) for n in range(40) for kind in ("command_received", "command_executed")
    ]
    assert [e.event_id for e in got[81:]] == [closed.event_id, last.event_id]
    assert {e.session_id for e in got} == {events.session_id}
    assert events.failures == 0 and outbox.pending_bytes == 0

    msg = await nc.jetstream().get_msg(stream, 1)
    assert msg.headers is not None
    assert msg.headers["Nats-Msg-Id"] == opened.event_id
    assert msg.headers["Nats-Expected-Stream"] == stream


async def test_events_written_during_a_broker_outage_are_stored_once_it_is_back(
    nats_server: EmbeddedNats, stream: str, outbox: Outbox, caplog: pytest.LogCaptureFixture
) -> None:
    events = session(outbox)
    await events.emit_stored(session_opened=pb.SessionOpened(protocol="postgres"))
    nats_server.stop()
    for n in range(100):
        events.later(f"c{n}", **received(f"SELECT {n}"))
    assert outbox.pending_bytes > 0
    await asyncio.sleep(1)
    nats_server.start()
    await eventually(lambda: outbox.pending_bytes == 0, 20)
    check = await nats.connect(nats_server.url)
    try:
        got = await stored(check, stream)
    finally:
        await check.close()
    assert [e.command_id for e in got[1:]] == [f"c{n}" for n in range(100)]  # once each
    assert "not stored" not in caplog.text


async def test_a_full_outbox_makes_new_statements_wait(
    nats_server: EmbeddedNats, stream: str, outbox: Outbox
) -> None:
    events = session(outbox)
    nats_server.stop()
    big = "SELECT '" + "x" * 4000 + "'"
    while await outbox.room(0):
        events.later(codec.new_hex_id(), **received(big))
    waiting = asyncio.create_task(outbox.room(30))
    await asyncio.sleep(0.3)
    assert not waiting.done()
    assert not await outbox.room(0.2)
    nats_server.start()
    assert await asyncio.wait_for(waiting, 20)


async def test_an_outbox_left_by_a_dead_process_is_replayed_by_the_next(
    nats_server: EmbeddedNats, nc: NATS, stream: str, tmp_path: Path
) -> None:
    directory = tmp_path / "shared"
    # A process that wrote events and died before the broker took them (it never connected).
    dead = Outbox(directory, await nats.connect(nats_server.url), stream)
    dead.open()
    events = SessionEvents(dead.nc, dead.nc.jetstream(), stream, "s1", IDENTITY, RESOURCE, dead)
    for n in range(5):
        events.later(f"c{n}", **received(f"SELECT {n}"))
    os.close(dead._fd)  # as a crash would: the file stays, its lock goes
    await dead.nc.close()
    (left,) = directory.glob(f"*{SUFFIX}")
    assert len(read_records(left.read_bytes())) == 5

    async with await_outbox(directory, nats_server, stream) as heir:
        assert heir.replayed == 5
        await eventually(lambda: heir.pending_bytes == 0)
    got = await stored(nc, stream)
    assert [e.command_id for e in got] == [f"c{n}" for n in range(5)]
    assert not left.exists()


class await_outbox:
    def __init__(self, directory: Path, server: EmbeddedNats, stream: str) -> None:
        self.directory, self.server, self.stream = directory, server, stream

    async def __aenter__(self) -> Outbox:
        self.nc = await nats.connect(self.server.url)
        self.box = Outbox(self.directory, self.nc, self.stream)
        await self.box.start()
        return self.box

    async def __aexit__(self, *exc: object) -> None:
        await self.box.close(timeout=2)
        await self.nc.close()


async def test_an_event_the_broker_could_never_take_is_refused_and_blocks_nothing(
    nc: NATS, stream: str, outbox: Outbox
) -> None:
    events = session(outbox)
    with pytest.raises(BusError, match="larger than the NATS server accepts"):
        events.later("big", **received("x" * outbox.nc.max_payload))
    assert events.failures == 1
    await events.emit_stored(**received("SELECT 1"))  # what comes after is stored
    assert [e.command_received.text for e in await stored(nc, stream)] == ["SELECT 1"]
