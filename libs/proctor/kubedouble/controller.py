"""What the rest of a cluster would do after a write, done at once and in miniature: defaults the
API server fills in (a service's cluster IP, a secret's `stringData`), a namespace's default
service account, a deployment's replica sets and pods, and a pod's status as a kubelet would
report it. Enough for `kubectl scale` or `rollout restart` to show pods come and go; nothing
is scheduled, pulled or run."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from datetime import timedelta

from proctor.kubedouble.resources import ResourceType
from proctor.kubedouble.selectors import match_labels_selector
from proctor.kubedouble.store import (
    NAME_ALPHABET,
    Obj,
    PodBehaviour,
    Store,
    random_suffix,
    timestamp,
)

NODE = "node-1"
NODE_IP = "10.0.0.10"
REVISION = "deployment.kubernetes.io/revision"
HASH_LABEL = "pod-template-hash"


def _is(rtype: ResourceType, group: str, plural: str) -> bool:
    return (rtype.group, rtype.plural) == (group, plural)


def template_hash(template: Obj) -> str:
    """A pod template's hash, as the deployment controller names replica sets with it."""
    bare = copy.deepcopy(template)
    bare.get("metadata", {}).get("labels", {}).pop(HASH_LABEL, None)
    digest = hashlib.sha256(json.dumps(bare, sort_keys=True).encode()).digest()
    return "".join(NAME_ALPHABET[b % len(NAME_ALPHABET)] for b in digest[:10])


# --- defaults on write -----------------------------------------------------------------------


def prepare(store: Store, rtype: ResourceType, obj: Obj, creating: bool) -> Obj:
    """`obj` with the defaults the API server would fill in before storing it."""
    obj = copy.deepcopy(obj)
    spec = obj.setdefault("spec", {}) if rtype.kind in ("Service", "Deployment", "Pod") else {}
    if _is(rtype, "", "secrets"):
        obj.setdefault("type", "Opaque")
        for key, value in (obj.pop("stringData", None) or {}).items():
            obj.setdefault("data", {})[key] = base64.b64encode(str(value).encode()).decode()
    elif _is(rtype, "", "namespaces"):
        obj.setdefault("status", {}).setdefault("phase", "Active")
        name = obj.get("metadata", {}).get("name", "")
        obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = name
        obj.setdefault("spec", {"finalizers": ["kubernetes"]})
    elif _is(rtype, "", "services"):
        spec.setdefault("type", "ClusterIP")
        if spec["type"] != "ExternalName" and not spec.get("clusterIP"):
            taken = {o.get("spec", {}).get("clusterIP") for o in store.objects(rtype)}
            spec["clusterIP"] = next(
                f"10.96.{n // 250}.{n % 250 + 1}"
                for n in range(1, 60000)
                if f"10.96.{n // 250}.{n % 250 + 1}" not in taken
            )
            spec["clusterIPs"] = [spec["clusterIP"]]
        spec.setdefault("sessionAffinity", "None")
        for port in spec.get("ports") or []:
            port.setdefault("protocol", "TCP")
            port.setdefault("targetPort", port.get("port"))
        obj.setdefault("status", {"loadBalancer": {}})
    elif _is(rtype, "apps", "deployments"):
        spec.setdefault("replicas", 1)
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("progressDeadlineSeconds", 600)
        spec.setdefault(
            "strategy",
            {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
            },
        )
        if creating:
            obj.setdefault("status", {})
    elif _is(rtype, "", "pods"):
        spec.setdefault("restartPolicy", "Always")
        spec.setdefault("dnsPolicy", "ClusterFirst")
        spec.setdefault("schedulerName", "default-scheduler")
        spec.setdefault("serviceAccountName", "default")
        spec.setdefault("terminationGracePeriodSeconds", 30)
        spec.setdefault("nodeName", NODE)
        if creating and not obj.get("status"):
            obj["status"] = pod_status(store, spec, None)
    return obj


