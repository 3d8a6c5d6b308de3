"""Verdicts for the proxy: an in-process cache in front of the classifier service.

A cached verdict is keyed by everything the classifier decides on (the text, the resource, the
identity's groups) and held only for the policy version it was given under: a PolicyChanged
announcement drops the whole cache. The text is the exact text, or its pglast fingerprint
(constants removed) when the classifier says no constant took part in the decision, so
`... WHERE aid = 1` and `... WHERE aid = 2` share one verdict but `WHERE 1=1` and `WHERE 1=2`
never do.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout
from pglast.parser import fingerprint

from proctor import subjects
from proctor.classifier.v1 import classifier_pb2 as cpb
from proctor.events.v1 import events_pb2 as pb

log = logging.getLogger("proctor.ingress.verdicts")

CLASSIFY_SUBJECT = subjects.CLASSIFY
POLICY_CHANGED_SUBJECT = subjects.POLICY_CHANGED
NO_RESPONDERS_RETRY = 0.05  # seconds between asks while no classifier is subscribed


class ClassifierUnavailable(Exception):
    """No verdict in time: the command must not run."""


class VerdictCache:
    """A bounded LRU of verdicts for one policy version."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.version = ""
        self._items: OrderedDict[tuple[str, str, tuple[str, ...]], cpb.ClassifyResponse] = (
            OrderedDict()
        )
        self.hits = 0
        self.misses = 0

    def get(self, key: tuple[str, str, tuple[str, ...]]) -> cpb.ClassifyResponse | None:
        verdict = self._items.get(key)
        if verdict is None:
            self.misses += 1
            return None
        self._items.move_to_end(key)
        self.hits += 1
        return verdict

    def put(self, key: tuple[str, str, tuple[str, ...]], verdict: cpb.ClassifyResponse) -> None:
        if self.size <= 0 or verdict.error:
            return
        if verdict.policy_version != self.version:
            # A verdict under another policy: start over for that version.
            self._items.clear()
            self.version = verdict.policy_version
        self._items[key] = verdict
        if len(self._items) > self.size:
            self._items.popitem(last=False)

    def policy_changed(self, version: str) -> None:
        if version != self.version:
            self._items.clear()
            self.version = version


class Verdicts:
    """Asks the classifier over NATS request/reply, through the cache."""

    def __init__(self, nc: NATS, cache: VerdictCache, timeout: float) -> None:
        self.nc = nc
        self.cache = cache
        self.timeout = timeout

    async def start(self) -> None:
        async def changed(msg: object) -> None:
            data = getattr(msg, "data", b"")
            try:
                version = cpb.PolicyChanged.FromString(data).policy_version
            except Exception:  # a malformed announcement still means "drop what you hold"
                version = "unknown"
            log.info("policy changed to %s; verdict cache dropped", version)
            self.cache.policy_changed(version)

        await self.nc.subscribe(POLICY_CHANGED_SUBJECT, cb=changed)

    async def classify(
        self,
        text: str,
        identity: pb.Identity,
        resource: pb.Resource,
        groups: tuple[str, ...] | None = None,
    ) -> tuple[cpb.ClassifyResponse, bool]:
        """The verdict and whether it came from the cache. `groups` is the identity's groups,
        sorted (a session passes them, computed once; else they are sorted here)."""
        if groups is None:
            groups = tuple(sorted(identity.groups))
        key = (text, resource.name, groups)
        cached = self.cache.get(key)
        if cached is not None:
            return cached, True
        try:
            shape: str | None = "fp:" + fingerprint(text)
        except Exception:  # unparseable: only the classifier may judge it
            shape = None
        if shape is not None:
            cached = self.cache.get((shape, resource.name, groups))
            if cached is not None:
                return cached, True
        request = cpb.ClassifyRequest(
            text=text, identity=identity, resource=resource, kind=cpb.COMMAND_KIND_SQL
        )
        try:
            reply = await self._request(request.SerializeToString())
            verdict = cpb.ClassifyResponse.FromString(reply.data)
        except NatsTimeout as exc:
            raise ClassifierUnavailable(f"no verdict within {self.timeout:g} s") from exc
        except (NatsError, ValueError) as exc:
            raise ClassifierUnavailable(str(exc) or type(exc).__name__) from exc
        if verdict.error:
            raise ClassifierUnavailable(verdict.error)
        self.cache.put(key, verdict)
        if shape is not None and verdict.fingerprint_safe:
            self.cache.put((shape, resource.name, groups), verdict)
        return verdict, False

    async def _request(self, data: bytes) -> Msg:
        """One request/reply within the timeout. With no classifier subscribed (one starting
        or restarting), wait for one within the same budget rather than refuse at once."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        while True:
            try:
                return await self.nc.request(
                    CLASSIFY_SUBJECT, data, timeout=max(deadline - loop.time(), 0.001)
                )
            except NoRespondersError as exc:
                if loop.time() + NO_RESPONDERS_RETRY >= deadline:
                    raise ClassifierUnavailable("no classifier is running") from exc
                await asyncio.sleep(NO_RESPONDERS_RETRY)
