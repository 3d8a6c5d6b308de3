"""The demo cluster `proctor up` serves: namespaces `default`, `kube-system` and `demo`, a node,
and in `demo` a `checkout` deployment whose only pod crashes in a loop. Its log holds customer
emails, a card number and a stack trace about the database host it cannot reach; its env holds
a database URL with a password. All of it is made up: the card is a payment processor's
published test number, domains are example.com, the password says it is not real.

The names are constants so the gateway's tests can ask for them.
"""

from __future__ import annotations

import base64
from datetime import timedelta

from proctor.kubedouble import controller
from proctor.kubedouble.store import Obj, PodBehaviour, Store, timestamp

DEMO_NAMESPACE = "demo"
DEMO_DEPLOYMENT = "checkout"
DEMO_REPLICA_SET = "checkout-7d4b9c8f5d"
DEMO_POD = "checkout-7d4b9c8f5d-xk2lp"
DEMO_CONTAINER = "checkout"
DEMO_SERVICE = "checkout"
DEMO_SECRET = "checkout-db"
DEMO_CONFIGMAP = "checkout-config"
DEMO_NODE = "node-1"
DEMO_EMAIL = "jane.doe@example.com"
DEMO_EMAILS = (DEMO_EMAIL, "john.smith@example.com", "ana.silva@example.org")
DEMO_CARD = "4111 1111 1111 1111"
DEMO_DB_PASSWORD = "hunter2-not-real"
DEMO_DATABASE_URL = f"postgresql://checkout:{DEMO_DB_PASSWORD}@db:5432/shop"
DEMO_IMAGE = "registry.example.com/shop/checkout:1.4.2"
DEMO_RESTARTS = 17
NAMESPACES = ("default", "kube-system", DEMO_NAMESPACE)

LABELS = {"app": DEMO_DEPLOYMENT, "tier": "backend"}
CONFIG_FILE = """\
# checkout service configuration
http.port=8080
db.host=db-primary.shop.svc.cluster.local
db.port=5432
db.name=shop
payments.provider=sandbox
"""

BOOT_LOG = (
    "2026-01-12T09:14:02Z INFO  checkout 1.4.2 starting (pid 1)",
    "2026-01-12T09:14:02Z INFO  loading /app/config",
    f"2026-01-12T09:14:03Z INFO  replaying pending order 10231 for {DEMO_EMAILS[0]} "
    f"card {DEMO_CARD}",
    f"2026-01-12T09:14:03Z INFO  replaying pending order 10232 for {DEMO_EMAILS[1]} "
    "card 5555 5555 5555 4444",
    f"2026-01-12T09:14:03Z WARN  order 10233 for {DEMO_EMAILS[2]}: card {DEMO_CARD} "
    "declined (test)",
    "2026-01-12T09:14:04Z INFO  connecting to database at db:5432 (from DATABASE_URL)",
    "2026-01-12T09:14:09Z ERROR could not connect to the orders database",
    "Traceback (most recent call last):",
    '  File "/app/checkout/main.py", line 42, in <module>',
    '    pool = connect(os.environ["DATABASE_URL"])',
    '  File "/app/checkout/db.py", line 17, in connect',
    "    return psycopg_pool.ConnectionPool(url, open=True, timeout=5)",
    'psycopg.OperationalError: connection failed: could not translate host name "db" to '
    "address: Name or service not known (config says db.host=db-primary.shop.svc.cluster.local;"
    " DATABASE_URL overrides it)",
    "2026-01-12T09:14:09Z FATAL exiting with status 1",
)


def crash_line(n: int) -> str:
    """The n-th line the crashing pod logs while someone follows it."""
    email = DEMO_EMAILS[n % len(DEMO_EMAILS)]
    if n % 3 == 0:
        return f"ERROR could not connect to database at db:5432 (attempt {n}): Name unknown"
    return f"INFO  retrying pending order {10230 + n} for {email} card {DEMO_CARD}"


BEHAVIOUR = PodBehaviour(
    crashloop=True, restarts=DEMO_RESTARTS, boot_log=BOOT_LOG, ticker=crash_line
)


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _backdate(store: Store, obj: Obj, age: timedelta) -> None:
    """Make a just-seeded object look `age` old (only while nothing watches yet)."""
    rtype = store.type_of(obj["apiVersion"], obj["kind"])
    meta = obj["metadata"]
    stored = store.find(rtype, meta.get("namespace", ""), meta["name"])
    if stored is not None:
        stored["metadata"]["creationTimestamp"] = timestamp(store.clock() - age)


