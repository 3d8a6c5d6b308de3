"""The ingress's view of each target's catalog, for the classifier: facts looked up on a side
connection (read-only, short timeouts), one query per miss, and cached per target.

What is cached is forgotten as a whole (a new `generation`, which verdict cache keys carry) when
a statement that changes the catalog ran through the gateway, on a policy change, and at the
latest `ttl` seconds after the generation began, so a function redefined outside the gateway is
judged anew within `ttl`. A failed lookup is never cached: its names come back with an error,
which the classifier treats as unresolved (review).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from proctor.catalogfacts import estimate_rows, lookup_functions, lookup_relations
from proctor.classifier.v1 import classifier_pb2 as cpb

log = logging.getLogger("proctor.ingress.catalog")

LOOKUP_TIMEOUT = 5.0
# The side connection can only read, and never waits long on a lock or a slow plan.
SIDE_SETTINGS = {
    "application_name": "proctor-catalog",
    "default_transaction_read_only": "on",
    "statement_timeout": "5s",
    "lock_timeout": "2s",
    "standard_conforming_strings": "on",
}


@dataclass
class _Target:
    url: str
    generation: int = 0
    began: float = 0.0
    key: str = ""
    functions: dict[str, cpb.FunctionFacts] = field(default_factory=dict)
    relations: dict[str, cpb.RelationFacts] = field(default_factory=dict)
    pool: Any = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class Catalogs:
    """Catalog facts of every configured target, by resource name."""

    def __init__(
        self, urls: dict[str, str], ttl: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl = ttl
        self.clock = clock
        self._targets = {name: _Target(url) for name, url in urls.items()}
        for name in self._targets:
            self.invalidate(name)
        self.lookups = 0  # queries sent to targets (misses)

    def cache_key(self, resource: str) -> str:
        """The resource as verdict cache keys name it: with the generation of its facts."""
        target = self._targets.get(resource)
        if target is None:
            return resource
        if self.clock() - target.began > self.ttl:
            self.invalidate(resource)
        return target.key

    def invalidate(self, resource: str) -> None:
        target = self._targets.get(resource)
        if target is None:
            return
        target.generation += 1
        target.began = self.clock()
        target.key = f"{resource}\0{target.generation}"
        target.functions.clear()
        target.relations.clear()

    def invalidate_all(self) -> None:
        for name in self._targets:
            self.invalidate(name)

    async def functions(self, resource: str, names: Iterable[str]) -> list[cpb.FunctionFacts]:
        return await self._facts(resource, list(names), "functions", lookup_functions)

    async def relations(self, resource: str, names: Iterable[str]) -> list[cpb.RelationFacts]:
        return await self._facts(resource, list(names), "relations", lookup_relations)

    async def _facts(self, resource: str, names: list[str], kind: str, lookup: Any) -> list[Any]:
        target = self._targets.get(resource)
        error_type = cpb.FunctionFacts if kind == "functions" else cpb.RelationFacts
        if target is None:
            return [error_type(name=n, error="no such resource") for n in names]
        self.cache_key(resource)  # expire first
        cache: dict[str, Any] = getattr(target, kind)
        generation = target.generation
        missing = [n for n in names if n not in cache]
        if missing:
            try:
                found = await self._run(target, lambda conn: lookup(conn, missing))
            except Exception as exc:
                why = _why(exc)
                log.warning("catalog lookup of %s on %s failed: %s", kind, resource, why)
                return [cache.get(n) or error_type(name=n, error=why) for n in names]
            if target.generation == generation:  # not invalidated while it ran
                for fact in found:
                    cache[fact.name] = fact
            fresh = {f.name: f for f in found}
            return [cache.get(n) or fresh[n] for n in names]
        return [cache[n] for n in names]

    async def estimate(self, resource: str, text: str, values: list[str] | None) -> int:
        """The planner's row estimate of `text` (run with `values` for its $1, $2, ...)."""
        target = self._targets[resource]
        if not values:
            return int(await self._run(target, lambda conn: estimate_rows(conn, text)))

        async def prepared(conn: Any) -> int:
            await conn.execute(f"PREPARE proctor_estimate AS {text}")
            try:
                literals = ", ".join(_literal(v) for v in values)
                try:
                    return await estimate_rows(conn, f"EXECUTE proctor_estimate({literals})")
                except asyncpg.DataError:
                    # A value as shown cannot be read back (binary, of a type the proxy
                    # does not decode): the generic plan, which no value takes part in.
                    await conn.execute("SET plan_cache_mode = force_generic_plan")
                    nulls = ", ".join("NULL" for _ in values)
                    try:
                        return await estimate_rows(conn, f"EXECUTE proctor_estimate({nulls})")
                    finally:
                        await conn.execute("RESET plan_cache_mode")
            finally:
                await conn.execute("DEALLOCATE proctor_estimate")

        return int(await self._run(target, prepared))

    async def _run(self, target: _Target, work: Callable[[Any], Any]) -> Any:
        self.lookups += 1
        async with target.lock:
            if target.pool is None:
                target.pool = await asyncpg.create_pool(
                    target.url,
                    min_size=0,
                    max_size=2,
                    timeout=LOOKUP_TIMEOUT,
                    command_timeout=LOOKUP_TIMEOUT,
                    server_settings=SIDE_SETTINGS,
                    statement_cache_size=0,
                )
        async with target.pool.acquire(timeout=LOOKUP_TIMEOUT) as conn:
            return await asyncio.wait_for(work(conn), LOOKUP_TIMEOUT)

    async def close(self) -> None:
        for target in self._targets.values():
            if target.pool is not None:
                await target.pool.close()


def _literal(value: str) -> str:
    if value == "NULL":  # how pgwire.parameter_values shows a null
        return "NULL"
    return "'" + value.replace("'", "''") + "'"


def _why(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:200]
