"""Masking what the cluster streams: `LogMasker` (proctor_ingress.textmask) for `pods/log`
(`follow=true` too) and for the stdout and stderr of an exec, `WatchMasker` for the
newline-delimited WatchEvents of a watch.

Both are fed the body's chunks as they arrive and return, for each, the masked bytes of what it
completed; `finish` masks what is left at the end. Memory stays bounded: a log line longer than
`LINE_CAP` is cut and masked in pieces, and a watch event over `EVENT_CAP` ends the watch with
Unmaskable, never passing it unmasked. When masking fails (MaskUnavailable from the mask
function, Unmaskable) the exception propagates and the masker refuses any further use: the
proxy ends the stream, and nothing of it after what was already returned goes out.
"""

from __future__ import annotations

import json
from typing import Any

from proctor.errors import MaskUnavailable, Unmaskable
from proctor_ingress.kube.maskcall import MaskTexts
from proctor_ingress.kube.masking import mask_objects
from proctor_ingress.masking import MaskStats
from proctor_ingress.textmask import LINE_CAP, LogMasker

__all__ = ["EVENT_CAP", "LINE_CAP", "LogMasker", "WatchMasker"]

EVENT_CAP = 16 * 1024 * 1024  # bytes of one watch event


class WatchMasker:
    """A watch's body (one JSON WatchEvent a line; for a Table watch each object is a Table)
    masked event by event, the events completed by a chunk in one call to the masker.

    `kind` and `stats` are `mask_object`'s. An event over `event_cap` bytes, or a line that is
    not a JSON object, raises Unmaskable: the proxy ends the watch with that error."""

    def __init__(
        self,
        mask: MaskTexts,
        *,
        kind: str | None = None,
        stats: MaskStats | None = None,
        event_cap: int = EVENT_CAP,
    ) -> None:
        self.mask = mask
        self.kind = kind
        self.stats = stats
        self.event_cap = event_cap
        self._pending = bytearray()
        self._failed = False

    async def feed(self, chunk: bytes) -> bytes:
        """The masked events `chunk` completes, one JSON a line."""
        self._usable()
        last = chunk.rfind(b"\n")
        if last < 0:
            self._pending += chunk
            self._bounded(len(self._pending))
            return b""
        head = bytes(self._pending) + chunk[: last + 1]
        self._pending = bytearray(chunk[last + 1 :])
        self._bounded(len(self._pending))
        return await self._masked(head.split(b"\n")[:-1])

    async def finish(self) -> bytes:
        """The masked last event, when the body did not end with a newline."""
        self._usable()
        rest, self._pending = bytes(self._pending), bytearray()
        return await self._masked([rest])

    def _usable(self) -> None:
        if self._failed:
            raise MaskUnavailable("masking this watch failed earlier; it has ended")

    def _bounded(self, size: int) -> None:
        if size > self.event_cap:
            self._failed = True
            raise Unmaskable(
                f"a watch event is larger than {self.event_cap // (1024 * 1024)} MiB and cannot"
                " be masked; the watch was ended. Watch fewer objects (a namespace, a label"
                " selector) or read them with a paged list."
            )

    async def _masked(self, lines: list[bytes]) -> bytes:
        events: list[dict[str, Any]] = []
        try:
            for line in lines:
                if not line.strip():
                    continue
                self._bounded(len(line))
                try:
                    event = json.loads(line)
                except ValueError as exc:
                    raise Unmaskable(f"a watch event is not JSON: {exc}") from exc
                if not isinstance(event, dict):
                    raise Unmaskable("a watch event is not a JSON object")
                events.append(event)
            if not events:
                return b""
            await mask_objects(events, self.mask, kind=self.kind, stats=self.stats)
        except BaseException:
            self._failed = True
            raise
        return b"".join(
            json.dumps(e, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"
            for e in events
        )
