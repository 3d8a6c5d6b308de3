"""The demo a newcomer gets from `proctor up`: a target database with sample customer data
(names, emails, card numbers, SSNs in text, json and array columns), an agent identity and an
approver identity with generated tokens, and the gateway configuration that ties them together.

Every value is made up: card numbers are payment processors' published test numbers, SSNs are in
ranges never issued, addresses use example domains.
"""

from __future__ import annotations

import getpass
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from proctor.gateway import hash_token, new_token
from proctor.scram import ScramVerifier
from proctor.sshkeys import ensure_key, public_line

DEMO_DATABASE = "demo"
DEMO_CLUSTER = "demo-cluster"  # a Kubernetes API server double (proctor.kubedouble)
DEMO_HOST = "demo-host"  # this machine over SSH, commands in <run_dir>/demo-host/work
AGENT = "alice"
APPROVER = "bob"

DEMO_SQL = """
CREATE TABLE IF NOT EXISTS customers (
    id          integer PRIMARY KEY,
    name        text NOT NULL,
    email       text NOT NULL,
    phone       text,
    card_number text,
    ssn         text,
    profile     jsonb,
    tags        text[],
    notes       text,
    created_at  timestamptz NOT NULL DEFAULT '2026-01-01T00:00:00Z'
);
CREATE TABLE IF NOT EXISTS orders (
    id          integer PRIMARY KEY,
    customer_id integer NOT NULL REFERENCES customers (id),
    amount      numeric(10, 2) NOT NULL,
    status      text NOT NULL
);
INSERT INTO customers (id, name, email, phone, card_number, ssn, profile, tags, notes)
SELECT g,
       (ARRAY['Ada Lovelace','Alan Turing','Grace Hopper','Edsger Dijkstra','Barbara Liskov',
              'Donald Knuth','Frances Allen','Ken Thompson','Radia Perlman','John Backus'])
           [1 + g % 10] || ' ' || g,
       'customer' || g || '@example.com',
       '+1-202-555-' || lpad((100 + g % 900)::text, 4, '0'),
       (ARRAY['4242424242424242','5555555555554444','378282246310005','6011111111111117'])
           [1 + g % 4],
       '9' || lpad((g % 100)::text, 2, '0') || '-' || lpad((10 + g % 89)::text, 2, '0')
           || '-' || lpad((1000 + g)::text, 4, '0'),
       jsonb_build_object('email', 'customer' || g || '@example.com',
                          'ssn', '9' || lpad((g % 100)::text, 2, '0') || '-55-' ||
                                 lpad((1000 + g)::text, 4, '0'),
                          'tier', (ARRAY['free','pro','enterprise'])[1 + g % 3]),
       ARRAY['vip', 'customer' || g || '@example.com'],
       CASE WHEN g % 5 = 0 THEN 'Paid with card 4242424242424242, call +1-202-555-0147'
            ELSE 'no notes' END
FROM generate_series(1, 200) AS g
ON CONFLICT (id) DO NOTHING;
INSERT INTO orders (id, customer_id, amount, status)
SELECT g, 1 + g % 200, (g * 7 % 500) + 0.99, (ARRAY['paid','refunded','pending'])[1 + g % 3]
FROM generate_series(1, 1000) AS g
ON CONFLICT (id) DO NOTHING;
"""


def demo_identities(run_dir: Path) -> dict[str, str]:
    """The demo identities' tokens: made once, kept (mode 0600) so restarts print the same."""
    path = run_dir / "demo-credentials.json"
    try:
        tokens: dict[str, str] = json.loads(path.read_text())
        if AGENT in tokens and APPROVER in tokens:
            return tokens
    except (OSError, ValueError):
        pass
    tokens = {AGENT: new_token(), APPROVER: new_token()}
    path.write_text(json.dumps(tokens, indent=2))
    os.chmod(path, 0o600)
    return tokens


def _stored(token: str) -> dict[str, str]:
    """A token as the gateway keeps it: its SHA-256, and its SCRAM-SHA-256 verifier so agents
    prove it without sending it."""
    return {"token_sha256": hash_token(token), "token_scram_sha256": str(ScramVerifier.of(token))}


