import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ResourceKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RESOURCE_KIND_UNSPECIFIED: _ClassVar[ResourceKind]
    RESOURCE_KIND_POSTGRES: _ClassVar[ResourceKind]
    RESOURCE_KIND_SHELL: _ClassVar[ResourceKind]
    RESOURCE_KIND_KUBERNETES: _ClassVar[ResourceKind]
    RESOURCE_KIND_HTTP: _ClassVar[ResourceKind]
    RESOURCE_KIND_MCP: _ClassVar[ResourceKind]

class Action(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ACTION_UNSPECIFIED: _ClassVar[Action]
    ACTION_ALLOW: _ClassVar[Action]
    ACTION_REVIEW: _ClassVar[Action]
    ACTION_BLOCK: _ClassVar[Action]

class ApprovalMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    APPROVAL_MODE_UNSPECIFIED: _ClassVar[ApprovalMode]
    APPROVAL_MODE_WAIT: _ClassVar[ApprovalMode]
    APPROVAL_MODE_ASYNC: _ClassVar[ApprovalMode]
RESOURCE_KIND_UNSPECIFIED: ResourceKind
RESOURCE_KIND_POSTGRES: ResourceKind
RESOURCE_KIND_SHELL: ResourceKind
RESOURCE_KIND_KUBERNETES: ResourceKind
RESOURCE_KIND_HTTP: ResourceKind
RESOURCE_KIND_MCP: ResourceKind
ACTION_UNSPECIFIED: Action
ACTION_ALLOW: Action
ACTION_REVIEW: Action
ACTION_BLOCK: Action
APPROVAL_MODE_UNSPECIFIED: ApprovalMode
APPROVAL_MODE_WAIT: ApprovalMode
APPROVAL_MODE_ASYNC: ApprovalMode

class Identity(_message.Message):
    __slots__ = ("human", "agent", "groups")
    HUMAN_FIELD_NUMBER: _ClassVar[int]
    AGENT_FIELD_NUMBER: _ClassVar[int]
    GROUPS_FIELD_NUMBER: _ClassVar[int]
    human: str
    agent: str
    groups: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, human: _Optional[str] = ..., agent: _Optional[str] = ..., groups: _Optional[_Iterable[str]] = ...) -> None: ...

class Resource(_message.Message):
    __slots__ = ("name", "kind")
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    name: str
    kind: ResourceKind
    def __init__(self, name: _Optional[str] = ..., kind: _Optional[_Union[ResourceKind, str]] = ...) -> None: ...

class TraceContext(_message.Message):
    __slots__ = ("traceparent", "tracestate")
    TRACEPARENT_FIELD_NUMBER: _ClassVar[int]
    TRACESTATE_FIELD_NUMBER: _ClassVar[int]
    traceparent: str
    tracestate: str
    def __init__(self, traceparent: _Optional[str] = ..., tracestate: _Optional[str] = ...) -> None: ...

class SessionOpened(_message.Message):
    __slots__ = ("protocol", "client_address", "client_name")
    PROTOCOL_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    CLIENT_NAME_FIELD_NUMBER: _ClassVar[int]
    protocol: str
    client_address: str
    client_name: str
    def __init__(self, protocol: _Optional[str] = ..., client_address: _Optional[str] = ..., client_name: _Optional[str] = ...) -> None: ...

class SessionClosed(_message.Message):
    __slots__ = ("reason", "command_count")
    REASON_FIELD_NUMBER: _ClassVar[int]
    COMMAND_COUNT_FIELD_NUMBER: _ClassVar[int]
    reason: str
    command_count: int
    def __init__(self, reason: _Optional[str] = ..., command_count: _Optional[int] = ...) -> None: ...

class CommandReceived(_message.Message):
    __slots__ = ("text", "parameter_count", "detail")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    PARAMETER_COUNT_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    text: str
    parameter_count: int
    detail: CommandDetail
    def __init__(self, text: _Optional[str] = ..., parameter_count: _Optional[int] = ..., detail: _Optional[_Union[CommandDetail, _Mapping]] = ...) -> None: ...

