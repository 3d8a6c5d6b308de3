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
    COMMAND_KIND_KUBE: _ClassVar[CommandKind]
    COMMAND_KIND_SHELL: _ClassVar[CommandKind]
    COMMAND_KIND_HTTP: _ClassVar[CommandKind]
    COMMAND_KIND_MCP: _ClassVar[CommandKind]
COMMAND_KIND_UNSPECIFIED: CommandKind
COMMAND_KIND_SQL: CommandKind
COMMAND_KIND_KUBE: CommandKind
COMMAND_KIND_SHELL: CommandKind
COMMAND_KIND_HTTP: CommandKind
COMMAND_KIND_MCP: CommandKind

class ClassifyRequest(_message.Message):
    __slots__ = ("text", "identity", "resource", "kind", "catalog", "detail")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    CATALOG_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    text: str
    identity: _events_pb2.Identity
    resource: _events_pb2.Resource
    kind: CommandKind
    catalog: CatalogFacts
    detail: _events_pb2.CommandDetail
    def __init__(self, text: _Optional[str] = ..., identity: _Optional[_Union[_events_pb2.Identity, _Mapping]] = ..., resource: _Optional[_Union[_events_pb2.Resource, _Mapping]] = ..., kind: _Optional[_Union[CommandKind, str]] = ..., catalog: _Optional[_Union[CatalogFacts, _Mapping]] = ..., detail: _Optional[_Union[_events_pb2.CommandDetail, _Mapping]] = ...) -> None: ...

class FunctionDefinition(_message.Message):
    __slots__ = ("schema", "volatility", "language", "builtin", "body", "kind", "returns")
    SCHEMA_FIELD_NUMBER: _ClassVar[int]
    VOLATILITY_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    BUILTIN_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    RETURNS_FIELD_NUMBER: _ClassVar[int]
    schema: str
    volatility: str
    language: str
    builtin: bool
    body: str
    kind: str
    returns: str
    def __init__(self, schema: _Optional[str] = ..., volatility: _Optional[str] = ..., language: _Optional[str] = ..., builtin: _Optional[bool] = ..., body: _Optional[str] = ..., kind: _Optional[str] = ..., returns: _Optional[str] = ...) -> None: ...

class FunctionFacts(_message.Message):
    __slots__ = ("name", "definitions", "error")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DEFINITIONS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    name: str
    definitions: _containers.RepeatedCompositeFieldContainer[FunctionDefinition]
    error: str
    def __init__(self, name: _Optional[str] = ..., definitions: _Optional[_Iterable[_Union[FunctionDefinition, _Mapping]]] = ..., error: _Optional[str] = ...) -> None: ...

class RelationDefinition(_message.Message):
    __slots__ = ("schema", "kind", "builtin", "view_definition", "policy_expressions")
    SCHEMA_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    BUILTIN_FIELD_NUMBER: _ClassVar[int]
    VIEW_DEFINITION_FIELD_NUMBER: _ClassVar[int]
    POLICY_EXPRESSIONS_FIELD_NUMBER: _ClassVar[int]
    schema: str
    kind: str
    builtin: bool
    view_definition: str
    policy_expressions: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, schema: _Optional[str] = ..., kind: _Optional[str] = ..., builtin: _Optional[bool] = ..., view_definition: _Optional[str] = ..., policy_expressions: _Optional[_Iterable[str]] = ...) -> None: ...

class RelationFacts(_message.Message):
    __slots__ = ("name", "definitions", "error")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DEFINITIONS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    name: str
    definitions: _containers.RepeatedCompositeFieldContainer[RelationDefinition]
    error: str
    def __init__(self, name: _Optional[str] = ..., definitions: _Optional[_Iterable[_Union[RelationDefinition, _Mapping]]] = ..., error: _Optional[str] = ...) -> None: ...

