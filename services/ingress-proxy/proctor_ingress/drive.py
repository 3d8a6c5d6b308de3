"""Running a coroutine at once, in the caller's callback, for as long as it need not wait.

The proxy's work on a chunk of bytes is written as coroutines, because some of it waits (a
verdict the cache lacks, the masker, a human). Most chunks wait for nothing: a cached verdict,
a result with nothing to mask. `start` runs the coroutine right there, in the protocol's
`data_received`, and only when it first really waits does a Task take over from that point.
That saves the event-loop round trips (a future, a wake-up, a task step) a stream reader pays
for every read.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Generator
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class _Resume(Generic[T]):
    """The rest of a coroutine that stopped at `waiting`, as an awaitable a Task can run."""

    def __init__(self, coro: Coroutine[Any, Any, T], waiting: Any) -> None:
        self.coro = coro
        self.waiting = waiting

    def __await__(self) -> Generator[Any, Any, T]:
        coro, waiting = self.coro, self.waiting
        while True:
            try:
                value = yield waiting  # the Task waits on the future the coroutine waits on
            except BaseException as exc:  # a cancellation reaches the coroutine itself
                try:
                    waiting = coro.throw(exc)
                except StopIteration as stop:
                    return stop.value  # type: ignore[no-any-return]
                continue
            try:
                waiting = coro.send(value)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]


async def _finish(coro: Coroutine[Any, Any, T], waiting: Any) -> T:
    return await _Resume(coro, waiting)


def start(coro: Coroutine[Any, Any, T], name: str | None = None) -> tuple[bool, Any]:
    """Run `coro` until it finishes or first waits.

    Returns (True, its result) when it finished, or (False, a Task running the rest) when it
    waits. An exception it raises before waiting propagates to the caller.
    """
    try:
        waiting = coro.send(None)
    except StopIteration as stop:
        return True, stop.value
    task = asyncio.ensure_future(_finish(coro, waiting))
    if name:
        task.set_name(name)
    return False, task
