"""MCP servers for tests and demos: a small notes server built with the MCP SDK (run it with
`python -m proctor.mcptesting` over stdio, or `--http PORT` over streamable HTTP at /mcp), and
npm's `@modelcontextprotocol/server-everything`, installed once into a cache directory.

The notes server's tools, by what the gateway must tell apart:
- `list_notes` (readOnlyHint), `add_note` (a write), `delete_notes` (destructiveHint);
- `whois`: read-only, answers a person's name, email and phone, as text and as structured
  content (`email`, `phone`, ... keys), so masking shows;
- `status`: read-only, its description read from a file at each tools/list
  (`--description-file` or PROCTOR_MCPTEST_DESCRIPTION_FILE), so a test can change a tool's
  definition under a running server;
- `wait`: sleeps the seconds asked, to test call timeouts;
- `crash`: the server process exits while answering, to test an upstream dying mid-call.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mcp_types as types
from mcp.server import Server, ServerRequestContext
from mcp.server.stdio import stdio_server

from proctor.embedded import free_port
from proctor.testing import wait_for_port

__all__ = [
    "EVERYTHING_PACKAGE",
    "EVERYTHING_VERSION",
    "STATUS_DESCRIPTION",
    "WHOIS",
    "HttpNotesServer",
    "everything_argv",
    "notes_argv",
    "notes_server",
    "serve_http",
]

DESCRIPTION_FILE_ENV = "PROCTOR_MCPTEST_DESCRIPTION_FILE"
STATUS_DESCRIPTION = "Reports whether the notes service is up."
#: Who `whois` finds (made-up people; the domains are reserved for examples).
WHOIS = {
    "jane": {
        "name": "Jane Doe",
        "email": "jane.doe@example.com",
        "phone": "+1 415 555 0132",
        "team": "billing",
    },
}

EVERYTHING_PACKAGE = "@modelcontextprotocol/server-everything"
EVERYTHING_VERSION = "2026.8.31"
CLAUDE_PACKAGE = "@anthropic-ai/claude-code"
CLAUDE_VERSION = "2.1.197"
NPM_CACHE_ENV = "PROCTOR_NPM_CACHE"

_TEXT_ARG = {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}
_NO_ARGS: dict[str, Any] = {"type": "object", "properties": {}}
_PERSON = {
    "type": "object",
    "properties": {k: {"type": "string"} for k in ("name", "email", "phone", "team")},
    "required": ["name", "email", "phone", "team"],
}


@dataclass
class Notes:
    """The server's state: notes in memory, and where the `status` description comes from."""

    description_file: Path | None = None
    notes: list[str] = field(default_factory=list)

    def status_description(self) -> str:
        if self.description_file is not None:
            with contextlib.suppress(OSError):
                text = self.description_file.read_text().strip()
                if text:
                    return text
        return STATUS_DESCRIPTION

    def tools(self) -> list[types.Tool]:
        def tool(name: str, description: str, schema: dict[str, Any], **hints: Any) -> types.Tool:
            return types.Tool(
                name=name,
                description=description,
                input_schema=schema,
                annotations=types.ToolAnnotations(**hints),
            )

        whois = tool(
            "whois",
            "Finds a person by first name.",
            {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]},
            read_only_hint=True,
        )
        return [
            tool("list_notes", "Lists the notes.", _NO_ARGS, read_only_hint=True),
            tool("add_note", "Adds a note.", _TEXT_ARG, read_only_hint=False),
            tool(
                "delete_notes",
                "Deletes every note.",
                _NO_ARGS,
                read_only_hint=False,
                destructive_hint=True,
            ),
            whois.model_copy(update={"output_schema": _PERSON}),
            tool("status", self.status_description(), _NO_ARGS, read_only_hint=True),
            tool(
                "wait",
                "Waits the given seconds, then answers.",
                {"type": "object", "properties": {"seconds": {"type": "number"}}},
                read_only_hint=True,
            ),
            tool("crash", "Stops the server while answering.", _NO_ARGS, read_only_hint=True),
        ]

    async def call(self, name: str, arguments: dict[str, Any]) -> types.CallToolResult:
        def text(words: str, error: bool = False) -> types.CallToolResult:
            return types.CallToolResult(content=[types.TextContent(text=words)], is_error=error)

        if name == "list_notes":
            listed = "\n".join(f"{i}. {n}" for i, n in enumerate(self.notes, 1))
            return types.CallToolResult(
                content=[types.TextContent(text=listed or "no notes")],
                structured_content={"notes": list(self.notes)},
            )
        if name == "add_note":
            self.notes.append(str(arguments.get("text", "")))
            return text(f"added note {len(self.notes)}")
        if name == "delete_notes":
            count, self.notes = len(self.notes), []
            return text(f"deleted {count} notes")
        if name == "whois":
            person = WHOIS.get(str(arguments.get("name", "")).lower())
            if person is None:
                return text("nobody by that name", error=True)
            line = f"{person['name']} <{person['email']}>, phone {person['phone']}, team "
            return types.CallToolResult(
                content=[types.TextContent(text=line + person["team"])],
                structured_content=dict(person),
            )
        if name == "status":
            return text("up")
        if name == "wait":
            seconds = float(arguments.get("seconds", 1))
            await asyncio.sleep(seconds)
            return text(f"waited {seconds:g} s")
        if name == "crash":
            os._exit(3)  # no answer, no clean shutdown: as a crashed server
        return text(f"unknown tool {name}", error=True)


