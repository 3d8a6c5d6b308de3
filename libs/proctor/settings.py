"""Settings for every Proctor process: environment variables (`PROCTOR_*`) over a TOML file.

Precedence, highest first: explicit arguments, environment variables, the file named by
`PROCTOR_CONFIG` (keys as below, lower case, e.g. `nats_url = "nats://..."`), the URLs that a
running `proctor up` recorded in `<run_dir>/stack.json`, then the defaults.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from proctor.errors import ConfigError
from proctor.pids import process_running

STACK_FILE = "stack.json"


class _StackFileSource(PydanticBaseSettingsSource):
    """The URLs of a stack started by `proctor up`, so CLI commands find it with no flags."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        run_dir = Path(os.environ.get("PROCTOR_RUN_DIR", ".proctor"))
        path = run_dir / STACK_FILE
        try:
            stack = json.loads(path.read_text())
        except (OSError, ValueError):
            return {}
        if not process_running(stack.get("pid")):
            return {}  # left behind by a stack that is gone
        found = {k: stack[k] for k in ("nats_url", "database_url", "grpc_listen") if stack.get(k)}
        return found | _stack_credentials(stack)


def _stack_credentials(stack: dict[str, Any]) -> dict[str, Any]:
    """The admin's NATS credentials of a stack started by `proctor up` (from its 0600 file),
    unless this process was given credentials of its own."""
    if os.environ.get("PROCTOR_NATS_USER") or not stack.get("nats_credentials"):
        return {}
    try:
        passwords = json.loads(Path(stack["nats_credentials"]).read_text())
    except (OSError, ValueError):
        return {}  # not ours to read: the caller connects without them and is told so
    user = stack.get("nats_user", "admin")
    if not isinstance(passwords, dict) or user not in passwords:
        return {}
    return {"nats_user": user, "nats_password": passwords[user]}