def _template() -> Obj:
    return {
        "metadata": {"labels": dict(LABELS)},
        "spec": {
            "containers": [
                {
                    "name": DEMO_CONTAINER,
                    "image": DEMO_IMAGE,
                    "ports": [{"containerPort": 8080, "name": "http", "protocol": "TCP"}],
                    "env": [
                        {"name": "DATABASE_URL", "value": DEMO_DATABASE_URL},
                        {
                            "name": "DB_PASSWORD",
                            "valueFrom": {"secretKeyRef": {"name": DEMO_SECRET, "key": "password"}},
                        },
                        {
                            "name": "PAYMENTS_PROVIDER",
                            "valueFrom": {
                                "configMapKeyRef": {
                                    "name": DEMO_CONFIGMAP,
                                    "key": "payments.provider",
                                }
                            },
                        },
                        {"name": "LOG_LEVEL", "value": "info"},
                    ],
                    "volumeMounts": [
                        {"name": "config", "mountPath": "/app/config", "subPath": "config"},
                        {"name": "db", "mountPath": "/var/run/secrets/db", "readOnly": True},
                    ],
                    "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}},
                }
            ],
            "volumes": [
                {"name": "config", "configMap": {"name": DEMO_CONFIGMAP}},
                {"name": "db", "secret": {"secretName": DEMO_SECRET}},
            ],
        },
    }


def seed(store: Store) -> None:
    """Fill `store` with the demo cluster."""
    add = store.add
    for name in NAMESPACES:
        namespace = add(
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name}},
                "spec": {"finalizers": ["kubernetes"]},
                "status": {"phase": "Active"},
            }
        )
        add(
            {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {"name": "default", "namespace": name},
            }
        )
        _backdate(store, namespace, timedelta(days=12))
    node = add(
        {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": DEMO_NODE,
                "labels": {
                    "kubernetes.io/hostname": DEMO_NODE,
                    "kubernetes.io/os": "linux",
                    "kubernetes.io/arch": "amd64",
                    "node-role.kubernetes.io/control-plane": "",
                },
            },
            "spec": {"podCIDR": "10.244.0.0/24"},
            "status": {
                "conditions": [
                    {
                        "type": "Ready",
                        "status": "True",
                        "reason": "KubeletReady",
                        "message": "kubelet is posting ready status",
                        "lastHeartbeatTime": timestamp(store.clock()),
                        "lastTransitionTime": timestamp(store.clock()),
                    }
                ],
                "addresses": [
                    {"type": "InternalIP", "address": controller.NODE_IP},
                    {"type": "Hostname", "address": DEMO_NODE},
                ],
                "capacity": {"cpu": "4", "memory": "16367772Ki", "pods": "110"},
                "allocatable": {"cpu": "4", "memory": "16265372Ki", "pods": "110"},
                "nodeInfo": {
                    "kubeletVersion": "v1.33.0",
                    "kubeProxyVersion": "v1.33.0",
                    "containerRuntimeVersion": "containerd://1.7.24",
                    "operatingSystem": "linux",
                    "architecture": "amd64",
                    "osImage": "Debian GNU/Linux 12 (bookworm)",
                    "kernelVersion": "6.1.0-28-amd64",
                    "machineID": "",
                    "systemUUID": "",
                    "bootID": "",
                },
            },
        }
    )
    _backdate(store, node, timedelta(days=12))
    ns = DEMO_NAMESPACE
    add(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": DEMO_CONFIGMAP,
                "namespace": ns,
                "labels": {"app": DEMO_DEPLOYMENT},
            },
            "data": {"config": CONFIG_FILE, "payments.provider": "sandbox"},
        }
    )
    add(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "Opaque",
            "metadata": {"name": DEMO_SECRET, "namespace": ns, "labels": {"app": DEMO_DEPLOYMENT}},
            "data": {"username": _b64("checkout"), "password": _b64(DEMO_DB_PASSWORD)},
        }
    )
    add(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": DEMO_SERVICE, "namespace": ns, "labels": {"app": DEMO_DEPLOYMENT}},
            "spec": {
                "type": "ClusterIP",
                "clusterIP": "10.96.0.50",
                "clusterIPs": ["10.96.0.50"],
                "selector": {"app": DEMO_DEPLOYMENT},
                "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}],
                "sessionAffinity": "None",
            },
            "status": {"loadBalancer": {}},
        }
    )
    _seed_checkout(store)
    store.behaviours[(ns, DEMO_DEPLOYMENT)] = BEHAVIOUR


