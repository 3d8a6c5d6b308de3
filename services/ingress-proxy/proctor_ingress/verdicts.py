"""Verdicts for the proxy: an in-process cache in front of the classifier service.

A cached verdict is keyed by everything the classifier decides on (the command, the resource,
the identity's groups) and held only for the policy version it was given under: a PolicyChanged
announcement drops the whole cache. The command is its exact text (SQL) or typed detail, or its
shape (proctor.cachekeys) when the classifier gave the verdict a `cache_key`: the verdict then
holds for every command of that shape.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout

from proctor import subjects
from proctor.cachekeys import shape as shape_of
from proctor.classifier.v1 import classifier_pb2 as cpb
from proctor.errors import ClassifierUnavailable
from proctor.events.v1 import events_pb2 as pb
from proctor_ingress.catalog import Catalogs

log = logging.getLogger("proctor.ingress.verdicts")

CLASSIFY_SUBJECT = subjects.CLASSIFY
POLICY_CHANGED_SUBJECT = subjects.POLICY_CHANGED
NO_RESPONDERS_RETRY = 0.05  # seconds between asks while no classifier is subscribed
# Asks with looked-up facts: views and function bodies name more functions and views in turn.
LOOKUP_ROUNDS = 6


# (the command, where it runs, the identity's sorted groups)
Key = tuple[str | bytes, str, tuple[str, ...]]


class VerdictCache:
    """A bounded LRU of verdicts for one policy version."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.version = ""
        self._items: OrderedDict[Key, cpb.ClassifyResponse] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, key: Key) -> cpb.ClassifyResponse | None:
        verdict = self._items.get(key)
        if verdict is None:
            self.misses += 1
            return None
        self._items.move_to_end(key)
        self.hits += 1
        return verdict

    def put(self, key: Key, verdict: cpb.ClassifyResponse) -> None:
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
    """Asks the classifier over NATS request/reply, through the cache; answers what the
    classifier needs to know of the target's catalog from `catalogs`."""

    def __init__(
        self, nc: NATS, cache: VerdictCache, timeout: float, catalogs: Catalogs | None = None
    ) -> None:
        self.nc = nc
        self.cache = cache
        self.timeout = timeout
        self.catalogs = catalogs

    async def start(self) -> None:
        async def changed(msg: object) -> None:
            data = getattr(msg, "data", b"")
            try:
                version = cpb.PolicyChanged.FromString(data).policy_version
            except Exception:  # a malformed announcement still means "drop what you hold"
                version = "unknown"
            log.info("policy changed to %s; verdict cache and catalog facts dropped", version)
            self.cache.policy_changed(version)
            if self.catalogs is not None:
                self.catalogs.invalidate_all()

        await self.nc.subscribe(POLICY_CHANGED_SUBJECT, cb=changed)

    async def classify(
        self,
        text: str,
        identity: pb.Identity,
        resource: pb.Resource,
        groups: tuple[str, ...] | None = None,
        values: Callable[[], list[str]] | None = None,
        *,
        kind: cpb.CommandKind = cpb.COMMAND_KIND_SQL,
        detail: pb.CommandDetail | None = None,
    ) -> tuple[cpb.ClassifyResponse, bool]:
        """The verdict and whether it came from the cache. `groups` is the identity's groups,
        sorted (a session passes them, computed once; else they are sorted here). `values`
        gives the execution's parameter values when it is known (None at a Parse): a write
        under review is then estimated by the planner. For any kind but SQL, `detail` is the
        command and `text` only its display."""
        if groups is None:
            groups = tuple(sorted(identity.groups))
        sql = kind == cpb.COMMAND_KIND_SQL
        where = resource.name if self.catalogs is None else self.catalogs.cache_key(resource.name)
        exact: str | bytes = (
            text
            if sql or detail is None
            else kind.to_bytes(2, "big") + detail.SerializeToString(deterministic=True)
        )
        key = (exact, where, groups)
        cached = self.cache.get(key)
        if cached is not None:
            return cached, True
        shape = shape_of(kind, text, detail)
        if shape is not None:
            cached = self.cache.get((shape, where, groups))
            if cached is not None:
                return cached, True
        request = cpb.ClassifyRequest(
            text=text, identity=identity, resource=resource, kind=kind, detail=detail
        )
        verdict = await self._ask(request)
        for _ in range(LOOKUP_ROUNDS):
            needs = verdict.needs
            if not sql or self.catalogs is None or not (needs.functions or needs.relations or (
                needs.estimate and values is not None
            )):  # fmt: skip
                break
            await self._look_up(request, needs, values)
            verdict = await self._ask(request)
        needs = verdict.needs
        if needs.functions or needs.relations or needs.estimate or request.catalog.HasField(
            "estimated_rows"
        ) or request.catalog.estimate_error:  # fmt: skip
            return verdict, False  # provisional, or bound to this statement's values
        self.cache.put(key, verdict)
        if verdict.cache_key and verdict.cache_key == shape:
            self.cache.put((shape, where, groups), verdict)
        return verdict, False

    def catalog_changed(self, resource: str) -> None:
        """A statement that changes `resource`'s catalog is about to run or ran."""
        if self.catalogs is not None:
            self.catalogs.invalidate(resource)

    async def _look_up(
        self,
        request: cpb.ClassifyRequest,
        needs: cpb.CatalogNeeds,
        values: Callable[[], list[str]] | None,
    ) -> None:
        """Add to the request what the classifier said it needs of the target's catalog."""
        assert self.catalogs is not None
        resource = request.resource.name
        facts = request.catalog
        if needs.functions:
            facts.functions.extend(await self.catalogs.functions(resource, needs.functions))
        if needs.relations:
            facts.relations.extend(await self.catalogs.relations(resource, needs.relations))
        if needs.estimate and values is not None and not needs.functions and not needs.relations:
            try:
                facts.estimated_rows = await self.catalogs.estimate(
                    resource, request.text, values()
                )
            except Exception as exc:
                facts.estimate_error = (str(exc).strip() or type(exc).__name__).splitlines()[0]

    async def _ask(self, request: cpb.ClassifyRequest) -> cpb.ClassifyResponse:
        try:
            reply = await self._request(request.SerializeToString())
            verdict = cpb.ClassifyResponse.FromString(reply.data)
        except NatsTimeout as exc:
            raise ClassifierUnavailable(f"no verdict within {self.timeout:g} s") from exc
        except (NatsError, ValueError) as exc:
            raise ClassifierUnavailable(str(exc) or type(exc).__name__) from exc
        if verdict.error:
            raise ClassifierUnavailable(verdict.error)
        return verdict

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
