"""Asking the masker service for masked values, for every protocol: the NATS call, the
counts of what it masked (for ResultMasked events), and learning whether it looks at all text.
What to send and how to put the answers back is each protocol's (postgres/results.py for rows,
kube/masking.py for Kubernetes objects, logs and exec output)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from dataclasses import dataclass, field

from nats.aio.client import Client as NATS
from nats.errors import NoRespondersError

from proctor import subjects
from proctor.errors import MaskUnavailable
from proctor.masker.v1 import masker_pb2 as mpb
from proctor.maskrules import Prefilter

__all__ = [
    "MaskStats",
    "MaskUnavailable",
    "add_counts",
    "call_masker",
    "learn_masker",
    "probe_masker",
]

log = logging.getLogger("proctor.ingress")

MASK_SUBJECT = subjects.MASK
NO_RESPONDERS_RETRY = 0.05  # seconds between asks while no masker is subscribed


@dataclass(slots=True)
class MaskStats:
    """What masking did to one command's results, for its ResultMasked event."""

    rows: int = 0
    values_masked: int = 0
    counts: Counter[tuple[str, str]] = field(default_factory=Counter)


async def call_masker(nc: NATS, request: mpb.MaskRequest, timeout: float) -> mpb.MaskResponse:
    """The masked rows within `timeout`; MaskUnavailable otherwise. While no masker is
    subscribed (one starting or restarting), it waits for one within the same budget."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    data = request.SerializeToString()
    while True:
        try:
            reply = await nc.request(MASK_SUBJECT, data, timeout=max(deadline - loop.time(), 0.001))
            response = mpb.MaskResponse.FromString(reply.data)
            break
        except NoRespondersError as exc:
            if loop.time() + NO_RESPONDERS_RETRY >= deadline:
                raise MaskUnavailable("no masker is running") from exc
            await asyncio.sleep(NO_RESPONDERS_RETRY)
        except Exception as exc:
            raise MaskUnavailable(f"{type(exc).__name__}: {exc}".rstrip(": ")) from exc
    if response.error:
        raise MaskUnavailable(response.error)
    if len(response.rows) != len(request.rows):
        raise MaskUnavailable("the masker answered a different number of rows")
    return response


def learn_masker(prefilter: Prefilter, response: mpb.MaskResponse) -> None:
    """A masker that looks at all text (a NER model finds names anywhere) must be sent every
    text value: switch the shared prefilter to let everything through, for good."""
    if response.analyses_all_text and not prefilter.everything:
        prefilter.everything = True
        log.warning("the masker analyses all text (names): every text value now goes to it")


async def probe_masker(nc: NATS, prefilter: Prefilter, stop: asyncio.Event) -> None:
    """Ask a masker, until one answers, whether it analyses all text."""
    while not stop.is_set():
        try:
            learn_masker(prefilter, await call_masker(nc, mpb.MaskRequest(), timeout=2.0))
            return
        except MaskUnavailable:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 2.0)


def add_counts(stats: MaskStats, response: mpb.MaskResponse, rows: int) -> None:
    stats.rows += rows
    stats.values_masked += response.values_masked
    for c in response.counts:
        stats.counts[c.column, c.entity_type] += c.count
