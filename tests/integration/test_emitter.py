"""The ingress-proxy's session events against a real nats-server: order, batched
acknowledgements, failures counted and logged, the bound on pending acknowledgements, and
publishing by timer."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import nats
import pytest
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from proctor import bus
from proctor.embedded import EmbeddedNats
from proctor.events import codec
from proctor.events.v1 import events_pb2 as pb
from proctor.settings import Settings
from proctor_ingress import emitter
from proctor_ingress.emitter import SessionEvents

pytestmark = pytest.mark.integration

IDENTITY = pb.Identity(human="alice", agent="test", groups=["readers"])
RESOURCE = pb.Resource(name="target", kind=pb.RESOURCE_KIND_POSTGRES)


@pytest.fixture
async def stream(nc: NATS, nats_server: EmbeddedNats) -> str:
    settings = Settings(nats_url=nats_server.url)
    await bus.ensure_stream(nc.jetstream(), settings)
    return settings.stream_name


def session(nc: NATS, stream: str = "PROCTOR_EVENTS") -> SessionEvents:
    return SessionEvents(nc, nc.jetstream(), stream, codec.new_hex_id(), IDENTITY, RESOURCE)


async def eventually(check: Callable[[], Awaitable[bool] | bool], timeout: float = 5.0) -> None:
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


def received(command: str) -> dict[str, Any]:
    return {"command_received": pb.CommandReceived(text=command)}


def executed(rows: int) -> dict[str, Any]:
    return {"command_executed": pb.CommandExecuted(row_count=rows)}


async def test_events_are_stored_in_the_order_they_happened(nc: NATS, stream: str) -> None:
    events = session(nc)
    opened = await events.emit(session_opened=pb.SessionOpened(protocol="postgres"))
    for n in range(40):  # more than CONFIRM_EVERY, so some queued events are acknowledged
        events.later(f"c{n}", acknowledged=False, **received(f"SELECT {n}"))
        events.later(f"c{n}", **executed(n))
        if n % 3 == 0:
            await events.flush()
    closed = await events.emit(session_closed=pb.SessionClosed())
    last = await events.emit_stored(session_closed=pb.SessionClosed(reason="stored"))

    got = await stored(nc, stream)
    assert [e.event_id for e in got[:1]] == [opened.event_id]
    assert [(e.command_id, codec.event_type(e)) for e in got[1:81]] == [
        (f"c{n}", kind) for n in range(40) for kind in ("command_received", "command_executed")
    ]
    assert [e.command_executed.row_count for e in got[1:81] if e.HasField("command_executed")] == [
        *range(40)
    ]
    assert [e.event_id for e in got[81:]] == [closed.event_id, last.event_id]
    assert {e.session_id for e in got} == {events.session_id}
    assert events.failures == 0 and events.unconfirmed == 0


async def test_events_carry_their_id_and_the_expected_stream(nc: NATS, stream: str) -> None:
    events = session(nc)
    event = await events.emit(session_opened=pb.SessionOpened(protocol="postgres"))
    await eventually(lambda: stored_count(nc, stream, 1))
    msg = await nc.jetstream().get_msg(stream, 1)
    assert msg.headers is not None
    assert msg.headers["Nats-Msg-Id"] == event.event_id
    assert msg.headers["Nats-Expected-Stream"] == stream


async def test_an_event_without_a_stream_is_a_failure_counted_and_logged(
    nc: NATS, caplog: pytest.LogCaptureFixture
) -> None:
    events = session(nc)  # no stream was created: the server answers "no responders"
    events.later("c1", acknowledged=False, **received("SELECT 1"))
    await events.emit("c1", **executed(1))
    await eventually(lambda: events.failures == 1)
    assert "no response from stream" in caplog.text
    assert f"an event of session {events.session_id} (and up to 1 sent before it)" in caplog.text


async def test_an_event_the_stream_rejects_is_a_failure(
    nc: NATS, stream: str, caplog: pytest.LogCaptureFixture
) -> None:
    events = session(nc, stream="ANOTHER_STREAM")  # the stream is not the one expected
    await events.emit(session_opened=pb.SessionOpened(protocol="postgres"))
    await eventually(lambda: events.failures == 1)
    assert "expected stream does not match" in caplog.text
    assert (await nc.jetstream().stream_info(stream)).state.messages == 0
    # Unacknowledged events are confirmed by the next acknowledged one, not counted alone.
    for n in range(3):
        events.later(f"c{n}", acknowledged=False, **received("SELECT 1"))
    await events.emit("c2", **executed(1))
    await eventually(lambda: events.failures == 2)
    assert "(and up to 3 sent before it)" in caplog.text


class SilentStream:
    """Stands in for the stream on proctor.evt.>: takes the messages, acknowledges on demand."""

    def __init__(self, nc: NATS) -> None:
        self.nc = nc
        self.messages: list[Msg] = []

    async def start(self) -> SilentStream:
        await self.nc.subscribe("proctor.evt.>", cb=self._take)
        await self.nc.flush()
        return self

    async def _take(self, msg: Msg) -> None:
        self.messages.append(msg)

    async def acknowledge(self, msg: Msg) -> None:
        seq = self.messages.index(msg) + 1
        await self.nc.publish(msg.reply, f'{{"stream":"STAND_IN","seq":{seq}}}'.encode())


async def test_past_the_bound_on_pending_acknowledgements_publishers_wait(
    nc: NATS, nats_server: EmbeddedNats, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(emitter, "MAX_PENDING_ACKS", 2)
    other = await nats.connect(nats_server.url)
    try:
        server = await SilentStream(other).start()
        first, second = session(nc), session(nc)  # the bound is the connection's
        await first.emit(**executed(1))
        await second.emit(**executed(2))
        await eventually(lambda: len(server.messages) == 2)

        waiting = asyncio.create_task(first.emit(**executed(3)))
        second.later(acknowledged=False, **received("SELECT 4"))  # not acknowledged: no wait
        await second.flush()
        await asyncio.sleep(0.3)
        assert not waiting.done()
        assert len(server.messages) == 3

        await server.acknowledge(server.messages[0])
        await asyncio.wait_for(waiting, 5)
        await eventually(lambda: len(server.messages) == 4)
        assert server.messages[3].subject == f"proctor.evt.command_executed.{first.session_id}"
        for msg in server.messages[1:]:
            if msg.reply:
                await server.acknowledge(msg)
        await nc.flush()
        await other.flush()
        await asyncio.sleep(0.1)
        assert first.failures == second.failures == 0
    finally:
        await other.close()


async def test_an_acknowledgement_that_never_comes_is_a_failure(
    nc: NATS,
    nats_server: EmbeddedNats,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(emitter, "ACK_TIMEOUT", 0.2)
    monkeypatch.setattr(emitter, "MAX_PENDING_ACKS", 1)
    other = await nats.connect(nats_server.url)
    try:
        server = await SilentStream(other).start()
        events = session(nc)
        await events.emit(**executed(1))
        # Waits for room until the first acknowledgement is given up on, then goes out.
        await asyncio.wait_for(events.emit(**executed(2)), 5)
        assert events.failures == 1
        assert "no acknowledgement in 0.2 s" in caplog.text
        await eventually(lambda: len(server.messages) == 2)
        await eventually(lambda: events.failures == 2)
        await server.acknowledge(server.messages[1])  # too late: not counted again
        await asyncio.sleep(0.1)
        assert events.failures == 2
    finally:
        await other.close()


async def test_flush_soon_publishes_without_a_flush(nc: NATS, stream: str) -> None:
    events = session(nc)
    events.later("c1", acknowledged=False, **received("SELECT 1"))
    events.later("c1", **executed(1))
    events.flush_soon(0.01)
    await eventually(lambda: len(events._queued) == 0)
    assert events._timed is None  # published in the timer's callback, without a Task
    await eventually(lambda: stored_count(nc, stream, 2))
    assert [codec.event_type(e) for e in await stored(nc, stream)] == [
        "command_received",
        "command_executed",
    ]
    assert events.failures == 0


async def stored_count(nc: NATS, stream: str, count: int) -> bool:
    return bool((await nc.jetstream().stream_info(stream)).state.messages == count)


async def test_flush_soon_waits_for_a_publisher_in_progress(nc: NATS, stream: str) -> None:
    events = session(nc)
    await events._lock.acquire()  # as if an emit were waiting for room
    events.later("c1", **executed(1))
    events.flush_soon(0.01)
    await asyncio.sleep(0.05)
    assert events._timed is not None and not events._timed.done()
    events._lock.release()
    await asyncio.wait_for(events._timed, 5)
    await eventually(lambda: stored_count(nc, stream, 1))


async def test_a_timed_flush_that_fails_is_logged(
    nats_server: EmbeddedNats, caplog: pytest.LogCaptureFixture
) -> None:
    conn = await nats.connect(nats_server.url)
    events = session(conn)
    await conn.close()
    events.later("c1", **executed(1))
    events.flush_soon(0.01)  # fails at once, in the timer's callback
    await eventually(lambda: "not published yet" in caplog.text)

    caplog.clear()
    await events._lock.acquire()
    events.later("c2", **executed(2))
    events.flush_soon(0.01)
    await eventually(lambda: events._timed is not None)
    events._lock.release()  # fails in the Task that waited for the lock
    await eventually(lambda: "not published yet" in caplog.text)
    assert events._timed is not None and events._timed.done()
    assert "ConnectionClosed" in caplog.text or "connection closed" in caplog.text.lower()
