"""The double's storage: objects by (group, resource, namespace, name) with the bookkeeping the
API server does on every write (uid, creationTimestamp, resourceVersion, generation), a bounded
history of changes for watches that resume from a resourceVersion, the watchers themselves, and
each container's log.

Objects are stored once per group and resource, whichever version they were written through,
as the API server does; the version is the object's `apiVersion`. All methods run on the event
loop's thread and do not await, so one call is one atomic step.
"""

from __future__ import annotations

import asyncio
import copy
import secrets
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from proctor.kubedouble.errors import ApiError, already_exists, conflict, not_found
from proctor.kubedouble.resources import CRD, Catalogue, ResourceType
from proctor.kubedouble.selectors import Selector

HISTORY = 4096  # changes kept for watches that resume from an older resourceVersion
NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # the API server's generateName alphabet

Obj = dict[str, Any]


def timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def random_suffix(length: int = 5) -> str:
    return "".join(secrets.choice(NAME_ALPHABET) for _ in range(length))


@dataclass(frozen=True, slots=True)
class Change:
    """One committed write, as a watch event reports it."""

    type: str  # ADDED, MODIFIED, DELETED
    resource_version: int
    group: str
    plural: str
    namespace: str
    object: Obj  # a snapshot; never changed afterwards


@dataclass(eq=False)
class Watcher:
    """A watch on one resource (in one namespace, or all when `namespace` is None)."""

    group: str
    plural: str
    namespace: str | None
    queue: asyncio.Queue[Change | None] = field(default_factory=asyncio.Queue)

    def wants(self, change: Change) -> bool:
        return (change.group, change.plural) == (self.group, self.plural) and (
            self.namespace is None or self.namespace == change.namespace
        )


@dataclass(frozen=True, slots=True)
class PodBehaviour:
    """How the pods of one deployment behave in the double: whether they crash in a loop, the
    lines each container logged before, and the line it makes up next while followed."""

    crashloop: bool = False
    restarts: int = 0
    boot_log: tuple[str, ...] = ()
    ticker: Callable[[int], str] | None = None


@dataclass(eq=False)
class PodLog:
    """A container's log: its lines so far, the queues of those following it, and optionally a
    `ticker` that makes up the next line while someone follows (a crashlooping demo pod)."""

    lines: list[str] = field(default_factory=list)
    followers: set[asyncio.Queue[str | None]] = field(default_factory=set)
    ticker: Callable[[int], str] | None = None
    interval: float = 0.5
    ticks: int = 0
    ticking: asyncio.Task[None] | None = None

    def append(self, line: str) -> None:
        self.lines.append(line)
        for queue in self.followers:
            queue.put_nowait(line)

    def end(self) -> None:
        for queue in self.followers:
            queue.put_nowait(None)


