"""The gateway's configuration: who may connect (identities with hashed access tokens and
groups) and what they reach (resources with the target credentials only the gateway holds).

```yaml
identities:
  alice@example.com:
    groups: [engineering]
    token_sha256: 3b7e...   # sha256 hex of the access token; the token is never stored
    token_scram_sha256: SCRAM-SHA-256$4096:...  # optional: agents then authenticate by SCRAM
    slack_user: U012AB3CD   # optional: the Slack member id that decides as this identity
resources:
  demo:
    kind: postgres
    url: postgresql://app:secret@db.internal:5432/demo
```
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml

from proctor.errors import ConfigError
from proctor.scram import ScramVerifier

#: How the gateway connects to a target (the `sslmode` of its URL), as libpq names them;
#: `allow` connects in plain text, like `disable`.
SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")


def sslmode_of(url: str) -> str:
    """The `sslmode` of a target URL, `prefer` (libpq's default) when it names none;
    ValueError for a mode libpq does not know."""
    modes = parse_qs(urlsplit(url).query).get("sslmode", ["prefer"])
    for mode in modes:
        if mode not in SSL_MODES:
            raise ValueError(f"sslmode {mode!r} is not one of {', '.join(SSL_MODES)}")
    return modes[0]


@dataclass(frozen=True, slots=True)
class IdentityConfig:
    name: str
    groups: tuple[str, ...]
    token_sha256: str
    slack_user: str | None = None  # Slack member id (U…/W…) that acts as this identity
    # The token's SCRAM-SHA-256 verifier: with it the agent proves its token without sending it
    scram: ScramVerifier | None = None

    def accepts(self, token: str) -> bool:
        return hmac.compare_digest(hash_token(token), self.token_sha256)


@dataclass(frozen=True, slots=True)
class ResourceConfig:
    name: str
    kind: str
    url: str


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    identities: dict[str, IdentityConfig]
    resources: dict[str, ResourceConfig]

    def authenticate(self, name: str, token: str) -> IdentityConfig | None:
        identity = self.identities.get(name)
        # Hash even for unknown names, so timing does not tell which names exist.
        ok = (
            identity.accepts(token) if identity else IdentityConfig("", (), "0" * 64).accepts(token)
        )
        return identity if identity and ok else None

    @property
    def prefers_scram(self) -> bool:
        """Whether most identities authenticate by SCRAM (what an unknown name is offered)."""
        with_scram = sum(1 for i in self.identities.values() if i.scram is not None)
        return with_scram * 2 >= len(self.identities)

    def by_slack_user(self, slack_user: str) -> IdentityConfig | None:
        """The identity a Slack member id is mapped to, or None."""
        for identity in self.identities.values():
            if identity.slack_user is not None and identity.slack_user == slack_user:
                return identity
        return None


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token(prefix: str = "prx") -> str:
    """A fresh access token (high entropy, so a plain SHA-256 is a sufficient stored form)."""
    return f"{prefix}_{secrets.token_urlsafe(24)}"


# Slack member ids: U… (and W… for Enterprise Grid), upper-case letters and digits.
_SLACK_USER = re.compile(r"[UW][A-Z0-9]{2,}")


def _mapping(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{where} must be a mapping")
    return value


def parse_gateway_config(data: Any, source: str = "gateway config") -> GatewayConfig:
    root = _mapping(data, source)
    identities: dict[str, IdentityConfig] = {}
    for name, spec in _mapping(root.get("identities"), f"{source}: identities").items():
        spec = _mapping(spec, f"{source}: identity {name}")
        digest = str(spec.get("token_sha256", ""))
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise ConfigError(f"{source}: identity {name}: token_sha256 must be 64 hex digits")
        groups = spec.get("groups") or []
        if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
            raise ConfigError(f"{source}: identity {name}: groups must be a list of names")
        slack_user = spec.get("slack_user")
        if slack_user is not None:
            if not isinstance(slack_user, str) or not _SLACK_USER.fullmatch(slack_user):
                raise ConfigError(
                    f"{source}: identity {name}: slack_user must be a Slack member id "
                    "such as U012AB3CD (profile → ⋮ → Copy member ID)"
                )
            owner = next((i.name for i in identities.values() if i.slack_user == slack_user), None)
            if owner is not None:
                raise ConfigError(
                    f"{source}: identity {name}: slack_user {slack_user} is already {owner}'s"
                )
        scram = spec.get("token_scram_sha256")
        verifier = (
            ScramVerifier.parse(str(scram), f"{source}: identity {name}: token_scram_sha256")
            if scram is not None
            else None
        )
        identities[str(name)] = IdentityConfig(
            str(name), tuple(groups), digest, slack_user, verifier
        )
    resources: dict[str, ResourceConfig] = {}
    for name, spec in _mapping(root.get("resources"), f"{source}: resources").items():
        spec = _mapping(spec, f"{source}: resource {name}")
        kind = str(spec.get("kind", "postgres"))
        url = spec.get("url")
        if kind != "postgres":
            raise ConfigError(f"{source}: resource {name}: kind {kind!r} is not supported yet")
        if not isinstance(url, str) or not url.startswith(("postgresql://", "postgres://")):
            raise ConfigError(f"{source}: resource {name}: url must be a postgresql:// URL")
        try:
            sslmode_of(url)
        except ValueError as exc:
            raise ConfigError(f"{source}: resource {name}: {exc}") from None
        resources[str(name)] = ResourceConfig(str(name), kind, url)
    return GatewayConfig(identities, resources)


def load_gateway_config(path: Path) -> GatewayConfig:
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ConfigError(f"cannot read gateway config {path}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from exc
    return parse_gateway_config(data, str(path))