# An application log with what agents should not read: customers' emails and card numbers (the
# card networks' published test numbers, example.com addresses).
DEMO_APP_LOG = "".join(
    f"2026-12-01 09:{i // 60:02d}:{i % 60:02d} INFO checkout order={5000 + i} "
    f"customer=customer{i}@example.com card="
    f"{('4111 1111 1111 1111', '5555 5555 5555 4444', '4242 4242 4242 4242')[i % 3]} "
    f"amount={(i * 7) % 300 + 0.99:.2f}\n"
    + ("2026-12-01 09:00:00 ERROR payment gateway timeout after 30s\n" if i % 10 == 9 else "")
    for i in range(50)
)


@dataclass(frozen=True)
class DemoHost:
    """The demo's host: this machine, reached over SSH on loopback through the demo host
    server (proctor.demohost), which accepts only the gateway's key. `directory` keeps the
    keys; commands run in `workdir`."""

    directory: Path
    port: int

    @property
    def workdir(self) -> Path:
        return self.directory / "work"

    @property
    def gateway_key(self) -> Path:
        return self.directory / "gateway_key"  # the gateway's key for the host

    @property
    def host_key(self) -> Path:
        return self.directory / "host_key"  # the demo host server's own key

    @property
    def agent_key(self) -> Path:
        return self.directory / f"{AGENT}_key"  # the demo agent's key for the gateway

    def prepare(self) -> None:
        """Keys (made once) and the files commands see (app.log, made afresh)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        self.directory.chmod(0o700)
        ensure_key(self.gateway_key, "proctor-gateway@demo-host")
        ensure_key(self.host_key, "demo-host")
        ensure_key(self.agent_key, f"{AGENT}@demo")
        self.workdir.mkdir(exist_ok=True)
        (self.workdir / "app.log").write_text(DEMO_APP_LOG)

    def argv(self) -> list[str]:
        """The demo host server's command line."""
        return [
            sys.executable, "-m", "proctor.demohost", "--host", "127.0.0.1",
            "--port", str(self.port), "--authorized-key", f"{self.gateway_key}.pub",
            "--host-key", str(self.host_key), "--workdir", str(self.workdir),
        ]  # fmt: skip

    def resource(self) -> dict[str, Any]:
        """Its entry in the gateway configuration (`kind: ssh`)."""
        return {
            "kind": "ssh",
            "host": "127.0.0.1",
            "port": self.port,
            "user": getpass.getuser(),
            "private_key_file": str(self.gateway_key),
            "host_key": public_line(self.host_key),
        }


def write_gateway_config(
    run_dir: Path,
    tokens: dict[str, str],
    target_url: str,
    cluster: dict[str, str] | None = None,
    host: DemoHost | None = None,
) -> Path:
    """The gateway configuration of the demo: tokens stored hashed, the target's URL, the
    demo cluster's entry (a `kind: kubernetes` resource) and the demo host's (`kind: ssh`, and
    the agent's key for ssh) when there are."""
    config: dict[str, Any] = {
        "identities": {
            AGENT: {"groups": ["engineering"], **_stored(tokens[AGENT])},
            APPROVER: {"groups": ["sre", "approvers"], **_stored(tokens[APPROVER])},
        },
        "resources": {DEMO_DATABASE: {"kind": "postgres", "url": target_url}},
    }
    if cluster is not None:
        config["resources"][DEMO_CLUSTER] = {"kind": "kubernetes", **cluster}
    if host is not None:
        config["resources"][DEMO_HOST] = host.resource()
        config["identities"][AGENT]["ssh_keys"] = [public_line(host.agent_key)]
    path = run_dir / "gateway.yaml"
    path.write_text(
        "# Written by `proctor up` for the demo. Tokens are stored as SHA-256 and SCRAM "
        "verifiers only.\n" + yaml.safe_dump(config, sort_keys=False)
    )
    return path
