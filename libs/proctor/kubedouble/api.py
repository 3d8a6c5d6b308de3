"""The verbs of the API server on the double's store, without HTTP: get, list, create, update,
patch (four kinds), delete and deletecollection, on a resource or its `status` and `scale`
subresources, with `dryRun` and what a cluster's controllers would do after a write."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import yaml

from proctor import k8sproto
from proctor.errors import UnreadableRequest
from proctor.kubedouble import controller
from proctor.kubedouble.errors import ApiError, bad_request, conflict
from proctor.kubedouble.patches import APPLY_PATCH, STRATEGIC_MERGE_PATCH, apply_patch
from proctor.kubedouble.resources import BUILTINS, REVIEWS, ResourceType
from proctor.kubedouble.selectors import Selector, selector_string
from proctor.kubedouble.store import Obj, Store, timestamp


@dataclass(frozen=True, slots=True)
class Target:
    """What a request is about: a resource, maybe a namespace, a name and a subresource."""

    rtype: ResourceType
    namespace: str = ""
    name: str = ""
    subresource: str = ""


def parse_body(raw: bytes, content_type: str = "application/json") -> Any:
    if not raw.strip():
        raise bad_request("the request has no body")
    if content_type == k8sproto.MEDIA_TYPE:
        try:
            return k8sproto.decode(raw)
        except UnreadableRequest as exc:
            raise ApiError(415, str(exc), "UnsupportedMediaType") from exc
    try:
        if content_type == APPLY_PATCH:
            return yaml.safe_load(raw)
        return json.loads(raw)
    except (ValueError, yaml.YAMLError) as exc:
        raise bad_request(f"the body is not valid {content_type}: {exc}") from exc


def _list(rtype: ResourceType, items: list[Obj], resource_version: int) -> Obj:
    return {
        "kind": rtype.list_kind,
        "apiVersion": rtype.group_version,
        "metadata": {"resourceVersion": str(resource_version)},
        "items": items,
    }


class Api:
    """The verbs, on one store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # --- reads -------------------------------------------------------------------------------

    def get(self, target: Target) -> Obj:
        obj = self.store.get(target.rtype, target.namespace, target.name)
        if target.subresource == "scale":
            return _scale(obj)
        return obj

    def list(
        self, rtype: ResourceType, namespace: str | None, selectors: tuple[Selector, ...]
    ) -> Obj:
        items = self.store.objects(rtype, namespace, selectors=selectors)
        return _list(rtype, items, self.store.resource_version)

    # --- writes ------------------------------------------------------------------------------

    def create(self, target: Target, body: Any, *, dry_run: bool = False) -> Obj:
        if target.subresource:
            raise ApiError(
                405, f"create is not supported on {target.rtype.plural}/{target.subresource}"
            )
        obj = _object(body, target.rtype)
        if target.rtype in REVIEWS:
            obj["apiVersion"], obj["kind"] = target.rtype.group_version, target.rtype.kind
            obj["status"] = {
                "allowed": True,
                "reason": "the Kubernetes double allows every request",
            }
            return obj
        obj = controller.prepare(self.store, target.rtype, obj, creating=True)
        created = self.store.create(target.rtype, obj, target.namespace, dry_run=dry_run)
        if not dry_run:
            controller.after_write(self.store, target.rtype, created)
            created = self.store.get(target.rtype, target.namespace, created["metadata"]["name"])
        return created

    def update(self, target: Target, body: Any, *, dry_run: bool = False) -> Obj:
        if target.subresource == "scale":
            return self._set_scale(target, body, dry_run)
        obj = _object(body, target.rtype)
        if not target.subresource:
            obj = controller.prepare(self.store, target.rtype, obj, creating=False)
        updated = self.store.replace(
            target.rtype,
            target.namespace,
            target.name,
            obj,
            dry_run=dry_run,
            subresource=target.subresource,
        )
        if not dry_run and not target.subresource:
            controller.after_write(self.store, target.rtype, updated)
            updated = self.store.get(target.rtype, target.namespace, target.name)
        return updated

    def patch(
        self,
        target: Target,
        content_type: str,
        raw: bytes,
        *,
        dry_run: bool = False,
        field_manager: str = "",
    ) -> tuple[Obj, bool]:
        """The patched object, and whether the patch created it (a server-side apply may)."""
        patch = parse_body(raw, content_type)
        rtype = target.rtype
        if content_type == STRATEGIC_MERGE_PATCH and rtype not in BUILTINS:
            raise ApiError(
                415,
                f"the body of the request was in an unknown format - accepted media types "
                f"include: application/json-patch+json, application/merge-patch+json, "
                f"{APPLY_PATCH}",
                "UnsupportedMediaType",
            )
        if content_type == APPLY_PATCH:
            if not field_manager:
                raise bad_request("PATCH, application/apply-patch+yaml requires fieldManager")
            if target.subresource == "" and not self.store.find(
                rtype, target.namespace, target.name
            ):
                config = _object(patch, rtype)
                config.setdefault("metadata", {}).setdefault("name", target.name)
                _manage(config, field_manager, "Apply", self.store)
                return self.create(target, config, dry_run=dry_run), True
        current = self.get(target)
        patched = apply_patch(current, content_type, patch)
        if not isinstance(patched, dict):
            raise bad_request("the patch does not leave an object")
        if content_type == APPLY_PATCH:
            _manage(patched, field_manager, "Apply", self.store)
        # A patch is made against what it read: it fails, as a PUT does, if the object changed.
        patched.setdefault("metadata", {})["resourceVersion"] = current["metadata"][
            "resourceVersion"
        ]
        return self.update(target, patched, dry_run=dry_run), False

    def delete(self, target: Target, *, dry_run: bool = False, propagation: str = "") -> Obj:
        if target.subresource:
            raise ApiError(
                405, f"delete is not supported on {target.rtype.plural}/{target.subresource}"
            )
        gone = self.store.delete(
            target.rtype,
            target.namespace,
            target.name,
            dry_run=dry_run,
            propagation=propagation or "Background",
        )
        if not dry_run:
            controller.after_delete(self.store, target.rtype, gone)
        return gone

    def delete_collection(
        self,
        rtype: ResourceType,
        namespace: str | None,
        selectors: tuple[Selector, ...],
        *,
        dry_run: bool = False,
        propagation: str = "",
    ) -> Obj:
        doomed = self.store.objects(rtype, namespace, selectors=selectors)
        gone = []
        for obj in doomed:
            meta = obj["metadata"]
            target = Target(rtype, meta.get("namespace", ""), meta["name"])
            if self.store.find(rtype, target.namespace, target.name) is not None:
                gone.append(self.delete(target, dry_run=dry_run, propagation=propagation))
        return _list(rtype, gone, self.store.resource_version)

    # --- scale -------------------------------------------------------------------------------

    def _set_scale(self, target: Target, body: Any, dry_run: bool) -> Obj:
        if not isinstance(body, dict) or not isinstance(body.get("spec", {}).get("replicas"), int):
            raise ApiError(422, "Scale is invalid: spec.replicas: Required value", "Invalid")
        obj = self.store.get(target.rtype, target.namespace, target.name)
        wanted_rv = body.get("metadata", {}).get("resourceVersion")
        if wanted_rv and wanted_rv != obj["metadata"]["resourceVersion"]:
            raise conflict(target.rtype.plural, target.rtype.group, target.name)
        obj["spec"]["replicas"] = body["spec"]["replicas"]
        updated = self.update(
            Target(target.rtype, target.namespace, target.name), obj, dry_run=dry_run
        )
        return _scale(updated)


