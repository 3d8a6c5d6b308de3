"""Server-side printing: the `meta.k8s.io/v1 Table` that `kubectl get` asks for, with the columns
the API server's printers give pods, deployments, services and a few more, and NAME/AGE for
the rest."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from proctor.kubedouble.resources import ResourceType
from proctor.kubedouble.selectors import selector_string

Obj = dict[str, Any]
Column = tuple[str, str, int]  # name, type, priority (1 = only with -o wide)

TABLE_MEDIA = "as=Table"


def wants_table(accept: str) -> bool:
    """Whether an Accept header asks for a Table (kubectl get's human-readable output)."""
    return any(
        TABLE_MEDIA in part.replace(" ", "") and "g=meta.k8s.io" in part.replace(" ", "")
        for part in accept.split(",")
    )


def human_duration(seconds: float) -> str:
    """A duration as kubectl's AGE column writes it (apimachinery's HumanDuration)."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m{s % 60}s" if s % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    days = hours // 24
    if hours < 24 * 8:
        return f"{days}d{hours % 24}h" if hours % 24 else f"{days}d"
    if hours < 24 * 365 * 2:
        return f"{days}d"
    if hours < 24 * 365 * 8:
        return f"{days // 365}y{days % 365}d" if days % 365 else f"{days // 365}y"
    return f"{days // 365}y"


def _age(stamp: str | None, now: datetime) -> str:
    if not stamp:
        return "<unknown>"
    try:
        then = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return "<unknown>"
    return human_duration((now - then).total_seconds())


def _name(obj: Obj) -> str:
    return str(obj.get("metadata", {}).get("name", ""))


def _created(obj: Obj, now: datetime) -> str:
    return _age(obj.get("metadata", {}).get("creationTimestamp"), now)


def _pod_status(pod: Obj) -> str:
    status = pod.get("status", {})
    reason = status.get("reason") or status.get("phase") or "Unknown"
    for container in reversed(status.get("containerStatuses") or []):
        state = container.get("state", {})
        if state.get("waiting", {}).get("reason"):
            reason = state["waiting"]["reason"]
        elif state.get("terminated", {}).get("reason"):
            reason = state["terminated"]["reason"]
    if pod.get("metadata", {}).get("deletionTimestamp"):
        reason = "Terminating"
    return str(reason)


def _pod_row(pod: Obj, now: datetime) -> list[Any]:
    statuses = pod.get("status", {}).get("containerStatuses") or []
    total = len(pod.get("spec", {}).get("containers") or statuses)
    ready = sum(1 for c in statuses if c.get("ready"))
    restarts = sum(int(c.get("restartCount", 0)) for c in statuses)
    finished = [
        c["lastState"]["terminated"]["finishedAt"]
        for c in statuses
        if c.get("lastState", {}).get("terminated", {}).get("finishedAt")
    ]
    restart_cell = (
        f"{restarts} ({_age(max(finished), now)} ago)" if restarts and finished else str(restarts)
    )
    return [
        _name(pod),
        f"{ready}/{total}",
        _pod_status(pod),
        restart_cell,
        _created(pod, now),
        pod.get("status", {}).get("podIP") or "<none>",
        pod.get("spec", {}).get("nodeName") or "<none>",
        "<none>",
        "<none>",
    ]


def _containers(template_spec: Obj) -> tuple[str, str]:
    containers = template_spec.get("containers") or []
    return (
        ",".join(c.get("name", "") for c in containers),
        ",".join(c.get("image", "") for c in containers),
    )


def _deployment_row(d: Obj, now: datetime) -> list[Any]:
    spec, status = d.get("spec", {}), d.get("status", {})
    names, images = _containers(spec.get("template", {}).get("spec", {}))
    return [
        _name(d),
        f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 1)}",
        status.get("updatedReplicas", 0),
        status.get("availableReplicas", 0),
        _created(d, now),
        names,
        images,
        selector_string(spec.get("selector")) or "<none>",
    ]


def _replica_set_row(rs: Obj, now: datetime) -> list[Any]:
    spec, status = rs.get("spec", {}), rs.get("status", {})
    names, images = _containers(spec.get("template", {}).get("spec", {}))
    return [
        _name(rs),
        spec.get("replicas", 1),
        status.get("replicas", 0),
        status.get("readyReplicas", 0),
        _created(rs, now),
        names,
        images,
        selector_string(spec.get("selector")) or "<none>",
    ]


def _service_row(svc: Obj, now: datetime) -> list[Any]:
    spec = svc.get("spec", {})
    ports = ",".join(
        f"{p.get('port')}{':' + str(p['nodePort']) if p.get('nodePort') else ''}/"
        f"{p.get('protocol', 'TCP')}"
        for p in spec.get("ports") or []
    )
    ingress = svc.get("status", {}).get("loadBalancer", {}).get("ingress") or []
    external = ",".join(i.get("ip") or i.get("hostname", "") for i in ingress)
    if not external:
        external = "<pending>" if spec.get("type") == "LoadBalancer" else "<none>"
    selector = ",".join(f"{k}={v}" for k, v in sorted((spec.get("selector") or {}).items()))
    return [
        _name(svc),
        spec.get("type", "ClusterIP"),
        spec.get("clusterIP") or "<none>",
        external,
        ports or "<none>",
        _created(svc, now),
        selector or "<none>",
    ]


def _node_row(node: Obj, now: datetime) -> list[Any]:
    conditions = node.get("status", {}).get("conditions") or []
    ready: Obj = next((c for c in conditions if c.get("type") == "Ready"), {})
    roles = sorted(
        k.split("/", 1)[1]
        for k in node.get("metadata", {}).get("labels", {})
        if k.startswith("node-role.kubernetes.io/")
    )
    info = node.get("status", {}).get("nodeInfo", {})
    return [
        _name(node),
        "Ready" if ready.get("status") == "True" else "NotReady",
        ",".join(roles) or "<none>",
        _created(node, now),
        info.get("kubeletVersion", ""),
    ]


def _event_row(ev: Obj, now: datetime) -> list[Any]:
    involved = ev.get("involvedObject", {})
    seen = ev.get("lastTimestamp") or ev.get("eventTime") or ev["metadata"].get("creationTimestamp")
    return [
        _age(seen, now),
        ev.get("type", ""),
        ev.get("reason", ""),
        f"{str(involved.get('kind', '')).lower()}/{involved.get('name', '')}",
        ev.get("message", ""),
    ]


_PRINTERS: dict[tuple[str, str], tuple[list[Column], Callable[[Obj, datetime], list[Any]]]] = {
    ("", "pods"): (
        [
            ("Name", "string", 0),
            ("Ready", "string", 0),
            ("Status", "string", 0),
            ("Restarts", "string", 0),
            ("Age", "string", 0),
            ("IP", "string", 1),
            ("Node", "string", 1),
            ("Nominated Node", "string", 1),
            ("Readiness Gates", "string", 1),
        ],
        _pod_row,
    ),
    ("apps", "deployments"): (
        [
            ("Name", "string", 0),
            ("Ready", "string", 0),
            ("Up-to-date", "integer", 0),
            ("Available", "integer", 0),
            ("Age", "string", 0),
            ("Containers", "string", 1),
            ("Images", "string", 1),
            ("Selector", "string", 1),
        ],
        _deployment_row,
    ),
    ("apps", "replicasets"): (
        [
            ("Name", "string", 0),
            ("Desired", "integer", 0),
            ("Current", "integer", 0),
            ("Ready", "integer", 0),
            ("Age", "string", 0),
            ("Containers", "string", 1),
            ("Images", "string", 1),
            ("Selector", "string", 1),
        ],
        _replica_set_row,
    ),
    ("", "services"): (
        [
            ("Name", "string", 0),
            ("Type", "string", 0),
            ("Cluster-IP", "string", 0),
            ("External-IP", "string", 0),
            ("Port(s)", "string", 0),
            ("Age", "string", 0),
            ("Selector", "string", 1),
        ],
        _service_row,
    ),
    ("", "namespaces"): (
        [("Name", "string", 0), ("Status", "string", 0), ("Age", "string", 0)],
        lambda o, now: [_name(o), o.get("status", {}).get("phase", "Active"), _created(o, now)],
    ),
    ("", "nodes"): (
        [
            ("Name", "string", 0),
            ("Status", "string", 0),
            ("Roles", "string", 0),
            ("Age", "string", 0),
            ("Version", "string", 0),
        ],
        _node_row,
    ),
    ("", "configmaps"): (
        [("Name", "string", 0), ("Data", "integer", 0), ("Age", "string", 0)],
        lambda o, now: [
            _name(o),
            len(o.get("data") or {}) + len(o.get("binaryData") or {}),
            _created(o, now),
        ],
    ),
    ("", "secrets"): (
        [
            ("Name", "string", 0),
            ("Type", "string", 0),
            ("Data", "integer", 0),
            ("Age", "string", 0),
        ],
        lambda o, now: [
            _name(o),
            o.get("type", "Opaque"),
            len(o.get("data") or {}),
            _created(o, now),
        ],
    ),
    ("", "serviceaccounts"): (
        [("Name", "string", 0), ("Secrets", "integer", 0), ("Age", "string", 0)],
        lambda o, now: [_name(o), len(o.get("secrets") or []), _created(o, now)],
    ),
    ("", "events"): (
        [
            ("Last Seen", "string", 0),
            ("Type", "string", 0),
            ("Reason", "string", 0),
            ("Object", "string", 0),
            ("Message", "string", 0),
        ],
        _event_row,
    ),
}
_GENERIC: tuple[list[Column], Callable[[Obj, datetime], list[Any]]] = (
    [("Name", "string", 0), ("Age", "string", 0)],
    lambda o, now: [_name(o), _created(o, now)],
)


def _row_object(obj: Obj, include: str) -> Obj | None:
    if include == "None":
        return None
    if include == "Object":
        return obj
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj.get("metadata", {}),
    }


def table(
    rtype: ResourceType,
    objects: list[Obj],
    now: datetime,
    *,
    resource_version: str = "",
    include_object: str = "Metadata",
) -> Obj:
    """The Table kubectl prints for `objects` of `rtype`."""
    columns, row = _PRINTERS.get((rtype.group, rtype.plural), _GENERIC)
    definitions = [
        {
            "name": name,
            "type": kind,
            "format": "name" if name == "Name" else "",
            "description": name,
            "priority": priority,
        }
        for name, kind, priority in columns
    ]
    rows = []
    for obj in objects:
        entry: Obj = {"cells": row(obj, now)}
        embedded = _row_object(obj, include_object)
        if embedded is not None:
            entry["object"] = embedded
        rows.append(entry)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version} if resource_version else {},
        "columnDefinitions": definitions,
        "rows": rows,
    }
