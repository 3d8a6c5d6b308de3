"""Judges of programs that run another command or code: they are judged by what they run.

Wrappers (sudo, env, timeout, nohup, xargs, ...) hand on an argument vector; shells (`bash -c`,
`eval`, `ssh host cmd`, `watch`, `trap`) hand on text, which is parsed again as bash, to a
bounded depth; shells and interpreters that read code from their input are judged by what
feeds it (a heredoc is judged, a download is `shell.pipe_to_shell`).
"""

from __future__ import annotations

import re

from proctor_classifier.shell.context import (
    Context,
    Feed,
    Hit,
    Judge,
    Option,
    flags,
    line,
    located,
    options,
    value_of,
)
from proctor_classifier.shell.paths import LOGIN, moved
from proctor_classifier.shell.values import positional_variants
from proctor_classifier.shell.words import Word, fetches


def _assignments(words: list[Word]) -> tuple[list[Word], list[Word]]:
    """Leading NAME=value words, and the rest."""
    i = 0
    while i < len(words) and _is_assignment(words[i]):
        i += 1
    return words[:i], words[i:]


def _is_assignment(w: Word) -> bool:
    name, eq, _ = w.text.partition("=")
    return bool(eq) and name.replace("_", "a").isalnum() and not name[0].isdigit()


def _env_hits(assigned: list[Word], ctx: Context) -> list[Hit]:
    from proctor_classifier.shell.programs import assignment_hits  # it imports this module

    hits: list[Hit] = []
    for w in assigned:
        name, _, value = w.text.partition("=")
        hits += assignment_hits(name, Word(value, dynamic=w.dynamic), ctx)
    return hits


def _then(inner: list[Word], ctx: Context, nothing: list[Hit] | None = None) -> list[Hit]:
    """Judge the command a wrapper runs; `nothing` when it runs none."""
    if not inner:
        return nothing if nothing is not None else [("shell.read", ctx.display)]
    return ctx.run(inner, ctx)


# --- argument-vector wrappers --------------------------------------------------------------


def sudo(name: str, args: list[Word], ctx: Context) -> list[Hit]:
    opts, rest = options(args, "ugCDhprtTUR", frozenset({
        "--user", "--group", "--close-from", "--chdir", "--host", "--prompt", "--role",
        "--type", "--command-timeout", "--other-user", "--chroot",
    }), stop_at_operand=True)  # fmt: skip
    assigned, inner = _assignments(rest)
    keys = flags(opts)
    if keys & {"-e", "--edit"} or name == "sudoedit":
        return [("shell.write", ctx.display)]
    chdir = value_of(opts, "-D", "--chdir")
    if chdir is not None:
        ctx = ctx.but(cwd=moved(ctx.cwd, chdir))
    hits = _env_hits(assigned, ctx)
    if not inner:
        if keys & {"-i", "--login", "-s", "--shell"}:
            return hits + reads_input(ctx)
        return [*hits, ("shell.read", ctx.display)]  # -l, -v, -k, -V
    return hits + ctx.run(inner, ctx)


def env(name: str, args: list[Word], ctx: Context) -> list[Hit]:
    opts, rest = options(args, "uCS", frozenset({"--unset", "--chdir", "--split-string"}),
                         stop_at_operand=True)  # fmt: skip
    split = value_of(opts, "-S", "--split-string")
    if split is not None:
        text = " ".join([split.text, *(w.text for w in rest)])
        return code_hits(Word(text, dynamic=split.dynamic), ctx)
    chdir = value_of(opts, "-C", "--chdir")
    if chdir is not None:
        ctx = ctx.but(cwd=moved(ctx.cwd, chdir))
    if rest and rest[0].literal and rest[0].text == "-":
        rest = rest[1:]  # `env -` is `env -i`
    assigned, inner = _assignments(rest)
    return _env_hits(assigned, ctx) + _then(inner, ctx)


