"""The OpenAPI v3 documents kubectl reads before `apply`, and only as much of them as it needs.

kubectl 1.29 and 1.33 validate a manifest before applying it (`--validate=strict` by default):
they read `/openapi/v3`, then the document of the object's group-version, and look for a PATCH
operation tagged with the object's `x-kubernetes-group-version-kind` that takes the
`fieldValidation` query parameter. Finding it, they leave validation to the server (which the
double does not do); without any document (a 404 on v3 and on `/openapi/v2`), they refuse to
apply unless run with `--validate=false`.

The documents hold paths and no schemas on purpose: with no schema for a kind, client-side
apply computes its strategic merge patch from kubectl's compiled-in types, whose merge keys are
the ones `patches` honours. `kubectl explain` needs the schemas and does not work here.
`/openapi/v2` stays a 404, which both versions tolerate once v3 answers.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from proctor.kubedouble.errors import ApiError
from proctor.kubedouble.resources import Catalogue, ResourceType

PREFIX = "/openapi/v3"


def _gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def _operation(rtype: ResourceType, action: str, params: list[str]) -> dict[str, Any]:
    return {
        "operationId": f"{action}{rtype.kind}",
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": {
            "group": rtype.group,
            "version": rtype.version,
            "kind": rtype.kind,
        },
        "parameters": [
            {"name": name, "in": "query", "schema": {"type": "string", "uniqueItems": True}}
            for name in params
        ],
        "responses": {"200": {"description": "OK"}},
    }


def group_version_document(catalogue: Catalogue, group: str, version: str) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    prefix = f"/{_gv_path(group, version)}"
    for rtype in catalogue.in_group_version(group, version):
        scope = "/namespaces/{namespace}" if rtype.namespaced else ""
        write = ["dryRun", "fieldManager", "fieldValidation", "pretty"]
        paths[f"{prefix}{scope}/{rtype.plural}"] = {
            "get": _operation(rtype, "list", ["labelSelector", "fieldSelector", "watch"]),
            "post": _operation(rtype, "post", write),
        }
        paths[f"{prefix}{scope}/{rtype.plural}/{{name}}"] = {
            "get": _operation(rtype, "get", ["pretty"]),
            "put": _operation(rtype, "put", write),
            "patch": _operation(rtype, "patch", [*write, "force"]),
            "delete": _operation(rtype, "delete", ["dryRun", "propagationPolicy"]),
        }
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.33.0"},
        "paths": paths,
        "components": {"schemas": {}},
    }


def _hash(doc: dict[str, Any]) -> str:
    return hashlib.sha512(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:64].upper()


def index(catalogue: Catalogue) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    versions = [("", "v1")] + [(g, v) for g, vs in catalogue.group_versions().items() for v in vs]
    for group, version in versions:
        doc = group_version_document(catalogue, group, version)
        path = _gv_path(group, version)
        paths[path] = {"serverRelativeURL": f"{PREFIX}/{path}?hash={_hash(doc)}"}
    return {"paths": paths}


def document(catalogue: Catalogue, path: str, hash_: str = "") -> dict[str, Any]:
    """The document at `path` (`/openapi/v3` or `/openapi/v3/apis/apps/v1`); 404 otherwise."""
    del hash_  # any hash is served the current document
    if path == PREFIX:
        return index(catalogue)
    if path.startswith(PREFIX + "/"):
        parts = path[len(PREFIX) + 1 :].split("/")
        if parts[0] == "api" and len(parts) == 2:
            group, version = "", parts[1]
        elif parts[0] == "apis" and len(parts) == 3:
            group, version = parts[1], parts[2]
        else:
            group = version = ""
        if version and catalogue.in_group_version(group, version):
            return group_version_document(catalogue, group, version)
    raise ApiError(404, "the server could not find the requested resource")
