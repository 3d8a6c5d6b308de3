"""A double of the Kubernetes API server: in memory, speaking the REST protocol real kubectl
uses (discovery, tables, watch, logs, exec over WebSocket, the four patch kinds), for tests and
the `proctor up` demo cluster. It is not a cluster: nothing is scheduled or run."""

from __future__ import annotations

from proctor.kubedouble.app import build_app
from proctor.kubedouble.demo import (
    DEMO_CARD,
    DEMO_CONFIGMAP,
    DEMO_CONTAINER,
    DEMO_DATABASE_URL,
    DEMO_DB_PASSWORD,
    DEMO_DEPLOYMENT,
    DEMO_EMAIL,
    DEMO_NAMESPACE,
    DEMO_NODE,
    DEMO_POD,
    DEMO_SECRET,
    DEMO_SERVICE,
)
from proctor.kubedouble.server import KubeDouble, local_tls, serve, tls_context
from proctor.kubedouble.store import PodBehaviour, Store
from proctor.kubedouble.testing import kubectl_binaries

__all__ = [
    "DEMO_CARD",
    "DEMO_CONFIGMAP",
    "DEMO_CONTAINER",
    "DEMO_DATABASE_URL",
    "DEMO_DB_PASSWORD",
    "DEMO_DEPLOYMENT",
    "DEMO_EMAIL",
    "DEMO_NAMESPACE",
    "DEMO_NODE",
    "DEMO_POD",
    "DEMO_SECRET",
    "DEMO_SERVICE",
    "KubeDouble",
    "PodBehaviour",
    "Store",
    "build_app",
    "kubectl_binaries",
    "local_tls",
    "serve",
    "tls_context",
]