def pod_status(store: Store, spec: Obj, behaviour: PodBehaviour | None) -> Obj:
    """A running pod's status as a kubelet reports it, or a crash-looping one's."""
    now = timestamp(store.clock())
    crashing = bool(behaviour and behaviour.crashloop)
    ready = "False" if crashing else "True"
    statuses = []
    for container in spec.get("containers") or []:
        status: Obj = {
            "name": container.get("name", ""),
            "image": container.get("image", ""),
            "imageID": f"docker.io/library/{container.get('image', '')}@sha256:{'0' * 64}",
            "containerID": f"containerd://{hashlib.sha256(now.encode()).hexdigest()}",
            "ready": not crashing,
            "started": not crashing,
            "restartCount": behaviour.restarts if behaviour else 0,
            "state": {"running": {"startedAt": now}},
        }
        if crashing:
            status["state"] = {
                "waiting": {
                    "reason": "CrashLoopBackOff",
                    "message": f"back-off 5m0s restarting failed container={status['name']}",
                }
            }
            status["lastState"] = {
                "terminated": {
                    "exitCode": 1,
                    "reason": "Error",
                    "startedAt": timestamp(store.clock() - timedelta(seconds=75)),
                    "finishedAt": timestamp(store.clock() - timedelta(seconds=70)),
                    "containerID": status["containerID"],
                }
            }
        statuses.append(status)
    conditions = [
        {"type": t, "status": s, "lastProbeTime": None, "lastTransitionTime": now}
        for t, s in (
            ("PodReadyToStartContainers", "True"),
            ("Initialized", "True"),
            ("Ready", ready),
            ("ContainersReady", ready),
            ("PodScheduled", "True"),
        )
    ]
    for condition in conditions:
        if condition["status"] == "False":
            condition["reason"] = "ContainersNotReady"
            names = ", ".join(s["name"] for s in statuses)
            condition["message"] = f"containers with unready status: [{names}]"
    ip = f"10.244.0.{len(store.logs) % 250 + 2}"
    return {
        "phase": "Running",
        "conditions": conditions,
        "hostIP": NODE_IP,
        "hostIPs": [{"ip": NODE_IP}],
        "podIP": ip,
        "podIPs": [{"ip": ip}],
        "startTime": now,
        "containerStatuses": statuses,
        "qosClass": "BestEffort",
    }


# --- reactions after a committed write -------------------------------------------------------


def after_write(store: Store, rtype: ResourceType, obj: Obj) -> None:
    """React to a committed create or update of `obj`."""
    if _is(rtype, "", "namespaces"):
        accounts = store.catalogue.find("", "v1", "serviceaccounts")
        if accounts and not store.find(accounts, obj["metadata"]["name"], "default"):
            store.create(accounts, {"metadata": {"name": "default"}}, obj["metadata"]["name"])
    elif _is(rtype, "apps", "deployments"):
        reconcile_deployment(store, obj["metadata"]["namespace"], obj["metadata"]["name"])
    elif _is(rtype, "apps", "replicasets"):
        reconcile_replica_set(store, obj["metadata"]["namespace"], obj["metadata"]["name"])


def after_delete(store: Store, rtype: ResourceType, obj: Obj) -> None:
    """React to a deleted object: a replica set replaces a pod of its that was deleted."""
    if _is(rtype, "", "pods"):
        for owner in obj["metadata"].get("ownerReferences") or []:
            if owner.get("kind") == "ReplicaSet":
                reconcile_replica_set(store, obj["metadata"]["namespace"], owner["name"])


def _types(store: Store) -> tuple[ResourceType, ResourceType, ResourceType]:
    deployments = store.catalogue.find("apps", "v1", "deployments")
    replica_sets = store.catalogue.find("apps", "v1", "replicasets")
    pods = store.catalogue.find("", "v1", "pods")
    assert deployments and replica_sets and pods
    return deployments, replica_sets, pods