def notes_server(description_file: Path | None = None) -> Server[Any]:
    """The notes server (the SDK's low-level Server: its tools' definitions are built at each
    tools/list, so one can change while it runs)."""
    notes = Notes(description_file)

    async def list_tools(
        ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return types.ListToolsResult(tools=notes.tools())

    async def call_tool(
        ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        return await notes.call(params.name, dict(params.arguments or {}))

    return Server("proctor-notes", version="1", on_list_tools=list_tools, on_call_tool=call_tool)


async def _serve_stdio(server: Server[Any]) -> None:
    async with stdio_server() as (read_stream, write_stream):
        await server.run(read_stream, write_stream, server.create_initialization_options())


async def _serve_http(server: Server[Any], port: int) -> None:
    import uvicorn

    app = server.streamable_http_app(host="127.0.0.1")
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    await uvicorn.Server(config).serve()


def notes_argv(description_file: Path | None = None, http_port: int | None = None) -> list[str]:
    """The command that runs the notes server (over stdio, or HTTP on `http_port`)."""
    argv = [sys.executable, "-m", "proctor.mcptesting"]
    if description_file is not None:
        argv += ["--description-file", str(description_file)]
    if http_port is not None:
        argv += ["--http", str(http_port)]
    return argv


@dataclass
class HttpNotesServer:
    """The notes server running over streamable HTTP in a child process."""

    port: int
    log: Path
    description_file: Path | None = None
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"

    def start(self) -> HttpNotesServer:
        """Start it (again, after it crashed or was stopped) on its port."""
        self.stop()
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                notes_argv(self.description_file, self.port), stdout=log, stderr=log
            )
        try:
            wait_for_port("127.0.0.1", self.port)
        except TimeoutError:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


@contextlib.contextmanager
def serve_http(directory: Path, description_file: Path | None = None) -> Iterator[HttpNotesServer]:
    """The notes server over HTTP on a free port, stopped on exit; its log in `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    server = HttpNotesServer(free_port(), directory / "mcp-notes.log", description_file).start()
    try:
        yield server
    finally:
        server.stop()


def npm_cache() -> Path:
    """Where npm packages for tests are installed: $PROCTOR_NPM_CACHE, else
    $XDG_CACHE_HOME/proctor/npm (~/.cache/proctor/npm)."""
    if os.environ.get(NPM_CACHE_ENV):
        return Path(os.environ[NPM_CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "proctor" / "npm"


def npm_installed(package: str, version: str, entry: str, cache: Path | None = None) -> Path:
    """`entry` (a path inside the package) of `package@version`, which npm installs into the
    cache the first time. RuntimeError, saying what to install, when node or npm is missing
    or the install fails."""
    npm = shutil.which("npm")
    if shutil.which("node") is None or npm is None:
        raise RuntimeError(f"{package} needs Node.js and npm on PATH (apt-get install nodejs npm)")
    name = package.rpartition("/")[2]
    root = (cache or npm_cache()) / f"{name}-{version}"
    found = root / "node_modules" / package / entry
    root.parent.mkdir(parents=True, exist_ok=True)
    # One install at a time (parallel test runs share the cache); into a fresh directory
    # renamed into place, so a half-done install is never taken for a finished one.
    with (root.parent / ".install.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not found.exists():
            staging = root.with_name(root.name + ".partial")
            shutil.rmtree(staging, ignore_errors=True)
            staging.mkdir()
            done = subprocess.run(
                [npm, "install", "--no-audit", "--no-fund", "--prefix", str(staging),
                 f"{package}@{version}"],
                capture_output=True, text=True, timeout=600,
            )  # fmt: skip
            if done.returncode != 0:
                raise RuntimeError(
                    f"npm install {package}@{version} failed:\n{done.stderr[-2000:]}"
                )
            shutil.rmtree(root, ignore_errors=True)
            staging.rename(root)
    return found


def everything_argv(cache: Path | None = None) -> list[str]:
    """The argv running `@modelcontextprotocol/server-everything` (the pinned version) over
    stdio."""
    entry = npm_installed(EVERYTHING_PACKAGE, EVERYTHING_VERSION, "dist/index.js", cache)
    return [str(shutil.which("node")), str(entry), "stdio"]


def claude_cli(cache: Path | None = None) -> Path:
    """Claude Code's CLI (`claude`, the pinned version), to check an MCP server's health with
    `claude mcp list`, which needs no network beyond the server."""
    return npm_installed(CLAUDE_PACKAGE, CLAUDE_VERSION, "bin/claude.exe", cache)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m proctor.mcptesting", description=__doc__)
    parser.add_argument("--http", type=int, metavar="PORT", help="serve streamable HTTP at /mcp")
    parser.add_argument(
        "--description-file",
        type=Path,
        default=os.environ.get(DESCRIPTION_FILE_ENV) or None,
        help=f"the status tool's description (default ${DESCRIPTION_FILE_ENV})",
    )
    args = parser.parse_args(argv)
    server = notes_server(args.description_file)
    if args.http is not None:
        asyncio.run(_serve_http(server, args.http))
    else:
        asyncio.run(_serve_stdio(server))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