class SqlDetail(_message.Message):
    __slots__ = ("text",)
    TEXT_FIELD_NUMBER: _ClassVar[int]
    text: str
    def __init__(self, text: _Optional[str] = ...) -> None: ...

class KubeDetail(_message.Message):
    __slots__ = ("verb", "group", "version", "resource", "subresource", "namespace", "name", "body", "method", "path", "content_type", "dry_run", "command", "body_size", "non_resource", "body_sha256")
    VERB_FIELD_NUMBER: _ClassVar[int]
    GROUP_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_FIELD_NUMBER: _ClassVar[int]
    SUBRESOURCE_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    BODY_SIZE_FIELD_NUMBER: _ClassVar[int]
    NON_RESOURCE_FIELD_NUMBER: _ClassVar[int]
    BODY_SHA256_FIELD_NUMBER: _ClassVar[int]
    verb: str
    group: str
    version: str
    resource: str
    subresource: str
    namespace: str
    name: str
    body: str
    method: str
    path: str
    content_type: str
    dry_run: bool
    command: _containers.RepeatedScalarFieldContainer[str]
    body_size: int
    non_resource: bool
    body_sha256: str
    def __init__(self, verb: _Optional[str] = ..., group: _Optional[str] = ..., version: _Optional[str] = ..., resource: _Optional[str] = ..., subresource: _Optional[str] = ..., namespace: _Optional[str] = ..., name: _Optional[str] = ..., body: _Optional[str] = ..., method: _Optional[str] = ..., path: _Optional[str] = ..., content_type: _Optional[str] = ..., dry_run: _Optional[bool] = ..., command: _Optional[_Iterable[str]] = ..., body_size: _Optional[int] = ..., non_resource: _Optional[bool] = ..., body_sha256: _Optional[str] = ...) -> None: ...

class ShellDetail(_message.Message):
    __slots__ = ("argv", "text", "host", "interactive", "entrance")
    ARGV_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    HOST_FIELD_NUMBER: _ClassVar[int]
    INTERACTIVE_FIELD_NUMBER: _ClassVar[int]
    ENTRANCE_FIELD_NUMBER: _ClassVar[int]
    argv: _containers.RepeatedScalarFieldContainer[str]
    text: str
    host: str
    interactive: bool
    entrance: str
    def __init__(self, argv: _Optional[_Iterable[str]] = ..., text: _Optional[str] = ..., host: _Optional[str] = ..., interactive: _Optional[bool] = ..., entrance: _Optional[str] = ...) -> None: ...

class HttpDetail(_message.Message):
    __slots__ = ("method", "host", "path")
    METHOD_FIELD_NUMBER: _ClassVar[int]
    HOST_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    method: str
    host: str
    path: str
    def __init__(self, method: _Optional[str] = ..., host: _Optional[str] = ..., path: _Optional[str] = ...) -> None: ...

class McpDetail(_message.Message):
    __slots__ = ("server", "tool", "arguments", "read_only", "destructive", "definition_sha256", "definition_changed")
    SERVER_FIELD_NUMBER: _ClassVar[int]
    TOOL_FIELD_NUMBER: _ClassVar[int]
    ARGUMENTS_FIELD_NUMBER: _ClassVar[int]
    READ_ONLY_FIELD_NUMBER: _ClassVar[int]
    DESTRUCTIVE_FIELD_NUMBER: _ClassVar[int]
    DEFINITION_SHA256_FIELD_NUMBER: _ClassVar[int]
    DEFINITION_CHANGED_FIELD_NUMBER: _ClassVar[int]
    server: str
    tool: str
    arguments: str
    read_only: bool
    destructive: bool
    definition_sha256: str
    definition_changed: bool
    def __init__(self, server: _Optional[str] = ..., tool: _Optional[str] = ..., arguments: _Optional[str] = ..., read_only: _Optional[bool] = ..., destructive: _Optional[bool] = ..., definition_sha256: _Optional[str] = ..., definition_changed: _Optional[bool] = ...) -> None: ...