def command(name: str, args: list[Word], ctx: Context) -> list[Hit]:
    opts, inner = options(args, "", stop_at_operand=True)
    if flags(opts) & {"-v", "-V"}:
        return [("shell.read", ctx.display)]
    return _then(inner, ctx)


def plain(name: str, args: list[Word], ctx: Context) -> list[Hit]:
    """Wrappers whose options never take a value before the command (nohup, builtin, ...)."""
    _, inner = options(args, stop_at_operand=True)
    return _then(inner, ctx, [] if name == "exec" else None)


def exec_(name: str, args: list[Word], ctx: Context) -> list[Hit]:
    _, inner = options(args, "a", stop_at_operand=True)
    return _then(inner, ctx, [])  # exec with redirects only: the redirects are judged


def _value_then(short_values: str, long_values: set[str], skip: int = 0, pid: bool = False
                ) -> Judge:  # fmt: skip
    """Wrappers of the form `NAME [options] [VALUE...] COMMAND` (nice -n 5 cmd, timeout 5
    cmd); with `pid`, `-p` means they act on a running process instead (a write)."""

    def judge(name: str, args: list[Word], ctx: Context) -> list[Hit]:
        opts, rest = options(args, short_values, frozenset(long_values), stop_at_operand=True)
        keys = flags(opts)
        if pid and keys & {"-p", "--pid"}:
            return [("shell.write", ctx.display)]
        if keys & {"--help", "--version"} and not rest:
            return [("shell.read", ctx.display)]
        return _then(rest[skip:], ctx)

    return judge


timeout = _value_then("sk", {"--signal", "--kill-after"}, skip=1)
taskset = _value_then("", {"--cpu-list"}, skip=1, pid=True)
chrt = _value_then("T", {"--sched-runtime", "--sched-period", "--sched-deadline"}, 1, pid=True)
nice = _value_then("n", {"--adjustment"})
stdbuf = _value_then("ioe", {"--input", "--output", "--error"})
time = _value_then("fo", {"--format", "--output"})
ionice = _value_then("cn", {"--class", "--classdata"}, pid=True)
tracer = _value_then("oesSPEIbuXap", {"--output", "--expr", "--string-limit", "--attach"},
                     pid=True)  # fmt: skip
systemd_run = _value_then("upEMHdG", {
    "--unit", "--property", "--setenv", "--machine", "--host", "--slice", "--uid", "--gid",
    "--nice", "--working-directory", "--description", "--on-active", "--on-boot",
    "--on-startup", "--on-unit-active", "--on-unit-inactive", "--on-calendar", "--timer-property",
    "--path-property", "--socket-property", "--service-type",
})  # fmt: skip
nsenter = _value_then("tSGwr", {"--target", "--setuid", "--setgid", "--wd", "--root"})
_flock_then = _value_then("wE", {"--timeout", "--wait", "--conflict-exit-code"}, skip=1)


def flock(name: str, args: list[Word], ctx: Context) -> list[Hit]:
    opts, _ = options(args, "wEc", frozenset({"--timeout", "--wait", "--conflict-exit-code",
                                                 "--command"}))  # fmt: skip
    code = value_of(opts, "-c", "--command")
    if code is not None:
        return code_hits(code, ctx)
    return _flock_then(name, args, ctx)


def chroot(name: str, args: list[Word], ctx: Context) -> list[Hit]:
    _, rest = options(args, "", frozenset({"--userspec", "--groups"}), stop_at_operand=True)
    inner = rest[1:]
    return ctx.run(inner, ctx.but(cwd=("/",))) if inner else reads_input(ctx)


def watch(name: str, args: list[Word], ctx: Context) -> list[Hit]:
    opts, rest = options(args, "nqg", frozenset({"--interval", "--differences", "--equexit"}),
                         stop_at_operand=True)  # fmt: skip
    if flags(opts) & {"-x", "--exec"}:
        return _then(rest, ctx)
    return code_hits(_joined(rest), ctx) if rest else [("shell.read", ctx.display)]


