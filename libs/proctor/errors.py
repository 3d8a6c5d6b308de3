"""The one error hierarchy of the gateway; library errors are mapped to it at the boundary.

ProctorError
├── ConfigError            settings or a config file are invalid
├── EventError
│   ├── UndecodableEvent   bytes on the stream are not an Event we can read
│   └── InvalidEvent       an Event lacks what its subject or store needs
├── BusError               NATS / JetStream refused or did not answer
│   └── OutboxFull         the ingress outbox stayed full (proctor_ingress.outbox)
├── StoreError             the audit store (Postgres) refused or did not answer
├── ChainBroken            the audit hash chain does not verify
├── StackError             the embedded stack could not start or is already running
├── ApiError               the Kubernetes double answers a request with a failure Status
│                          (proctor.kubedouble.errors)
└── GatewayError           the ingress-proxy could not carry a command through
    ├── ServiceUnavailable     a service a decision needs did not answer (fail closed)
    │   ├── ClassifierUnavailable
    │   └── MaskUnavailable
    ├── Unmaskable             a value cannot be read or rebuilt for masking
    ├── UpstreamError          the target refused the gateway or could not be reached
    │   └── UpstreamLost       the target went away or fell silent after the command was
    │                          sent: it may have run
    ├── AuthenticationFailed   an agent did not prove its identity
    ├── ProtocolError          a client broke its wire protocol
    │   ├── MessageTooLarge    one message over the limit (proctor.pgwire)
    │   └── UnreadableRequest  a request (a Kubernetes API path) the gateway cannot read
    │                          safely; also a ValueError
    └── SessionEnded           the client went away or broke the protocol
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


class GatewayError(ProctorError):
    """The ingress-proxy could not carry a command through; the command did not run."""


class ServiceUnavailable(GatewayError):
    """A service the decision needs (classifier, masker, approval) did not answer in time."""

    service = "gateway"


class ClassifierUnavailable(ServiceUnavailable):
    """No verdict in time: the command must not run."""

    service = "classifier"


class MaskUnavailable(ServiceUnavailable):
    """The masker did not answer, or answered with an error: nothing unmasked goes out."""

    service = "masker"


class Unmaskable(GatewayError):
    """A value cannot be read or rebuilt for masking, so it cannot be sent."""


class UpstreamError(GatewayError):
    """The target refused the gateway's connection or could not be reached."""


class UpstreamLost(UpstreamError):
    """The target died, dropped the connection or did not answer in time after the command
    was sent to it: unlike other GatewayErrors, the command may have run."""


class AuthenticationFailed(GatewayError):
    """An agent did not prove its identity."""


class ProtocolError(GatewayError):
    """A client sent what its protocol does not allow."""


class SessionEnded(GatewayError):
    """The client went away or broke the protocol; nothing more to say to it."""


class UnreadableRequest(ProtocolError, ValueError):
    """A request the gateway cannot read the way its target would (a malformed Kubernetes API
    path, say); the agent is told what is wrong and the request never runs."""