class CatalogFacts(_message.Message):
    __slots__ = ("functions", "relations", "estimated_rows", "estimate_error")
    FUNCTIONS_FIELD_NUMBER: _ClassVar[int]
    RELATIONS_FIELD_NUMBER: _ClassVar[int]
    ESTIMATED_ROWS_FIELD_NUMBER: _ClassVar[int]
    ESTIMATE_ERROR_FIELD_NUMBER: _ClassVar[int]
    functions: _containers.RepeatedCompositeFieldContainer[FunctionFacts]
    relations: _containers.RepeatedCompositeFieldContainer[RelationFacts]
    estimated_rows: int
    estimate_error: str
    def __init__(self, functions: _Optional[_Iterable[_Union[FunctionFacts, _Mapping]]] = ..., relations: _Optional[_Iterable[_Union[RelationFacts, _Mapping]]] = ..., estimated_rows: _Optional[int] = ..., estimate_error: _Optional[str] = ...) -> None: ...

class CatalogNeeds(_message.Message):
    __slots__ = ("functions", "relations", "estimate")
    FUNCTIONS_FIELD_NUMBER: _ClassVar[int]
    RELATIONS_FIELD_NUMBER: _ClassVar[int]
    ESTIMATE_FIELD_NUMBER: _ClassVar[int]
    functions: _containers.RepeatedScalarFieldContainer[str]
    relations: _containers.RepeatedScalarFieldContainer[str]
    estimate: bool
    def __init__(self, functions: _Optional[_Iterable[str]] = ..., relations: _Optional[_Iterable[str]] = ..., estimate: _Optional[bool] = ...) -> None: ...

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
    __slots__ = ("action", "matches", "policy_version", "error", "fingerprint_safe", "approver_groups", "approval_mode", "approval_decided_by", "needs", "changes_catalog", "estimated_rows", "cache_key")
    ACTION_FIELD_NUMBER: _ClassVar[int]
    MATCHES_FIELD_NUMBER: _ClassVar[int]
    POLICY_VERSION_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    FINGERPRINT_SAFE_FIELD_NUMBER: _ClassVar[int]
    APPROVER_GROUPS_FIELD_NUMBER: _ClassVar[int]
    APPROVAL_MODE_FIELD_NUMBER: _ClassVar[int]
    APPROVAL_DECIDED_BY_FIELD_NUMBER: _ClassVar[int]
    NEEDS_FIELD_NUMBER: _ClassVar[int]
    CHANGES_CATALOG_FIELD_NUMBER: _ClassVar[int]
    ESTIMATED_ROWS_FIELD_NUMBER: _ClassVar[int]
    CACHE_KEY_FIELD_NUMBER: _ClassVar[int]
    action: _events_pb2.Action
    matches: _containers.RepeatedCompositeFieldContainer[RuleMatch]
    policy_version: str
    error: str
    fingerprint_safe: bool
    approver_groups: _containers.RepeatedScalarFieldContainer[str]
    approval_mode: _events_pb2.ApprovalMode
    approval_decided_by: str
    needs: CatalogNeeds
    changes_catalog: bool
    estimated_rows: int
    cache_key: str
    def __init__(self, action: _Optional[_Union[_events_pb2.Action, str]] = ..., matches: _Optional[_Iterable[_Union[RuleMatch, _Mapping]]] = ..., policy_version: _Optional[str] = ..., error: _Optional[str] = ..., fingerprint_safe: _Optional[bool] = ..., approver_groups: _Optional[_Iterable[str]] = ..., approval_mode: _Optional[_Union[_events_pb2.ApprovalMode, str]] = ..., approval_decided_by: _Optional[str] = ..., needs: _Optional[_Union[CatalogNeeds, _Mapping]] = ..., changes_catalog: _Optional[bool] = ..., estimated_rows: _Optional[int] = ..., cache_key: _Optional[str] = ...) -> None: ...

class PolicyChanged(_message.Message):
    __slots__ = ("policy_version",)
    POLICY_VERSION_FIELD_NUMBER: _ClassVar[int]
    policy_version: str
    def __init__(self, policy_version: _Optional[str] = ...) -> None: ...