def _seed_checkout(store: Store) -> None:
    ns = DEMO_NAMESPACE
    template = _template()
    deployment = store.add(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {
                "name": DEMO_DEPLOYMENT,
                "namespace": ns,
                "labels": dict(LABELS),
                "annotations": {controller.REVISION: "1"},
            },
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": DEMO_DEPLOYMENT}},
                "template": template,
                "revisionHistoryLimit": 10,
                "progressDeadlineSeconds": 600,
                "strategy": {
                    "type": "RollingUpdate",
                    "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
                },
            },
            "status": {
                "observedGeneration": 1,
                "replicas": 1,
                "updatedReplicas": 1,
                "readyReplicas": 0,
                "availableReplicas": 0,
                "unavailableReplicas": 1,
            },
        }
    )
    hashed = DEMO_REPLICA_SET.rsplit("-", 1)[1]
    rs_template = _template()
    rs_template["metadata"]["labels"][controller.HASH_LABEL] = hashed
    owner = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": DEMO_DEPLOYMENT,
        "uid": deployment["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }
    rs = store.add(
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": DEMO_REPLICA_SET,
                "namespace": ns,
                "labels": {**LABELS, controller.HASH_LABEL: hashed},
                "annotations": {controller.REVISION: "1"},
                "ownerReferences": [owner],
            },
            "spec": {
                "replicas": 1,
                "template": rs_template,
                "selector": {
                    "matchLabels": {"app": DEMO_DEPLOYMENT, controller.HASH_LABEL: hashed}
                },
            },
            "status": {
                "replicas": 1,
                "fullyLabeledReplicas": 1,
                "readyReplicas": 0,
                "availableReplicas": 0,
                "observedGeneration": 1,
            },
        }
    )
    pod_spec = rs_template["spec"]
    pod_spec.update(
        nodeName=controller.NODE,
        restartPolicy="Always",
        dnsPolicy="ClusterFirst",
        serviceAccountName="default",
        schedulerName="default-scheduler",
        terminationGracePeriodSeconds=30,
    )
    pod = store.add(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": DEMO_POD,
                "namespace": ns,
                "labels": {**LABELS, controller.HASH_LABEL: hashed},
                "ownerReferences": [
                    {
                        "apiVersion": "apps/v1",
                        "kind": "ReplicaSet",
                        "name": DEMO_REPLICA_SET,
                        "uid": rs["metadata"]["uid"],
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }
                ],
            },
            "spec": pod_spec,
            "status": controller.pod_status(store, pod_spec, BEHAVIOUR),
        }
    )
    controller.start_logs(store, pod, BEHAVIOUR)
    for obj, age in (
        (deployment, timedelta(days=3)),
        (rs, timedelta(days=3)),
        (pod, timedelta(hours=2, minutes=14)),
    ):
        _backdate(store, obj, age)
    events = store.catalogue.find("", "v1", "events")
    assert events is not None
    for reason, message, kind, count in (
        ("Scheduled", f"Successfully assigned {ns}/{DEMO_POD} to {controller.NODE}", "Normal", 1),
        ("Pulled", f'Container image "{DEMO_IMAGE}" already present on machine', "Normal", 18),
        ("Created", f"Created container {DEMO_CONTAINER}", "Normal", 18),
        ("Started", f"Started container {DEMO_CONTAINER}", "Normal", 18),
        (
            "BackOff",
            "Back-off restarting failed container checkout in pod "
            f"{DEMO_POD}_{ns}({pod['metadata']['uid']})",
            "Warning",
            87,
        ),
    ):
        made = controller.event(store, pod, reason, message, kind, component="kubelet", count=count)
        stored = store.find(events, DEMO_NAMESPACE, made["metadata"]["name"])
        if stored is not None:  # seen first when the pod started, last a minute ago
            stored["firstTimestamp"] = timestamp(store.clock() - timedelta(hours=2, minutes=14))
            last = timedelta(hours=2, minutes=14) if count == 1 else timedelta(seconds=70)
            stored["lastTimestamp"] = timestamp(store.clock() - last)
