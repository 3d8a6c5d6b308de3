"""One socket of a session once it is set up: a Protocol with its own buffer, whose handler
runs in `data_received` itself and becomes a Task only when it has to wait (see drive.py).

While a handler waits (a verdict, the masker, a human, a slow reader on the other side), what
arrives is kept in order in the buffer, and reading stops once the buffer holds `limit` bytes;
the handler runs again when it is done. Writing the other way is paced by `drain`, which waits
only while the transport says its buffer is full.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from typing import Any

from proctor_ingress.drive import start

Handler = Callable[[], Coroutine[Any, Any, str | None]]


class Pipe(asyncio.Protocol):
    """Reads one connection for a handler that returns None to go on, or why to end."""

    def __init__(self, name: str, closed_reason: str, limit: int) -> None:
        self.name = name
        self.closed_reason = closed_reason
        self.limit = limit
        self.buffer = bytearray()  # received and not yet taken by the handler
        self.transport: asyncio.Transport | None = None
        self.task: asyncio.Task[str | None] | None = None  # the handler, while it waits
        self.lost = False
        self.stopped = False  # the session ends: nothing more is handled
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._handler: Handler | None = None
        self._on_end: Callable[[str], None] | None = None
        self._more = False  # data came while the handler waited
        self._reading_paused = False
        self._writing_paused = False
        self._drained: asyncio.Future[None] | None = None

    def attach(
        self,
        transport: asyncio.BaseTransport,
        handler: Handler,
        on_end: Callable[[str], None],
        leftover: bytes = b"",
        at_eof: bool = False,
    ) -> None:
        """Take over `transport` from whatever read it so far; `leftover` is what that read
        and did not consume, `at_eof` whether it saw the end of the stream."""
        self._handler = handler
        self._on_end = on_end
        self.transport = transport  # type: ignore[assignment]  # uvloop's are not subclasses
        transport.set_protocol(self)
        self.buffer += leftover
        if at_eof or transport.is_closing():
            self.lost = True
            self.closed.set_result(None)
        if self.buffer:
            self._run()
        elif self.lost:
            on_end(self.closed_reason)

    # ---- asyncio.Protocol ------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self.stopped:
            return
        self.buffer += data
        if self.task is None:
            self._run()
            return
        self._more = True
        if len(self.buffer) >= self.limit and not self._reading_paused:
            self._reading_paused = True
            assert self.transport is not None
            self.transport.pause_reading()

    def eof_received(self) -> bool | None:
        return None  # close the transport: connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if not self.closed.done():
            self.closed.set_result(None)
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)
        if self.task is None and self._on_end is not None:
            self._on_end(self.closed_reason)

    def pause_writing(self) -> None:
        self._writing_paused = True

    def resume_writing(self) -> None:
        self._writing_paused = False
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)

    # ---- for the session -------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        assert self.transport is not None
        self.transport.write(data)

    async def drain(self) -> None:
        """Wait while the transport's write buffer is full; ConnectionResetError once the
        connection is gone."""
        if self.lost:
            raise ConnectionResetError("Connection lost")
        if not self._writing_paused:
            return
        if self._drained is None or self._drained.done():
            self._drained = asyncio.get_running_loop().create_future()
        await self._drained
        if self.lost:
            raise ConnectionResetError("Connection lost")

    def stop(self) -> None:
        """The session ends: stop reading and handle nothing more."""
        self.stopped = True
        if self.transport is not None and not self.lost and not self._reading_paused:
            self._reading_paused = True
            with contextlib.suppress(RuntimeError):
                self.transport.pause_reading()

    def cancel(self) -> asyncio.Task[str | None] | None:
        """Stop a waiting handler; returns its task to await, if there was one."""
        self.stopped = True
        task = self.task
        if task is not None:
            task.cancel()
        return task

    # ---- running the handler ---------------------------------------------------------------

    def _run(self) -> None:
        assert self._handler is not None and self._on_end is not None
        if self.stopped:
            return
        self._more = False
        try:
            finished, result = start(self._handler(), self.name)
        except Exception as exc:
            self._on_end(f"{self.name} error: {exc}")
            return
        if not finished:
            self.task = result
            result.add_done_callback(self._done)
            return
        if result is not None:
            self._on_end(result)
        elif self.lost:
            self._on_end(self.closed_reason)

    def _done(self, task: asyncio.Task[str | None]) -> None:
        self.task = None
        assert self._on_end is not None
        if task.cancelled() or self.stopped:
            if not task.cancelled():
                task.exception()  # retrieved: the session is over either way
            return
        exc = task.exception()
        if exc is not None:
            self._on_end(f"{self.name} error: {exc}")
            return
        result = task.result()
        if result is not None:
            self._on_end(result)
            return
        if self._reading_paused and not self.lost:
            self._reading_paused = False
            assert self.transport is not None
            self.transport.resume_reading()
        if self._more:
            self._run()
        elif self.lost:
            self._on_end(self.closed_reason)


class _Discard(asyncio.Protocol):
    def data_received(self, data: bytes) -> None:
        pass  # what the client still sends after its refusal is dropped


def close_gently(transport: asyncio.BaseTransport, linger: float = 2.0) -> None:
    """Close a connection whose client may still be sending (e.g. the body of a message that
    was refused at its header): send what is written and an end-of-stream, read and drop what
    still comes for `linger` seconds, then close. Closing at once with unread input makes the
    kernel reset the connection, and the client would lose the error it was sent."""
    if transport.is_closing():
        return
    transport.set_protocol(_Discard())
    if isinstance(transport, asyncio.WriteTransport) and transport.can_write_eof():
        transport.write_eof()
    if isinstance(transport, asyncio.ReadTransport):
        with contextlib.suppress(RuntimeError):
            transport.resume_reading()
    asyncio.get_running_loop().call_later(linger, transport.close)