def xargs(name: str, args: list[Word], ctx: Context) -> list[Hit]:
    """xargs runs its command with words read from its input: with them where the input is
    known (echo ..., find's start paths), else with a word known only at run time."""
    # -e, -i and -l take a value only when it is attached (-i{}); options() reads them as flags
    opts, rest = options(args, "adEILnPs", frozenset({
        "--arg-file", "--delimiter", "--eof", "--replace", "--max-lines", "--max-args",
        "--max-procs", "--max-chars", "--process-slot-var",
    }), stop_at_operand=True)  # fmt: skip
    inner = rest or [Word("echo")]
    feed = ctx.feed
    supplied: list[Word]
    if value_of(opts, "-a", "--arg-file") is None and feed is not None and feed.paths:
        supplied = list(feed.paths)
    elif value_of(opts, "-a", "--arg-file") is None and feed is not None and feed.text is not None:
        supplied = [Word(t) for t in feed.text.split()]
    else:
        supplied = [Word("$(xargs input)", dynamic=True)]
    placeholder = _replacement(opts)
    if placeholder:
        words = []
        for w in inner:
            if placeholder in w.text and supplied:
                words += [Word(w.text.replace(placeholder, s.text), dynamic=s.dynamic or
                               w.dynamic) for s in supplied]  # fmt: skip
            else:
                words.append(w)
    else:
        words = [*inner, *supplied]
    return ctx.run(words, ctx.but(feed=None))


def _replacement(opts: list[Option]) -> str:
    for key, value in opts:
        if key in {"-I", "--replace"}:
            return value.text if value is not None else "{}"
        if key == "-i":
            return value.text if value is not None else "{}"
    return ""


# --- text: shells, eval, ssh ---------------------------------------------------------------

SHELLS = frozenset({"sh", "bash", "zsh", "dash", "ksh", "mksh", "ash", "rbash", "busybox-sh",
                    "yash", "posh", "fish", "tcsh", "csh"})  # fmt: skip


def shell(name: str, args: list[Word], ctx: Context) -> list[Hit]:
    """`bash -c TEXT` parses TEXT again; `bash FILE` runs a file nobody has seen; a shell with
    neither reads its commands from its input."""
    command_mode = from_input = False
    i = 0
    while i < len(args):
        w = args[i]
        t = w.text
        if t == "--" or t == "-":
            i += 1
            break
        if t in {"-o", "+o", "-O", "+O", "--rcfile", "--init-file"}:
            i += 2
            continue
        if t.startswith("--") or (t[:1] in {"-", "+"} and len(t) > 1 and w.literal):
            if not t.startswith("--") and "c" in t[1:]:
                command_mode = True
            if not t.startswith("--") and "s" in t[1:]:
                from_input = True  # -s: the operands are arguments, the code is the input
            i += 1
            continue
        break
    operands = args[i:]
    if command_mode:
        if not operands:
            return [("shell.unparseable", f"{ctx.display} has -c without a command")]
        hits = code_hits(operands[0], ctx)
        given = operands[1:]
        if operands[0].literal and given and all(w.literal for w in given):
            for text, where in positional_variants(operands[0].text, [w.text for w in given]):
                found = ctx.judge_text(text, ctx.but(feed=None))
                kept = [h for h in found if h[0] not in {"shell.unparseable", "shell.read"}]
                hits += located(kept, f"with {where}")
        return hits
    if operands and not from_input:
        return script_hits(operands[0], ctx)
    return reads_input(ctx)


def at(name: str, args: list[Word], ctx: Context) -> list[Hit]:
    """at and batch run the shell commands on their input later (or those of `-f FILE`)."""
    opts, _ = options(args, "qfMmt", frozenset({"--file"}))
    keys = flags(opts)
    if keys & {"-l", "-d", "-r", "-c", "-V"}:
        return [("shell.read" if keys & {"-l", "-c", "-V"} else "shell.write", ctx.display)]
    path = value_of(opts, "-f", "--file")
    return script_hits(path, ctx) if path is not None else reads_input(ctx)


def eval_(name: str, args: list[Word], ctx: Context) -> list[Hit]:
    return code_hits(_joined(args), ctx) if args else []


