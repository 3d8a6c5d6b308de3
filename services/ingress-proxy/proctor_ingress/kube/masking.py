"""Masking the Kubernetes objects the cluster answers with, before kubectl (and so the model)
sees them: `mask_object` for an object, a List, a `meta.k8s.io` Table or a WatchEvent.

What is masked where:
- Secret: every value of `data` (base64) and `stringData` is replaced whole by the proxy, the
  masker never sees it; the keys stay, so the agent knows which exist.
- ConfigMap: `data` values go to the masker, hinted by their key; `binaryData` is replaced.
- A value whose name says it is a secret (`DB_PASSWORD`, `apiToken`, `STRIPE_KEY`: see
  `secret_name`) is replaced whole by the proxy, wherever it is (env, ConfigMap, a CRD's spec).
- `kubectl.kubernetes.io/last-applied-configuration` (the manifest as JSON) is parsed and
  masked by these same rules, then written back; when it cannot be parsed it is withheld.
- Any other string goes to the masker, hinted by its key (an env var's or header's value by
  its name, `command` and `args` by `command`), when the prefilter says it could hold something:
  annotations, messages, notes, conditions, termination messages, a CRD's fields.
- What identifies things stays exactly as it is: names (`name`, `*Name`), namespaces, uids,
  resourceVersions, labels and selectors, owner references, managed fields, finalizers, images,
  container ids, pod, host and cluster IPs, node addresses, timestamps, list `continue` tokens.
- Table: string cells of columns that do not identify (MESSAGE of `kubectl get events`, a
  CRD's printer columns) go to the masker hinted by the column's name; each row's embedded
  object (`includeObject=Object` or `Metadata`) is masked as an object.

All texts of one call go to the masker in one `mask` call. The object is masked in place and
returned. When `mask` raises MaskUnavailable it propagates unchanged and the object must not be
sent: the caller answers an error instead.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from proctor.maskrules import STREET_ADDRESS, column_hint, secret_name
from proctor_ingress.kube.maskcall import MASKED, WITHHELD_ENTITY, MaskTexts, masker_over_nats
from proctor_ingress.masking import MaskStats, MaskUnavailable

__all__ = [
    "LAST_APPLIED",
    "MASKED",
    "MaskTexts",
    "MaskUnavailable",
    "mask_object",
    "mask_objects",
    "masker_over_nats",
    "secret_name",
]

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
MASKED_BASE64 = base64.b64encode(MASKED.encode()).decode()
UNREADABLE = "<withheld by Proctor: not a JSON manifest>"
SECRET_ENTITY = "SECRET"

JSON = Any

# Keys whose values identify things: never sent, never changed.
_IDENTIFIERS = frozenset({
    "kind", "apiVersion", "apiGroup", "uid", "resourceVersion", "selfLink", "continue",
    "labels", "matchLabels", "matchExpressions", "selector", "nodeSelector", "ownerReferences",
    "managedFields", "finalizers", "image", "imageID", "containerID", "names", "providerID",
    "machineID", "systemUUID", "bootID", "caBundle", "involvedObject", "regarding", "related",
    "targetRef",
})  # fmt: skip
_ADDRESS_KEY = re.compile(r"^(?:ip|cidr)$|[a-z](?:IPs?|CIDRs?)$")
# Keys whose values name things (with `*Name`): kept when the value reads as a Kubernetes name
# or path (no spaces, no `@`); any other value (`userName: jane@example.com`) is masked.
_NAMES = frozenset({
    "name", "generateName", "namespace", "hostname", "host", "subdomain", "fieldPath",
    "mountPath", "subPath", "topologyKey",
})  # fmt: skip
_NAME_KEY = re.compile(r"[a-z]Name$")
_NAME_VALUE = re.compile(r"[\w.:/-]{1,253}")
_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)")
# A network endpoint (`redis:6379`, `0.0.0.0`, `http://api`), which an `*_ADDR(ESS)` holds more
# often than a street: not masked whole as an address (the masker still reads it).
_ENDPOINT = re.compile(r"(?:[a-z][a-z0-9+.-]*://)?[\w.-]*(?:[.:][\w.-]*)(?:/\S*)?", re.I)
_COMMAND_KEYS = frozenset({"command", "args"})
# Table columns that identify or count (server-side printing of the built-in kinds).
_TABLE_IDENTIFIERS = frozenset({
    "name", "namespace", "age", "ready", "status", "restarts", "type", "data", "up-to-date",
    "available", "containers", "images", "selector", "ip", "node", "nominated node",
    "readiness gates", "last seen", "first seen", "reason", "object", "subobject", "count",
    "desired", "current", "completions", "duration", "schedule", "suspend", "active",
    "last schedule", "cluster-ip", "external-ip", "port(s)", "ports", "endpoints", "hosts",
    "address", "class", "capacity", "access modes", "reclaim policy", "storageclass", "volume",
    "roles", "version", "internal-ip", "os-image", "kernel-version", "container-runtime",
    "secrets", "replicas", "minpods", "maxpods", "targets", "reference", "revision",
    "controller", "provisioner", "volumebindingmode", "allowvolumeexpansion", "default",
    "volumeattributesclass", "timezone", "webhooks", "service", "labels",
})  # fmt: skip

_hint = lru_cache(maxsize=4096)(column_hint)  # hints repeat: the keys of every item of a List


@lru_cache(maxsize=4096)
def value_hint(hint: str, text: str) -> str:
    """The hint the masker gets for `text`: its name, except that an `*_ADDR`/`*_ADDRESS`
    holding a network endpoint is not read as a street address."""
    if _hint(hint) == STREET_ADDRESS and _ENDPOINT.fullmatch(text):
        return f"{hint} (endpoint)"
    return hint


Slot = tuple[Any, Any]  # (a dict or list, its key or index)


@dataclass
class _Batch:
    """The texts of one or more objects waiting for the masker, where they go back, and what
    the proxy replaced by itself."""

    pairs: list[tuple[str, str]] = field(default_factory=list)
    slots: list[Slot] = field(default_factory=list)
    after: list[Callable[[], None]] = field(default_factory=list)
    local: MaskStats = field(default_factory=MaskStats)

    def text(self, where: Any, key: Any, hint: str, text: str) -> None:
        if not text:
            return
        if secret_name(hint):
            self.replace(where, key, hint, MASKED, SECRET_ENTITY)
        elif _hint(hint) is None and _TIMESTAMP.fullmatch(text):
            return
        else:
            self.pairs.append((value_hint(hint, text), text))
            self.slots.append((where, key))

    def replace(self, where: Any, key: Any, hint: str, value: str, entity: str) -> None:
        if where[key] != value:
            where[key] = value
            self.local.values_masked += 1
            self.local.counts[hint, entity] += 1

    async def apply(self, mask: MaskTexts, stats: MaskStats | None) -> None:
        masked = await mask(self.pairs) if self.pairs else []
        if len(masked) != len(self.pairs):
            raise MaskUnavailable("the mask function answered another number of texts")
        for (where, key), text in zip(self.slots, masked, strict=True):
            where[key] = text
        for finish in self.after:
            finish()
        if stats is not None:
            stats.values_masked += self.local.values_masked
            stats.counts.update(self.local.counts)


async def mask_object(
    obj: dict[str, Any],
    mask: MaskTexts,
    *,
    kind: str | None = None,
    stats: MaskStats | None = None,
) -> dict[str, Any]:
    """`obj` (an object, a List, a Table or a WatchEvent) masked in place, and returned.

    `kind` is the kind of the objects in the answer when they do not say (the items of a
    typed List do not; the proxy knows it from the request's path). The values the proxy
    replaces itself (Secret data, secret-named values) are counted into `stats`; the masker's
    counts go where `mask` puts them. Raises MaskUnavailable from `mask`, before anything is
    written back from the masker: the caller must then send an error, not `obj`."""
    await mask_objects([obj], mask, kind=kind, stats=stats)
    return obj


async def mask_objects(
    objs: list[dict[str, Any]],
    mask: MaskTexts,
    *,
    kind: str | None = None,
    stats: MaskStats | None = None,
) -> None:
    """`mask_object` for several objects (the events of a watch chunk) in one `mask` call."""
    batch = _Batch()
    for obj in objs:
        _object(obj, batch, kind)
    await batch.apply(mask, stats)


def _object(obj: JSON, batch: _Batch, kind: str | None) -> None:
    if not isinstance(obj, dict):
        return
    declared = obj.get("kind")
    if declared == "Table" and isinstance(obj.get("rows"), list):
        _table(obj, batch, kind)
        return
    items = obj.get("items")
    if isinstance(items, list) and (declared is None or str(declared).endswith("List")):
        item_kind = declared[: -len("List")] if declared and declared != "List" else kind
        for item in items:
            _object(item, batch, item_kind)
        return
    if "object" in obj and "type" in obj and declared in (None, "WatchEvent"):
        _object(obj["object"], batch, kind)
        return
    what = declared or kind or _guess_kind(obj)
    skip: frozenset[str] = frozenset()
    if what == "Secret":
        _secret(obj, batch)
        skip = frozenset({"data", "stringData"})
    elif what == "ConfigMap":
        _config_map(obj, batch)
        skip = frozenset({"data", "binaryData"})
    _walk_dict(obj, batch, skip)


def _guess_kind(obj: dict[str, Any]) -> str | None:
    """A kindless object the caller named no kind for: a Secret when it looks like one (data
    or stringData, and a type), so its data cannot slip through as plain strings."""
    if "stringData" in obj or (isinstance(obj.get("data"), dict) and "type" in obj):
        return "Secret"
    return None


def _secret(obj: dict[str, Any], batch: _Batch) -> None:
    for name, replacement in (("data", MASKED_BASE64), ("stringData", MASKED)):
        values = obj.get(name)
        if isinstance(values, dict):
            for key, value in values.items():
                if value:
                    batch.replace(values, key, key, replacement, SECRET_ENTITY)
        elif values is not None:
            batch.replace(obj, name, name, MASKED, SECRET_ENTITY)


def _config_map(obj: dict[str, Any], batch: _Batch) -> None:
    data = obj.get("data")
    if isinstance(data, dict):
        for key, value in data.items():
            if isinstance(value, str):
                batch.text(data, key, key, value)
            else:
                _walk(value, key, batch)
    binary = obj.get("binaryData")
    if isinstance(binary, dict):
        for key, value in binary.items():
            if value:
                batch.replace(binary, key, key, MASKED_BASE64, WITHHELD_ENTITY)


def _metadata(meta: JSON, batch: _Batch) -> None:
    """Of an object's metadata only annotations can hold free text."""
    if not isinstance(meta, dict):
        return
    annotations = meta.get("annotations")
    if not isinstance(annotations, dict):
        return
    for key, value in annotations.items():
        if not isinstance(value, str):
            continue
        if key == LAST_APPLIED:
            _last_applied(annotations, batch)
        else:
            batch.text(annotations, key, key.rpartition("/")[2] or key, value)


def _last_applied(annotations: dict[str, Any], batch: _Batch) -> None:
    text = annotations[LAST_APPLIED]
    try:
        manifest = json.loads(text)
    except ValueError:
        manifest = None
    if not isinstance(manifest, dict):
        batch.replace(annotations, LAST_APPLIED, LAST_APPLIED, UNREADABLE, WITHHELD_ENTITY)
        return
    _object(manifest, batch, None)
    newline = "\n" if text.endswith("\n") else ""

    def write_back() -> None:
        annotations[LAST_APPLIED] = (
            json.dumps(manifest, separators=(",", ":"), ensure_ascii=False) + newline
        )

    batch.after.append(write_back)


def _table(table: dict[str, Any], batch: _Batch, kind: str | None) -> None:
    columns = table.get("columnDefinitions")
    names: list[str] = []
    keep: list[bool] = []
    for column in columns if isinstance(columns, list) else []:
        column = column if isinstance(column, dict) else {}
        name = str(column.get("name", ""))
        names.append(name)
        keep.append(column.get("format") == "name" or name.lower() in _TABLE_IDENTIFIERS)
    for row in table["rows"]:
        if not isinstance(row, dict):
            continue
        cells = row.get("cells")
        if isinstance(cells, list):
            for i, cell in enumerate(cells):
                if not isinstance(cell, str) or (i < len(keep) and keep[i]):
                    continue
                batch.text(cells, i, names[i] if i < len(names) else "cell", cell)
        _object(row.get("object"), batch, kind)


@lru_cache(maxsize=4096)
def _identifies(key: str) -> bool:
    """Whether a key's value identifies whatever it is (`uid`, `podIP`, `labels`)."""
    return key in _IDENTIFIERS or _ADDRESS_KEY.search(key) is not None


@lru_cache(maxsize=4096)
def _names(key: str) -> bool:
    """Whether a key's value is a name (`namespace`, `nodeName`), not a person's (`lastName`)."""
    return key in _NAMES or (_NAME_KEY.search(key) is not None and _hint(key) is None)


def _walk_dict(obj: dict[str, Any], batch: _Batch, skip: frozenset[str] = frozenset()) -> None:
    for key, value in obj.items():
        if key in skip or _identifies(key):
            continue
        if _names(key) and isinstance(value, str) and _NAME_VALUE.fullmatch(value):
            continue
        if key == "metadata":
            _metadata(value, batch)
        elif isinstance(value, str):
            batch.text(obj, key, key, value)
        elif key in _COMMAND_KEYS and isinstance(value, list):
            for i, arg in enumerate(value):
                if isinstance(arg, str):
                    batch.text(value, i, "command", arg)
        elif key == "addresses" and isinstance(value, list):
            _addresses(value, batch)
        else:
            _walk(value, key, batch)


def _walk(value: JSON, hint: str, batch: _Batch) -> None:
    if isinstance(value, dict):
        if "kind" in value and "apiVersion" in value:
            _object(value, batch, None)  # an object inside another (a template, a manifest)
        else:
            _walk_dict(value, batch)
    elif isinstance(value, list):
        if value and all(isinstance(v, dict) and isinstance(v.get("name"), str) for v in value):
            _named_values(value, batch)
            return
        for i, item in enumerate(value):
            if isinstance(item, str):
                batch.text(value, i, hint, item)
            else:
                _walk(item, hint, batch)


def _named_values(items: list[dict[str, Any]], batch: _Batch) -> None:
    """A list of {name, value, ...}: env vars, HTTP headers, a CRD's parameters. A value is
    hinted by its entry's name."""
    for item in items:
        value = item.get("value")
        if isinstance(value, str):
            batch.text(item, "value", item["name"], value)
        elif value is not None:
            _walk(value, item["name"], batch)
        _walk_dict(item, batch, frozenset({"value"}))


def _addresses(items: list[Any], batch: _Batch) -> None:
    """A node's addresses ({type, address}) and an EndpointSlice's (IPs) identify; anything
    else under `addresses` is walked as usual."""
    for i, item in enumerate(items):
        if isinstance(item, dict) and set(item) <= {"type", "address"}:
            continue
        if isinstance(item, str):
            if not _ENDPOINT.fullmatch(item):
                batch.text(items, i, "addresses", item)
        else:
            _walk(item, "addresses", batch)
