"""Signed approval decisions: the approval service signs each decision with its Ed25519 key;
the ingress-proxy acts only on a decision whose signature verifies with a key it trusts and
names the approval it waits on and the exact command it holds.

NATS permissions already let only the approval service publish decisions; the signature holds
even where they do not (a misconfigured server, a leaked service password, a stream replayed
from elsewhere). It covers a fixed domain tag, the decision kind, the approval id and the
command's binding (ApprovalRequested.command_hash: the normalized command, its parameters,
the identity and the resource); for an async-mode redemption, also the re-submission's command
id, so a recorded answer cannot let a later submission run. Ed25519 because a verifier holds
only a public key (a proxy that is broken into cannot forge decisions, unlike with a shared
HMAC secret), signatures are deterministic and small, and `cryptography` ships it.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from proctor.busaccess import write_private
from proctor.errors import ConfigError
from proctor.events import codec
from proctor.events.v1 import events_pb2 as pb

DOMAIN = b"proctor.approval-decision.v1"
SIGNED_KINDS = ("approval_granted", "approval_denied", "approval_expired")
REDEEMED = "approval_redeemed_granted"  # the kind signed into a redemption that runs a command


def signed_message(kind: str, approval_id: str, command_hash: str, command_id: str = "") -> bytes:
    """The bytes a decision's signature covers: each part length-prefixed, so no two
    decisions share them."""
    out = bytearray()
    for part in (DOMAIN, kind.encode(), approval_id.encode(), command_hash.encode(),
                 command_id.encode()):  # fmt: skip
        out += len(part).to_bytes(4, "big") + part
    return bytes(out)


class DecisionSigner:
    """The approval service's side: signs decisions with its private key."""

    def __init__(self, key: Ed25519PrivateKey) -> None:
        self._key = key

    @classmethod
    def from_file(cls, path: Path) -> DecisionSigner:
        try:
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except (OSError, ValueError, TypeError) as exc:
            raise ConfigError(f"cannot read the approval signing key {path}: {exc}") from exc
        if not isinstance(key, Ed25519PrivateKey):
            raise ConfigError(f"{path} is not an Ed25519 private key")
        return cls(key)

    @property
    def public(self) -> Ed25519PublicKey:
        return self._key.public_key()

    @property
    def public_key(self) -> str:
        return public_key_text(self._key.public_key())

    def sign(self, kind: str, approval_id: str, command_hash: str, command_id: str = "") -> bytes:
        return self._key.sign(signed_message(kind, approval_id, command_hash, command_id))

    def sign_event(self, event: pb.Event) -> None:
        """Sign a decision event in place (other events are left as they are)."""
        kind = codec.event_type(event)
        if kind in SIGNED_KINDS:
            body = getattr(event, kind)
            body.signature = self.sign(kind, body.approval_id, body.command_hash)


class DecisionVerifier:
    """The proxy's side: the approval service's public keys (more than one while a key is
    rotated)."""

    def __init__(self, keys: Iterable[Ed25519PublicKey]) -> None:
        self._keys = tuple(keys)

    @classmethod
    def from_text(cls, text: str | None) -> DecisionVerifier:
        """Keys as base64 of their 32 raw bytes, separated by commas or whitespace."""
        keys = []
        for item in (text or "").replace(",", " ").split():
            try:
                raw = base64.b64decode(item, validate=True)
                keys.append(Ed25519PublicKey.from_public_bytes(raw))
            except ValueError as exc:
                raise ConfigError(
                    f"approval verify key {item!r} is not base64 of an Ed25519 public key"
                ) from exc
        return cls(keys)

    def __bool__(self) -> bool:
        return bool(self._keys)

    def verify(
        self,
        signature: bytes,
        kind: str,
        approval_id: str,
        command_hash: str,
        command_id: str = "",
    ) -> bool:
        message = signed_message(kind, approval_id, command_hash, command_id)
        for key in self._keys:
            try:
                key.verify(signature, message)
            except InvalidSignature:
                continue
            return True
        return False


def public_key_text(key: Ed25519PublicKey) -> str:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def new_signing_key() -> tuple[bytes, str]:
    """A fresh key pair: the private key as PEM (PKCS#8) and the public key as base64."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return pem, public_key_text(key.public_key())


def load_or_create_signing_key(path: Path) -> str:
    """The key pair kept at `path` (mode 0600), made at first start; returns its public key."""
    if not path.exists():
        pem, _ = new_signing_key()
        write_private(path, pem.decode())
    return DecisionSigner.from_file(path).public_key
