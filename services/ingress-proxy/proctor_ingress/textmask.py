"""Text streams masked line by line: a pod's log, the stdout and stderr of a `kubectl exec` or of
a shell command on a host. Shared by the protocol adapters (kube/, shell/).

`masker_over_nats` (kube/maskcall.py) is the mask function they are given in production."""

from __future__ import annotations

import re

from proctor.errors import MaskUnavailable
from proctor_ingress.kube.maskcall import MaskTexts, masker_over_nats

__all__ = ["LINE_CAP", "LogMasker", "MaskTexts", "masker_over_nats"]

LINE_CAP = 64 * 1024  # bytes of a log line masked as one unit
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

    With `pass_binary`, a unit that is not UTF-8 (binary output: a compressed file, an image)
    goes out as it is, unread by the masker, and is counted in `binary_units` and
    `binary_bytes` (the shell path records them); the text units around it are masked.
    """

    def __init__(
        self,
        mask: MaskTexts,
        *,
        hint: str = "log",
        line_cap: int = LINE_CAP,
        pass_binary: bool = False,
    ) -> None:
        if line_cap < 4:
            raise ValueError("line_cap must hold a UTF-8 character")
        self.mask = mask
        self.hint = hint
        self.line_cap = line_cap
        self.pass_binary = pass_binary
        self.binary_units = 0
        self.binary_bytes = 0
        self._pending = bytearray()
        self._failed = False

    async def feed(self, chunk: bytes) -> bytes:
        """The masked bytes of the units `chunk` completes."""
        self._usable()
        self._pending += chunk
        return await self._masked(self._units(final=False))

    @property
    def pending(self) -> int:
        """Bytes held for a unit not yet complete (a line without its newline, so far)."""
        return len(self._pending)

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
        asked: list[int] = []  # which units go to the masker (binary ones, passed, do not)
        raw: dict[int, bytes] = {}
        for i, (unit, end) in enumerate(units):
            try:
                text = unit.decode("utf-8", "strict" if self.pass_binary else "replace")
            except UnicodeDecodeError:
                raw[i] = unit + end
                self.binary_units += 1
                self.binary_bytes += len(unit)
                continue
            times = _LEADING_TIMES.match(text)
            cut = times.end() if times else 0
            heads.append(text[:cut])
            texts.append(text[cut:])
            asked.append(i)
        try:
            masked = await self.mask([(self.hint, t) for t in texts]) if texts else []
        except BaseException:
            self._failed = True
            raise
        if len(masked) != len(texts):
            self._failed = True
            raise MaskUnavailable("the mask function answered another number of texts")
        out = dict(raw)
        for i, head, text in zip(asked, heads, masked, strict=True):
            out[i] = (head + text).encode() + units[i][1]
        return b"".join(out[i] for i in range(len(units)))
