"""Who may publish and subscribe what on the bus: one NATS user per service, each allowed only
its own subjects, and the nats-server `authorization` block that says so.

The bus is a trust boundary: a decision on the stream is what releases a held statement, so
only the approval service may publish decisions, only the ingress command events, only a
classifier may serve classify and only a masker mask. Replies are allowed by
`allow_responses` (a service may answer only the requests it received), and every user
receives replies on its own inbox prefix (`_INBOX.<user>.`), so nobody sees or forges another
user's replies. The admin user (`proctor up`, the CLI) may do anything; `siem` only reads the
event stream through consumers of its own.

`permissions` is the one source of these rules: the embedded server's configuration is made
from it, and the compose and Kubernetes configurations are checked against it.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from proctor import subjects
from proctor.events import codec

INGRESS, CLASSIFIER, MASKER, APPROVAL, AUDIT, ADMIN, SIEM = (
    "ingress", "classifier", "masker", "approval", "audit", "admin", "siem",
)  # fmt: skip
USERS = (INGRESS, CLASSIFIER, MASKER, APPROVAL, AUDIT, ADMIN, SIEM)
# The user each service connects as, by the name it gives `bus.connect`.
SERVICE_USERS = {
    "ingress-proxy": INGRESS,
    "classifier": CLASSIFIER,
    "masker": MASKER,
    "approval": APPROVAL,
    "audit": AUDIT,
}
SIEM_CONSUMER = "siem"  # the durable name (or name prefix token) SIEM consumers use
SLACK_DURABLE = "approval-slack"  # the approval service's shared consumer of Slack posts
SLACK_BUCKET = "proctor_approval_slack"  # its KV bucket of posted messages
STATE_BUCKET = "proctor_approval_state"  # its KV bucket of state checkpoints
MCP_TOOLS_BUCKET = "proctor_mcp_tools"  # the ingress's KV bucket of accepted MCP tool definitions
CREDENTIALS_FILE = "nats-credentials.json"

# Event payloads each publisher owns (the subject's second token, see events.codec).
INGRESS_EVENTS = (
    "session_opened", "session_closed", "command_received", "command_classified",
    "command_blocked", "command_executed", "result_masked", "approval_requested",
    "approval_expired", "approval_withdrawn",
)  # fmt: skip
APPROVAL_EVENTS = (
    "approval_granted", "approval_denied", "approval_expired", "approval_voted",
    "approval_redeemed",
)  # fmt: skip
# What the proxy listens for on its sessions (core NATS, not a consumer).
DECISION_EVENTS = ("approval_granted", "approval_denied", "approval_expired")


def inbox_prefix(user: str | None) -> str:
    """Where `user` receives replies; `_INBOX` (NATS's own) for a connection without a user."""
    return f"_INBOX.{user}" if user else "_INBOX"


@dataclass(frozen=True, slots=True)
class Permissions:
    """One user's rights, as nats-server's `permissions` block has them."""

    publish: tuple[str, ...]
    subscribe: tuple[str, ...]
    publish_deny: tuple[str, ...] = ()
    subscribe_deny: tuple[str, ...] = ()
    responses: bool = False  # may answer requests it received (allow_responses)

    def to_config(self) -> dict[str, Any]:
        publish: dict[str, Any] = {"allow": list(self.publish)} if self.publish else {}
        if self.publish_deny or not self.publish:
            publish["deny"] = list(self.publish_deny) or [">"]
        subscribe: dict[str, Any] = {"allow": list(self.subscribe)}
        if self.subscribe_deny:
            subscribe["deny"] = list(self.subscribe_deny)
        config: dict[str, Any] = {"publish": publish, "subscribe": subscribe}
        if self.responses:
            config["allow_responses"] = True
        return config


def _events(kinds: tuple[str, ...]) -> list[str]:
    return [codec.subject_filter(kind) for kind in kinds]


def permissions(stream: str, audit_durable: str = "audit") -> dict[str, Permissions]:
    """Each user's rights on a bus whose event stream is `stream`."""
    api = "$JS.API"
    info = [f"{api}.INFO", f"{api}.STREAM.INFO.{stream}"]
    consumers = f"{api}.CONSUMER"
    # Nobody but audit (and admin) may touch audit's durable consumer: taking or acknowledging
    # its messages would keep events from the audit store.
    audit_only = [
        f"{consumers}.*.{stream}.{audit_durable}",
        f"{consumers}.*.{stream}.{audit_durable}.>",
        f"{consumers}.MSG.NEXT.{stream}.{audit_durable}",
        f"{consumers}.DURABLE.CREATE.{stream}.{audit_durable}",
        f"$JS.ACK.{stream}.{audit_durable}.>",
    ]

    def buckets(*names: str) -> list[str]:
        """Using KV buckets: create, look up, read (direct or not) and write their keys."""
        return [
            grant
            for bucket in names
            for grant in (
                f"{api}.STREAM.INFO.KV_{bucket}",
                f"{api}.STREAM.CREATE.KV_{bucket}",
                f"{api}.STREAM.MSG.GET.KV_{bucket}",
                f"{api}.DIRECT.GET.KV_{bucket}.>",
                f"$KV.{bucket}.>",
            )
        ]

    def inbox(user: str) -> str:
        return f"{inbox_prefix(user)}.>"

    return {
        INGRESS: Permissions(
            publish=(
                *_events(INGRESS_EVENTS),
                subjects.CLASSIFY,
                subjects.MASK,
                subjects.APPROVAL_REDEEM,
                subjects.APPROVAL_STATUS,
                subjects.INGRESS_CANCEL,
                *info,
                f"{api}.STREAM.CREATE.{stream}",
                *buckets(MCP_TOOLS_BUCKET),
            ),
            subscribe=(
                *_events(DECISION_EVENTS),
                subjects.POLICY_CHANGED,
                subjects.INGRESS_CANCEL,
                inbox(INGRESS),
            ),
        ),
        CLASSIFIER: Permissions(
            publish=(subjects.POLICY_CHANGED,),
            subscribe=(subjects.CLASSIFY, inbox(CLASSIFIER)),
            responses=True,
        ),
        MASKER: Permissions(publish=(), subscribe=(subjects.MASK, inbox(MASKER)), responses=True),
        APPROVAL: Permissions(
            publish=(
                *_events(APPROVAL_EVENTS),
                *info,
                f"{api}.STREAM.CREATE.{stream}",
                f"{consumers}.CREATE.{stream}",
                f"{consumers}.CREATE.{stream}.>",
                f"{consumers}.DURABLE.CREATE.{stream}.{SLACK_DURABLE}",
                f"{consumers}.INFO.{stream}.>",
                f"{consumers}.MSG.NEXT.{stream}.>",
                f"$JS.ACK.{stream}.>",
                *buckets(SLACK_BUCKET, STATE_BUCKET),
            ),
            publish_deny=tuple(audit_only),
            subscribe=(subjects.APPROVAL_REDEEM, subjects.APPROVAL_STATUS, inbox(APPROVAL)),
            responses=True,
        ),
        AUDIT: Permissions(
            publish=(
                *info,
                f"{api}.STREAM.CREATE.{stream}",
                f"{api}.STREAM.UPDATE.{stream}",
                *audit_only,
            ),
            subscribe=(inbox(AUDIT),),
        ),
        SIEM: Permissions(
            # Read-only: consumers of its own (ephemeral, or durables named `siem`), reading
            # single messages; no publish on any event subject, no stream changes.
            publish=(
                *info,
                f"{api}.STREAM.MSG.GET.{stream}",
                f"{consumers}.CREATE.{stream}",
                f"{consumers}.CREATE.{stream}.>",
                f"{consumers}.DURABLE.CREATE.{stream}.{SIEM_CONSUMER}",
                f"{consumers}.INFO.{stream}.>",
                f"{consumers}.DELETE.{stream}.{SIEM_CONSUMER}",
                f"{consumers}.MSG.NEXT.{stream}.{SIEM_CONSUMER}",
                f"$JS.ACK.{stream}.>",
                f"$JS.FC.{stream}.>",
            ),
            publish_deny=(*audit_only, f"{consumers}.*.{stream}.{SLACK_DURABLE}"),
            subscribe=(inbox(SIEM),),
        ),
        ADMIN: Permissions(publish=(">",), subscribe=(">",)),
    }


def authorization(passwords: dict[str, str], stream: str, audit_durable: str) -> dict[str, Any]:
    """nats-server's `authorization` block: every user with its password and rights."""
    rules = permissions(stream, audit_durable)
    return {
        "users": [
            {"user": user, "password": passwords[user], "permissions": rules[user].to_config()}
            for user in USERS
            if user in passwords
        ]
    }


def new_passwords() -> dict[str, str]:
    """A fresh random password for every user."""
    return {user: secrets.token_urlsafe(32) for user in USERS}


def load_or_create_credentials(path: Path) -> dict[str, str]:
    """The passwords kept at `path` (mode 0600), made at first start; a user added since gets
    one too."""
    passwords: dict[str, str] = {}
    try:
        loaded = json.loads(path.read_text())
        if isinstance(loaded, dict):
            passwords = {str(k): str(v) for k, v in loaded.items()}
    except (OSError, ValueError):
        pass
    missing = {u: p for u, p in new_passwords().items() if u not in passwords}
    if missing or not path.exists():
        passwords |= missing
        write_private(path, json.dumps(passwords, indent=2) + "\n")
    return passwords


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner may read (created so, never readable by others)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    tmp.replace(path)


def write_server_config(
    path: Path, passwords: dict[str, str], stream: str, audit_durable: str = "audit"
) -> Path:
    """A nats-server configuration file (JSON, which nats-server reads) of the users and their
    rights; mode 0600, since it holds the passwords."""
    config = {"authorization": authorization(passwords, stream, audit_durable)}
    write_private(path, json.dumps(config, indent=2) + "\n")
    return path


def password_variable(user: str) -> str:
    """The environment variable a deployed nats-server reads `user`'s password from."""
    return f"PROCTOR_NATS_PASSWORD_{user.upper()}"


def deployed_authorization(stream: str = "PROCTOR_EVENTS", audit_durable: str = "audit") -> str:
    """The `authorization` block of a deployed nats-server's configuration (compose,
    Kubernetes): the same users and rights as the embedded one, with each password read from
    the server's environment (`$PROCTOR_NATS_PASSWORD_<USER>`, filled from a secret)."""
    refs = {user: f"${password_variable(user)}" for user in USERS}
    text = json.dumps({"authorization": authorization(refs, stream, audit_durable)}, indent=2)
    for ref in refs.values():  # a quoted "$VAR" is a string; unquoted, nats-server reads it
        text = text.replace(f'"{ref}"', ref)
    return textwrap.dedent(text[1:-1]).strip() + "\n"  # the block, without outer braces
