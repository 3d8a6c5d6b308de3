"""The double's streaming responses: watches (newline-delimited WatchEvent JSON, as Tables when
`kubectl get -w` asks) and container logs, followed as lines are appended."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

from aiohttp import web

from proctor.kubedouble.errors import ApiError, bad_request
from proctor.kubedouble.resources import ResourceType
from proctor.kubedouble.selectors import Selector
from proctor.kubedouble.store import Change, Obj, PodLog, Store, timestamp
from proctor.kubedouble.tables import table, wants_table

DEFAULT_WATCH_SECONDS = 1800
_END = b""


def _line(event: dict[str, Any]) -> bytes:
    return json.dumps(event, separators=(",", ":")).encode() + b"\n"


async def watch(
    request: web.Request,
    store: Store,
    rtype: ResourceType,
    namespace: str | None,
    selectors: tuple[Selector, ...],
) -> web.StreamResponse:
    """Stream changes to `rtype` after `resourceVersion` (or, without one, every object as ADDED
    first) until `timeoutSeconds`, the client leaves, or the server stops."""
    query = request.query
    as_table = wants_table(request.headers.get("Accept", ""))
    include = query.get("includeObject", "Metadata")
    timeout = float(query.get("timeoutSeconds") or DEFAULT_WATCH_SECONDS)
    since = query.get("resourceVersion", "")
    initial_events = query.get("sendInitialEvents") == "true"
    bookmarks = query.get("allowWatchBookmarks") == "true"
    if since and not since.isdigit():
        raise bad_request(f"invalid resourceVersion {since!r}")

    def event(kind: str, obj: Obj) -> bytes:
        presented = store.present(rtype, obj)
        if as_table:
            presented = table(rtype, [presented], store.clock(), include_object=include)
        return _line({"type": kind, "object": presented})

    watcher = store.watch(rtype, namespace)
    try:
        first: list[bytes] = []
        if not since or since == "0" or initial_events:
            first = [
                event("ADDED", o) for o in store.objects(rtype, namespace, selectors=selectors)
            ]
            if initial_events and bookmarks:
                first.append(
                    _line(
                        {
                            "type": "BOOKMARK",
                            "object": {
                                "kind": rtype.kind,
                                "apiVersion": rtype.group_version,
                                "metadata": {
                                    "resourceVersion": str(store.resource_version),
                                    "annotations": {"k8s.io/initial-events-end": "true"},
                                },
                            },
                        }
                    )
                )
        else:
            try:
                missed = store.changes_since(int(since), watcher)
            except ApiError as exc:
                first = [_line({"type": "ERROR", "object": exc.status()})]
                missed = []
            first += [event(c.type, c.object) for c in missed if _matches(c, selectors)]
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        for line in first:
            await response.write(line)
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                change = await asyncio.wait_for(watcher.queue.get(), left)
            except TimeoutError:
                break
            if change is None:
                break
            if _matches(change, selectors):
                await response.write(event(change.type, change.object))
        with contextlib.suppress(ConnectionError):
            await response.write_eof()
        return response
    finally:
        store.unwatch(watcher)


def _matches(change: Change, selectors: tuple[Selector, ...]) -> bool:
    return all(s(change.object) for s in selectors)


# --- logs ------------------------------------------------------------------------------------


def _container(pod: Obj, wanted: str) -> str:
    names = [str(c.get("name", "")) for c in pod.get("spec", {}).get("containers") or []]
    name = pod["metadata"]["name"]
    if wanted:
        if wanted not in names:
            raise bad_request(f"container {wanted} is not valid for pod {name}")
        return wanted
    if len(names) == 1:
        return names[0]
    raise bad_request(
        f"a container name must be specified for pod {name}, choose one of: [{' '.join(names)}]"
    )


def _format(line: str, stamps: bool, store: Store) -> bytes:
    prefix = timestamp(store.clock()).replace("Z", ".000000000Z ") if stamps else ""
    return f"{prefix}{line}\n".encode()


async def _tick(log: PodLog) -> None:
    """Make up a line every `interval` while someone follows the log."""
    assert log.ticker is not None
    while log.followers:
        await asyncio.sleep(log.interval)
        log.ticks += 1
        log.append(log.ticker(log.ticks))


async def logs(request: web.Request, store: Store, pod: Obj) -> web.StreamResponse:
    """A container's log: the last `tailLines` lines (all by default), then, with
    `follow=true`, each new line as it is appended, until the pod goes or the client leaves."""
    query = request.query
    container = _container(pod, query.get("container", ""))
    meta = pod["metadata"]
    log = store.pod_log(meta["namespace"], meta["name"], container)
    lines = list(log.lines)
    tail = query.get("tailLines")
    if tail is not None:
        if not tail.lstrip("-").isdigit():
            raise bad_request(f"invalid tailLines {tail!r}")
        lines = lines[-int(tail) :] if int(tail) > 0 else ([] if int(tail) == 0 else lines)
    stamps = query.get("timestamps") == "true"
    body = b"".join(_format(line, stamps, store) for line in lines)
    limit = query.get("limitBytes")
    if limit and limit.isdigit():
        body = body[: int(limit)]
    if query.get("follow") != "true":
        return web.Response(body=body, content_type="text/plain")
    response = web.StreamResponse(headers={"Content-Type": "text/plain"})
    response.enable_chunked_encoding()
    await response.prepare(request)
    if body:
        await response.write(body)
    queue: asyncio.Queue[str | None] = asyncio.Queue()
    log.followers.add(queue)
    if log.ticker is not None and (log.ticking is None or log.ticking.done()):
        log.ticking = asyncio.create_task(_tick(log))
    try:
        while (line := await queue.get()) is not None:
            await response.write(_format(line, stamps, store))
    except ConnectionError:
        pass
    finally:
        log.followers.discard(queue)
        if not log.followers and log.ticking is not None:
            log.ticking.cancel()
            log.ticking = None
    with contextlib.suppress(ConnectionError):
        await response.write_eof()
    return response
