"""Reading the Kubernetes protobuf encoding (`application/vnd.kubernetes.protobuf`), which
kubectl 1.33's typed clients send for built-in kinds (`kubectl create namespace`,
`create secret`, `create deployment`, ...), into their JSON form: the gateway forwards such a
body as JSON (what it shows the approver, records and judges is then what runs), and the
Kubernetes double stores it.

A body is `k8s\\x00` and a `runtime.Unknown` holding the object's apiVersion, kind and
serialized message. The messages are described by `k8s-types.pb`, a FileDescriptorSet compiled
from the upstream `generated.proto` files (Apache-2.0; kubernetes/api 10b39a39b,
kubernetes/apimachinery eed236ce) of the v1 versions of core, apps, batch, rbac,
networking, policy, scheduling, autoscaling, authentication, authorization, storage, events,
discovery, coordination and certificates, with their imports:

    python -m grpc_tools.protoc -I. --include_imports --descriptor_set_out=k8s-types.pb \\
        k8s.io/api/{core,apps,batch,rbac,networking,policy,scheduling,autoscaling,\\
        authentication,authorization,storage,events,discovery,coordination,certificates}/v1/generated.proto

Field names in those files are the JSON names; a few apimachinery types (Time, IntOrString,
Quantity, RawExtension, FieldsV1) have their own JSON form. The double answers in JSON, which
every client also accepts.
"""

from __future__ import annotations

import base64
import functools
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import DecodeError, Message

from proctor.errors import UnreadableRequest

MEDIA_TYPE = "application/vnd.kubernetes.protobuf"
MAGIC = b"k8s\x00"
DESCRIPTORS = Path(__file__).with_name("k8s-types.pb")
META = "k8s.io.apimachinery.pkg.apis.meta.v1"


@functools.cache
def _pool() -> descriptor_pool.DescriptorPool:
    files = descriptor_pb2.FileDescriptorSet.FromString(DESCRIPTORS.read_bytes())
    pool = descriptor_pool.DescriptorPool()
    for file in files.file:
        pool.Add(file)
    return pool


def _message(name: str) -> type[Message]:
    try:
        found: Descriptor = _pool().FindMessageTypeByName(name)
    except KeyError:
        raise UnreadableRequest(f"{name} cannot be read in protobuf: send JSON") from None
    return message_factory.GetMessageClass(found)


def _time(m: Any) -> str | None:
    if not m.seconds and not m.nanos:
        return None  # Go's zero time, which JSON writes as null
    return datetime.fromtimestamp(m.seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _micro_time(m: Any) -> str | None:
    if not m.seconds and not m.nanos:
        return None
    moment = datetime.fromtimestamp(m.seconds + m.nanos / 1e9, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _raw(m: Any) -> Any:
    return json.loads(m.raw) if m.raw else None


SPECIAL: dict[str, Callable[[Any], Any]] = {
    f"{META}.Time": _time,
    f"{META}.MicroTime": _micro_time,
    f"{META}.FieldsV1": lambda m: json.loads(m.Raw) if m.Raw else {},
    f"{META}.Duration": lambda m: f"{m.duration / 1e9:g}s",
    "k8s.io.apimachinery.pkg.util.intstr.IntOrString": lambda m: m.strVal if m.type else m.intVal,
    "k8s.io.apimachinery.pkg.api.resource.Quantity": lambda m: m.string,
    "k8s.io.apimachinery.pkg.runtime.RawExtension": _raw,
}


# Pointer fields of the API types, where a zero or false is meant (Go writes a pointer field
# only when it is set). Any other zero or false is Go's zero value, which JSON leaves out.
MEANT_ZEROS = frozenset(
    {
        "replicas",
        "parallelism",
        "completions",
        "backoffLimit",
        "backoffLimitPerIndex",
        "activeDeadlineSeconds",
        "ttlSecondsAfterFinished",
        "startingDeadlineSeconds",
        "successfulJobsHistoryLimit",
        "failedJobsHistoryLimit",
        "suspend",
        "revisionHistoryLimit",
        "progressDeadlineSeconds",
        "terminationGracePeriodSeconds",
        "deletionGracePeriodSeconds",
        "runAsUser",
        "runAsGroup",
        "runAsNonRoot",
        "fsGroup",
        "privileged",
        "readOnlyRootFilesystem",
        "allowPrivilegeEscalation",
        "automountServiceAccountToken",
        "enableServiceLinks",
        "shareProcessNamespace",
        "hostUsers",
        "immutable",
        "optional",
        "defaultMode",
        "mode",
        "setHostnameAsFQDN",
        "minAvailable",
        "maxUnavailable",
        "maxSurge",
        "partition",
        "expirationSeconds",
        "initialDelaySeconds",
        "periodSeconds",
        "timeoutSeconds",
        "successThreshold",
        "failureThreshold",
        "priority",
        "weight",
        "value",
    }
)


def _value(field: FieldDescriptor, value: Any) -> Any:
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        return to_json(value)
    if field.type == FieldDescriptor.TYPE_BYTES:
        return base64.b64encode(value).decode()
    return value


def to_json(message: Message) -> Any:
    """A decoded message in the JSON form of the Kubernetes API. Go writes every non-pointer
    field, empty or not; empty strings, lists, maps, zero times, and zeros and falses of
    fields that are not pointers are left out here, as `omitempty` leaves them out of JSON."""
    special = SPECIAL.get(message.DESCRIPTOR.full_name)
    if special is not None:
        return special(message)
    out: dict[str, Any] = {}
    for field, value in message.ListFields():
        entry = field.message_type
        converted: Any
        if entry is not None and entry.GetOptions().map_entry:
            value_field = entry.fields_by_name["value"]
            converted = {k: _value(value_field, v) for k, v in value.items()}
        elif field.is_repeated:
            converted = [_value(field, v) for v in value]
        else:
            converted = _value(field, value)
        if (
            converted is None
            or converted == ""
            or converted == []
            or (entry is not None and entry.GetOptions().map_entry and not converted)
        ):
            continue
        zero = converted is False or (type(converted) is int and converted == 0)
        if zero and field.name not in MEANT_ZEROS:
            continue
        out[field.name] = converted
    return out


def message_name(api_version: str, kind: str) -> str:
    """`k8s.io.api.apps.v1.Deployment` for apps/v1 Deployment (`core` for the core group)."""
    group, _, version = api_version.rpartition("/")
    package = group.split(".")[0] if group else "core"
    return f"k8s.io.api.{package}.{version}.{kind}"


def decode(raw: bytes) -> dict[str, Any]:
    """The object in a protobuf-encoded request body, as JSON."""
    if not raw.startswith(MAGIC):
        raise UnreadableRequest("a protobuf body starts with the k8s magic number")
    try:
        unknown = _message("k8s.io.apimachinery.pkg.runtime.Unknown").FromString(raw[len(MAGIC) :])
        type_meta = unknown.typeMeta  # type: ignore[attr-defined]
        api_version, kind = type_meta.apiVersion, type_meta.kind
        inner = _message(message_name(api_version, kind)).FromString(unknown.raw)  # type: ignore[attr-defined]
    except DecodeError as exc:
        raise UnreadableRequest(f"the protobuf body cannot be read: {exc}") from exc
    obj = to_json(inner)
    obj["apiVersion"], obj["kind"] = api_version, kind
    return dict(obj)
