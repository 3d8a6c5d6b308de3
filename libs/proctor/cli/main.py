"""`proctor`: start the stack, replay sessions, verify the audit chain, follow the event stream."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from proctor.errors import ChainBroken, ProctorError

_TOKEN_ENV = "PROCTOR_APPROVER_TOKEN"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="proctor",
        description="Proctor: a gateway between AI agents and production infrastructure.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    up = sub.add_parser("up", help="start the whole stack (embedded NATS and Postgres by default)")
    up.add_argument(
        "--run-dir", help="where data and logs go (default: .proctor, or PROCTOR_RUN_DIR)"
    )
    up.set_defaults(run=_up)

    down = sub.add_parser("down", help="stop a stack started by `proctor up`")
    down.add_argument("--run-dir", help="the run directory of that stack")
    down.set_defaults(run=_down)

    replay = sub.add_parser("replay", help="print a session's timeline from the audit store")
    replay.add_argument("session", help="the session id")
    replay.add_argument("--json", action="store_true", help="one JSON document, for machines")
    replay.set_defaults(run=_replay)

    audit = sub.add_parser("audit", help="the audit store")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True, metavar="SUBCOMMAND")
    verify = audit_sub.add_parser("verify", help="walk the hash chain; non-zero exit if broken")
    verify.set_defaults(run=_verify)

    policy = sub.add_parser("policy", help="the classification policy")
    policy_sub = policy.add_subparsers(dest="policy_command", required=True, metavar="SUBCOMMAND")
    explain = policy_sub.add_parser(
        "explain", help="the verdict on one command, with the rule and policy line that decided"
    )
    explain.add_argument("sql", nargs="?", help="the SQL statement, as the agent would send it")
    explain.add_argument("--shell", metavar="TEXT", help="a shell command line instead (bash)")
    explain.add_argument("--mcp", metavar="SERVER.TOOL",
                         help="an MCP tool call instead (github.create_issue)")  # fmt: skip
    explain.add_argument("--arguments", default="{}", metavar="JSON",
                         help="with --mcp: the call's arguments, a JSON object")  # fmt: skip
    explain.add_argument("--read-only", action="store_true",
                         help="with --mcp: the tool declares readOnlyHint")  # fmt: skip
    explain.add_argument("--destructive", action="store_true",
                         help="with --mcp: the tool declares destructiveHint")  # fmt: skip
    explain.add_argument("--changed", action="store_true", help="with --mcp: the tool's "
                         "definition changed and is not approved yet")  # fmt: skip
    explain.add_argument("--resource", help="the resource it would run on (required, but for "
                         "--mcp, where it is the tool's server)")  # fmt: skip
    explain.add_argument("--as", dest="user", required=True, help="the identity running it")
    explain.add_argument("--policy", help="policy file (default: PROCTOR_POLICY_FILE)")
    explain.add_argument("--json", action="store_true", help="request and verdict as JSON")
    explain.set_defaults(run=_explain)

    kube = sub.add_parser(
        "kubeconfig", help="write a kubeconfig that points kubectl at a resource through Proctor"
    )
    kube.add_argument("--resource", required=True, help="the Kubernetes resource's name")
    kube.add_argument("--as", dest="user", required=True, help="the Proctor identity")
    kube.add_argument(
        "--token",
        help="the identity's access token (default: PROCTOR_TOKEN, the demo's, else asked)",
    )
    kube.add_argument(
        "--server", help="the gateway's Kubernetes listener (default: from PROCTOR_KUBE_LISTEN)"
    )
    kube.add_argument(
        "--ca", help="the CA that signed the gateway's certificate (default: the stack's)"
    )
    kube.add_argument("-o", "--output", help="write it here (mode 0600) instead of stdout")
    kube.set_defaults(run=_kubeconfig)

    run = sub.add_parser(
        "exec",
        help="run a command on a host resource through Proctor (its output masked)",
        description="Run one command on a host resource through the gateway's gRPC API. One "
        "argument after -- is a command line for the host's shell; several are an argument "
        "vector. Exits with the command's status, or 126 when Proctor refused it (the reason "
        "on stderr), 75 when a service did not answer, 69 when the host could not be reached.",
    )
    run.add_argument("resource", help="the host resource's name")
    run.add_argument("words", nargs=argparse.REMAINDER, metavar="-- COMMAND", help="the command")
    run.add_argument("--as", dest="user", help="the Proctor identity (default: PROCTOR_IDENTITY)")
    run.add_argument(
        "--token", help="the identity's access token (default: PROCTOR_TOKEN, the demo's)"
    )
    run.add_argument("--server", help="the gateway's gRPC API (default: PROCTOR_GRPC_LISTEN)")
    run.add_argument("--ca", help="the CA that signed the gateway's certificate")
    run.add_argument(
        "--plaintext", action="store_true", help="no TLS (only to a gateway on loopback)"
    )
    run.set_defaults(run=_exec)

    events = sub.add_parser("events", help="the event stream")
    events_sub = events.add_subparsers(dest="events_command", required=True, metavar="SUBCOMMAND")
    tail = events_sub.add_parser("tail", help="follow events as JSON lines, as a SIEM would")
    tail.add_argument("--type", help="only this event type (e.g. CommandBlocked)")
    tail.add_argument("--session", help="only this session")
    start = tail.add_mutually_exclusive_group()
    start.add_argument("--all", action="store_true", help="start from the first stored event")
    start.add_argument("--since", type=int, metavar="SEQ", help="start at this stream sequence")
    tail.add_argument("--count", type=int, help="stop after this many events")
    tail.set_defaults(run=_tail)

    approvals = sub.add_parser("approvals", help="list and decide pending approvals")
    approvals_sub = approvals.add_subparsers(
        dest="approvals_command", required=True, metavar="SUBCOMMAND"
    )
    for name, help_text in (
        ("list", "the approvals waiting for a decision"),
        ("show", "one approval, pending or decided"),
        ("approve", "let a held command run"),
        ("deny", "refuse a held command; the note goes back to the agent"),
    ):
        action = approvals_sub.add_parser(name, help=help_text)
        if name != "list":
            action.add_argument("approval_id", metavar="ID", help="the approval id")
        if name == "approve":
            action.add_argument("--note", help="an optional note for the record")
        if name == "deny":
            action.add_argument("--note", required=True, help="why; the agent is told")
        action.add_argument("--as", dest="user", help="the approver's identity")
        action.add_argument("--token", help=f"the approver's token (default: {_TOKEN_ENV})")
        action.add_argument("--json", action="store_true", help="print the API's JSON")
        action.set_defaults(run=_approvals)
    return parser


def _up(args: argparse.Namespace) -> int:
    from proctor.cli.up import run_up

    return run_up(args.run_dir)


def _down(args: argparse.Namespace) -> int:
    from proctor.cli.up import run_down

    return run_down(args.run_dir)


def _explain(args: argparse.Namespace) -> int:
    from proctor.cli.policy import explain

    if args.mcp is not None:
        from proctor.cli.policy import McpFlags, explain_mcp

        flags = McpFlags(args.arguments, args.read_only, args.destructive, args.changed)
        return explain_mcp(args.mcp, flags, args.resource, args.user, args.policy,
                           as_json=args.json)  # fmt: skip
    if args.resource is None:
        print("proctor policy explain: --resource is required (but for --mcp)", file=sys.stderr)
        return 2
    if args.shell is not None:
        from proctor.cli.policy import explain_shell

        return explain_shell(args.shell, args.resource, args.user, args.policy, as_json=args.json)
    if args.sql is None:
        print("proctor policy explain: give a SQL statement, --shell TEXT or --mcp SERVER.TOOL",
              file=sys.stderr)  # fmt: skip
        return 2
    return explain(args.sql, args.resource, args.user, args.policy, as_json=args.json)


def _kubeconfig(args: argparse.Namespace) -> int:
    import getpass
    import os
    from pathlib import Path

    from proctor.cli.approvals import _demo_token
    from proctor.kubeconfig import kubeconfig, read_ca, server_url, write_kubeconfig
    from proctor.settings import load_settings

    settings = load_settings()
    token = (
        args.token
        or os.environ.get("PROCTOR_TOKEN")
        or _demo_token(settings.run_dir, args.user)
        or getpass.getpass("token: ")
    )
    ca = Path(args.ca) if args.ca else None
    if ca is None:
        stack_ca = settings.run_dir / "secrets" / "tls" / "ca.pem"
        beside = settings.tls_cert.parent / "ca.pem" if settings.tls_cert else None
        ca = next((p for p in (beside, stack_ca) if p is not None and p.exists()), None)
    server = args.server or server_url(settings.kube_listen)
    text = kubeconfig(server, args.resource, args.user, token, read_ca(ca))
    if args.output:
        print(write_kubeconfig(Path(args.output), text))
    else:
        sys.stdout.write(text)
    return 0


def _exec(args: argparse.Namespace) -> int:
    import getpass
    import os

    from proctor.cli import execcmd
    from proctor.cli.approvals import _demo_token
    from proctor.settings import load_settings

    settings = load_settings()
    user = execcmd.identity_of(args.user, settings.run_dir)
    token = (
        args.token
        or os.environ.get("PROCTOR_TOKEN")
        or _demo_token(settings.run_dir, user)
        or getpass.getpass("token: ")
    )
    return execcmd.run(
        args.resource,
        list(args.words),
        user,
        token,
        args.server or execcmd.target_of(settings.grpc_listen),
        execcmd.find_ca(settings, args.ca),
        args.plaintext,
    )


def _run(coro: Callable[[], Coroutine[Any, Any, int]]) -> int:
    try:
        return asyncio.run(coro())
    except KeyboardInterrupt:
        return 130


def _replay(args: argparse.Namespace) -> int:
    from proctor.cli.replay import replay

    return _run(lambda: replay(args.session, as_json=args.json))


def _verify(args: argparse.Namespace) -> int:
    from proctor.cli.replay import verify

    return _run(verify)


def _tail(args: argparse.Namespace) -> int:
    from proctor.cli.tail import tail

    return _run(
        lambda: tail(
            event_type=args.type,
            session=args.session,
            from_start=args.all,
            since=args.since,
            count=args.count,
        )
    )


def _approvals(args: argparse.Namespace) -> int:
    from proctor.cli.approvals import run

    return run(
        args.approvals_command,
        getattr(args, "approval_id", None),
        getattr(args, "note", None),
        args.user,
        args.token,
        as_json=args.json,
    )


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        code: int = args.run(args)
    except ChainBroken as exc:
        print(f"proctor: {exc}", file=sys.stderr)
        return 1
    except ProctorError as exc:
        print(f"proctor: {exc}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
