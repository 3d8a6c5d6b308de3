"""The patch formats of the API server, on plain JSON values: JSON patch (RFC 6902), JSON merge
patch (RFC 7386), a strategic merge patch that knows the merge keys of the common built-in
lists (containers by name, env by name, volumeMounts by mountPath...), and the merge a
server-side apply does (the same merge, without the patch directives).

Strategic merge honours `$patch: replace|delete|merge`, `$retainKeys`,
`$deleteFromPrimitiveList/<field>` and `$setElementOrder/<field>`, which is what kubectl's
client-side apply and `kubectl patch` send. It is not the API server's schema-driven code: a
list whose field name is not in `MERGE_KEYS` is replaced whole.
"""

from __future__ import annotations

import copy
from typing import Any

from proctor.kubedouble.errors import ApiError

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
PATCH_TYPES = (JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH, APPLY_PATCH)

# Lists merged element by element, by the key that names an element (the API types'
# `patchMergeKey`). `ports` depends on where it is: see `_merge_key`.
MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "imagePullSecrets": "name",
    "hostAliases": "ip",
    "conditions": "type",
    "ownerReferences": "uid",
    "resourceClaims": "name",
    "topologySpreadConstraints": "topologyKey",
}
PRIMITIVE_MERGE_LISTS = {"finalizers"}

_DIRECTIVE = "$patch"
_RETAIN = "$retainKeys"
_DELETE_PRIMITIVE = "$deleteFromPrimitiveList/"
_ORDER = "$setElementOrder/"


def _invalid(message: str) -> ApiError:
    return ApiError(422, message, "Invalid")


# --- JSON patch ------------------------------------------------------------------------------


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise _invalid(f"invalid JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _index(container: list[Any], part: str, adding: bool) -> int:
    if adding and part == "-":
        return len(container)
    if not part.isdigit():
        raise _invalid(f"invalid array index {part!r}")
    index = int(part)
    if index > len(container) or (not adding and index == len(container)):
        raise _invalid(f"array index {index} out of range")
    return index


def _parent(doc: Any, parts: list[str]) -> Any:
    node = doc
    for part in parts[:-1]:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list):
            node = node[_index(node, part, False)]
        else:
            raise _invalid(f"path /{'/'.join(parts)} does not exist")
    return node


def _get(doc: Any, parts: list[str]) -> Any:
    if not parts:
        return doc
    parent = _parent(doc, parts)
    if isinstance(parent, dict):
        if parts[-1] not in parent:
            raise _invalid(f"path /{'/'.join(parts)} does not exist")
        return parent[parts[-1]]
    if isinstance(parent, list):
        return parent[_index(parent, parts[-1], False)]
    raise _invalid(f"path /{'/'.join(parts)} does not exist")


def _remove(doc: Any, parts: list[str]) -> Any:
    parent = _parent(doc, parts)
    if isinstance(parent, dict) and parts[-1] in parent:
        return parent.pop(parts[-1])
    if isinstance(parent, list):
        return parent.pop(_index(parent, parts[-1], False))
    raise _invalid(f"unable to remove nonexistent key: {parts[-1]}")


def _add(doc: Any, parts: list[str], value: Any) -> Any:
    if not parts:
        return value
    parent = _parent(doc, parts)
    if isinstance(parent, dict):
        parent[parts[-1]] = value
    elif isinstance(parent, list):
        parent.insert(_index(parent, parts[-1], True), value)
    else:
        raise _invalid(f"path /{'/'.join(parts)} does not exist")
    return doc


def json_patch(doc: Any, operations: Any) -> Any:
    """`doc` after the RFC 6902 operations (`doc` is not changed)."""
    if not isinstance(operations, list):
        raise ApiError(400, "a JSON patch is a list of operations")
    doc = copy.deepcopy(doc)
    for op in operations:
        if not isinstance(op, dict) or "path" not in op:
            raise _invalid(f"invalid JSON patch operation: {op!r}")
        kind, parts = op.get("op"), _pointer(op["path"])
        if kind == "add":
            doc = _add(doc, parts, copy.deepcopy(op.get("value")))
        elif kind == "remove":
            _remove(doc, parts)
        elif kind == "replace":
            _get(doc, parts)
            if not parts:
                doc = copy.deepcopy(op.get("value"))
            else:
                _remove(doc, parts)
                doc = _add(doc, parts, copy.deepcopy(op.get("value")))
        elif kind in ("move", "copy"):
            source = _pointer(op.get("from", ""))
            value = _remove(doc, source) if kind == "move" else copy.deepcopy(_get(doc, source))
            doc = _add(doc, parts, value)
        elif kind == "test":
            if _get(doc, parts) != op.get("value"):
                raise _invalid(f"testing value {op['path']} failed")
        else:
            raise _invalid(f"unexpected JSON patch operation {kind!r}")
    return doc


# --- JSON merge patch ------------------------------------------------------------------------