def source(name: str, args: list[Word], ctx: Context) -> list[Hit]:
    if not args:
        return [("shell.unparseable", f"{ctx.display} names no file")]
    return script_hits(args[0], ctx)


def trap(name: str, args: list[Word], ctx: Context) -> list[Hit]:
    if not args or args[0].text in {"-p", "-l", "-", ""} or len(args) == 1:
        return [("shell.read", ctx.display)]
    return code_hits(args[0], ctx)


def alias(name: str, args: list[Word], ctx: Context) -> list[Hit]:
    hits: list[Hit] = []
    for w in args:
        _, eq, value = w.text.partition("=")
        if eq:
            hits += code_hits(Word(value, dynamic=w.dynamic, node=w.node), ctx)
    return hits or [("shell.read", ctx.display)]


def su(name: str, args: list[Word], ctx: Context) -> list[Hit]:
    opts, rest = options(args, "cguCsw", frozenset({"--command", "--group", "--user",
                                                    "--session-command", "--shell",
                                                    "--whitelist-environment"}))  # fmt: skip
    code = value_of(opts, "-c", "--command", "--session-command")
    if code is not None:
        return code_hits(code, ctx)
    if name == "runuser" and rest and "-u" in flags(opts):
        return ctx.run(rest, ctx)
    return reads_input(ctx)


def script(name: str, args: list[Word], ctx: Context) -> list[Hit]:
    opts, _ = options(
        args,
        "cEIOBTm",
        frozenset({"--command", "--echo", "--log-in", "--log-out", "--log-io", "--log-timing"}),
    )
    code = value_of(opts, "-c", "--command")
    return code_hits(code, ctx) if code is not None else reads_input(ctx)


def ssh(name: str, args: list[Word], ctx: Context) -> list[Hit]:
    """`ssh HOST CMD...`: the remote shell parses the words joined by spaces, in the login
    directory there."""
    opts, rest = options(args, "BbcDEeFIiJLlmOopQRSWw", stop_at_operand=True)
    for key, value in opts:
        if (
            key == "-o"
            and value is not None
            and value.text.lower()
            .replace(" ", "")
            .startswith(("proxycommand", "localcommand", "permitlocalcommand", "knownhostscommand"))
        ):
            return [("shell.interpreter", f"{ctx.display} (a local command runs)")]
    if not rest:
        return [("shell.read", ctx.display)] if flags(opts) & {"-V", "-G"} else [
            ("shell.unknown", ctx.display)]  # fmt: skip
    host, remote = rest[0], rest[1:]
    if not remote:
        if flags(opts) & {"-N", "-O", "-W"}:
            return [("shell.interpreter", f"{ctx.display} (a tunnel)")]
        return reads_input(ctx)
    return located(code_hits(_joined(remote), ctx.but(cwd=LOGIN)), f"on {host.text}")


def _joined(words: list[Word]) -> Word:
    node = next((w.node for w in words if w.dynamic and w.node is not None), None)
    return Word(" ".join(w.text for w in words), dynamic=any(not w.literal for w in words),
                node=node)  # fmt: skip


def code_hits(code: Word, ctx: Context) -> list[Hit]:
    """Bash code given as a word: parsed again when it is literal."""
    if code.literal:
        return ctx.judge_text(code.text, ctx.but(feed=None))
    if fetches(code.node):
        return [("shell.pipe_to_shell", f"{ctx.display} (code fetched from the network)")]
    return [("shell.dynamic", ctx.display)]


def script_hits(path: Word, ctx: Context) -> list[Hit]:
    """A shell or interpreter running a file: /dev/stdin is its input; a process substitution
    that downloads is `pipe_to_shell`; anything else runs code nobody has seen."""
    if path.literal and path.text in {"/dev/stdin", "-", "/proc/self/fd/0", "/dev/fd/0"}:
        return reads_input(ctx)
    if fetches(path.node):
        return [("shell.pipe_to_shell", f"{ctx.display} (code fetched from the network)")]
    return [("shell.interpreter", f"{ctx.display} ({line([path])} is a file the "
                                  "gateway cannot see)")]  # fmt: skip