class Settings(BaseSettings):
    """What a Proctor process needs to find the bus, the store and its own tuning."""

    model_config = SettingsConfigDict(env_prefix="PROCTOR_", extra="ignore")

    nats_url: str = Field(
        "nats://127.0.0.1:4222", description="NATS server URL(s), comma-separated"
    )
    nats_user: str | None = Field(
        None, description="NATS user this process connects as (each service has its own)"
    )
    nats_password: SecretStr | None = Field(None, description="That NATS user's password")
    nats_password_file: Path | None = Field(
        None, description="A file holding that password (e.g. a mounted secret), if not given"
    )
    database_url: str | None = Field(None, description="Postgres URL of the audit store")
    stream_name: str = Field("PROCTOR_EVENTS", description="JetStream stream holding proctor.evt.>")
    stream_replicas: int = Field(1, ge=1, le=5, description="JetStream replicas of the stream")
    stream_duplicate_window: float = Field(
        120.0, gt=0, description="Seconds within which a re-published event id is dropped"
    )
    audit_durable: str = Field(
        "audit", description="Durable consumer name shared by audit replicas"
    )
    audit_batch_size: int = Field(500, ge=1, le=10000, description="Events per audit transaction")
    audit_ack_wait: float = Field(
        30.0, gt=0, description="Seconds before an unacknowledged event is redelivered"
    )
    audit_dead_letter_after: int = Field(
        5,
        ge=1,
        le=1000,
        description="Deliveries after which an event that fails to store (for a reason other "
        "than the database being away) is stored raw as a dead letter",
    )
    audit_replicas: int = Field(1, ge=1, le=16, description="Audit replicas `proctor up` starts")
    masker_replicas: int = Field(1, ge=1, le=16, description="Masker replicas `proctor up` starts")
    gateway_config: Path | None = Field(
        None, description="YAML file of identities (hashed tokens) and resources (targets)"
    )
    pg_listen: str = Field("127.0.0.1:6543", description="host:port of the Postgres listener")
    pg_max_message: int = Field(
        64 << 20,
        ge=1 << 16,
        le=1 << 30,
        description="The largest protocol message (bytes) a client may send the proxy; a larger "
        "one is refused at its header and the connection closed",
    )
    pg_max_statement: int = Field(
        512 << 10,
        ge=1024,
        description="The largest statement (bytes) the proxy runs: its events must fit in a "
        "NATS message; a larger one is refused (54000) and recorded by excerpt and SHA-256",
    )
    pg_max_connections: int = Field(
        1000, ge=1, description="Client connections one proxy process accepts at once"
    )
    pg_max_connections_per_identity: int = Field(
        100, ge=1, description="Sessions one identity may hold at once on one proxy process"
    )
    pg_auth_timeout: float = Field(
        60.0, gt=0, description="Seconds a client has to start up and authenticate"
    )
    outbox_dir: Path | None = Field(
        None,
        description="Where ingress processes keep their write-ahead outbox of events "
        "(default: <run_dir>/outbox); a process replays what a dead one left there",
    )
    outbox_max_bytes: int = Field(
        64 << 20,
        ge=1 << 16,
        description="Bytes of events a proxy process holds that the stream has not yet "
        "acknowledged; past it, new statements wait",
    )
    outbox_wait: float = Field(
        10.0,
        ge=0,
        description="Seconds a statement waits for room in a full outbox before it is refused",
    )
    outbox_fsync_interval: float = Field(
        1.0,
        ge=0,
        description="Seconds between fsyncs of the outbox (0: after every event); a process "
        "crash loses nothing either way, a machine crash at most this much",
    )
    ingress_protocols: str = Field(
        "",
        description="Comma-separated protocols whose listeners this ingress replica runs "
        "(postgres, kubernetes, ssh, grpc); empty: every protocol the gateway config has "
        "resources of (ssh and grpc both for `kind: ssh` resources)",
    )
    kube_listen: str = Field(
        "127.0.0.1:6443", description="host:port of the Kubernetes API listener (HTTPS)"
    )
    kube_max_body: int = Field(
        4 << 20,
        ge=1 << 10,
        le=1 << 30,
        description="The largest request body (bytes) kubectl may send through the gateway; a "
        "larger one is refused with a 413 Status",
    )
    kube_session_idle: float = Field(
        60.0,
        gt=0,
        description="Seconds without a request after which a Kubernetes session is closed",
    )
    kube_max_connections: int = Field(
        1000, ge=1, description="Kubernetes client connections one proxy process accepts at once"
    )
    ssh_listen: str = Field(
        "127.0.0.1:2222", description="host:port of the SSH listener (agents' `ssh`)"
    )
    ssh_host_key: Path | None = Field(
        None,
        description="The SSH listener's own host key (OpenSSH private key file); unset: "
        "<run_dir>/secrets/ssh_host_ed25519_key, made at first start",
    )
    ssh_auth_timeout: float = Field(
        30.0, gt=0, description="Seconds an SSH client has to authenticate"
    )
    shell_max_connections: int = Field(
        1000,
        ge=1,
        description="SSH connections and gRPC calls one proxy process serves at once",
    )
    grpc_listen: str = Field(
        "127.0.0.1:6590",
        description="host:port of the gRPC API (`proctor exec`); TLS with PROCTOR_TLS_CERT/KEY, "
        "plain text only on loopback",
    )
    mcp_listen: str = Field(
        "127.0.0.1:6570",
        description="host:port of the MCP listener (streamable HTTP at /mcp); TLS with "
        "PROCTOR_TLS_CERT/KEY off loopback, plain HTTP on loopback",
    )
    mcp_max_connections: int = Field(
        1000, ge=1, description="HTTP connections and requests one MCP listener serves at once"
    )
    mcp_review_wait: float = Field(
        45.0,
        gt=0,
        description="Seconds an MCP tool call under review waits for the decision before the "
        "agent is told it is pending (clients drop calls after about a minute)",
    )
    mcp_postgres: str | None = Field(
        None,
        description="host:port of a gateway Postgres listener the MCP query tool connects "
        "through (default: this gateway's PROCTOR_PG_LISTEN)",
    )
    mcp_kubectl: str | None = Field(
        None, description="The kubectl binary the MCP kubectl tool runs (default: on PATH)"
    )
    tls_cert: Path | None = Field(None, description="PEM certificate for TLS to clients")
    tls_key: Path | None = Field(None, description="PEM private key for TLS to clients")
    classify_timeout: float = Field(2.0, gt=0, description="Seconds to wait for a verdict")
    mask_timeout: float = Field(
        5.0, gt=0, description="Seconds the proxy waits for the masker before refusing the rows"
    )
    approval_timeout: float = Field(
        300.0, gt=0, description="Seconds a statement under review waits for a decision"
    )
    approval_http_listen: str = Field(
        "127.0.0.1:6580", description="host:port of the approval service's HTTP API"
    )
    approver_groups: list[str] = Field(
        default_factory=lambda: ["approvers", "sre"],
        description="Groups whose members may decide approvals (JSON list in the environment)",
    )
    approvals_required: int = Field(
        1, ge=1, le=10, description="Distinct approvers needed to grant a command"
    )
    allow_self_approval: bool = Field(
        False, description="Whether a requester may approve their own command"
    )
    approval_signing_key: Path | None = Field(
        None,
        description="PEM file of the approval service's Ed25519 private key; it signs every "
        "decision (required by the approval service)",
    )
    approval_verify_keys: str | None = Field(
        None,
        description="The approval service's Ed25519 public key(s), base64, comma-separated "
        "(two while rotating); the proxy runs a held command only on a decision they verify",
    )
    approval_expiry_grace: float = Field(
        2.0, ge=0, description="Seconds past expires_at before the approval service expires it"
    )
    slack_bot_token: SecretStr | None = Field(
        None, description="Slack bot token (xoxb-…) of the approval app; unset: no Slack"
    )
    slack_signing_secret: SecretStr | None = Field(
        None, description="Slack app's signing secret; every request from Slack is checked with it"
    )
    slack_channel: str | None = Field(
        None, description="Slack channel id (C…) where approval requests are posted"
    )
    slack_app_token: SecretStr | None = Field(
        None, description="Slack app-level token (xapp-…): use Socket Mode instead of HTTP"
    )
    slack_api_url: str = Field(
        "https://slack.com/api/", description="Base URL of Slack's Web API (tests point it away)"
    )
    mask_all_text: bool = Field(
        False,
        description="Send every text value to the masker, not only those the prefilter flags "
        "(needed when the masker has a NER model for names; the proxy also learns it from the "
        "masker's answers)",
    )
    ingress_workers: int = Field(
        1,
        ge=1,
        le=64,
        description="ingress-proxy processes sharing the listen port (SO_REUSEPORT), one per "
        "core to use",
    )
    verdict_cache_size: int = Field(10000, ge=0, description="Verdicts the proxy caches")
    catalog_ttl: float = Field(
        30.0,
        gt=0,
        description="Seconds the proxy trusts what it looked up in a target's catalog "
        "(functions, views) before looking again",
    )
    policy_file: Path | None = Field(
        None, description="The classifier's policy YAML (docs/policy.md); none: built-in defaults"
    )
    log_level: str = Field("INFO", description="Python logging level")
    run_dir: Path = Field(Path(".proctor"), description="Where `proctor up` keeps data and logs")

    def nats_auth(self) -> tuple[str | None, str | None]:
        """The NATS user and password to connect with (none: connect without a user)."""
        if self.nats_password is not None:
            return self.nats_user, self.nats_password.get_secret_value()
        if self.nats_password_file is not None:
            try:
                return self.nats_user, self.nats_password_file.read_text().strip()
            except OSError as exc:
                raise ConfigError(f"cannot read nats_password_file: {exc}") from exc
        return self.nats_user, None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config = os.environ.get("PROCTOR_CONFIG")
        if config:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(config)))
        sources.append(_StackFileSource(settings_cls))
        return tuple(sources)


def load_settings(**overrides: Any) -> Settings:
    """Read settings, turning validation and file errors into one clear ConfigError."""
    config = os.environ.get("PROCTOR_CONFIG")
    if config and not Path(config).is_file():
        raise ConfigError(f"PROCTOR_CONFIG names {config}, which is not a readable file")
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"invalid settings: {problems}") from exc
    except ValueError as exc:  # a TOML syntax error
        raise ConfigError(f"cannot read {config}: {exc}") from exc