def merge_patch(doc: Any, patch: Any) -> Any:
    """`doc` after an RFC 7386 merge patch: maps merge, `null` removes, everything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(doc) if isinstance(doc, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


# --- strategic merge patch -------------------------------------------------------------------


def _merge_key(field: str, items: list[Any]) -> str | None:
    if field == "ports":
        sample = next((i for i in items if isinstance(i, dict) and _DIRECTIVE not in i), None)
        if sample is None:
            sample = next((i for i in items if isinstance(i, dict)), {})
        return "containerPort" if "containerPort" in sample else "port"
    return MERGE_KEYS.get(field)


def _merge_list(field: str, live: Any, patch: list[Any], directives: bool) -> list[Any]:
    live = live if isinstance(live, list) else []
    if directives and any(isinstance(i, dict) and i.get(_DIRECTIVE) == "replace" for i in patch):
        return [copy.deepcopy(i) for i in patch if not (isinstance(i, dict) and _DIRECTIVE in i)]
    if field in PRIMITIVE_MERGE_LISTS:
        return list(live) + [i for i in patch if i not in live]
    key = _merge_key(field, patch + live)
    if key is None or not all(isinstance(i, dict) for i in patch):
        return copy.deepcopy(patch)
    result = [copy.deepcopy(i) for i in live]
    for item in patch:
        position = next(
            (
                n
                for n, old in enumerate(result)
                if isinstance(old, dict) and old.get(key) == item.get(key)
            ),
            None,
        )
        if directives and item.get(_DIRECTIVE) == "delete":
            if position is not None:
                result.pop(position)
        elif position is None:
            result.append(_strategic(None, item, directives))
        else:
            result[position] = _strategic(result[position], item, directives)
    return result


def _ordered(items: list[Any], order: list[Any], key: str | None) -> list[Any]:
    def name(item: Any) -> Any:
        return item.get(key) if key and isinstance(item, dict) else item

    wanted = [name(o) if isinstance(o, dict) else o for o in order]
    ranked = sorted(
        items, key=lambda i: wanted.index(name(i)) if name(i) in wanted else len(wanted)
    )
    return ranked


def _strategic(live: Any, patch: Any, directives: bool) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if directives and patch.get(_DIRECTIVE) == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != _DIRECTIVE}
    if directives and patch.get(_DIRECTIVE) == "delete":
        return None
    result = copy.deepcopy(live) if isinstance(live, dict) else {}
    orders: dict[str, list[Any]] = {}
    for key, value in patch.items():
        if directives and key in (_DIRECTIVE, _RETAIN):
            continue
        if directives and key.startswith(_ORDER):
            orders[key[len(_ORDER) :]] = value if isinstance(value, list) else []
            continue
        if directives and key.startswith(_DELETE_PRIMITIVE):
            field = key[len(_DELETE_PRIMITIVE) :]
            doomed = value if isinstance(value, list) else []
            if isinstance(result.get(field), list):
                result[field] = [v for v in result[field] if v not in doomed]
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, list):
            result[key] = _merge_list(key, result.get(key), value, directives)
        elif isinstance(value, dict):
            merged = _strategic(result.get(key), value, directives)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        else:
            result[key] = copy.deepcopy(value)
    for field, order in orders.items():
        if isinstance(result.get(field), list):
            result[field] = _ordered(result[field], order, _merge_key(field, result[field]))
    if directives and isinstance(patch.get(_RETAIN), list):
        keep = set(patch[_RETAIN])
        result = {k: v for k, v in result.items() if k in keep}
    return result


def strategic_merge_patch(doc: Any, patch: Any) -> Any:
    """`doc` after a strategic merge patch (`doc` is not changed)."""
    if not isinstance(patch, dict):
        raise ApiError(400, "a strategic merge patch is a JSON object")
    return _strategic(doc, patch, directives=True)


def apply_merge(live: Any, config: Any) -> Any:
    """What a server-side apply of `config` makes of `live`: maps merge, keyed lists merge by key,
    other lists and scalars are replaced. Fields an earlier apply set and this one omits stay
    (the API server would remove those it tracks as the same manager's)."""
    if not isinstance(config, dict):
        raise ApiError(400, "an apply configuration is a YAML or JSON object")
    return _strategic(live, config, directives=False)


def apply_patch(doc: Any, content_type: str, patch: Any) -> Any:
    """`doc` after a patch of the given content type."""
    if content_type == JSON_PATCH:
        return json_patch(doc, patch)
    if content_type == MERGE_PATCH:
        if not isinstance(patch, dict):
            raise ApiError(400, "a merge patch is a JSON object")
        return merge_patch(doc, patch)
    if content_type == STRATEGIC_MERGE_PATCH:
        return strategic_merge_patch(doc, patch)
    if content_type == APPLY_PATCH:
        return apply_merge(doc, patch)
    raise ApiError(
        415,
        f"the body of the request was in an unknown format - accepted media types include: "
        f"{', '.join(PATCH_TYPES)}",
        "UnsupportedMediaType",
    )
