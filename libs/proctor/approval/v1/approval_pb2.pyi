from proctor.events.v1 import events_pb2 as _events_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
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
REDEEM_OUTCOME_UNSPECIFIED: RedeemOutcome
REDEEM_OUTCOME_NONE: RedeemOutcome
REDEEM_OUTCOME_PENDING: RedeemOutcome
REDEEM_OUTCOME_GRANTED: RedeemOutcome
REDEEM_OUTCOME_DENIED: RedeemOutcome
REDEEM_OUTCOME_EXPIRED: RedeemOutcome

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
