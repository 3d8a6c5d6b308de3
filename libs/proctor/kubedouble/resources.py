"""The resource types the double serves (built-in ones and those custom resource definitions
add), and the discovery documents kubectl reads to map `po` or `deploy` to a URL."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
SUBRESOURCE_VERBS = {
    "status": ("get", "patch", "update"),
    "scale": ("get", "patch", "update"),
    "log": ("get",),
    "exec": ("create", "get"),
}


@dataclass(frozen=True, slots=True)
class ResourceType:
    """One resource as discovery describes it: `deployments` in `apps/v1`, kind `Deployment`."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool = True
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: frozenset[str] = frozenset()
    verbs: tuple[str, ...] = VERBS

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    def discovery(self) -> list[dict[str, Any]]:
        """This resource's entries in an APIResourceList (with its subresources)."""
        entry: dict[str, Any] = {
            "name": self.plural,
            "singularName": self.singular,
            "namespaced": self.namespaced,
            "kind": self.kind,
            "verbs": list(self.verbs),
        }
        if self.short_names:
            entry["shortNames"] = list(self.short_names)
        if self.categories:
            entry["categories"] = list(self.categories)
        entries = [entry]
        for sub in sorted(self.subresources):
            item: dict[str, Any] = {
                "name": f"{self.plural}/{sub}",
                "singularName": "",
                "namespaced": self.namespaced,
                "kind": self.kind,
                "verbs": list(SUBRESOURCE_VERBS[sub]),
            }
            if sub == "scale":
                item.update(group="autoscaling", version="v1", kind="Scale")
            elif sub in ("log", "exec"):
                item["kind"] = {"log": "Pod", "exec": "PodExecOptions"}[sub]
            entries.append(item)
        return entries


def _core(plural: str, kind: str, *short: str, **kw: Any) -> ResourceType:
    return ResourceType("", "v1", plural, kind, short_names=short, **kw)


_STATUS = frozenset({"status"})
_ALL = ("all",)

BUILTINS: tuple[ResourceType, ...] = (
    _core("namespaces", "Namespace", "ns", namespaced=False, subresources=_STATUS),
    _core("nodes", "Node", "no", namespaced=False, subresources=_STATUS),
    _core("persistentvolumes", "PersistentVolume", "pv", namespaced=False, subresources=_STATUS),
    _core(
        "pods",
        "Pod",
        "po",
        categories=_ALL,
        subresources=frozenset({"status", "log", "exec"}),
    ),
    _core("services", "Service", "svc", categories=_ALL, subresources=_STATUS),
    _core("configmaps", "ConfigMap", "cm"),
    _core("secrets", "Secret"),
    _core("serviceaccounts", "ServiceAccount", "sa"),
    _core("events", "Event", "ev"),
    _core("persistentvolumeclaims", "PersistentVolumeClaim", "pvc", subresources=_STATUS),
    ResourceType(
        "apps",
        "v1",
        "deployments",
        "Deployment",
        short_names=("deploy",),
        categories=_ALL,
        subresources=frozenset({"status", "scale"}),
    ),
    ResourceType(
        "apps",
        "v1",
        "replicasets",
        "ReplicaSet",
        short_names=("rs",),
        categories=_ALL,
        subresources=frozenset({"status", "scale"}),
    ),
    ResourceType(
        "apps",
        "v1",
        "statefulsets",
        "StatefulSet",
        short_names=("sts",),
        categories=_ALL,
        subresources=frozenset({"status", "scale"}),
    ),
    ResourceType("batch", "v1", "jobs", "Job", categories=_ALL, subresources=_STATUS),
    ResourceType(
        "batch",
        "v1",
        "cronjobs",
        "CronJob",
        short_names=("cj",),
        categories=_ALL,
        subresources=_STATUS,
    ),
    ResourceType("rbac.authorization.k8s.io", "v1", "roles", "Role"),
    ResourceType("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding"),
    ResourceType("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False),
    ResourceType(
        "rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False
    ),
    ResourceType(
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        namespaced=False,
        short_names=("crd", "crds"),
        subresources=_STATUS,
    ),
)

CRD = BUILTINS[-1]
# `kubectl auth can-i` asks these; the double answers and keeps nothing
REVIEWS = (
    ResourceType(
        "authorization.k8s.io",
        "v1",
        "selfsubjectaccessreviews",
        "SelfSubjectAccessReview",
        namespaced=False,
        verbs=("create",),
    ),
)
BUILTINS = BUILTINS + REVIEWS


def from_crd(crd: dict[str, Any]) -> list[ResourceType]:
    """The resource types a CustomResourceDefinition serves (one per served version)."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    group, plural, kind = spec.get("group", ""), names.get("plural", ""), names.get("kind", "")
    if not (group and plural and kind):
        return []
    types = []
    for version in spec.get("versions") or []:
        if not version.get("served", True) or not version.get("name"):
            continue
        subs = (version.get("subresources") or {}).keys() & {"status", "scale"}
        types.append(
            ResourceType(
                group,
                version["name"],
                plural,
                kind,
                namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                short_names=tuple(names.get("shortNames") or ()),
                categories=tuple(names.get("categories") or ()),
                subresources=frozenset(subs),
            )
        )
    return types


@dataclass
class Catalogue:
    """The types served now: the built-ins, then those of the custom resource definitions."""

    builtins: tuple[ResourceType, ...] = BUILTINS
    custom: dict[str, list[ResourceType]] = field(default_factory=dict)  # CRD name -> types

    def __iter__(self) -> Iterator[ResourceType]:
        yield from self.builtins
        for types in self.custom.values():
            yield from types

    def define(self, crd: dict[str, Any]) -> None:
        self.custom[crd["metadata"]["name"]] = from_crd(crd)

    def forget(self, crd_name: str) -> None:
        self.custom.pop(crd_name, None)

    def find(self, group: str, version: str, plural: str) -> ResourceType | None:
        for rtype in self:
            if (rtype.group, rtype.version, rtype.plural) == (group, version, plural):
                return rtype
        return None

    def storage(self, group: str, plural: str) -> ResourceType | None:
        """Any served version of `plural` in `group` (objects are stored once per resource)."""
        return next((t for t in self if (t.group, t.plural) == (group, plural)), None)

    def by_kind(self, group: str, kind: str) -> ResourceType | None:
        return next((t for t in self if (t.group, t.kind) == (group, kind)), None)

    def group_versions(self) -> dict[str, list[str]]:
        """Each non-core group and its versions, in the order they were defined."""
        groups: dict[str, list[str]] = {}
        for rtype in self:
            if rtype.group and rtype.version not in groups.setdefault(rtype.group, []):
                groups[rtype.group].append(rtype.version)
        return groups

    def in_group_version(self, group: str, version: str) -> list[ResourceType]:
        return [t for t in self if (t.group, t.version) == (group, version)]


def api_versions() -> dict[str, Any]:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": ""}],
    }


def api_group_list(catalogue: Catalogue) -> dict[str, Any]:
    groups = []
    for group, versions in catalogue.group_versions().items():
        listed = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
        groups.append({"name": group, "versions": listed, "preferredVersion": listed[0]})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_group(catalogue: Catalogue, group: str) -> dict[str, Any] | None:
    versions = catalogue.group_versions().get(group)
    if not versions:
        return None
    listed = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
    return {
        "kind": "APIGroup",
        "apiVersion": "v1",
        "name": group,
        "versions": listed,
        "preferredVersion": listed[0],
    }


def api_resource_list(types: Iterable[ResourceType], group_version: str) -> dict[str, Any]:
    resources = [entry for rtype in types for entry in rtype.discovery()]
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": resources,
    }
