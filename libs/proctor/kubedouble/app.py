"""The double's HTTP face: the Kubernetes REST paths, bearer-token authentication, discovery,
and each verb mapped onto `Api`. Watches and logs stream from `streams`, exec runs in `execws`.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from multidict import MultiMapping

from proctor.kubedouble import openapi, resources, streams
from proctor.kubedouble.api import Api, Target, parse_body
from proctor.kubedouble.errors import ApiError, failure_status
from proctor.kubedouble.execws import exec_handler
from proctor.kubedouble.paths import RequestInfo, parse
from proctor.kubedouble.resources import ResourceType
from proctor.kubedouble.selectors import Selector, field_selector, label_selector
from proctor.kubedouble.store import Obj, Store
from proctor.kubedouble.tables import table, wants_table

log = logging.getLogger(__name__)

STORE: web.AppKey[Store] = web.AppKey("store", Store)
API: web.AppKey[Api] = web.AppKey("api", Api)
TOKEN: web.AppKey[str] = web.AppKey("token", str)

VERSION = {
    "major": "1",
    "minor": "33",
    "gitVersion": "v1.33.0-proctor-double",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z",
    "goVersion": "go1.24.0",
    "compiler": "gc",
    "platform": "linux/amd64",
}
HEALTH = ("/healthz", "/livez", "/readyz")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def respond(body: Any, status: int = 200) -> web.Response:
    return web.Response(
        body=json.dumps(body, separators=(",", ":")).encode(),
        status=status,
        content_type="application/json",
    )


@web.middleware
async def errors_as_status(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        return respond(exc.status(), exc.code)
    except web.HTTPException:
        raise
    except Exception as exc:
        log.exception("kube double: %s %s failed", request.method, request.path)
        return respond(failure_status(500, f"internal error: {exc}"), 500)


def bearer_auth(token: str) -> Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]:
    expected = f"Bearer {token}".encode()

    @web.middleware
    async def check(request: web.Request, handler: Handler) -> web.StreamResponse:
        given = request.headers.get("Authorization", "").encode()
        if not hmac.compare_digest(given, expected):
            return respond(failure_status(401, "Unauthorized"), 401)
        return await handler(request)

    return check


def build_app(store: Store | None = None, token: str | None = None) -> web.Application:
    """The double as an aiohttp application on `store` (an empty one by default). With a
    `token`, every request must carry `Authorization: Bearer <token>` or is answered 401."""
    middlewares: list[Any] = [errors_as_status]
    if token:
        middlewares.append(bearer_auth(token))
    app = web.Application(middlewares=middlewares, client_max_size=16 * 1024 * 1024)
    store = store or Store()
    app[STORE] = store
    app[API] = Api(store)
    app.router.add_route("*", "/{tail:.*}", dispatch)

    async def close_streams(app: web.Application) -> None:
        app[STORE].close()

    app.on_shutdown.append(close_streams)
    return app


# --- dispatch --------------------------------------------------------------------------------


async def dispatch(request: web.Request) -> web.StreamResponse:
    path = request.path.rstrip("/") or "/"
    store = request.app[STORE]
    if path == "/version" and request.method == "GET":
        return respond(VERSION)
    if path in HEALTH or any(path.startswith(h + "/") for h in HEALTH):
        return web.Response(text="ok")
    if path.startswith("/openapi/"):
        return respond(openapi.document(store.catalogue, path, request.query.get("hash", "")))
    if path == "/api":
        return respond(resources.api_versions())
    if path == "/apis":
        return respond(resources.api_group_list(store.catalogue))
    if path.startswith("/apis/") and path.count("/") == 2:
        group = resources.api_group(store.catalogue, path.split("/")[2])
        if group is None:
            raise ApiError(404, "the server could not find the requested resource")
        return respond(group)
    info = parse(path)
    if info is None:
        raise ApiError(404, "the server could not find the requested resource")
    if not info.resource:
        types = store.catalogue.in_group_version(info.group, info.version)
        if not types:
            raise ApiError(404, "the server could not find the requested resource")
        gv = f"{info.group}/{info.version}" if info.group else info.version
        return respond(resources.api_resource_list(types, gv))
    rtype = store.catalogue.find(info.group, info.version, info.resource)
    if rtype is None:
        raise ApiError(404, "the server could not find the requested resource")
    return await _resource(request, info, rtype)


def _selectors(query: MultiMapping[str]) -> tuple[Selector, ...]:
    return label_selector(query.get("labelSelector")), field_selector(query.get("fieldSelector"))


def _dry_run(query: MultiMapping[str], body: Obj | None = None) -> bool:
    runs = list(query.getall("dryRun", [])) + list((body or {}).get("dryRun") or [])
    for value in runs:
        if value != "All":
            raise ApiError(400, f"Invalid dry run value {value!r}: only 'All' is supported")
    return bool(runs)


def _present(
    request: web.Request, rtype: ResourceType, body: Obj, status: int = 200
) -> web.Response:
    """`body` as JSON, or as a Table when kubectl asks for one."""
    accept = request.headers.get("Accept", "")
    if wants_table(accept) and body.get("kind") in (rtype.kind, rtype.list_kind):
        store = request.app[STORE]
        items = body["items"] if body["kind"] == rtype.list_kind else [body]
        rv = body.get("metadata", {}).get("resourceVersion", "")
        include = request.query.get("includeObject", "Metadata")
        body = table(rtype, items, store.clock(), resource_version=rv, include_object=include)
    return respond(body, status)


async def _delete_options(request: web.Request) -> Obj:
    raw = await request.read()
    if not raw.strip():
        return {}
    body = parse_body(raw)
    return body if isinstance(body, dict) else {}


async def _resource(
    request: web.Request, info: RequestInfo, rtype: ResourceType
) -> web.StreamResponse:
    api, query, method = request.app[API], request.query, request.method
    if rtype.namespaced is False and info.namespaced_path:
        raise ApiError(404, "the server could not find the requested resource")
    if info.subresource and info.subresource not in rtype.subresources:
        raise ApiError(404, "the server could not find the requested resource")
    namespace = info.namespace if rtype.namespaced else ""
    target = Target(rtype, namespace, info.name, info.subresource)
    watching = info.watch_prefix or query.get("watch", "") in ("1", "true", "True")

    if method == "GET" and not info.name:
        scope = namespace if info.namespaced_path else None
        if watching:
            return await streams.watch(request, request.app[STORE], rtype, scope, _selectors(query))
        return _present(request, rtype, api.list(rtype, scope, _selectors(query)))
    if info.subresource == "log" and method == "GET":
        pod = api.get(Target(rtype, namespace, info.name))
        return await streams.logs(request, request.app[STORE], pod)
    if info.subresource == "exec":
        pod = api.get(Target(rtype, namespace, info.name))
        return await exec_handler(request, request.app[STORE], pod)
    if method == "GET":
        if watching:
            raise ApiError(405, "watch needs a collection (use fieldSelector=metadata.name=NAME)")
        return _present(request, rtype, api.get(target))
    if method == "POST" and not info.name:
        body = parse_body(await request.read(), request.content_type)
        dry = _dry_run(query)
        return _present(request, rtype, api.create(target, body, dry_run=dry), 201)
    if method == "PUT" and info.name:
        body = parse_body(await request.read(), request.content_type)
        return _present(request, rtype, api.update(target, body, dry_run=_dry_run(query)))
    if method == "PATCH" and info.name:
        content_type = request.content_type
        obj, created = api.patch(
            target,
            content_type,
            await request.read(),
            dry_run=_dry_run(query),
            field_manager=query.get("fieldManager", ""),
        )
        return _present(request, rtype, obj, 201 if created else 200)
    if method == "DELETE":
        options = await _delete_options(request)
        dry = _dry_run(query, options)
        propagation = query.get("propagationPolicy") or options.get("propagationPolicy") or ""
        if info.name:
            return respond(api.delete(target, dry_run=dry, propagation=propagation))
        scope = namespace if info.namespaced_path else None
        gone = api.delete_collection(
            rtype, scope, _selectors(query), dry_run=dry, propagation=propagation
        )
        return respond(gone)
    raise ApiError(405, "the server does not allow this method on the requested resource")