class CommandDetail(_message.Message):
    __slots__ = ("sql", "kube", "shell", "http", "mcp")
    SQL_FIELD_NUMBER: _ClassVar[int]
    KUBE_FIELD_NUMBER: _ClassVar[int]
    SHELL_FIELD_NUMBER: _ClassVar[int]
    HTTP_FIELD_NUMBER: _ClassVar[int]
    MCP_FIELD_NUMBER: _ClassVar[int]
    sql: SqlDetail
    kube: KubeDetail
    shell: ShellDetail
    http: HttpDetail
    mcp: McpDetail
    def __init__(self, sql: _Optional[_Union[SqlDetail, _Mapping]] = ..., kube: _Optional[_Union[KubeDetail, _Mapping]] = ..., shell: _Optional[_Union[ShellDetail, _Mapping]] = ..., http: _Optional[_Union[HttpDetail, _Mapping]] = ..., mcp: _Optional[_Union[McpDetail, _Mapping]] = ...) -> None: ...

class CommandClassified(_message.Message):
    __slots__ = ("action", "rule_ids", "reasons", "policy_version", "cached")
    ACTION_FIELD_NUMBER: _ClassVar[int]
    RULE_IDS_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    POLICY_VERSION_FIELD_NUMBER: _ClassVar[int]
    CACHED_FIELD_NUMBER: _ClassVar[int]
    action: Action
    rule_ids: _containers.RepeatedScalarFieldContainer[str]
    reasons: _containers.RepeatedScalarFieldContainer[str]
    policy_version: str
    cached: bool
    def __init__(self, action: _Optional[_Union[Action, str]] = ..., rule_ids: _Optional[_Iterable[str]] = ..., reasons: _Optional[_Iterable[str]] = ..., policy_version: _Optional[str] = ..., cached: _Optional[bool] = ...) -> None: ...

class CommandBlocked(_message.Message):
    __slots__ = ("rule_ids", "reason", "hint")
    RULE_IDS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    HINT_FIELD_NUMBER: _ClassVar[int]
    rule_ids: _containers.RepeatedScalarFieldContainer[str]
    reason: str
    hint: str
    def __init__(self, rule_ids: _Optional[_Iterable[str]] = ..., reason: _Optional[str] = ..., hint: _Optional[str] = ...) -> None: ...

class ApprovalRequested(_message.Message):
    __slots__ = ("approval_id", "command_text", "rule_ids", "reason", "command_hash", "expires_at", "approver_groups", "mode", "parameters", "estimated_rows")
    APPROVAL_ID_FIELD_NUMBER: _ClassVar[int]
    COMMAND_TEXT_FIELD_NUMBER: _ClassVar[int]
    RULE_IDS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    COMMAND_HASH_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    APPROVER_GROUPS_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    ESTIMATED_ROWS_FIELD_NUMBER: _ClassVar[int]
    approval_id: str
    command_text: str
    rule_ids: _containers.RepeatedScalarFieldContainer[str]
    reason: str
    command_hash: str
    expires_at: _timestamp_pb2.Timestamp
    approver_groups: _containers.RepeatedScalarFieldContainer[str]
    mode: ApprovalMode
    parameters: _containers.RepeatedScalarFieldContainer[str]
    estimated_rows: int
    def __init__(self, approval_id: _Optional[str] = ..., command_text: _Optional[str] = ..., rule_ids: _Optional[_Iterable[str]] = ..., reason: _Optional[str] = ..., command_hash: _Optional[str] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., approver_groups: _Optional[_Iterable[str]] = ..., mode: _Optional[_Union[ApprovalMode, str]] = ..., parameters: _Optional[_Iterable[str]] = ..., estimated_rows: _Optional[int] = ...) -> None: ...

