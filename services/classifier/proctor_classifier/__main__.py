"""`proctor-classifier`: serve classify requests over NATS, or explain one verdict.

proctor-classifier                      serve (PROCTOR_NATS_URL, PROCTOR_POLICY_FILE)
proctor-classifier explain --resource demo --as alice@example.com --groups sre "DROP TABLE x"
proctor-classifier explain --resource prod --as alice@example.com --kube DELETE /api/v1/namespaces/x
proctor-classifier explain --resource demo-host --as alice@example.com --shell 'rm -rf /'
proctor-classifier explain --as alice@example.com --mcp github.create_issue --arguments '{"n": 1}'
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import shlex
import signal
import sys
from pathlib import Path

from proctor.classifier.v1 import classifier_pb2 as cpb
from proctor.errors import ProctorError
from proctor.events.v1 import events_pb2 as pb
from proctor.kuberequest import request_info
from proctor.mcpcall import tool_name
from proctor.policy import Policy, load_policy
from proctor.runtime import run_service
from proctor.settings import Settings, load_settings
from proctor.telemetry import setup_logging
from proctor_classifier.core import classify
from proctor_classifier.explain import render_json, render_text
from proctor_classifier.service import ClassifierService, PolicySource

log = logging.getLogger("proctor.classifier")


async def serve(settings: Settings) -> None:
    source = PolicySource(settings.policy_file)
    service = ClassifierService(settings, source)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await service.run(stop)


def explain(args: argparse.Namespace, settings: Settings) -> int:
    path: Path | None = args.policy or settings.policy_file
    policy = load_policy(path) if path else Policy.builtin()
    request = cpb.ClassifyRequest(
        text=args.sql or "",
        identity=pb.Identity(human=args.user, groups=_groups(args.groups)),
        resource=pb.Resource(name=args.resource or ""),
        kind=cpb.COMMAND_KIND_SQL,
    )
    if args.mcp is not None:
        request.kind = cpb.COMMAND_KIND_MCP
        request.detail.mcp.CopyFrom(_tool_call(args))
        request.text = f"{tool_name(request.detail.mcp)} {args.arguments}"
        request.resource.name = args.resource or request.detail.mcp.server
    elif args.kube is not None:
        method, target = args.kube
        where, _, query = str(target).partition("?")
        body = args.body.read_bytes() if args.body is not None else b""
        detail = request_info(method, where, query, content_type=args.content_type, body=body)
        request.kind = cpb.COMMAND_KIND_KUBE
        request.detail.kube.CopyFrom(detail)
    elif args.shell is not None or args.interactive:
        request.kind = cpb.COMMAND_KIND_SHELL
        request.text = args.shell or ""
        shell = request.detail.shell
        shell.host, shell.interactive, shell.entrance = args.resource, args.interactive, "ssh"
        if args.argv:
            shell.argv.extend(shlex.split(args.shell) if args.shell else [])
        else:
            shell.text = args.shell or ""
    elif args.sql is None:
        raise SystemExit(
            "proctor-classifier explain: give a SQL text, --kube METHOD PATH, --shell TEXT "
            "or --mcp SERVER.TOOL"
        )
    if args.catalog is not None:
        request.catalog.ParseFromString(args.catalog.read_bytes())
    response = classify(request, policy)
    print(render_json(request, response) if args.json else render_text(request, response, policy))
    return 0


def _tool_call(args: argparse.Namespace) -> pb.McpDetail:
    """`--mcp SERVER.TOOL` and its flags; the server is the name up to the first dot, as
    configured server names hold none."""
    server, dot, tool = str(args.mcp).partition(".")
    if not (server and dot and tool):
        raise ValueError(f"--mcp {args.mcp!r}: name the tool as SERVER.TOOL (github.create_issue)")
    return pb.McpDetail(
        server=server,
        tool=tool,
        arguments=args.arguments,
        read_only=args.read_only,
        destructive=args.destructive,
        definition_changed=args.changed,
    )


def _groups(value: str) -> list[str]:
    return [g.strip() for g in value.split(",") if g.strip()]


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="proctor-classifier", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    commands = top.add_subparsers(dest="command")
    commands.add_parser("serve", help="answer classify requests over NATS (the default)")
    one = commands.add_parser("explain", help="print the verdict on one command and why")
    one.add_argument("sql", nargs="?", help="the SQL text, as the agent would send it")
    one.add_argument(
        "--kube",
        nargs=2,
        metavar=("METHOD", "PATH"),
        help="a Kubernetes API request instead (PATH may carry ?query)",
    )
    one.add_argument("--shell", metavar="TEXT", help="a shell command line instead (bash)")
    one.add_argument(
        "--argv",
        action="store_true",
        help="with --shell: the words are an argument vector, run with no shell",
    )
    one.add_argument("--interactive", action="store_true",
                     help="an interactive shell (a pty) is asked for")  # fmt: skip
    one.add_argument("--mcp", metavar="SERVER.TOOL", help="an MCP tool call instead, of the "
                     "tool as the agent sees it (github.create_issue)")  # fmt: skip
    one.add_argument("--arguments", default="{}", metavar="JSON",
                     help="with --mcp: the call's arguments, a JSON object")  # fmt: skip
    one.add_argument("--read-only", action="store_true",
                     help="with --mcp: the tool declares readOnlyHint")  # fmt: skip
    one.add_argument("--destructive", action="store_true",
                     help="with --mcp: the tool declares destructiveHint")  # fmt: skip
    one.add_argument("--changed", action="store_true", help="with --mcp: the tool's "
                     "definition changed and is not approved yet")  # fmt: skip
    one.add_argument("--body", type=Path, help="with --kube: the request body")
    one.add_argument("--content-type", default="", help="with --kube: the body's type")
    one.add_argument("--resource", help="the resource it would run on (required, but for "
                     "--mcp, where it is the tool's server)")  # fmt: skip
    one.add_argument("--as", dest="user", required=True, help="the human the agent acts for")
    one.add_argument("--groups", default="", help="that human's groups, comma-separated")
    one.add_argument("--policy", type=Path, help="policy file (default: PROCTOR_POLICY_FILE)")
    one.add_argument("--json", action="store_true", help="print request and verdict as JSON")
    one.add_argument("--catalog", type=Path, help="the target's catalog facts as the ingress "
                     "looks them up (a serialized proctor.classifier.v1.CatalogFacts)")  # fmt: skip
    return top


def main(argv: list[str] | None = None) -> int:
    top = parser()
    args = top.parse_args(argv)
    if args.command != "explain":
        return run_service("proctor-classifier", serve, fast_loop=True)
    if args.resource is None and args.mcp is None:
        top.error("explain: --resource is required (but for --mcp)")
    try:
        settings = load_settings()
        setup_logging(settings.log_level)
        return explain(args, settings)
    except (ProctorError, ValueError) as exc:
        print(f"proctor-classifier: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