def _object(body: Any, rtype: ResourceType) -> Obj:
    if not isinstance(body, dict):
        raise bad_request(f"the body is not a {rtype.kind} object")
    obj: Obj = _without_nulls(body)
    kind = obj.get("kind")
    if kind and kind != rtype.kind:
        raise bad_request(
            f"the kind of the body ({kind}) does not match the resource ({rtype.kind})"
        )
    return obj


def _without_nulls(value: Any) -> Any:
    """A copy without null fields (Go clients send `creationTimestamp: null`; the API server
    keeps no nulls), so equal objects compare equal."""
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def _scale(obj: Obj) -> Obj:
    meta = obj["metadata"]
    status = obj.get("status", {})
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            k: meta[k]
            for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
            if k in meta
        },
        "spec": {"replicas": obj.get("spec", {}).get("replicas", 1)},
        "status": {
            "replicas": status.get("replicas", 0),
            "selector": selector_string(obj.get("spec", {}).get("selector")),
        },
    }


def _manage(obj: Obj, manager: str, operation: str, store: Store) -> None:
    """Record `manager` in managedFields, as a server-side apply does (without field sets)."""
    meta = obj.setdefault("metadata", {})
    entries = [
        e
        for e in meta.get("managedFields") or []
        if (e.get("manager"), e.get("operation")) != (manager, operation)
    ]
    entries.append(
        {
            "manager": manager,
            "operation": operation,
            "apiVersion": obj.get("apiVersion", ""),
            "time": timestamp(store.clock()),
            "fieldsType": "FieldsV1",
            "fieldsV1": {},
        }
    )
    meta["managedFields"] = entries
