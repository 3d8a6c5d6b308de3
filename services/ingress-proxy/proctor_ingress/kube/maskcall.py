"""The texts of a Kubernetes answer to the masker: `MaskTexts`, the function the object, log and
watch maskers are given, and `masker_over_nats`, the one the proxy gives them in production.

A call takes (hint, text) pairs, the hint being the name the text goes by (an env var, a
ConfigMap key, `message`, `log`); the masker reads a hint as a column name, so a `CITY` or an
`owner` is masked by what its name says. Texts the prefilter clears are not sent, unless their
hint says what they hold (`maskrules.column_hint`). The rest goes in requests shaped as a table
whose columns are hints (`table_rows`), split to stay under the NATS payload limit, at most
`MASK_IN_FLIGHT` at the masker at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from functools import lru_cache

from nats.aio.client import Client as NATS

from proctor.masker.v1 import masker_pb2 as mpb
from proctor.maskrules import MAYBE_PERSON, Prefilter, column_hint
from proctor.personnames import looks_like_person
from proctor_ingress.masking import (
    MaskStats,
    MaskUnavailable,
    add_counts,
    call_masker,
    learn_masker,
)

#: Masks (hint, text) pairs: the texts masked, in order. Raises MaskUnavailable when it cannot.
MaskTexts = Callable[[list[tuple[str, str]]], Awaitable[list[str]]]

#: What stands for a value the proxy replaces whole without asking the masker.
MASKED = "<masked by Proctor>"
#: What stands for a value no masker could see (too large for one message).
TOO_LARGE = "<withheld by Proctor: too large to mask>"
WITHHELD_ENTITY = "WITHHELD"

BATCH_BYTES = 512 * 1024  # text per request, under NATS's default 1 MiB max_payload
BATCH_VALUES = 512  # texts per request: a large list spreads over the masker's replicas
MASK_IN_FLIGHT = 4
_DEFAULT_MAX_PAYLOAD = 1024 * 1024
_ENVELOPE = 64 * 1024  # room for the protobuf around one large text

# The masker's cost of a request shape (measured on handle_bytes, 2026-12): each column ~9 µs
# beyond its values (its name is read for hints, its values looped over), each NULL that pads
# the table ~1.2 µs (proxy and masker together).
_COLUMN_COST = 9.0
_NULL_COST = 1.2

_hint = lru_cache(maxsize=4096)(column_hint)


def needs_masker(hint: str, text: str, prefilter: Prefilter) -> bool:
    """Whether the masker could change `text`: its hint names what it holds, or the prefilter
    (and, for a `name`-like hint, a person's look) says it could hold something."""
    if not text:
        return False
    said = _hint(hint)
    if said is not None and said != MAYBE_PERSON:
        return True
    return prefilter.could_contain(text) or (said == MAYBE_PERSON and looks_like_person(text))


def table_rows(counts: Sequence[int]) -> int:
    """How many rows the table of one request has, given how many texts each hint has: a hint
    with more texts than rows takes several columns of the same name, a hint with fewer pads
    its column with NULLs. Picks the cheapest under the measured costs: one column of many
    rows for a log, one row of many columns for a pod's env, in between for a mix."""
    if not counts:
        return 0
    top = max(counts)
    candidates = set(counts)
    r = 1
    while r < top:
        candidates.add(r)
        r *= 2
    total = sum(counts)

    def cost(rows: int) -> float:
        columns = sum(-(-c // rows) for c in counts)
        return columns * _COLUMN_COST + (columns * rows - total) * _NULL_COST

    return min(sorted(candidates), key=cost)


def build_request(
    pairs: Sequence[tuple[str, str]], indices: Sequence[int]
) -> tuple[mpb.MaskRequest, list[list[int]]]:
    """The request for `pairs[i]` for each i in `indices`, and where each cell's text came
    from (row by row, column by column; -1 for a NULL)."""
    by_hint: dict[str, list[int]] = {}
    for i in indices:
        by_hint.setdefault(pairs[i][0], []).append(i)
    rows = table_rows([len(v) for v in by_hint.values()])
    request = mpb.MaskRequest()
    columns: list[list[int]] = []
    for hint, members in by_hint.items():
        for start in range(0, len(members), rows):
            request.columns.add(name=hint, type_name="text")
            column = members[start : start + rows]
            columns.append(column + [-1] * (rows - len(column)))
    grid = [list(row) for row in zip(*columns, strict=True)]
    for row in grid:
        add = request.rows.add().values.add
        for i in row:
            if i < 0:
                add(null=True)
            else:
                add(text=pairs[i][1])
    return request, grid


def _batches(pairs: Sequence[tuple[str, str]], indices: Sequence[int]) -> list[list[int]]:
    batches: list[list[int]] = []
    current: list[int] = []
    size = 0
    for i in indices:
        n = len(pairs[i][1]) + len(pairs[i][0])
        if current and (size + n > BATCH_BYTES or len(current) >= BATCH_VALUES):
            batches.append(current)
            current, size = [], 0
        current.append(i)
        size += n
    if current:
        batches.append(current)
    return batches


def masker_over_nats(nc: NATS, timeout: float, prefilter: Prefilter, stats: MaskStats) -> MaskTexts:
    """The MaskTexts of production: the texts that need it go to the masker over NATS, and
    what it masked is added to `stats` (its `rows` counts the texts sent). A masker that reads
    all text (NER) switches `prefilter` to send everything. Raises MaskUnavailable when a
    request fails: nothing is returned then, so nothing unmasked goes out."""
    gate = asyncio.Semaphore(MASK_IN_FLIGHT)

    async def one(pairs: Sequence[tuple[str, str]], batch: list[int], out: list[str]) -> None:
        request, grid = build_request(pairs, batch)
        async with gate:
            response = await call_masker(nc, request, timeout)
        learn_masker(prefilter, response)
        for sent, answered in zip(grid, response.rows, strict=True):
            if len(answered.values) != len(sent):
                raise MaskUnavailable("the masker answered a row of another width")
            for i, value in zip(sent, answered.values, strict=True):
                if i >= 0:
                    if value.null:
                        raise MaskUnavailable("the masker answered NULL for a text")
                    out[i] = value.text
        add_counts(stats, response, len(batch))

    async def mask(pairs: list[tuple[str, str]]) -> list[str]:
        out = [text for _, text in pairs]
        limit = _max_text_bytes(nc)
        todo: list[int] = []
        for i, (hint, text) in enumerate(pairs):
            if not needs_masker(hint, text, prefilter):
                continue
            if len(text) * 4 > limit and len(text.encode()) > limit:
                out[i] = TOO_LARGE
                stats.values_masked += 1
                stats.counts[hint, WITHHELD_ENTITY] += 1
                continue
            todo.append(i)
        tasks = [asyncio.ensure_future(one(pairs, b, out)) for b in _batches(pairs, todo)]
        try:
            await asyncio.gather(*tasks)
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)  # nothing left unretrieved
            raise
        return out

    return mask


def _max_text_bytes(nc: NATS) -> int:
    payload = getattr(nc, "max_payload", 0) or _DEFAULT_MAX_PAYLOAD
    return max(int(payload) - _ENVELOPE, 1024)