class ApprovalGranted(_message.Message):
    __slots__ = ("approval_id", "approver", "note", "command_hash", "signature")
    APPROVAL_ID_FIELD_NUMBER: _ClassVar[int]
    APPROVER_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    COMMAND_HASH_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    approval_id: str
    approver: str
    note: str
    command_hash: str
    signature: bytes
    def __init__(self, approval_id: _Optional[str] = ..., approver: _Optional[str] = ..., note: _Optional[str] = ..., command_hash: _Optional[str] = ..., signature: _Optional[bytes] = ...) -> None: ...

class ApprovalVoted(_message.Message):
    __slots__ = ("approval_id", "approver", "note")
    APPROVAL_ID_FIELD_NUMBER: _ClassVar[int]
    APPROVER_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    approval_id: str
    approver: str
    note: str
    def __init__(self, approval_id: _Optional[str] = ..., approver: _Optional[str] = ..., note: _Optional[str] = ...) -> None: ...

class ApprovalDenied(_message.Message):
    __slots__ = ("approval_id", "approver", "note", "command_hash", "signature")
    APPROVAL_ID_FIELD_NUMBER: _ClassVar[int]
    APPROVER_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    COMMAND_HASH_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    approval_id: str
    approver: str
    note: str
    command_hash: str
    signature: bytes
    def __init__(self, approval_id: _Optional[str] = ..., approver: _Optional[str] = ..., note: _Optional[str] = ..., command_hash: _Optional[str] = ..., signature: _Optional[bytes] = ...) -> None: ...

class ApprovalExpired(_message.Message):
    __slots__ = ("approval_id", "command_hash", "signature")
    APPROVAL_ID_FIELD_NUMBER: _ClassVar[int]
    COMMAND_HASH_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    approval_id: str
    command_hash: str
    signature: bytes
    def __init__(self, approval_id: _Optional[str] = ..., command_hash: _Optional[str] = ..., signature: _Optional[bytes] = ...) -> None: ...

