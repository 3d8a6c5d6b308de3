"""The target's half of a Postgres session: what the target answers goes to the client, with
the DataRows of results that could hold sensitive text masked in batches (results.py), error
and notice texts masked, and Proctor's refusals put in place of the placeholder errors the
client half caused."""

from __future__ import annotations

import asyncio
import logging
import struct

from proctor import pgwire
from proctor.errors import MaskUnavailable, Unmaskable
from proctor.masker.v1 import masker_pb2 as mpb
from proctor_ingress.masking import MaskStats, add_counts, call_masker, learn_masker
from proctor_ingress.postgres.base import (
    MASKING_FAILED,
    REFUSED_MARKER,
    WITHHELD_FIELD,
    Masked,
    SessionState,
)
from proctor_ingress.postgres.results import (
    BATCH_BYTES,
    BATCH_ROWS,
    BATCH_VALUES,
    MASK_IN_FLIGHT,
    Result,
    message_candidates,
)
from proctor_ingress.postgres.tracking import Completed

log = logging.getLogger("proctor.ingress")

_HEADER = struct.Struct("!ci")


class TargetSide(SessionState):
    async def _upstream_data(self) -> str | None:
        """Forward what the target answers. DataRows of results with columns that could hold
        text are masked in batches (see masking.py): consecutive rows with a candidate value
        go to the masker together and come back rebuilt, in order; the batch is flushed at
        every other message and at the end of each read, so rows stream. Error and notice
        texts are masked too. When masking fails nothing unmasked is sent: the rest of the
        result is dropped and its end becomes an ErrorResponse (58000); everything else the
        target sends up to the ReadyForQuery (later results of a pipeline) is dropped too,
        since after an error the client expects nothing but the ReadyForQuery."""
        assert self.upstream_pipe is not None and self.client_pipe is not None
        pending = self.upstream_pipe.buffer  # grows at its end while this waits
        header = _HEADER
        if len(pending) < 5 or len(pending) < header.unpack_from(pending, 0)[1] + 1:
            return None
        out = self.out = []
        start = pos = 0
        end = len(pending)
        rows = 0
        while end - pos >= 5:
            kind, length = header.unpack_from(pending, pos)
            nxt = pos + 1 + length
            if nxt > end:
                break
            if kind == b"D" or (kind == b"d" and self.result is not None):
                rows += kind == b"D"
                result = self.result
                if result is None:
                    _, columns = self.descriptions.execution()
                    width = struct.unpack_from("!h", pending, pos + 5)[0]
                    result = self.result = (
                        Result.unknown(width) if columns is None else Result.describe(columns)
                    )
                dropping = self.withheld is not None or self.drop_until_ready
                if not dropping and not result.needs_masking:
                    pos = nxt
                    continue
                out.append(pending[start:pos])
                start = nxt
                if not dropping:
                    await self._row(result, bytes(pending[pos:nxt]))
                pos = nxt
                continue
            if kind not in b"TnCEZIsN12tHcA" and not self.drop_until_ready and not self.in_flight:
                pos = nxt  # forwarded as it is
                continue
            if self.batch or self.in_flight:
                out.append(pending[start:pos])
                start = pos
                await self._flush()
            if rows:
                self.tracker.add_rows(rows)
                rows = 0
            body = bytes(pending[pos + 5 : nxt])
            forward = await self._backend(kind, body)
            if forward is not None:
                out.append(pending[start:pos])
                if forward:
                    out.append(forward)
                start = nxt
            pos = nxt
        if rows:
            self.tracker.add_rows(rows)
        out.append(pending[start:pos])
        if self.batch or self.in_flight:
            await self._flush()
        del pending[:pos]
        self.client_pipe.write(b"".join(out))
        assert self.events is not None
        self.events.flush_soon()
        await self.client_pipe.drain()
        return None

    async def _backend(self, kind: bytes, body: bytes) -> bytes | None:
        """Account for one target message other than a DataRow; returns what to send in its
        place (b"" drops it), or None to forward it as it is."""
        if kind == b"A":
            return await self._mask_notification(body)
        if kind not in b"TnCEZIsN12tHc":
            return b""  # after a withheld result, until the ReadyForQuery
        if kind in b"Hc":
            if kind == b"H":  # CopyOutResponse: overall format 0 text, 1 binary
                if self.result is None:
                    self.descriptions.execution()  # a COPY run by an Execute
                self.result = Result.copy_out()
                if body[:1] != b"\0":
                    self.withheld = "a binary COPY cannot be masked; use the text or CSV format"
            return b"" if self.drop_until_ready or self.withheld is not None else None
        if kind in b"Tn12t":
            fields = pgwire.parse_row_description(body) if kind == b"T" else None
            types = pgwire.type_oids(body) if kind == b"t" else ()
            columns = self.descriptions.backend(kind, fields, types)
            if kind in b"Tn" and columns is not None:
                self.result = Result.describe(columns)
            return b"" if self.drop_until_ready or self.withheld is not None else None
        if kind in b"CIs" and self.result is None:
            self.descriptions.execution()  # an Execute that returned no rows
        replaced: bytes | None = None
        if self.withheld is not None and kind in b"CEIs":
            replaced = pgwire.error_response(
                "Proctor withheld this result: masking was unavailable, so no rows were sent",
                code=MASKING_FAILED,
                detail=self.withheld,
                hint="Retry when the masker is running; results with no text columns or no "
                "sensitive-looking values do not need it.",
            )
            self.withheld = None
            self.drop_until_ready = True
            body = replaced[5:]
            kind = b"E"
        elif self.drop_until_ready and kind != b"Z":
            replaced = b""
        elif kind in b"EN":
            refusal = self._replacement(body) if kind == b"E" and self.replacements else None
            if refusal is not None:
                replaced = refusal
            else:
                masked = await self._mask_message(kind, body)
                if masked is not None:
                    replaced, body = masked, masked[5:]
        if kind == b"Z":
            self.drop_until_ready = False
            self.withheld = None
        if kind in b"CEZIs":
            self.result = None  # the next Execute (even of a suspended portal) looks it up
            if kind in b"EZ":
                self.descriptions.backend(kind)
            for done in self.tracker.backend(kind, body):
                await self._executed(done)
        return replaced

    async def _row(self, result: Result, frame: bytes) -> None:
        """One DataRow of a result that may need masking: batched, or forwarded."""
        values = result.values(frame)
        try:
            texts = result.candidate(values, self.prefilter)
        except Unmaskable as exc:
            self.batch.clear()
            self.batch_bytes = self.batch_values = 0
            self.withheld = str(exc)
            return
        if not texts:
            if self.batch:
                self.batch.append((frame, [], []))
            else:
                self.out.append(frame)
            return
        self.batch.append((frame, values, texts))
        self.batch_bytes += len(frame)
        self.batch_values += len(texts) - texts.count(None)
        if (
            self.batch_values >= BATCH_VALUES
            or len(self.batch) >= BATCH_ROWS
            or self.batch_bytes >= BATCH_BYTES
        ):
            await self._send()

    async def _send(self) -> None:
        """Send the pending batch to the masker without waiting for its answer: its rows keep
        their place in `out`, and up to MASK_IN_FLIGHT batches of a result are masked at once
        (by as many masker replicas as there are)."""
        batch, self.batch = self.batch, []
        self.batch_bytes = self.batch_values = 0
        result = self.result
        if not batch or result is None:
            return
        while len(self.in_flight) >= MASK_IN_FLIGHT:
            await self._settle()
        if self.withheld is not None:  # an earlier batch failed: these rows go nowhere
            return
        task = asyncio.ensure_future(self._masked(result, batch))
        self.in_flight.append((len(self.out), task))
        self.out.append(b"")

    async def _masked(
        self, result: Result, batch: list[tuple[bytes, list[bytes | None], list[str | None]]]
    ) -> Masked:
        """The batch's frames, its candidate rows rebuilt as the masker answers them."""
        candidates = [(i, values, texts) for i, (_, values, texts) in enumerate(batch) if texts]
        frames = [frame for frame, _, _ in batch]
        response = await call_masker(
            self.gw.nc,
            result.request([texts for _, _, texts in candidates]),
            self.gw.settings.mask_timeout,
        )
        for (i, values, texts), row in zip(candidates, response.rows, strict=True):
            rebuilt = result.rebuild(values, texts, row)
            if rebuilt is not None:
                frames[i] = result.frame(rebuilt)
        return frames, response, len(candidates)

    async def _settle(self) -> None:
        """Wait for the oldest batch at the masker and put its rows in their place; when it
        failed, nothing of the result from there on is sent (the later batches are dropped)."""
        index, task = self.in_flight.popleft()
        try:
            frames, response, candidates = await task
        except (MaskUnavailable, Unmaskable) as exc:
            log.warning("session %s: rows withheld: %s", self.session_id, exc)
            self.withheld = str(exc)
            del self.out[index:]
            self._abandon_batches()
            return
        self._count(response, candidates)
        self.out[index] = b"".join(frames)

    async def _flush(self) -> None:
        """Send the pending batch and wait until every batch at the masker is back in `out`."""
        await self._send()
        while self.in_flight:
            await self._settle()

    def _abandon_batches(self) -> None:
        """Forget the batches at the masker (the result failed, or the session ended)."""
        for _, task in self.in_flight:
            if not task.done():
                task.cancel()
            elif not task.cancelled():
                task.exception()  # retrieved: nothing will use it
        self.in_flight.clear()

    def _count(self, response: mpb.MaskResponse, rows: int) -> None:
        learn_masker(self.gw.prefilter, response)
        command = self.tracker.current()
        if command is not None:
            add_counts(self.mask_stats.setdefault(command.command_id, MaskStats()), response, rows)

    async def _mask_texts(self, what: str, texts: list[str]) -> list[str]:
        """Loose texts the target sent (message fields, a notification payload) masked as
        one text column; each is withheld when the masker does not answer."""
        request = mpb.MaskRequest(
            columns=[mpb.Column(name=what, type_name="text")],
            rows=[mpb.Row(values=[mpb.Value(text=t)]) for t in texts],
        )
        try:
            response = await call_masker(self.gw.nc, request, self.gw.settings.mask_timeout)
        except MaskUnavailable as exc:
            log.warning("session %s: %s withheld: %s", self.session_id, what, exc)
            return [WITHHELD_FIELD] * len(texts)
        self._count(response, 0)
        return [row.values[0].text if row.values else WITHHELD_FIELD for row in response.rows]

    async def _mask_message(self, kind: bytes, body: bytes) -> bytes | None:
        """An ErrorResponse or NoticeResponse of the target with its texts masked (the detail
        of a unique violation repeats the value), or None when nothing could need it."""
        fields = pgwire.error_fields(body)
        codes = message_candidates(fields, self.prefilter)
        if not codes:
            return None
        masked = await self._mask_texts("message", [fields[c] for c in codes])
        fields.update(zip(codes, masked, strict=True))
        return pgwire.fields_message(kind, fields)

    async def _mask_notification(self, body: bytes) -> bytes | None:
        """A NotificationResponse (LISTEN/NOTIFY) with its payload masked, or None when it
        cannot hold anything sensitive."""
        pid, channel, payload = pgwire.parse_notification(body)
        if not self.prefilter.could_contain(payload):
            return None
        (masked,) = await self._mask_texts("notification", [payload])
        return pgwire.notification(pid, channel, masked)

    def _replacement(self, body: bytes) -> bytes | None:
        message = pgwire.error_fields(body).get("M", "")
        at = message.find(REFUSED_MARKER)
        if at < 0:
            return None
        token = message[at + len(REFUSED_MARKER) : at + len(REFUSED_MARKER) + 16]
        return self.replacements.pop(token, None)

    async def _executed(self, done: Completed) -> None:
        assert self.life is not None
        if not done.error_code:
            self.statements.simple_query(done.command.text, done.command)
        if done.command.changes_catalog:
            # What was looked up before it ran may be stale now (and again at its COMMIT,
            # which the TTL bounds).
            self.gw.verdicts.catalog_changed(self.resource.name)
        # Published once the result is on its way to the client (see _upstream_data).
        self.life.executed(
            done.command.command_id,
            done.rows,
            done.duration_us,
            done.error_code,
            done.error_message,
            self.mask_stats.pop(done.command.command_id, None),
        )
