from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ExecRequest(_message.Message):
    __slots__ = ("resource", "command", "argv")
    RESOURCE_FIELD_NUMBER: _ClassVar[int]
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    ARGV_FIELD_NUMBER: _ClassVar[int]
    resource: str
    command: str
    argv: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, resource: _Optional[str] = ..., command: _Optional[str] = ..., argv: _Optional[_Iterable[str]] = ...) -> None: ...

class ExecReply(_message.Message):
    __slots__ = ("stdout", "stderr", "exit")
    STDOUT_FIELD_NUMBER: _ClassVar[int]
    STDERR_FIELD_NUMBER: _ClassVar[int]
    EXIT_FIELD_NUMBER: _ClassVar[int]
    stdout: bytes
    stderr: bytes
    exit: Exit
    def __init__(self, stdout: _Optional[bytes] = ..., stderr: _Optional[bytes] = ..., exit: _Optional[_Union[Exit, _Mapping]] = ...) -> None: ...

class Exit(_message.Message):
    __slots__ = ("status", "outcome", "reason", "rule_ids", "hint", "approval_id", "detail")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    RULE_IDS_FIELD_NUMBER: _ClassVar[int]
    HINT_FIELD_NUMBER: _ClassVar[int]
    APPROVAL_ID_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    status: int
    outcome: str
    reason: str
    rule_ids: _containers.RepeatedScalarFieldContainer[str]
    hint: str
    approval_id: str
    detail: str
    def __init__(self, status: _Optional[int] = ..., outcome: _Optional[str] = ..., reason: _Optional[str] = ..., rule_ids: _Optional[_Iterable[str]] = ..., hint: _Optional[str] = ..., approval_id: _Optional[str] = ..., detail: _Optional[str] = ...) -> None: ...