def _owner(obj: Obj) -> Obj:
    meta = obj["metadata"]
    return {
        "apiVersion": obj["apiVersion"],
        "kind": obj["kind"],
        "name": meta["name"],
        "uid": meta["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def _owned_by(obj: Obj, uid: str) -> bool:
    return any(o.get("uid") == uid for o in obj["metadata"].get("ownerReferences") or [])


def _bare_template(template: Obj) -> Obj:
    bare = copy.deepcopy(template)
    bare.get("metadata", {}).get("labels", {}).pop(HASH_LABEL, None)
    return bare


def reconcile_deployment(store: Store, namespace: str, name: str) -> None:
    """Give a deployment a replica set for its current template with `spec.replicas` pods,
    scale its other replica sets to zero, and report that in its status."""
    deployments, replica_sets, pods = _types(store)
    deployment = store.find(deployments, namespace, name)
    if deployment is None:
        return
    spec, uid = deployment.get("spec", {}), deployment["metadata"]["uid"]
    template = spec.get("template") or {}
    owned = [rs for rs in store.objects(replica_sets, namespace) if _owned_by(rs, uid)]
    current = next(
        (
            rs
            for rs in owned
            if _bare_template(rs["spec"].get("template", {})) == _bare_template(template)
        ),
        None,
    )
    revisions = [int(rs["metadata"].get("annotations", {}).get(REVISION, "0")) for rs in owned]
    replicas = int(spec.get("replicas", 1))
    if current is not None and int(_revision(current)) < max(revisions, default=0):
        # going back to an older template (rollout undo) makes its replica set the newest
        current["metadata"].setdefault("annotations", {})[REVISION] = str(max(revisions) + 1)
        current = store.replace(replica_sets, namespace, current["metadata"]["name"], current)
        owned = [
            current if rs["metadata"]["uid"] == current["metadata"]["uid"] else rs for rs in owned
        ]
    if current is None:
        hashed = template_hash(template)
        rs_template = copy.deepcopy(template)
        rs_template.setdefault("metadata", {}).setdefault("labels", {})[HASH_LABEL] = hashed
        selector = copy.deepcopy(spec.get("selector") or {})
        selector.setdefault("matchLabels", {})[HASH_LABEL] = hashed
        labels = dict(rs_template["metadata"]["labels"])
        revision = str(max(revisions, default=0) + 1)
        current = store.create(
            replica_sets,
            {
                "metadata": {
                    "name": f"{name}-{hashed}",
                    "labels": labels,
                    "annotations": {REVISION: revision},
                    "ownerReferences": [_owner(deployment)],
                },
                "spec": {"replicas": 0, "selector": selector, "template": rs_template},
            },
            namespace,
        )
        event(
            store,
            deployment,
            "ScalingReplicaSet",
            f"Scaled up replica set {current['metadata']['name']} to {replicas}",
        )
    for rs in owned + ([current] if current not in owned else []):
        want = replicas if rs["metadata"]["uid"] == current["metadata"]["uid"] else 0
        if rs["spec"].get("replicas") != want:
            rs["spec"]["replicas"] = want
            store.replace(replica_sets, namespace, rs["metadata"]["name"], rs)
        reconcile_replica_set(store, namespace, rs["metadata"]["name"])
    current_name = current["metadata"]["name"]
    deployment = store.get(deployments, namespace, name)
    mine = [p for p in store.objects(pods, namespace) if _owned_by_any(p, store, uid)]
    ready = sum(1 for p in mine if _ready(p))
    revision = current["metadata"].get("annotations", {}).get(REVISION, "1")
    deployment["metadata"].setdefault("annotations", {})[REVISION] = revision
    deployment = store.replace(deployments, namespace, name, deployment)
    now = timestamp(store.clock())
    available = "True" if ready >= replicas else "False"
    deployment["status"] = {
        "observedGeneration": deployment["metadata"].get("generation", 1),
        "replicas": len(mine),
        "updatedReplicas": len(mine),
        "readyReplicas": ready,
        "availableReplicas": ready,
        "conditions": [
            {
                "type": "Available",
                "status": available,
                "lastUpdateTime": now,
                "lastTransitionTime": now,
                "reason": "MinimumReplicasAvailable"
                if available == "True"
                else "MinimumReplicasUnavailable",
                "message": "Deployment has minimum availability."
                if available == "True"
                else "Deployment does not have minimum availability.",
            },
            {
                "type": "Progressing",
                "status": "True",
                "lastUpdateTime": now,
                "lastTransitionTime": now,
                "reason": "NewReplicaSetAvailable",
                "message": f'ReplicaSet "{current_name}" has successfully progressed.',
            },
        ],
    }
    if ready < len(mine):
        deployment["status"]["unavailableReplicas"] = len(mine) - ready
    store.replace(deployments, namespace, name, deployment, subresource="status")


def _revision(rs: Obj) -> str:
    return str(rs["metadata"].get("annotations", {}).get(REVISION, "0"))


def _owned_by_any(pod: Obj, store: Store, deployment_uid: str) -> bool:
    _, replica_sets, _ = _types(store)
    for owner in pod["metadata"].get("ownerReferences") or []:
        rs = store.find(replica_sets, pod["metadata"]["namespace"], owner.get("name", ""))
        if rs is not None and _owned_by(rs, deployment_uid):
            return True
    return False


def _ready(pod: Obj) -> bool:
    statuses = pod.get("status", {}).get("containerStatuses") or []
    return bool(statuses) and all(s.get("ready") for s in statuses)


def reconcile_replica_set(store: Store, namespace: str, name: str) -> None:
    """Create or delete pods until the replica set has `spec.replicas` of them."""
    _, replica_sets, pods = _types(store)
    rs = store.find(replica_sets, namespace, name)
    if rs is None:
        return
    rs = copy.deepcopy(rs)
    want = int(rs.get("spec", {}).get("replicas", 1))
    selector = match_labels_selector(rs["spec"].get("selector"))
    mine = [
        p
        for p in store.objects(pods, namespace, selectors=(selector,))
        if _owned_by(p, rs["metadata"]["uid"])
    ]
    behaviour = _behaviour(store, rs)
    template = rs["spec"].get("template") or {}
    while len(mine) < want:
        pod = {
            "metadata": {
                **copy.deepcopy(template.get("metadata", {})),
                "name": f"{name}-{random_suffix()}",
                "ownerReferences": [_owner({**rs, "apiVersion": "apps/v1", "kind": "ReplicaSet"})],
            },
            "spec": copy.deepcopy(template.get("spec", {})),
        }
        pod = prepare(store, pods, pod, creating=False)
        pod["status"] = pod_status(store, pod["spec"], behaviour)
        created = store.create(pods, pod, namespace)
        start_logs(store, created, behaviour)
        mine.append(created)
        event(
            store,
            rs,
            "SuccessfulCreate",
            f"Created pod: {created['metadata']['name']}",
            component="replicaset-controller",
        )
    while len(mine) > want:
        doomed = mine.pop()
        store.delete(pods, namespace, doomed["metadata"]["name"])
        event(
            store,
            rs,
            "SuccessfulDelete",
            f"Deleted pod: {doomed['metadata']['name']}",
            component="replicaset-controller",
        )
    ready = sum(1 for p in mine if _ready(p))
    rs["status"] = {
        "replicas": len(mine),
        "fullyLabeledReplicas": len(mine),
        "readyReplicas": ready,
        "availableReplicas": ready,
        "observedGeneration": rs["metadata"].get("generation", 1),
    }
    store.replace(replica_sets, namespace, name, rs, subresource="status")


def _behaviour(store: Store, rs: Obj) -> PodBehaviour | None:
    for owner in rs["metadata"].get("ownerReferences") or []:
        if owner.get("kind") == "Deployment":
            return store.behaviours.get((rs["metadata"]["namespace"], owner["name"]))
    return None


def start_logs(store: Store, pod: Obj, behaviour: PodBehaviour | None) -> None:
    """Seed each container's log with what it printed so far, and what it prints next."""
    meta = pod["metadata"]
    for container in pod.get("spec", {}).get("containers") or []:
        log = store.pod_log(meta["namespace"], meta["name"], container.get("name", ""))
        if behaviour:
            log.lines.extend(behaviour.boot_log)
            log.ticker = behaviour.ticker
        else:
            log.lines.append(f"{container.get('name', '')} started")


def event(
    store: Store,
    involved: Obj,
    reason: str,
    message: str,
    kind: str = "Normal",
    component: str = "deployment-controller",
    count: int = 1,
) -> Obj:
    """Record a core/v1 Event about `involved`, as a controller reports what it did."""
    events = store.catalogue.find("", "v1", "events")
    assert events is not None
    meta, now = involved["metadata"], timestamp(store.clock())
    return store.create(
        events,
        {
            "metadata": {"name": f"{meta['name']}.{random_suffix(10)}"},
            "involvedObject": {
                "kind": involved.get("kind", ""),
                "apiVersion": involved.get("apiVersion", ""),
                "namespace": meta.get("namespace", ""),
                "name": meta["name"],
                "uid": meta.get("uid", ""),
            },
            "reason": reason,
            "message": message,
            "type": kind,
            "count": count,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "source": {"component": component},
            "reportingComponent": "",
            "reportingInstance": "",
        },
        meta.get("namespace", "default"),
    )