class Store:
    """In-memory objects, their history and their watchers."""

    def __init__(
        self, catalogue: Catalogue | None = None, clock: Callable[[], datetime] | None = None
    ) -> None:
        self.catalogue = catalogue or Catalogue()
        self.clock = clock or (lambda: datetime.now(UTC))
        self._objects: dict[tuple[str, str], dict[tuple[str, str], Obj]] = {}
        self._rv = 1000
        self._history: deque[Change] = deque(maxlen=HISTORY)
        self._watchers: set[Watcher] = set()
        self.logs: dict[tuple[str, str, str], PodLog] = {}
        # (namespace, deployment) -> how its pods behave; the default is a healthy pod
        self.behaviours: dict[tuple[str, str], PodBehaviour] = {}

    # --- reading -----------------------------------------------------------------------------

    @property
    def resource_version(self) -> int:
        return self._rv

    def type_of(self, api_version: str, kind: str) -> ResourceType:
        group, _, version = api_version.rpartition("/")
        for rtype in self.catalogue:
            if (rtype.group, rtype.version, rtype.kind) == (group, version, kind):
                return rtype
        raise ApiError(404, f"no resource of kind {kind!r} in {api_version!r}")

    def _bucket(self, rtype: ResourceType) -> dict[tuple[str, str], Obj]:
        return self._objects.setdefault((rtype.group, rtype.plural), {})

    def find(self, rtype: ResourceType, namespace: str, name: str) -> Obj | None:
        """The stored object itself (do not change it), or None."""
        return self._bucket(rtype).get((namespace if rtype.namespaced else "", name))

    def get(self, rtype: ResourceType, namespace: str, name: str) -> Obj:
        obj = self.find(rtype, namespace, name)
        if obj is None:
            raise not_found(rtype.plural, rtype.group, name)
        return self.present(rtype, obj)

    def objects(
        self,
        rtype: ResourceType,
        namespace: str | None = None,
        *,
        selectors: tuple[Selector, ...] = (),
    ) -> list[Obj]:
        """Copies of the objects in `namespace` (all when None), sorted as etcd returns them."""
        return [self.present(rtype, obj) for obj in self._iter(rtype, namespace, selectors)]

    def _iter(
        self, rtype: ResourceType, namespace: str | None, selectors: tuple[Selector, ...] = ()
    ) -> Iterator[Obj]:
        for (ns, _), obj in sorted(self._bucket(rtype).items()):
            if rtype.namespaced and namespace is not None and ns != namespace:
                continue
            if all(s(obj) for s in selectors):
                yield obj

    def present(self, rtype: ResourceType, obj: Obj) -> Obj:
        """A copy of `obj` as the version of `rtype` presents it."""
        result = copy.deepcopy(obj)
        result["apiVersion"] = rtype.group_version
        result["kind"] = rtype.kind
        return result

    # --- writing -----------------------------------------------------------------------------

    def _commit(self, rtype: ResourceType, kind: str, obj: Obj) -> Obj:
        self._rv += 1
        obj["metadata"]["resourceVersion"] = str(self._rv)
        meta = obj["metadata"]
        namespace, name = meta.get("namespace", ""), meta["name"]
        bucket = self._bucket(rtype)
        if kind == "DELETED":
            bucket.pop((namespace, name), None)
        else:
            bucket[(namespace, name)] = obj
        change = Change(kind, self._rv, rtype.group, rtype.plural, namespace, copy.deepcopy(obj))
        self._history.append(change)
        for watcher in self._watchers:
            if watcher.wants(change):
                watcher.queue.put_nowait(change)
        return self.present(rtype, obj)

    def create(
        self, rtype: ResourceType, obj: Obj, namespace: str = "", *, dry_run: bool = False
    ) -> Obj:
        """Store a new object; `namespace` (or the object's own) for a namespaced resource."""
        obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {})
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + random_suffix()
        name = meta.get("name")
        if not name:
            raise ApiError(422, f"{rtype.kind} is invalid: metadata.name: Required value")
        if rtype.namespaced:
            namespace = namespace or meta.get("namespace") or "default"
            if (meta.get("namespace") or namespace) != namespace:
                raise ApiError(
                    400,
                    "the namespace of the provided object does not match the namespace "
                    "sent on the request",
                )
            namespaces = self.catalogue.find("", "v1", "namespaces")
            assert namespaces is not None
            if self.find(namespaces, "", namespace) is None:
                raise not_found("namespaces", "", namespace)
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
            namespace = ""
        if self.find(rtype, namespace, name) is not None:
            raise already_exists(rtype.plural, rtype.group, name)
        obj["apiVersion"], obj["kind"] = rtype.group_version, rtype.kind
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = timestamp(self.clock())
        meta["generation"] = 1
        for dropped in ("resourceVersion", "deletionTimestamp", "selfLink"):
            meta.pop(dropped, None)
        if dry_run:
            meta["resourceVersion"] = str(self._rv)
            return self.present(rtype, obj)
        if rtype == CRD:
            self.catalogue.define(obj)
        return self._commit(rtype, "ADDED", obj)

    def replace(
        self,
        rtype: ResourceType,
        namespace: str,
        name: str,
        obj: Obj,
        *,
        dry_run: bool = False,
        subresource: str = "",
    ) -> Obj:
        """Replace a stored object. A write to the main resource keeps the stored status when
        the resource has a status subresource; a write to `status` changes only the status."""
        old = self.find(rtype, namespace, name)
        if old is None:
            raise not_found(rtype.plural, rtype.group, name)
        new = copy.deepcopy(obj)
        meta = new.setdefault("metadata", {})
        if meta.get("name", name) != name:
            raise ApiError(400, "the name of the object does not match the name on the URL")
        wanted_rv = meta.get("resourceVersion")
        if wanted_rv and wanted_rv != old["metadata"]["resourceVersion"]:
            raise conflict(rtype.plural, rtype.group, name)
        if subresource == "status":
            status = new.get("status")
            new = copy.deepcopy(old)
            if status is None:
                new.pop("status", None)
            else:
                new["status"] = status
        else:
            if "status" in rtype.subresources:
                if "status" in old:
                    new["status"] = copy.deepcopy(old["status"])
                else:
                    new.pop("status", None)
            kept = ("uid", "creationTimestamp", "generation", "deletionTimestamp")
            for key in kept:
                if key in old["metadata"]:
                    meta[key] = old["metadata"][key]
            meta["name"] = name
            if rtype.namespaced:
                meta["namespace"] = old["metadata"]["namespace"]
            else:
                meta.pop("namespace", None)
        new["apiVersion"], new["kind"] = rtype.group_version, rtype.kind
        new["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
        if _spec(new) != _spec(old):
            new["metadata"]["generation"] = int(old["metadata"].get("generation", 1)) + 1
        if dry_run or _same(new, old):
            return self.present(rtype, new)
        if rtype == CRD:
            self.catalogue.define(new)
        return self._commit(rtype, "MODIFIED", new)

    def delete(
        self,
        rtype: ResourceType,
        namespace: str,
        name: str,
        *,
        dry_run: bool = False,
        propagation: str = "Background",
    ) -> Obj:
        """Remove an object and what belongs to it: a namespace's contents, a definition's
        custom objects, and (unless `propagation` is Orphan) what names it as owner."""
        old = self.find(rtype, namespace, name)
        if old is None:
            raise not_found(rtype.plural, rtype.group, name)
        gone = copy.deepcopy(old)
        gone["metadata"]["deletionTimestamp"] = timestamp(self.clock())
        if dry_run:
            return self.present(rtype, gone)
        if rtype.plural == "namespaces" and rtype.group == "":
            self._delete_namespace_contents(name)
        if rtype == CRD:
            for custom in self.catalogue.custom.get(name, [])[:1]:
                for obj in list(self._iter(custom, None)):
                    self._delete_one(custom, obj)
            self.catalogue.forget(name)
        result = self._delete_one(rtype, gone)
        if propagation != "Orphan":
            self._collect(gone["metadata"]["uid"])
        return result

    def _delete_one(self, rtype: ResourceType, obj: Obj) -> Obj:
        meta = obj["metadata"]
        if rtype.plural == "pods" and rtype.group == "":
            for key in [k for k in self.logs if k[:2] == (meta["namespace"], meta["name"])]:
                self.logs.pop(key).end()
        return self._commit(rtype, "DELETED", obj)

    def _delete_namespace_contents(self, namespace: str) -> None:
        for rtype in self._storage_types():
            if rtype.namespaced:
                for obj in list(self._iter(rtype, namespace)):
                    self._delete_one(rtype, copy.deepcopy(obj))

    def _collect(self, owner_uid: str) -> None:
        """Delete, depth first, every object that names `owner_uid` as an owner."""
        for rtype in self._storage_types():
            for obj in list(self._iter(rtype, None)):
                owners = obj["metadata"].get("ownerReferences") or []
                meta = obj["metadata"]
                still_there = self.find(rtype, meta.get("namespace", ""), meta["name"])
                if still_there and any(o.get("uid") == owner_uid for o in owners):
                    self._delete_one(rtype, copy.deepcopy(obj))
                    self._collect(meta["uid"])

    def _storage_types(self) -> list[ResourceType]:
        """One served type per stored resource."""
        seen: dict[tuple[str, str], ResourceType] = {}
        for rtype in self.catalogue:
            seen.setdefault((rtype.group, rtype.plural), rtype)
        return list(seen.values())

    def add(self, obj: Obj) -> Obj:
        """Store `obj` by its own apiVersion, kind and namespace (for seeding and tests)."""
        rtype = self.type_of(obj["apiVersion"], obj["kind"])
        return self.create(rtype, obj, obj.get("metadata", {}).get("namespace", ""))

    # --- watching ----------------------------------------------------------------------------

    def watch(self, rtype: ResourceType, namespace: str | None) -> Watcher:
        watcher = Watcher(rtype.group, rtype.plural, namespace if rtype.namespaced else None)
        self._watchers.add(watcher)
        return watcher

    def unwatch(self, watcher: Watcher) -> None:
        self._watchers.discard(watcher)

    def changes_since(self, resource_version: int, watcher: Watcher) -> list[Change]:
        """The changes a watch from `resource_version` has missed; 410 Expired if they are no
        longer all kept."""
        if resource_version >= self._rv:
            return []
        oldest = self._history[0].resource_version if self._history else self._rv + 1
        if resource_version < oldest - 1:
            raise ApiError(
                410, f"too old resource version: {resource_version} ({oldest - 1})", "Expired"
            )
        return [
            c for c in self._history if c.resource_version > resource_version and watcher.wants(c)
        ]

    def close(self) -> None:
        """End every watch and log follow (the server is stopping)."""
        for watcher in self._watchers:
            watcher.queue.put_nowait(None)
        for log in self.logs.values():
            log.end()

    # --- logs --------------------------------------------------------------------------------

    def pod_log(self, namespace: str, pod: str, container: str) -> PodLog:
        return self.logs.setdefault((namespace, pod, container), PodLog())


def _spec(obj: Obj) -> Obj:
    """What a change of bumps `metadata.generation`: everything but metadata and status."""
    return {k: v for k, v in obj.items() if k not in ("metadata", "status")}


def _same(new: Obj, old: Obj) -> bool:
    """A write that changes nothing is not committed (no new resourceVersion, no event)."""
    return bool(new == old)
