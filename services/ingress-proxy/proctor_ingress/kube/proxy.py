"""Forwarding a request the lifecycle let run to the cluster, and its answer back through the
masker: a JSON object, list or Table masked whole; pod logs and watch streams masked as they
stream (memory bounded); discovery and OpenAPI documents (no data of the cluster's users)
passed as they are. Whatever cannot be masked is not sent: a JSON answer becomes a 503 Status,
a stream ends."""

from __future__ import annotations

import contextlib
import json
import logging
import time
from dataclasses import dataclass

import aiohttp
from aiohttp import web

from proctor.errors import MaskUnavailable, Unmaskable
from proctor.events.v1 import events_pb2 as pb
from proctor_ingress.kube.cluster import Cluster
from proctor_ingress.kube.maskcall import MaskTexts
from proctor_ingress.kube.masking import mask_object
from proctor_ingress.kube.status import status
from proctor_ingress.kube.streams import LogMasker, WatchMasker
from proctor_ingress.masking import MaskStats

log = logging.getLogger("proctor.ingress.kube")

MAX_ANSWER = 64 << 20  # bytes of one JSON answer held to mask it whole
# Request headers passed to the cluster. Everything else stays here: the client's credentials,
# and above all Impersonate-* headers, which would act as anyone with the gateway's rights.
FORWARDED = ("Accept", "Content-Type", "User-Agent", "Kubectl-Command", "Kubectl-Session")
ANSWER_HEADERS = ("Audit-Id", "Cache-Control", "Warning", "X-Kubernetes-Pf-Flowschema-Uid")
_MEDIA_JSON = ("application/json", "application/yaml")
# Kinds whose items and watched objects do not say what they are, where it matters for masking.
_KINDS = {"secrets": "Secret", "configmaps": "ConfigMap"}


@dataclass
class Answered:
    """What the cluster did, for CommandExecuted."""

    rows: int = 0
    code: int = 0
    error: str = ""


def json_only(accept: str) -> str:
    """The client's Accept without protobuf and CBOR, which the gateway cannot mask: the
    cluster then answers JSON (every client-go client also accepts it)."""
    kept = [
        part.strip()
        for part in accept.split(",")
        if part.strip() and ("json" in part or part.strip().startswith("*/*"))
    ]
    return ",".join(kept) or "application/json"


def _forward_headers(request: web.Request, cluster: Cluster, discovery: bool) -> dict[str, str]:
    headers = {h: request.headers[h] for h in FORWARDED if h in request.headers}
    if not discovery:
        headers["Accept"] = json_only(headers.get("Accept", ""))
    headers["Accept-Encoding"] = "gzip"
    headers.update(cluster.headers())
    return headers


def _rows(obj: object) -> int:
    if not isinstance(obj, dict):
        return 0
    if isinstance(obj.get("items"), list):
        return len(obj["items"])
    if obj.get("kind") == "Table" and isinstance(obj.get("rows"), list):
        return len(obj["rows"])
    return 0 if obj.get("kind") == "Status" else 1


async def forward(
    request: web.Request,
    cluster: Cluster,
    detail: pb.KubeDetail,
    body: bytes,
    content_type: str,
    mask: MaskTexts,
    stats: MaskStats,
    answered: Answered,
) -> web.StreamResponse:
    discovery = detail.non_resource and detail.method == "GET"
    headers = _forward_headers(request, cluster, discovery)
    if content_type:
        headers["Content-Type"] = content_type
    try:
        upstream = await cluster.session.request(
            request.method,
            cluster.url(upstream_path(request)),
            headers=headers,
            data=body if body else None,
            allow_redirects=False,
        )
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        answered.code, answered.error = 503, f"the cluster could not be reached: {exc}"
        return status(503, f"Proctor could not reach the cluster {cluster.resource.name}: {exc}")
    async with upstream:
        answered.code = upstream.status
        media = upstream.content_type or ""
        if discovery:
            return await _pass(request, upstream)
        streaming = upstream.status < 300 and (
            detail.verb == "watch" or (detail.subresource == "log" and _follows(request))
        )
        if streaming:
            return await _stream(request, upstream, detail, mask, stats, answered)
        if detail.subresource == "log" and upstream.status < 300:
            masker = LogMasker(mask)
            try:
                data = await upstream.read()
                masked = await masker.feed(data) + await masker.finish()
            except MaskUnavailable as exc:
                return _withheld(answered, exc)
            answered.rows = masked.count(b"\n")
            return web.Response(status=upstream.status, body=masked, headers=_answer(upstream))
        if not media.startswith(_MEDIA_JSON) and not (not media and upstream.status == 204):
            answered.error = f"unmaskable answer ({media or 'no content type'})"
            return status(
                502,
                f"Proctor withheld the cluster's answer: it came as {media or 'no content type'},"
                " which Proctor cannot mask",
            )
        data = await upstream.content.read(MAX_ANSWER + 1)
        if len(data) > MAX_ANSWER:
            answered.error = "answer too large to mask"
            return status(
                502,
                f"Proctor withheld the cluster's answer: over {MAX_ANSWER >> 20} MiB. Ask for "
                "less (a label selector, a namespace, --chunk-size).",
            )
        if not data:
            return web.Response(status=upstream.status, headers=_answer(upstream))
        try:
            obj = json.loads(data)
        except ValueError:
            answered.error = "unreadable JSON"
            return status(502, "Proctor withheld the cluster's answer: it is not valid JSON")
        try:
            kind = _KINDS.get(detail.resource) if not detail.group else None
            masked_obj = await mask_object(obj, mask, kind=kind, stats=stats)
        except (MaskUnavailable, Unmaskable) as exc:
            return _withheld(answered, exc)
        answered.rows = _rows(masked_obj)
        if upstream.status >= 400 and isinstance(masked_obj, dict):
            answered.error = str(masked_obj.get("message", ""))[:500]
        return web.Response(
            status=upstream.status,
            body=json.dumps(masked_obj, separators=(",", ":")).encode(),
            content_type="application/json",
            headers=_answer(upstream),
        )


