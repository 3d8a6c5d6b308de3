"""The one error hierarchy of the gateway; library errors are mapped to it at the boundary.

ProctorError
├── ConfigError            settings or a config file are invalid
├── EventError
│   ├── UndecodableEvent   bytes on the stream are not an Event we can read
│   └── InvalidEvent       an Event lacks what its subject or store needs
├── BusError               NATS / JetStream refused or did not answer
├── StoreError             the audit store (Postgres) refused or did not answer
├── ChainBroken            the audit hash chain does not verify
├── StackError             the embedded stack could not start or is already running
└── ApiError               the Kubernetes double answers a request with a failure Status
                           (proctor.kubedouble.errors)
"""

from __future__ import annotations


class ProctorError(Exception):
    """Base of every error Proctor raises on purpose."""


class ConfigError(ProctorError):
    """Settings or a configuration file are invalid."""


class EventError(ProctorError):
    """An event could not be encoded, decoded or routed."""


class UndecodableEvent(EventError):
    """Bytes on the stream are not a readable Event."""


class InvalidEvent(EventError):
    """An Event lacks a field that routing or storage needs."""


class BusError(ProctorError):
    """NATS or JetStream refused a request or did not answer in time."""


class StoreError(ProctorError):
    """The audit store refused a write or a query."""


class ChainBroken(ProctorError):
    """The audit store's hash chain does not verify at `seq`."""

    def __init__(self, seq: int, problem: str) -> None:
        super().__init__(f"audit chain broken at seq {seq}: {problem}")
        self.seq = seq
        self.problem = problem


class StackError(ProctorError):
    """The embedded stack could not start, or one is already running."""
