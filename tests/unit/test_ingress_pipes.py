"""The proxy's socket plumbing: coroutines run at once until they wait (drive.py), and the
Protocol that hands a connection's bytes to them in order (pipes.py), over real sockets."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
import uvloop

from proctor_ingress.drive import start
from proctor_ingress.postgres.pipes import Pipe

# ---- drive.start -------------------------------------------------------------------------------


async def test_a_coroutine_that_never_waits_finishes_in_the_call() -> None:
    ran: list[str] = []

    async def quick() -> int:
        ran.append("ran")
        return 42

    assert start(quick()) == (True, 42)
    assert ran == ["ran"]


async def test_a_coroutine_that_waits_goes_on_in_a_task_from_where_it_stopped() -> None:
    steps: list[str] = []
    gate = asyncio.get_running_loop().create_future()

    async def waits() -> str:
        steps.append("before")
        value = await gate
        steps.append(f"after {value}")
        await asyncio.sleep(0)
        return "done"

    finished, task = start(waits(), "waiter")
    assert not finished and steps == ["before"]
    assert task.get_name() == "waiter"
    gate.set_result("v")
    assert await task == "done"
    assert steps == ["before", "after v"]


async def test_errors_reach_the_caller_or_the_task() -> None:
    async def fails_at_once() -> None:
        raise ValueError("at once")

    async def fails_later() -> None:
        await asyncio.sleep(0)
        raise ValueError("later")

    with pytest.raises(ValueError, match="at once"):
        start(fails_at_once())
    finished, task = start(fails_later())
    assert not finished
    with pytest.raises(ValueError, match="later"):
        await task


async def test_cancelling_the_task_cancels_the_coroutine_where_it_waits() -> None:
    cleaned: list[str] = []

    async def long() -> None:
        try:
            await asyncio.sleep(30)
        finally:
            cleaned.append("cleanup")

    _, task = start(long())
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert cleaned == ["cleanup"]


async def test_a_cancellation_the_coroutine_absorbs_lets_it_finish() -> None:
    async def absorbs() -> str:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            return "absorbed"
        return "slept"

    _, task = start(absorbs())
    await asyncio.sleep(0)
    task.cancel()
    assert await task == "absorbed"


# ---- Pipe --------------------------------------------------------------------------------------


class Ends:
    """A connected pair: `peer` writes into the server socket a Pipe then reads."""

    def __init__(self) -> None:
        self.accepted: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = (
            asyncio.Queue()
        )

    async def open(self) -> tuple[asyncio.StreamWriter, asyncio.StreamReader, asyncio.Transport]:
        async def accept(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            await self.accepted.put((r, w))

        self.server = await asyncio.start_server(accept, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        peer_reader, peer = await asyncio.open_connection("127.0.0.1", port)
        reader, writer = await self.accepted.get()
        self.reader = reader
        return peer, peer_reader, writer.transport  # type: ignore[return-value]


async def test_a_handler_sees_every_byte_in_order_and_waits_are_buffered() -> None:
    ends = Ends()
    peer, _, transport = await ends.open()
    seen = bytearray()
    release = asyncio.Event()
    ended: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    pipe = Pipe("client", "client closed", limit=1 << 20)

    async def handler() -> str | None:
        seen.extend(pipe.buffer)
        pipe.buffer.clear()
        if b"wait" in seen and not release.is_set():
            await release.wait()
        return "asked to end" if seen.endswith(b"end") else None

    pipe.attach(transport, handler, ended.set_result, b"left-over;")
    peer.write(b"one;")
    await peer.drain()
    while b"one;" not in seen:
        await asyncio.sleep(0.01)
    peer.write(b"wait;")
    await peer.drain()
    while pipe.task is None:
        await asyncio.sleep(0.01)
    peer.write(b"two;three;")  # arrives while the handler waits: kept for later
    await peer.drain()
    await asyncio.sleep(0.05)
    assert bytes(seen) == b"left-over;one;wait;"
    release.set()
    while not seen.endswith(b"three;"):
        await asyncio.sleep(0.01)
    peer.write(b"end")
    assert await asyncio.wait_for(ended, 5) == "asked to end"
    assert bytes(seen) == b"left-over;one;wait;two;three;end"
    peer.close()
    ends.server.close()


async def test_reading_stops_at_the_limit_while_the_handler_waits() -> None:
    ends = Ends()
    peer, _, transport = await ends.open()
    release = asyncio.Event()
    taken = 0
    pipe = Pipe("upstream", "target closed", limit=64 * 1024)

    async def handler() -> str | None:
        nonlocal taken
        taken += len(pipe.buffer)
        pipe.buffer.clear()
        await release.wait()
        return None

    pipe.attach(transport, handler, lambda why: None)
    peer.write(b"x")
    while pipe.task is None:
        await asyncio.sleep(0.01)
    peer.write(b"y" * (4 << 20))
    await asyncio.sleep(0.3)
    assert not transport.is_reading()
    assert len(pipe.buffer) < 4 << 20  # bounded: the rest waits in the sockets
    release.set()
    await asyncio.wait_for(peer.drain(), 10)
    while taken < 1 + (4 << 20):
        await asyncio.sleep(0.01)
    assert taken == 1 + (4 << 20)
    assert transport.is_reading()
    peer.close()
    ends.server.close()


async def test_the_peer_leaving_ends_with_the_closed_reason_after_what_it_sent() -> None:
    ends = Ends()
    peer, _, transport = await ends.open()
    seen = bytearray()
    ended: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    pipe = Pipe("client", "client closed", limit=1 << 20)

    async def handler() -> str | None:
        seen.extend(pipe.buffer)
        pipe.buffer.clear()
        await asyncio.sleep(0.05)  # still busy when the peer goes
        return None

    pipe.attach(transport, handler, ended.set_result)
    peer.write(b"last words")
    peer.close()
    ends.server.close()
    assert await asyncio.wait_for(ended, 5) == "client closed"
    assert bytes(seen) == b"last words"
    assert pipe.closed.done()
    with pytest.raises(ConnectionResetError):
        await pipe.drain()


async def test_a_stopped_pipe_handles_nothing_more() -> None:
    ends = Ends()
    peer, _, transport = await ends.open()
    calls = 0
    pipe = Pipe("upstream", "target closed", limit=1 << 20)

    async def handler() -> str | None:
        nonlocal calls
        calls += 1
        pipe.buffer.clear()
        return None

    pipe.attach(transport, handler, lambda why: None)
    peer.write(b"a")
    while calls == 0:
        await asyncio.sleep(0.01)
    pipe.stop()
    peer.write(b"b" * 1000)
    await peer.drain()
    await asyncio.sleep(0.1)
    assert calls == 1
    peer.close()
    ends.server.close()


async def test_drain_waits_while_the_peer_does_not_read() -> None:
    ends = Ends()
    peer, peer_reader, transport = await ends.open()
    pipe = Pipe("client", "client closed", limit=1 << 20)

    async def handler() -> str | None:
        return None

    pipe.attach(transport, handler, lambda why: None)
    transport.set_write_buffer_limits(high=64 * 1024)
    for _ in range(200):
        pipe.write(b"z" * 65536)
    drained = asyncio.ensure_future(pipe.drain())
    await asyncio.sleep(0.1)
    assert not drained.done()  # nobody reads: the transport's buffer stays full
    total = 0
    while total < 200 * 65536:
        total += len(await peer_reader.read(1 << 20))
    await asyncio.wait_for(drained, 5)
    peer.close()
    ends.server.close()


ON_UVLOOP: list[Callable[[], Awaitable[None]]] = [
    test_a_coroutine_that_never_waits_finishes_in_the_call,
    test_a_coroutine_that_waits_goes_on_in_a_task_from_where_it_stopped,
    test_errors_reach_the_caller_or_the_task,
    test_cancelling_the_task_cancels_the_coroutine_where_it_waits,
    test_a_cancellation_the_coroutine_absorbs_lets_it_finish,
    test_a_handler_sees_every_byte_in_order_and_waits_are_buffered,
    test_reading_stops_at_the_limit_while_the_handler_waits,
    test_the_peer_leaving_ends_with_the_closed_reason_after_what_it_sent,
    test_a_stopped_pipe_handles_nothing_more,
    test_drain_waits_while_the_peer_does_not_read,
]


@pytest.mark.parametrize("case", ON_UVLOOP, ids=[c.__name__[5:] for c in ON_UVLOOP])
def test_on_uvloop(case: Callable[[], Awaitable[None]]) -> None:
    """The same cases on uvloop, which the services run on."""

    async def run() -> None:
        await case()

    uvloop.run(run())
