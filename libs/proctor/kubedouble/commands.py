"""The few commands a pod of the double can "run" under `kubectl exec`: echo, cat, head, tail,
grep, wc -l, env, printenv, hostname, ls, pwd, whoami, id, uname, date, true, false, exit,
sleep, and `sh -c`
(or bash) over those, with `;`, `&&`, `||`, `|` and `$VAR`. Anything else prints
`command not found` on stderr and exits 127. Pure: nothing runs, nothing is read but `PodView`.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from datetime import UTC, datetime

NOT_FOUND = 127
SHELLS = {"sh", "bash", "ash", "dash", "/bin/sh", "/bin/bash", "/bin/ash", "/usr/bin/bash"}
_VAR = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*|\?))")


@dataclass(frozen=True, slots=True)
class PodView:
    """What a command in a container can see: its environment and files."""

    hostname: str
    env: dict[str, str] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)  # absolute path -> content
    now: datetime = field(default_factory=lambda: datetime.now(UTC))


class NeedsStdin(Exception):
    """The command reads its stdin, which the caller has not read yet (it passed None)."""


@dataclass(frozen=True, slots=True)
class Outcome:
    stdout: bytes = b""
    stderr: bytes = b""
    code: int = 0


def _dirs(view: PodView) -> set[str]:
    dirs = {"/"}
    for path in view.files:
        parts = path.strip("/").split("/")
        dirs.update("/" + "/".join(parts[:n]) for n in range(1, len(parts)))
    return dirs


def _ls(view: PodView, args: list[str]) -> Outcome:
    paths = [a for a in args if not a.startswith("-")] or ["/"]
    out, err, code = [], [], 0
    for path in paths:
        path = "/" + path.strip("/") if path != "/" else "/"
        if path in view.files:
            out.append(path)
        elif path in _dirs(view):
            prefix = path.rstrip("/") + "/"
            children = {p[len(prefix) :].split("/")[0] for p in view.files if p.startswith(prefix)}
            children |= {
                d[len(prefix) :].split("/")[0] for d in _dirs(view) if d.startswith(prefix)
            }
            out.extend(sorted(c for c in children if c))
        else:
            err.append(f"ls: cannot access '{path}': No such file or directory")
            code = 2
    return Outcome(_lines(out), _lines(err), code)


def _lines(lines: list[str]) -> bytes:
    return "".join(f"{line}\n" for line in lines).encode()


def _cat(view: PodView, args: list[str], stdin: bytes | None) -> Outcome:
    if not args:
        if stdin is None:
            raise NeedsStdin
        return Outcome(stdin)
    out, err, code = b"", [], 0
    for path in args:
        if path in view.files:
            out += view.files[path].encode()
        elif path in _dirs(view):
            err.append(f"cat: {path}: Is a directory")
            code = 1
        else:
            err.append(f"cat: {path}: No such file or directory")
            code = 1
    return Outcome(out, _lines(err), code)


def _input(view: PodView, files: list[str], stdin: bytes | None, name: str) -> Outcome:
    """The text a filter reads: its files, or stdin without any."""
    if not files:
        if stdin is None:
            raise NeedsStdin
        return Outcome(stdin)
    outcome = _cat(view, files, stdin)
    return Outcome(
        outcome.stdout, outcome.stderr.replace(b"cat:", f"{name}:".encode()), outcome.code
    )


def _filter(name: str, args: list[str], view: PodView, stdin: bytes | None) -> Outcome:
    count, files, pattern = 10, [], None
    words = iter(args)
    for word in words:
        if word == "-n":
            count = int(next(words, "10"))
        elif word.startswith("-n") and word[2:].isdigit():
            count = int(word[2:])
        elif word.startswith("-") and word[1:].isdigit():
            count = int(word[1:])
        elif word.startswith("-") and len(word) > 1:
            continue  # other flags (grep -i, wc -l) change nothing here
        elif name == "grep" and pattern is None:
            pattern = word
        else:
            files.append(word)
    text = _input(view, files, stdin, name)
    lines = text.stdout.decode(errors="replace").splitlines()
    if name == "head":
        lines = lines[:count]
    elif name == "tail":
        lines = lines[-count:] if count else []
    elif name == "grep":
        ignore = "-i" in args
        found = [
            line
            for line in lines
            if pattern is not None
            and (pattern.lower() in line.lower() if ignore else pattern in line)
        ]
        return Outcome(_lines(found), text.stderr, text.code or (0 if found else 1))
    elif name == "wc":
        return Outcome(_lines([str(len(lines))]), text.stderr, text.code)
    return Outcome(_lines(lines), text.stderr, text.code)


def run(argv: list[str], view: PodView, stdin: bytes | None = b"") -> Outcome:
    """Run one command line (already split into words, as `kubectl exec -- ...` sends it).
    `stdin` None means not read yet: a command that needs it raises NeedsStdin."""
    if not argv:
        return Outcome(stderr=b"no command given\n", code=NOT_FOUND)
    name, args = argv[0], argv[1:]
    base = name.rsplit("/", 1)[-1]
    if name in SHELLS or base in SHELLS:
        if len(args) >= 2 and args[0] == "-c":
            return shell(args[1], view, stdin)
        if not args:
            if stdin is None:
                raise NeedsStdin
            return shell(stdin.decode(errors="replace"), view, b"")
        return Outcome(stderr=f"{base}: only -c SCRIPT is supported here\n".encode(), code=2)
    if base == "echo":
        newline = "\n"
        if args[:1] == ["-n"]:
            args, newline = args[1:], ""
        return Outcome((" ".join(args) + newline).encode())
    if base == "cat":
        return _cat(view, args, stdin)
    if base in ("head", "tail", "grep", "wc"):
        return _filter(base, args, view, stdin)
    if base == "env" and not args:
        return Outcome(_lines([f"{k}={v}" for k, v in view.env.items()]))
    if base == "printenv":
        if not args:
            return Outcome(_lines([f"{k}={v}" for k, v in view.env.items()]))
        found = [view.env[a] for a in args if a in view.env]
        return Outcome(_lines(found), code=0 if len(found) == len(args) else 1)
    if base == "hostname":
        return Outcome(_lines([view.hostname]))
    if base == "ls":
        return _ls(view, args)
    simple = {
        "pwd": "/",
        "whoami": "root",
        "id": "uid=0(root) gid=0(root) groups=0(root)",
        "uname": "Linux" if args != ["-a"] else f"Linux {view.hostname} 6.1.0 x86_64 GNU/Linux",
        "date": view.now.strftime("%a %b %d %H:%M:%S UTC %Y"),
    }
    if base in simple:
        return Outcome(_lines([simple[base]]))
    if base in ("true", "sleep"):
        return Outcome()
    if base == "false":
        return Outcome(code=1)
    if base == "exit":
        return Outcome(code=int(args[0]) if args and args[0].isdigit() else 0)
    return Outcome(stderr=f"{name}: command not found\n".encode(), code=NOT_FOUND)


def _expand(word: str, view: PodView, last_code: int) -> str:
    def value(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2)
        return str(last_code) if name == "?" else view.env.get(name, "")

    return _VAR.sub(value, word)


def shell(script: str, view: PodView, stdin: bytes | None = b"") -> Outcome:
    """Run a `sh -c` script: commands joined by `;`, `&&`, `||` and `|`."""
    try:
        lexer = shlex.shlex(script, posix=True, punctuation_chars=";&|")
        lexer.whitespace_split = True
        tokens = list(lexer)
    except ValueError as exc:
        return Outcome(stderr=f"sh: syntax error: {exc}\n".encode(), code=2)
    out, err, code = b"", b"", 0
    pipeline: list[list[str]] = [[]]
    skip = False

    def flush(words_in: list[list[str]]) -> Outcome:
        data: bytes | None = stdin
        errors, status = b"", 0
        for words in words_in:
            outcome = run([_expand(w, view, code) for w in words], view, data)
            data, errors, status = outcome.stdout, errors + outcome.stderr, outcome.code
        return Outcome(data or b"", errors, status)

    for token in [*tokens, ";"]:
        if token == "|":
            pipeline.append([])
        elif token in (";", "&&", "||", "\n"):
            if any(pipeline) and not skip:
                outcome = flush(pipeline)
                out, err, code = out + outcome.stdout, err + outcome.stderr, outcome.code
                if pipeline[0][:1] == ["exit"]:
                    break
            skip = (token == "&&" and code != 0) or (token == "||" and code == 0)
            pipeline = [[]]
        else:
            pipeline[-1].append(token)
    return Outcome(out, err, code)


def split(command: str) -> list[str]:
    """Words of a command line, as a shell would split it (for tests and logs)."""
    return shlex.split(command)
