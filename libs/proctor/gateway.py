"""The gateway's configuration: who may connect (identities with hashed access tokens and
groups) and what they reach (resources with the target credentials only the gateway holds).

```yaml
identities:
  alice@example.com:
    groups: [engineering]
    token_sha256: 3b7e...   # sha256 hex of the access token; the token is never stored
    token_scram_sha256: SCRAM-SHA-256$4096:...  # optional: agents then authenticate by SCRAM
    slack_user: U012AB3CD   # optional: the Slack member id that decides as this identity
    ssh_keys:               # optional: public keys it may authenticate with over ssh
      - ssh-ed25519 AAAAC3Nza... alice@laptop
resources:
  demo:
    kind: postgres
    url: postgresql://app:secret@db.internal:5432/demo
  prod-cluster:
    kind: kubernetes
    url: https://10.0.0.1:6443
    token_file: /run/secrets/cluster-token       # or token:, or client_certificate + client_key
    certificate_authority: /run/secrets/cluster-ca.crt
  web-1:
    kind: ssh
    host: web-1.internal
    user: deploy
    private_key_file: /run/secrets/web-1-key    # the gateway's key for the host
    known_hosts: /run/secrets/known_hosts        # or host_key: "ssh-ed25519 AAAA..."
    workdir: /srv/app                            # optional: commands start here
  github:                       # an MCP server; agents see its tools as github.<tool>
    kind: mcp
    url: https://api.githubcopilot.com/mcp/      # streamable HTTP (http:// or https://)
    headers_from_env:                            # header: the variable holding its value
      Authorization: GITHUB_MCP_AUTHORIZATION
    description: GitHub issues and pull requests
  notes:
    kind: mcp
    command: [npx, -y, "@acme/notes-mcp"]        # or run it over stdio (argv, no shell)
    env_from_env: {NOTES_TOKEN: NOTES_TOKEN}     # optional; also env:, cwd:
    timeout: 30                                  # seconds a call may take (default 60)
```

Resources are a union typed by `kind` (pydantic models); an error names the file's line.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import parse_qs, urlsplit

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

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
    # Public keys (OpenSSH lines, "ssh-ed25519 AAAA… comment") it may prove itself with over ssh
    ssh_keys: tuple[str, ...] = ()

    def accepts(self, token: str) -> bool:
        return hmac.compare_digest(hash_token(token), self.token_sha256)


class _Resource(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = ""
    # One line for agents (MCP's list_resources): what it is, what it holds.
    description: str = ""


class PostgresResource(_Resource):
    """A PostgreSQL database; the URL carries the credentials only the gateway holds."""

    kind: Literal["postgres"] = "postgres"
    url: str

    @field_validator("url")
    @classmethod
    def _postgres_url(cls, url: str) -> str:
        if not url.startswith(("postgresql://", "postgres://")):
            raise ValueError("must be a postgresql:// URL")
        sslmode_of(url)  # ValueError for a mode libpq does not know
        return url


class KubernetesResource(_Resource):
    """A Kubernetes API server and the credentials the gateway uses for it (kubectl never sees
    them): a bearer token (inline or from a file), or a client certificate and key; the CA
    that signed the server's certificate."""

    kind: Literal["kubernetes"] = "kubernetes"
    url: str
    token: str | None = None
    token_file: Path | None = None
    client_certificate: Path | None = None
    client_key: Path | None = None
    certificate_authority: Path | None = None
    insecure_skip_tls_verify: bool = False

    @field_validator("url")
    @classmethod
    def _https_url(cls, url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValueError("must be the API server's https:// URL")
        return url.rstrip("/")

    def bearer_token(self) -> str | None:
        """The token to send, read from `token_file` each time (it may be rotated)."""
        if self.token_file is not None:
            return self.token_file.read_text().strip()
        return self.token


class SshResource(_Resource):
    """A host the gateway runs shell commands on over SSH, with its own key (agents never see
    it). The host's key is verified: from a known_hosts file, or one public key line; a host
    whose key is not known is refused."""

    kind: Literal["ssh"] = "ssh"
    host: str
    port: int = Field(22, ge=1, le=65535)
    user: str
    private_key_file: Path
    known_hosts: Path | None = None
    host_key: str | None = None
    workdir: str | None = None

    @field_validator("host_key")
    @classmethod
    def _key_line(cls, line: str | None) -> str | None:
        if line is not None and len(line.split()) < 2:
            raise ValueError('must be a public key line such as "ssh-ed25519 AAAA..."')
        return line

    @property
    def url(self) -> str:
        """Where the host is, as ssh://user@host:port (no credential in it)."""
        return f"ssh://{self.user}@{self.host}:{self.port}"

    @model_validator(mode="after")
    def _verifiable(self) -> SshResource:
        if self.known_hosts is None and self.host_key is None:
            raise ValueError(
                "needs known_hosts (a file) or host_key (the host's public key line): the "
                "gateway refuses hosts whose key it cannot verify"
            )
        return self


# An MCP resource's name is the namespace of its tools (`github.create_issue`): no dots.
_NAMESPACE = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}")
# What an environment variable's name may be (POSIX, as shells accept it).
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class McpResource(_Resource):
    """An MCP server whose tools agents call through the gateway: reached over streamable
    HTTP at `url` (with the gateway's own `headers`), or run by the gateway over stdio
    (`command`, an argv list). A value in `headers_from_env`/`env_from_env` names the
    environment variable holding it, so no secret need sit in the file."""

    kind: Literal["mcp"] = "mcp"
    url: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    headers_from_env: dict[str, str] = Field(default_factory=dict)
    command: tuple[str, ...] | None = None
    env: dict[str, str] = Field(default_factory=dict)
    env_from_env: dict[str, str] = Field(default_factory=dict)
    cwd: Path | None = None
    description: str = ""
    timeout: float = Field(60.0, gt=0, le=3600)

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str | None) -> str | None:
        if url is not None:
            parts = urlsplit(url)
            if parts.scheme not in ("https", "http") or not parts.hostname:
                raise ValueError("must be the MCP server's http:// or https:// URL")
        return url

    @field_validator("command")
    @classmethod
    def _argv(cls, command: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if command is not None and (not command or not command[0]):
            raise ValueError("must be the server's argv, a list such as [npx, -y, some-server]")
        return command

    @field_validator("headers_from_env", "env_from_env")
    @classmethod
    def _variables(cls, names: dict[str, str]) -> dict[str, str]:
        for key, variable in names.items():
            if not _ENV_NAME.fullmatch(variable):
                raise ValueError(f"{key}: {variable!r} is not an environment variable's name")
        return names

    @model_validator(mode="after")
    def _one_transport(self) -> McpResource:
        if not _NAMESPACE.fullmatch(self.name):
            raise ValueError(
                "an MCP resource's name prefixes its tools' names (name.tool): use letters, "
                "digits, - and _ (no dots), starting with a letter"
            )
        if (self.url is None) == (self.command is None):
            raise ValueError("needs exactly one of url (streamable HTTP) or command (stdio)")
        if self.url is not None and (self.env or self.env_from_env or self.cwd):
            raise ValueError("env, env_from_env and cwd are for a command; a url takes headers")
        if self.command is not None and (self.headers or self.headers_from_env):
            raise ValueError("headers and headers_from_env are for a url; a command takes env")
        return self

    def http_headers(self, environ: Mapping[str, str]) -> dict[str, str]:
        """The headers the gateway sends, those from the environment read from `environ`;
        ConfigError naming the variable when one is not set."""
        return self.headers | _from_env(self.headers_from_env, environ, self.name)

    def process_env(self, environ: Mapping[str, str]) -> dict[str, str]:
        """The environment the command gets beyond the few variables the MCP SDK passes
        (PATH, HOME, ...; the gateway's own are not inherited)."""
        return self.env | _from_env(self.env_from_env, environ, self.name)


def _from_env(names: dict[str, str], environ: Mapping[str, str], resource: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for key, variable in names.items():
        value = environ.get(variable)
        if value is None:
            raise ConfigError(
                f"resource {resource}: {key} is to come from the environment variable "
                f"{variable}, which is not set in the gateway's environment"
            )
        values[key] = value
    return values


AnyResource = PostgresResource | KubernetesResource | SshResource | McpResource
ResourceConfig = Annotated[AnyResource, Field(discriminator="kind")]
_RESOURCE = TypeAdapter(ResourceConfig)
KINDS = ("postgres", "kubernetes", "ssh", "mcp")


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    identities: dict[str, IdentityConfig]
    resources: dict[str, AnyResource]

    def of_kind(self, kind: str) -> dict[str, Any]:
        """The resources of one kind, by name."""
        return {n: r for n, r in self.resources.items() if r.kind == kind}

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


def _problem(exc: ValidationError) -> tuple[tuple[str, ...], str]:
    """The key path (within the resource) and the words of a resource's first validation
    error."""
    error = exc.errors()[0]
    loc = error["loc"]
    path = tuple(str(p) for p in (loc[1:] if loc and loc[0] in KINDS else loc))
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "union_tag_invalid":
        return ("kind",), f"kind must be one of {', '.join(KINDS)}"
    if error["type"] == "missing":
        message = "is required"
    return path, message


def parse_gateway_config(
    data: Any, source: str = "gateway config", lines: dict[tuple[str, ...], int] | None = None
) -> GatewayConfig:
    """Validate a parsed gateway config; `lines` gives the file's line of each key path (from
    `load_gateway_config`), so an error names it."""
    lines = lines or {}
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
        keys = spec.get("ssh_keys") or []
        if not isinstance(keys, list) or not all(
            isinstance(k, str) and len(k.split()) >= 2 for k in keys
        ):
            raise ConfigError(
                f"{source}: identity {name}: ssh_keys must be a list of public key lines "
                '("ssh-ed25519 AAAA... comment")'
            )
        identities[str(name)] = IdentityConfig(
            str(name), tuple(groups), digest, slack_user, verifier, tuple(keys)
        )
    resources: dict[str, AnyResource] = {}
    for name, spec in _mapping(root.get("resources"), f"{source}: resources").items():
        spec = _mapping(spec, f"{source}: resource {name}")
        try:
            resources[str(name)] = _RESOURCE.validate_python(
                {"kind": "postgres", **spec, "name": str(name)}
            )
        except ValidationError as exc:
            path, problem = _problem(exc)
            line = next(
                (
                    lines[key]
                    for n in range(len(path), -1, -1)
                    if (key := ("resources", str(name), *path[:n])) in lines
                ),
                None,
            )
            at = f"{source}:{line}" if line else source
            said = f"{'.'.join(path)}: {problem}" if path else problem
            raise ConfigError(f"{at}: resource {name}: {said}") from None
    return GatewayConfig(identities, resources)


def _key_lines(text: str) -> dict[tuple[str, ...], int]:
    """The 1-based line of each mapping key, by its path of keys."""
    found: dict[tuple[str, ...], int] = {}

    def walk(node: yaml.Node, path: tuple[str, ...]) -> None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                here = (*path, str(key.value))
                found[here] = key.start_mark.line + 1
                walk(value, here)

    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return found
    if root is not None:
        walk(root, ())
    return found


def load_gateway_config(path: Path) -> GatewayConfig:
    try:
        text = path.read_text()
        data = yaml.safe_load(text)
    except OSError as exc:
        raise ConfigError(f"cannot read gateway config {path}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from exc
    return parse_gateway_config(data, str(path), _key_lines(text))
