from proctor.events.v1 import events_pb2 as _events_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CommandKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    COMMAND_KIND_UNSPECIFIED: _ClassVar[CommandKind]
    COMMAND_KIND_SQL: _ClassVar[CommandKind]
COMMAND_KIND_UNSPECIFIED: CommandKind
COMMAND_KIND_SQL: CommandKind

class ClassifyRequest(_message.Message):
    __slots__ = ("text", "identity", "resource", "kind")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    text: str
    identity: _events_pb2.Identity
    resource: _events_pb2.Resource
    kind: CommandKind
    def __init__(self, text: _Optional[str] = ..., identity: _Optional[_Union[_events_pb2.Identity, _Mapping]] = ..., resource: _Optional[_Union[_events_pb2.Resource, _Mapping]] = ..., kind: _Optional[_Union[CommandKind, str]] = ...) -> None: ...

class RuleMatch(_message.Message):
    __slots__ = ("rule_id", "reason", "hint", "action", "decided_by")
    RULE_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    HINT_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    DECIDED_BY_FIELD_NUMBER: _ClassVar[int]
    rule_id: str
    reason: str
    hint: str
    action: _events_pb2.Action
    decided_by: str
    def __init__(self, rule_id: _Optional[str] = ..., reason: _Optional[str] = ..., hint: _Optional[str] = ..., action: _Optional[_Union[_events_pb2.Action, str]] = ..., decided_by: _Optional[str] = ...) -> None: ...

class ClassifyResponse(_message.Message):
    __slots__ = ("action", "matches", "policy_version", "error", "fingerprint_safe", "approver_groups", "approval_mode", "approval_decided_by")
    ACTION_FIELD_NUMBER: _ClassVar[int]
    MATCHES_FIELD_NUMBER: _ClassVar[int]
    POLICY_VERSION_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    FINGERPRINT_SAFE_FIELD_NUMBER: _ClassVar[int]
    APPROVER_GROUPS_FIELD_NUMBER: _ClassVar[int]
    APPROVAL_MODE_FIELD_NUMBER: _ClassVar[int]
    APPROVAL_DECIDED_BY_FIELD_NUMBER: _ClassVar[int]
    action: _events_pb2.Action
    matches: _containers.RepeatedCompositeFieldContainer[RuleMatch]
    policy_version: str
    error: str
    fingerprint_safe: bool
    approver_groups: _containers.RepeatedScalarFieldContainer[str]
    approval_mode: _events_pb2.ApprovalMode
    approval_decided_by: str
    def __init__(self, action: _Optional[_Union[_events_pb2.Action, str]] = ..., matches: _Optional[_Iterable[_Union[RuleMatch, _Mapping]]] = ..., policy_version: _Optional[str] = ..., error: _Optional[str] = ..., fingerprint_safe: _Optional[bool] = ..., approver_groups: _Optional[_Iterable[str]] = ..., approval_mode: _Optional[_Union[_events_pb2.ApprovalMode, str]] = ..., approval_decided_by: _Optional[str] = ...) -> None: ...

class PolicyChanged(_message.Message):
    __slots__ = ("policy_version",)
    POLICY_VERSION_FIELD_NUMBER: _ClassVar[int]
    policy_version: str
    def __init__(self, policy_version: _Optional[str] = ...) -> None: ...
