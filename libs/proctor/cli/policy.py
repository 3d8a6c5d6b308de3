"""`proctor policy explain`: the classifier's verdict on one statement, as the gateway would give
it to that identity, with the groups taken from the gateway configuration and the functions and
views it names looked up in the resource's catalog, as the ingress-proxy would; or on one shell
command line (`--shell`) or MCP tool call (`--mcp`), which need no look-up."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, NamedTuple

from proctor.catalogfacts import estimate_rows, lookup_functions, lookup_relations
from proctor.classifier.v1 import classifier_pb2 as cpb
from proctor.errors import ConfigError
from proctor.gateway import GatewayConfig, PostgresResource, load_gateway_config
from proctor.settings import load_settings

ROUNDS = 6  # as the ingress: views and function bodies name more in turn


def _gateway() -> GatewayConfig | None:
    settings = load_settings()
    path = settings.gateway_config or settings.run_dir / "gateway.yaml"
    if not Path(path).is_file():
        return None  # no gateway configured: no groups, no catalog
    return load_gateway_config(Path(path))


def _groups(config: GatewayConfig | None, user: str) -> list[str]:
    if config is None:
        return []
    identity = config.identities.get(user)
    if identity is None:
        raise ConfigError(f"identity {user!r} is not in the gateway configuration")
    return list(identity.groups)


def explain(sql: str, resource: str, user: str, policy: str | None, *, as_json: bool) -> int:
    config = _gateway()
    groups = ",".join(_groups(config, user))
    args = [sys.executable, "-m", "proctor_classifier", "explain", sql,
            "--resource", resource, "--as", user, "--groups", groups]  # fmt: skip
    if policy:
        args += ["--policy", policy]
    target = config.resources.get(resource) if config else None
    with tempfile.TemporaryDirectory() as tmp:
        if isinstance(target, PostgresResource):  # only a database has a catalog to look up
            facts_path = Path(tmp) / "catalog.pb"
            facts_path.write_bytes(b"")
            args += ["--catalog", str(facts_path)]
            _look_up(args, sql, target.url, facts_path)
        if as_json:
            args.append("--json")
        # The classifier is its own deployable; run its explain rather than import it.
        return subprocess.run(args, env=dict(os.environ), check=False).returncode


def explain_shell(text: str, resource: str, user: str, policy: str | None, *, as_json: bool
                  ) -> int:  # fmt: skip
    """The verdict on a shell command line for `user` on the host `resource`."""
    groups = ",".join(_groups(_gateway(), user))
    args = [sys.executable, "-m", "proctor_classifier", "explain", "--shell", text,
            "--resource", resource, "--as", user, "--groups", groups]  # fmt: skip
    if policy:
        args += ["--policy", policy]
    if as_json:
        args.append("--json")
    return subprocess.run(args, env=dict(os.environ), check=False).returncode


class McpFlags(NamedTuple):
    """What `--mcp` is called with besides the tool: its arguments (JSON) and the tool's
    declared hints and definition state."""

    arguments: str
    read_only: bool
    destructive: bool
    changed: bool


def explain_mcp(tool: str, flags: McpFlags, resource: str | None, user: str, policy: str | None,
                *, as_json: bool) -> int:  # fmt: skip
    """The verdict on a call of the MCP tool `tool` (`server.tool`) for `user`; the resource
    is the server unless given."""
    groups = ",".join(_groups(_gateway(), user))
    args = [sys.executable, "-m", "proctor_classifier", "explain", "--mcp", tool,
            f"--arguments={flags.arguments}", "--as", user, "--groups", groups]  # fmt: skip
    args += [f"--{name}" for name, on in [("read-only", flags.read_only),
             ("destructive", flags.destructive), ("changed", flags.changed)] if on]  # fmt: skip
    if resource:
        args += ["--resource", resource]
    if policy:
        args += ["--policy", policy]
    if as_json:
        args.append("--json")
    return subprocess.run(args, env=dict(os.environ), check=False).returncode


def _look_up(args: list[str], sql: str, url: str, facts_path: Path) -> None:
    """Answer what the classifier needs of the target's catalog, round by round."""
    import asyncpg

    loop = asyncio.new_event_loop()
    facts = cpb.CatalogFacts()
    conn: Any = None
    try:
        try:
            read_only = {"default_transaction_read_only": "on"}
            connecting = asyncpg.connect(url, timeout=5, server_settings=read_only)
            conn = loop.run_until_complete(connecting)
        except Exception as exc:
            print(f"(the resource's catalog could not be read: {exc})", file=sys.stderr)
        for _ in range(ROUNDS):
            needs = _needs(args)
            if not (needs.functions or needs.relations or needs.estimate):
                return
            if conn is None:
                why = "the resource could not be reached"
                facts.functions.extend(cpb.FunctionFacts(name=n, error=why)
                                       for n in needs.functions)  # fmt: skip
                facts.relations.extend(cpb.RelationFacts(name=n, error=why)
                                       for n in needs.relations)  # fmt: skip
                if needs.estimate:
                    facts.estimate_error = why
            else:
                run = loop.run_until_complete
                facts.functions.extend(run(lookup_functions(conn, needs.functions)))
                facts.relations.extend(run(lookup_relations(conn, needs.relations)))
                if needs.estimate and not (needs.functions or needs.relations):
                    try:
                        facts.estimated_rows = run(estimate_rows(conn, sql))
                    except Exception as exc:
                        facts.estimate_error = str(exc).splitlines()[0] if str(exc) else "failed"
            facts_path.write_bytes(facts.SerializeToString())
    finally:
        if conn is not None:
            loop.run_until_complete(conn.close())
        loop.close()


def _needs(args: list[str]) -> cpb.CatalogNeeds:
    out = subprocess.run([*args, "--json"], env=dict(os.environ), check=False,
                         capture_output=True, text=True)  # fmt: skip
    if out.returncode != 0:
        return cpb.CatalogNeeds()
    needs = json.loads(out.stdout).get("response", {}).get("needs", {})
    return cpb.CatalogNeeds(
        functions=needs.get("functions", []),
        relations=needs.get("relations", []),
        estimate=bool(needs.get("estimate", False)),
    )
