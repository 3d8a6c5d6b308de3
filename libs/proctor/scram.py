"""SCRAM-SHA-256 (RFC 5802, RFC 7677) towards agents: verifiers of their access tokens in
PostgreSQL's stored form (`SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`,
base64), and the server side of one exchange, so an agent's client proves it knows its token
without sending it. The gateway configuration keeps the verifier beside the token's SHA-256;
neither reveals the token.

The exchange is written here rather than taken from scramp's server, which refuses the empty
user name every libpq-based client sends (PostgreSQL takes the user from the startup message).
Channel binding (SCRAM-SHA-256-PLUS) is not offered; a client that could bind says so with the
`y` flag, which is accepted since the server offered none."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, field

from scramp import ScramMechanism

from proctor.errors import ConfigError

MECHANISM = "SCRAM-SHA-256"
ITERATIONS = 4096  # PostgreSQL's default
_STORED = re.compile(
    r"SCRAM-SHA-256\$(?P<iterations>\d+):(?P<salt>[A-Za-z0-9+/=]+)"
    r"\$(?P<stored>[A-Za-z0-9+/=]+):(?P<server>[A-Za-z0-9+/=]+)"
)


@dataclass(frozen=True, slots=True)
class ScramVerifier:
    """What the server keeps of a password for SCRAM: salt, iterations and two keys."""

    salt: bytes
    stored_key: bytes
    server_key: bytes
    iterations: int

    @classmethod
    def of(cls, token: str, iterations: int = ITERATIONS) -> ScramVerifier:
        salt, stored, server, count = ScramMechanism(MECHANISM).make_auth_info(
            token, iteration_count=iterations
        )
        return cls(salt, stored, server, count)

    @classmethod
    def parse(cls, text: str, where: str = "verifier") -> ScramVerifier:
        found = _STORED.fullmatch(text.strip())
        if found is None:
            raise ConfigError(
                f"{where}: not a SCRAM-SHA-256 verifier "
                "(SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>)"
            )
        b64 = base64.b64decode
        return cls(
            b64(found["salt"]), b64(found["stored"]), b64(found["server"]),
            int(found["iterations"]),
        )  # fmt: skip

    def __str__(self) -> str:
        def b64(raw: bytes) -> str:
            return base64.b64encode(raw).decode()

        return (f"{MECHANISM}${self.iterations}:{b64(self.salt)}"
                f"${b64(self.stored_key)}:{b64(self.server_key)}")  # fmt: skip

    def auth_info(self) -> tuple[bytes, bytes, bytes, int]:
        """As scramp's server asks for it."""
        return self.salt, self.stored_key, self.server_key, self.iterations


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _attributes(message: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for part in message.split(","):
        key, sep, value = part.partition("=")
        if not sep or len(key) != 1:
            raise ValueError(f"malformed SCRAM attribute {part[:20]!r}")
        found.setdefault(key, value)
    return found


@dataclass
class ScramExchange:
    """The server's side of one SCRAM-SHA-256 authentication against `verifier`."""

    verifier: ScramVerifier
    _gs2_header: str = ""
    _client_first_bare: str = ""
    _server_first: str = ""
    _nonce: str = ""
    _server_nonce: str = field(default_factory=lambda: _b64(secrets.token_bytes(18)))

    def server_first(self, client_first: str) -> str:
        """Answer the client-first-message; ValueError if it is malformed or asks for channel
        binding, which was not offered."""
        flag, _, rest = client_first.partition(",")
        authzid, _, bare = rest.partition(",")
        if flag not in ("n", "y"):
            raise ValueError("channel binding was not offered")
        attributes = _attributes(bare)
        if "r" not in attributes or not attributes["r"] or "m" in attributes:
            raise ValueError("client-first-message without a nonce")
        self._gs2_header = f"{flag},{authzid},"
        self._client_first_bare = bare
        self._nonce = attributes["r"] + self._server_nonce
        v = self.verifier
        self._server_first = f"r={self._nonce},s={_b64(v.salt)},i={v.iterations}"
        return self._server_first

    def server_final(self, client_final: str) -> str | None:
        """The server-final-message if the client's proof is right, else None."""
        without_proof, sep, proof = client_final.rpartition(",p=")
        if not sep:
            return None
        try:
            attributes = _attributes(without_proof)
            client_proof = base64.b64decode(proof, validate=True)
        except ValueError:
            return None
        if attributes.get("c") != _b64(self._gs2_header.encode()):
            return None
        if not hmac.compare_digest(attributes.get("r", ""), self._nonce):
            return None
        auth_message = ",".join(
            (self._client_first_bare, self._server_first, without_proof)
        ).encode()
        signature = hmac.digest(self.verifier.stored_key, auth_message, "sha256")
        if len(client_proof) != len(signature):
            return None
        client_key = bytes(a ^ b for a, b in zip(client_proof, signature, strict=True))
        if not hmac.compare_digest(hashlib.sha256(client_key).digest(), self.verifier.stored_key):
            return None
        return "v=" + _b64(hmac.digest(self.verifier.server_key, auth_message, "sha256"))
