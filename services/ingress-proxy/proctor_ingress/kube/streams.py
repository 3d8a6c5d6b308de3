"""Masking what the cluster streams: `LogMasker` for `pods/log` (`follow=true` too) and for the
stdout and stderr of an exec, `WatchMasker` for the newline-delimited WatchEvents of a watch.

Both are fed the body's chunks as they arrive and return, for each, the masked bytes of what it
completed; `finish` masks what is left at the end. Memory stays bounded: a log line longer than
`LINE_CAP` is cut and masked in pieces, and a watch event over `EVENT_CAP` ends the watch with
Unmaskable, never passing it unmasked. When masking fails (MaskUnavailable from the mask
function, Unmaskable) the exception propagates and the masker refuses any further use: the
proxy ends the stream, and nothing of it after what was already returned goes out.
"""

from __future__ import annotations

import json
import re
from typing import Any

from proctor.errors import MaskUnavailable, Unmaskable
from proctor_ingress.kube.maskcall import MaskTexts
from proctor_ingress.kube.masking import mask_objects
from proctor_ingress.masking import MaskStats

LINE_CAP = 64 * 1024  # bytes of a log line masked as one unit
EVENT_CAP = 16 * 1024 * 1024  # bytes of one watch event
# Timestamps that start a line: the kubelet's (`logs --timestamps`), then the application's
# (`2026-12-01 10:00:00,123`, `[2026-12-01T10:00:00Z]`). A time of day is no one's data, and
# its digits cost the masker more than the rest of a short line (a phone number's look).
_LEADING_TIMES = re.compile(
    r"(?:\[?\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d{1,9})?(?:Z|[+-]\d\d:?\d\d)?\]?[ \t]+){1,2}"
)


def _cut_point(buf: bytearray, at: int) -> int:
    """`at`, moved back to the start of a UTF-8 character (at most three bytes back)."""
    cut = at
    while cut > at - 3 and buf[cut] & 0xC0 == 0x80:
        cut -= 1
    return cut if buf[cut] & 0xC0 != 0x80 else at


class LogMasker:
    """A log (or one stream of an exec) masked line by line.

    A unit is a line (to its newline), or, when no newline comes within `line_cap` bytes, the
    first `line_cap` bytes (to a character boundary): the same units whatever the chunking, so
    the output does not depend on how the bytes arrived. The units completed by a chunk are
    masked in one call, so `logs -f` stays live. Bytes that are not UTF-8 are replaced (U+FFFD):
    what goes out is what the masker read. A secret cut in two by `line_cap` is seen in halves.
    Leading timestamps (`_LEADING_TIMES`) are kept as they are and not sent.
    """

    def __init__(self, mask: MaskTexts, *, hint: str = "log", line_cap: int = LINE_CAP) -> None:
        if line_cap < 4:
            raise ValueError("line_cap must hold a UTF-8 character")
        self.mask = mask
        self.hint = hint
        self.line_cap = line_cap
        self._pending = bytearray()
        self._failed = False

    async def feed(self, chunk: bytes) -> bytes:
        """The masked bytes of the units `chunk` completes."""
        self._usable()
        self._pending += chunk
        return await self._masked(self._units(final=False))

    async def finish(self) -> bytes:
        """The masked bytes of what is left (a last line without its newline)."""
        self._usable()
        return await self._masked(self._units(final=True))

    def _usable(self) -> None:
        if self._failed:
            raise MaskUnavailable("masking this stream failed earlier; it has ended")

    def _units(self, *, final: bool) -> list[tuple[bytes, bytes]]:
        """(text, terminator) of each complete unit, taken from the pending bytes."""
        buf, cap = self._pending, self.line_cap
        units: list[tuple[bytes, bytes]] = []
        pos, end = 0, len(buf)
        while pos < end:
            newline = buf.find(b"\n", pos, pos + cap + 1)
            if newline >= 0:
                units.append((bytes(buf[pos:newline]), b"\n"))
                pos = newline + 1
            elif end - pos > cap:
                cut = _cut_point(buf, pos + cap)
                units.append((bytes(buf[pos:cut]), b""))
                pos = cut
            else:
                break
        if final and pos < end:
            units.append((bytes(buf[pos:end]), b""))
            pos = end
        del buf[:pos]
        return units

    async def _masked(self, units: list[tuple[bytes, bytes]]) -> bytes:
        if not units:
            return b""
        heads: list[str] = []
        texts: list[str] = []
        for raw, _ in units:
            text = raw.decode("utf-8", "replace")
            times = _LEADING_TIMES.match(text)
            cut = times.end() if times else 0
            heads.append(text[:cut])
            texts.append(text[cut:])
        try:
            masked = await self.mask([(self.hint, t) for t in texts])
        except BaseException:
            self._failed = True
            raise
        if len(masked) != len(units):
            self._failed = True
            raise MaskUnavailable("the mask function answered another number of texts")
        return b"".join(
            [
                (head + text).encode() + end
                for head, text, (_, end) in zip(heads, masked, units, strict=True)
            ]
        )


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