class ApprovalWithdrawn(_message.Message):
    __slots__ = ("approval_id", "reason")
    APPROVAL_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    approval_id: str
    reason: str
    def __init__(self, approval_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class ApprovalRedeemed(_message.Message):
    __slots__ = ("approval_id", "decision")
    APPROVAL_ID_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    approval_id: str
    decision: str
    def __init__(self, approval_id: _Optional[str] = ..., decision: _Optional[str] = ...) -> None: ...

class CommandExecuted(_message.Message):
    __slots__ = ("rows", "duration_ms", "error_code", "error_message", "row_count", "duration_us")
    ROWS_FIELD_NUMBER: _ClassVar[int]
    DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    ERROR_CODE_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    ROW_COUNT_FIELD_NUMBER: _ClassVar[int]
    DURATION_US_FIELD_NUMBER: _ClassVar[int]
    rows: int
    duration_ms: int
    error_code: str
    error_message: str
    row_count: int
    duration_us: int
    def __init__(self, rows: _Optional[int] = ..., duration_ms: _Optional[int] = ..., error_code: _Optional[str] = ..., error_message: _Optional[str] = ..., row_count: _Optional[int] = ..., duration_us: _Optional[int] = ...) -> None: ...

class MaskCount(_message.Message):
    __slots__ = ("column", "entity_type", "count")
    COLUMN_FIELD_NUMBER: _ClassVar[int]
    ENTITY_TYPE_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    column: str
    entity_type: str
    count: int
    def __init__(self, column: _Optional[str] = ..., entity_type: _Optional[str] = ..., count: _Optional[int] = ...) -> None: ...

class ResultMasked(_message.Message):
    __slots__ = ("row_count", "values_masked", "counts")
    ROW_COUNT_FIELD_NUMBER: _ClassVar[int]
    VALUES_MASKED_FIELD_NUMBER: _ClassVar[int]
    COUNTS_FIELD_NUMBER: _ClassVar[int]
    row_count: int
    values_masked: int
    counts: _containers.RepeatedCompositeFieldContainer[MaskCount]
    def __init__(self, row_count: _Optional[int] = ..., values_masked: _Optional[int] = ..., counts: _Optional[_Iterable[_Union[MaskCount, _Mapping]]] = ...) -> None: ...

class Event(_message.Message):
    __slots__ = ("event_id", "command_id", "session_id", "identity", "resource", "occurred_at", "trace", "schema_version", "source", "session_opened", "session_closed", "command_received", "command_classified", "command_blocked", "approval_requested", "approval_granted", "approval_denied", "approval_expired", "command_executed", "result_masked", "approval_redeemed", "approval_voted", "approval_withdrawn")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    COMMAND_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    TRACE_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_VERSION_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    SESSION_OPENED_FIELD_NUMBER: _ClassVar[int]
    SESSION_CLOSED_FIELD_NUMBER: _ClassVar[int]
    COMMAND_RECEIVED_FIELD_NUMBER: _ClassVar[int]
    COMMAND_CLASSIFIED_FIELD_NUMBER: _ClassVar[int]
    COMMAND_BLOCKED_FIELD_NUMBER: _ClassVar[int]
    APPROVAL_REQUESTED_FIELD_NUMBER: _ClassVar[int]
    APPROVAL_GRANTED_FIELD_NUMBER: _ClassVar[int]
    APPROVAL_DENIED_FIELD_NUMBER: _ClassVar[int]
    APPROVAL_EXPIRED_FIELD_NUMBER: _ClassVar[int]
    COMMAND_EXECUTED_FIELD_NUMBER: _ClassVar[int]
    RESULT_MASKED_FIELD_NUMBER: _ClassVar[int]
    APPROVAL_REDEEMED_FIELD_NUMBER: _ClassVar[int]
    APPROVAL_VOTED_FIELD_NUMBER: _ClassVar[int]
    APPROVAL_WITHDRAWN_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    command_id: str
    session_id: str
    identity: Identity
    resource: Resource
    occurred_at: _timestamp_pb2.Timestamp
    trace: TraceContext
    schema_version: int
    source: str
    session_opened: SessionOpened
    session_closed: SessionClosed
    command_received: CommandReceived
    command_classified: CommandClassified
    command_blocked: CommandBlocked
    approval_requested: ApprovalRequested
    approval_granted: ApprovalGranted
    approval_denied: ApprovalDenied
    approval_expired: ApprovalExpired
    command_executed: CommandExecuted
    result_masked: ResultMasked
    approval_redeemed: ApprovalRedeemed
    approval_voted: ApprovalVoted
    approval_withdrawn: ApprovalWithdrawn
    def __init__(self, event_id: _Optional[str] = ..., command_id: _Optional[str] = ..., session_id: _Optional[str] = ..., identity: _Optional[_Union[Identity, _Mapping]] = ..., resource: _Optional[_Union[Resource, _Mapping]] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., trace: _Optional[_Union[TraceContext, _Mapping]] = ..., schema_version: _Optional[int] = ..., source: _Optional[str] = ..., session_opened: _Optional[_Union[SessionOpened, _Mapping]] = ..., session_closed: _Optional[_Union[SessionClosed, _Mapping]] = ..., command_received: _Optional[_Union[CommandReceived, _Mapping]] = ..., command_classified: _Optional[_Union[CommandClassified, _Mapping]] = ..., command_blocked: _Optional[_Union[CommandBlocked, _Mapping]] = ..., approval_requested: _Optional[_Union[ApprovalRequested, _Mapping]] = ..., approval_granted: _Optional[_Union[ApprovalGranted, _Mapping]] = ..., approval_denied: _Optional[_Union[ApprovalDenied, _Mapping]] = ..., approval_expired: _Optional[_Union[ApprovalExpired, _Mapping]] = ..., command_executed: _Optional[_Union[CommandExecuted, _Mapping]] = ..., result_masked: _Optional[_Union[ResultMasked, _Mapping]] = ..., approval_redeemed: _Optional[_Union[ApprovalRedeemed, _Mapping]] = ..., approval_voted: _Optional[_Union[ApprovalVoted, _Mapping]] = ..., approval_withdrawn: _Optional[_Union[ApprovalWithdrawn, _Mapping]] = ...) -> None: ...
