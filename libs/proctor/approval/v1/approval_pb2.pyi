import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from proctor.events.v1 import events_pb2 as _events_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RedeemOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REDEEM_OUTCOME_UNSPECIFIED: _ClassVar[RedeemOutcome]
    REDEEM_OUTCOME_NONE: _ClassVar[RedeemOutcome]
    REDEEM_OUTCOME_PENDING: _ClassVar[RedeemOutcome]
    REDEEM_OUTCOME_GRANTED: _ClassVar[RedeemOutcome]
    REDEEM_OUTCOME_DENIED: _ClassVar[RedeemOutcome]
    REDEEM_OUTCOME_EXPIRED: _ClassVar[RedeemOutcome]

class ApprovalState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    APPROVAL_STATE_UNSPECIFIED: _ClassVar[ApprovalState]
    APPROVAL_STATE_UNKNOWN: _ClassVar[ApprovalState]
    APPROVAL_STATE_PENDING: _ClassVar[ApprovalState]
    APPROVAL_STATE_GRANTED: _ClassVar[ApprovalState]
    APPROVAL_STATE_DENIED: _ClassVar[ApprovalState]
    APPROVAL_STATE_EXPIRED: _ClassVar[ApprovalState]
    APPROVAL_STATE_WITHDRAWN: _ClassVar[ApprovalState]
    APPROVAL_STATE_REDEEMED: _ClassVar[ApprovalState]
REDEEM_OUTCOME_UNSPECIFIED: RedeemOutcome
REDEEM_OUTCOME_NONE: RedeemOutcome
REDEEM_OUTCOME_PENDING: RedeemOutcome
REDEEM_OUTCOME_GRANTED: RedeemOutcome
REDEEM_OUTCOME_DENIED: RedeemOutcome
REDEEM_OUTCOME_EXPIRED: RedeemOutcome
APPROVAL_STATE_UNSPECIFIED: ApprovalState
APPROVAL_STATE_UNKNOWN: ApprovalState
APPROVAL_STATE_PENDING: ApprovalState
APPROVAL_STATE_GRANTED: ApprovalState
APPROVAL_STATE_DENIED: ApprovalState
APPROVAL_STATE_EXPIRED: ApprovalState
APPROVAL_STATE_WITHDRAWN: ApprovalState
APPROVAL_STATE_REDEEMED: ApprovalState

class RedeemRequest(_message.Message):
    __slots__ = ("command_hash", "session_id", "command_id", "identity", "resource")
    COMMAND_HASH_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    COMMAND_ID_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_FIELD_NUMBER: _ClassVar[int]
    command_hash: str
    session_id: str
    command_id: str
    identity: _events_pb2.Identity
    resource: _events_pb2.Resource
    def __init__(self, command_hash: _Optional[str] = ..., session_id: _Optional[str] = ..., command_id: _Optional[str] = ..., identity: _Optional[_Union[_events_pb2.Identity, _Mapping]] = ..., resource: _Optional[_Union[_events_pb2.Resource, _Mapping]] = ...) -> None: ...

class RedeemResponse(_message.Message):
    __slots__ = ("outcome", "approval_id", "approver", "note", "error", "signature")
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    APPROVAL_ID_FIELD_NUMBER: _ClassVar[int]
    APPROVER_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    outcome: RedeemOutcome
    approval_id: str
    approver: str
    note: str
    error: str
    signature: bytes
    def __init__(self, outcome: _Optional[_Union[RedeemOutcome, str]] = ..., approval_id: _Optional[str] = ..., approver: _Optional[str] = ..., note: _Optional[str] = ..., error: _Optional[str] = ..., signature: _Optional[bytes] = ...) -> None: ...

class ApprovalStatusRequest(_message.Message):
    __slots__ = ("approval_id", "identity")
    APPROVAL_ID_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_FIELD_NUMBER: _ClassVar[int]
    approval_id: str
    identity: _events_pb2.Identity
    def __init__(self, approval_id: _Optional[str] = ..., identity: _Optional[_Union[_events_pb2.Identity, _Mapping]] = ...) -> None: ...

class ApprovalStatusResponse(_message.Message):
    __slots__ = ("state", "approval_id", "approver", "note", "command_text", "resource", "rule_ids", "reason", "requested_at", "expires_at", "mode", "redeemed", "approvals", "error")
    STATE_FIELD_NUMBER: _ClassVar[int]
    APPROVAL_ID_FIELD_NUMBER: _ClassVar[int]
    APPROVER_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    COMMAND_TEXT_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_FIELD_NUMBER: _ClassVar[int]
    RULE_IDS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    REDEEMED_FIELD_NUMBER: _ClassVar[int]
    APPROVALS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    state: ApprovalState
    approval_id: str
    approver: str
    note: str
    command_text: str
    resource: str
    rule_ids: _containers.RepeatedScalarFieldContainer[str]
    reason: str
    requested_at: _timestamp_pb2.Timestamp
    expires_at: _timestamp_pb2.Timestamp
    mode: _events_pb2.ApprovalMode
    redeemed: bool
    approvals: _containers.RepeatedScalarFieldContainer[str]
    error: str
    def __init__(self, state: _Optional[_Union[ApprovalState, str]] = ..., approval_id: _Optional[str] = ..., approver: _Optional[str] = ..., note: _Optional[str] = ..., command_text: _Optional[str] = ..., resource: _Optional[str] = ..., rule_ids: _Optional[_Iterable[str]] = ..., reason: _Optional[str] = ..., requested_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., mode: _Optional[_Union[_events_pb2.ApprovalMode, str]] = ..., redeemed: _Optional[bool] = ..., approvals: _Optional[_Iterable[str]] = ..., error: _Optional[str] = ...) -> None: ...