def reads_input(ctx: Context, language: str = "shell") -> list[Hit]:
    """A shell or interpreter that reads its code from its standard input."""
    feed = ctx.feed or Feed(what="the session's input")
    if feed.fetched:
        return [("shell.pipe_to_shell", f"{ctx.display} (reading {feed.what}, fetched from the "
                                        "network)")]  # fmt: skip
    if feed.decoded and feed.text is None:
        return [("shell.pipe_to_shell", f"{ctx.display} (code decoded at run time)")]
    if feed.text is not None and language == "shell":
        return ctx.judge_text(feed.text, ctx.but(feed=None))
    return [("shell.interpreter", f"{ctx.display} (commands read from {feed.what})")]


# --- interpreters --------------------------------------------------------------------------

INTERPRETERS = {
    # name: (options that take code, options that take a value)
    "python": ("c", "mWXQ"), "perl": ("eE", "IMmx"), "ruby": ("e", "IrCEx"),
    "node": ("ep", "r"), "nodejs": ("ep", "r"), "php": ("rRBE", "cdf"), "lua": ("e", "l"),
    "Rscript": ("e", ""), "tclsh": ("", ""), "deno": ("", ""), "bun": ("e", ""),
    "pwsh": ("cC", ""), "osascript": ("e", ""), "jshell": ("", ""), "irb": ("", ""),
    "R": ("e", ""), "julia": ("e", ""), "groovy": ("e", ""),
}  # fmt: skip
_LONG_CODE = frozenset({"--eval", "--print", "--command", "--exec"})


def interpreter(name: str, args: list[Word], ctx: Context) -> list[Hit]:
    base = "python" if name.startswith("python") else name
    code_opts, value_opts = INTERPRETERS.get(base, ("", ""))
    if args and all(w.text in {"--version", "-V", "-v", "--help", "-h", "-VV"} for w in args):
        return [("shell.read", ctx.display)]
    opts, operands = options(args, code_opts + value_opts, _LONG_CODE, stop_at_operand=True)
    code = [v for k, v in opts if (k[1:] in code_opts and len(k) == 2) or k in _LONG_CODE]
    for value in code:
        if value is not None and not value.literal and fetches(value.node):
            return [("shell.pipe_to_shell", f"{ctx.display} (code fetched from the "
                                            "network)")]  # fmt: skip
    if code or "-m" in flags(opts):
        hits: list[Hit] = [("shell.interpreter", ctx.display)]
        for value in code:
            if value is not None and value.literal:
                hits += shell_strings(value.text, ctx)
        return hits
    if operands:
        return script_hits(operands[0], ctx)
    return reads_input(ctx, language=base)


# A string literal handed to a function that runs it as a shell command (system("..."),
# os.system('...'), subprocess.run("...", shell=True), `...` in perl and ruby).
_RUNS_STRING = re.compile(
    r"""(?:\b(?:system|popen|exec|execSync|spawnSync|shell_exec|passthru|check_output|check_call|"""
    r"""call|run|Popen|getoutput|getstatusoutput)\s*\(\s*|\bqx\s*)(['"])((?:\\.|(?!\1).)*)\1"""
    r"""|`([^`]*)`""",
    re.S,
)


def shell_strings(code: str, ctx: Context) -> list[Hit]:
    """Shell commands written as string literals in another language's code, judged as bash:
    they can only make a verdict stricter (the code stays `shell.interpreter`)."""
    hits: list[Hit] = []
    for m in _RUNS_STRING.finditer(code):
        text = m.group(2) if m.group(2) is not None else m.group(3)
        found = ctx.judge_text(text, ctx.but(feed=None))
        hits += [h for h in found if h[0] not in {"shell.unparseable", "shell.read",
                                                   "shell.unknown"}]  # fmt: skip
    return located(hits, "in the code") if hits else []