def upstream_path(request: web.Request) -> str:
    """The API path the client asked for (as sent, with its query), without the gateway's
    /kube/<resource> prefix."""
    raw = request.raw_path
    prefix = "/kube/" + request.match_info["resource"]
    rest = raw[len(prefix) :] if raw.startswith(prefix) else "/" + request.match_info["tail"]
    return rest if rest.startswith("/") else "/" + rest


def _follows(request: web.Request) -> bool:
    return request.query.get("follow", "").lower() in ("true", "1")


def _answer(upstream: aiohttp.ClientResponse) -> dict[str, str]:
    return {h: upstream.headers[h] for h in ANSWER_HEADERS if h in upstream.headers}


def _withheld(answered: Answered, exc: Exception) -> web.Response:
    answered.error = f"masking unavailable: {exc}"
    log.warning("kubernetes answer withheld: %s", exc)
    return status(
        503,
        f"Proctor withheld the cluster's answer: masking was unavailable ({exc}). Nothing "
        "unmasked was sent. Next: retry when the masker is running.",
    )


async def _pass(request: web.Request, upstream: aiohttp.ClientResponse) -> web.StreamResponse:
    """A discovery or OpenAPI document, as it came."""
    response = web.StreamResponse(status=upstream.status, headers=_answer(upstream))
    response.content_type = upstream.content_type or "application/octet-stream"
    await response.prepare(request)
    with contextlib.suppress(ConnectionError, aiohttp.ClientError):
        async for chunk in upstream.content.iter_any():
            await response.write(chunk)
        await response.write_eof()
    return response


async def _stream(
    request: web.Request,
    upstream: aiohttp.ClientResponse,
    detail: pb.KubeDetail,
    mask: MaskTexts,
    stats: MaskStats,
    answered: Answered,
) -> web.StreamResponse:
    """A watch or a followed log, masked as it streams; it ends (the client sees the stream
    end) when masking fails, and never sends what was not masked."""
    kind = _KINDS.get(detail.resource) if not detail.group else None
    masker: LogMasker | WatchMasker = (
        WatchMasker(mask, kind=kind, stats=stats) if detail.verb == "watch" else LogMasker(mask)
    )
    response = web.StreamResponse(status=upstream.status, headers=_answer(upstream))
    response.content_type = upstream.content_type or "text/plain"
    await response.prepare(request)
    started = time.monotonic()
    try:
        async for chunk in upstream.content.iter_any():
            out = await masker.feed(chunk)
            if out:
                answered.rows += out.count(b"\n")
                await response.write(out)
        out = await masker.finish()
        if out:
            answered.rows += out.count(b"\n")
            await response.write(out)
    except (MaskUnavailable, Unmaskable) as exc:
        answered.error = f"stream ended: masking unavailable: {exc}"
        log.warning("kubernetes stream ended after %.1f s: %s", time.monotonic() - started, exc)
    except (aiohttp.ClientError, ConnectionError) as exc:  # either side went away
        answered.error = f"stream ended: {exc}"
    with contextlib.suppress(ConnectionError, aiohttp.ClientError):
        await response.write_eof()
    return response
