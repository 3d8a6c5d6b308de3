"""Judges of programs that act on the host beyond its files: services and containers, power,
signals, firewalls, disks, accounts, cron, git, package managers and HTTP clients."""

from __future__ import annotations

import re

from proctor_classifier.shell.context import Context, Hit, flags, options, value_of
from proctor_classifier.shell.paths import UNKNOWN
from proctor_classifier.shell.words import Word


def _first(args: list[Word], short_values: str = "", long_values: frozenset[str] = frozenset()
           ) -> tuple[str, list[Word]]:  # fmt: skip
    """The subcommand (first operand) and what follows it."""
    _, operands = options(args, short_values, long_values, stop_at_operand=True)
    if not operands:
        return "", []
    head = operands[0]
    return (head.text if head.literal else "$"), operands[1:]


def read(name: str, args: list[Word], ctx: Context) -> list[Hit]:
    return [("shell.read", ctx.display)]


# --- services ------------------------------------------------------------------------------

_SYSTEMCTL_READS = frozenset({
    "", "status", "is-active", "is-enabled", "is-failed", "is-system-running", "list-units",
    "list-unit-files", "list-timers", "list-sockets", "list-jobs", "list-dependencies",
    "list-machines", "list-automounts", "list-paths", "show", "cat", "get-default", "help",
    "show-environment",
})  # fmt: skip
_POWER_VERBS = frozenset({"poweroff", "reboot", "halt", "kexec", "suspend", "hibernate",
                          "hybrid-sleep", "suspend-then-hibernate", "emergency", "rescue",
                          "soft-reboot"})  # fmt: skip
_POWER_TARGETS = re.compile(r"^(poweroff|reboot|halt|kexec|rescue|emergency)(\.target)?$")


def systemctl(name: str, args: list[Word], ctx: Context) -> list[Hit]:
    opts, operands = options(
        args,
        "tpHMsno",
        {
            "--type",
            "--property",
            "--host",
            "--machine",
            "--signal",
            "--lines",
            "--output",
            "--state",
        },
    )
    if flags(opts) & {"--version", "-h", "--help"} and not operands:
        return [("shell.read", ctx.display)]
    verb = operands[0].text if operands and operands[0].literal else ("" if not operands else "$")
    if verb in _SYSTEMCTL_READS:
        return [("shell.read", ctx.display)]
    if verb in _POWER_VERBS or (
        verb in {"isolate", "start"} and any(_POWER_TARGETS.match(w.text) for w in operands[1:])
    ):
        return [("shell.power", ctx.display)]
    return [("shell.service", ctx.display)]


def service(name: str, args: list[Word], ctx: Context) -> list[Hit]:
    texts = [w.text for w in args]
    if not texts or texts[0] in {"--status-all", "--help", "--version"}:
        return [("shell.read", ctx.display)]
    if len(texts) >= 2 and texts[1] == "status":
        return [("shell.read", ctx.display)]
    return [("shell.service", ctx.display)]


_DOCKER_READS = frozenset({
    "ps", "logs", "inspect", "images", "version", "info", "top", "port", "diff", "history",
    "events", "stats", "search", "",
})  # fmt: skip
_DOCKER_SERVICE = frozenset(
    {
        "restart",
        "stop",
        "start",
        "kill",
        "pause",
        "unpause",
        "rm",
        "up",
        "down",
        "create",
        "run",
        "update",
        "rename",
        "wait",
    }
)
_DOCKER_GROUPS = frozenset({"container", "image", "volume", "network", "compose", "system",
                            "node", "service", "stack", "context", "plugin", "secret",
                            "config", "builder", "buildx"})  # fmt: skip


def docker(name: str, args: list[Word], ctx: Context) -> list[Hit]:
    verb, rest = _first(
        args, "HcflD", frozenset({"--host", "--context", "--config", "--log-level", "--file", "-f"})
    )
    group = ""
    if verb in _DOCKER_GROUPS and rest:
        group = verb
        verb, rest = _first(rest, "fp", frozenset({"--file", "--project-name", "-f", "-p"}))
        if verb in {"ls", "list"} or (
            group == "compose" and verb in {"ps", "logs", "config", "images", "top"}
        ):
            return [("shell.read", ctx.display)]
    if verb in _DOCKER_READS:
        return [("shell.read", ctx.display)]
    if verb == "exec":
        _, operands = options(rest, "ewu", frozenset({"--env", "--workdir", "--user",
                                                      "--env-file", "--detach-keys"}),
                              stop_at_operand=True)  # fmt: skip
        inner = operands[1:]
        hits: list[Hit] = [("shell.service", f"{ctx.display} (runs a command in a container)")]
        return hits + (ctx.run(inner, ctx.but(cwd=UNKNOWN)) if inner else [])
    if verb in _DOCKER_SERVICE and group in {"", "container", "compose", "service", "stack"}:
        return [("shell.service", ctx.display)]
    return [("shell.write", ctx.display)]  # images, volumes, networks, prune, build, ...


def supervisorctl(name: str, args: list[Word], ctx: Context) -> list[Hit]:
    verb, _ = _first(args, "csur", frozenset({"--configuration", "--serverurl", "--username",
                                              "--password"}))  # fmt: skip
    if verb in {"status", "avail", "pid", "version", "help", "tail", "maintail", ""}:
        return [("shell.read", ctx.display)]
    return [("shell.service", ctx.display)]


# --- power, signals ------------------------------------------------------------------------


def power(name: str, args: list[Word], ctx: Context) -> list[Hit]:
    if name in {"init", "telinit"}:
        level = args[0].text if args else ""
        if level in {"0", "6", "1", "s", "S"} or not (args and args[0].literal):
            return [("shell.power", ctx.display)]
        return [("shell.service", ctx.display)]
    if any(w.text in {"--help", "-h"} for w in args) and name != "shutdown":
        return [("shell.read", ctx.display)]
    return [("shell.power", ctx.display)]


def kill(name: str, args: list[Word], ctx: Context) -> list[Hit]:
    texts = [w.text for w in args]
    if not texts or texts[0] in {"-l", "-L", "--list", "--help"}:
        return [("shell.read", ctx.display)]
    rest = list(args)
    if rest and rest[0].text in {"-s", "-n", "--signal"}:
        rest = rest[2:]
    elif rest and re.fullmatch(r"-(\d+|[A-Za-z][A-Za-z0-9+-]*)", rest[0].text) and len(rest) > 1:
        rest = rest[1:]
    if rest and rest[0].text == "--":
        rest = rest[1:]
    targets = [w.text for w in rest]
    if any(t in {"1", "-1"} for t in targets) or (len(args) == 1 and texts[0] == "-1"):
        return [("shell.kill_all", ctx.display)]
    if any(not w.literal for w in rest):
        return [("shell.signal", f"{ctx.display} (processes chosen at run time)")]
    return [("shell.signal", ctx.display)]


def pkill(name: str, args: list[Word], ctx: Context) -> list[Hit]:
    _, operands = options(
        args,
        "gGPsuUtFn",
        {
            "--signal",
            "--parent",
            "--session",
            "--uid",
            "--euid",
            "--group",
            "--pgroup",
            "--terminal",
            "--pidfile",
            "--ns",
            "--nslist",
        },
    )
    patterns = [w.text for w in operands if not re.fullmatch(r"\d+|[A-Z]+", w.text)]
    if name == "pgrep":
        return [("shell.read", ctx.display)]
    if not patterns or any(p in {"", ".", ".*", "^", "$", "-1", "^.*$", ".+"} for p in patterns):
        return [("shell.kill_all", ctx.display)]
    return [("shell.signal", ctx.display)]


def killall(name: str, args: list[Word], ctx: Context) -> list[Hit]:
    if args and all(w.text in {"-l", "--list", "-V", "--version"} for w in args):
        return [("shell.read", ctx.display)]
    return [("shell.kill_all", ctx.display)]


# --- firewall, disks, accounts, cron -------------------------------------------------------


def iptables(name: str, args: list[Word], ctx: Context) -> list[Hit]:
    opts, _ = options(
        args,
        "tAIDRNPLSEZjmpsdio",
        {
            "--table",
            "--append",
            "--insert",
            "--delete",
            "--replace",
            "--policy",
            "--jump",
            "--match",
            "--protocol",
            "--source",
            "--destination",
        },
    )
    keys = flags(opts)
    if keys & {"-F", "--flush", "-X", "--delete-chain"}:
        return [("shell.firewall_flush", ctx.display)]
    if keys <= {
        "-L",
        "--list",
        "-S",
        "--list-rules",
        "-n",
        "--numeric",
        "-v",
        "--verbose",
        "-t",
        "--table",
        "--line-numbers",
        "-x",
        "--exact",
        "--version",
        "-V",
    }:
        return [("shell.read", ctx.display)]
    return [("shell.write", ctx.display)]


def nft(name: str, args: list[Word], ctx: Context) -> list[Hit]:
    _, operands = options(args, "fI", frozenset({"--file", "--includepath"}))
    words = " ".join(w.text for w in operands).lower()
    if re.match(r"(flush|delete)\b", words):
        return [("shell.firewall_flush", ctx.display)]
    if re.match(r"(list|describe|monitor)\b", words) or not words:
        return [("shell.read", ctx.display)]
    return [("shell.write", ctx.display)]


def ufw(name: str, args: list[Word], ctx: Context) -> list[Hit]:
    verb, _ = _first(args)
    if verb in {"disable", "reset"}:
        return [("shell.firewall_flush", ctx.display)]
    if verb in {"status", "show", "version", "app", ""}:
        return [("shell.read", ctx.display)]
    return [("shell.write", ctx.display)]


def partitioner(name: str, args: list[Word], ctx: Context) -> list[Hit]:
    """fdisk, sfdisk, parted and friends: listing reads, anything else rewrites a disk."""
    texts = [w.text for w in args]
    lists = {"-l", "--list", "-s", "--show-size", "-V", "--version", "--help", "-h", "-d",
             "--dump", "-J", "--json", "-p", "--print"}  # fmt: skip
    if texts and (set(texts) & lists) and name != "parted":
        return [("shell.read", ctx.display)]
    if name == "parted":
        if "-l" in texts or "--list" in texts:
            return [("shell.read", ctx.display)]
        commands = [t for t in texts if not t.startswith("-") and not t.startswith("/dev/")]
        if commands and all(c in {"print", "p", "help", "version"} for c in commands):
            return [("shell.read", ctx.display)]
    return [("shell.disk", ctx.display)]


def disk(name: str, args: list[Word], ctx: Context) -> list[Hit]:
    if args and all(w.text in {"--help", "-h", "-V", "--version"} for w in args):
        return [("shell.read", ctx.display)]
    return [("shell.disk", ctx.display)]


def user_delete(name: str, args: list[Word], ctx: Context) -> list[Hit]:
    return [("shell.user_delete", ctx.display)]


def passwd(name: str, args: list[Word], ctx: Context) -> list[Hit]:
    opts, _ = options(args, "")
    if flags(opts) & {"-d", "--delete"}:
        return [("shell.user_delete", ctx.display)]
    if flags(opts) & {"-S", "--status"}:
        return [("shell.read", ctx.display)]
    return [("shell.write", ctx.display)]


def crontab(name: str, args: list[Word], ctx: Context) -> list[Hit]:
    opts, operands = options(args, "u", frozenset({"--user"}))
    keys = flags(opts)
    if "-r" in keys:
        return [("shell.crontab_remove", ctx.display)]
    if "-l" in keys and not operands:
        return [("shell.read", ctx.display)]
    return [("shell.write", ctx.display)]


# --- git -----------------------------------------------------------------------------------

_GIT_READS = frozenset({
    "status", "log", "diff", "show", "blame", "shortlog", "describe", "rev-parse", "rev-list",
    "ls-files", "ls-tree", "ls-remote", "cat-file", "grep", "reflog", "whatchanged", "fetch",
    "version", "help", "show-ref", "for-each-ref", "merge-base", "name-rev", "count-objects",
    "fsck", "cherry", "range-diff", "var", "check-ignore", "verify-commit", "verify-tag",
})  # fmt: skip
_GIT_RUNS = re.compile(
    r"^--(upload-pack|receive-pack|exec|ext-diff|textconv|open-files-in-pager)\b"
)
# Short options that name a command to run, by subcommand (-u is --upload-pack there).
_GIT_RUNS_SHORT = {"fetch": "-u", "pull": "-u", "clone": "-u", "ls-remote": "-u",
                   "archive": "-u", "grep": "-O"}  # fmt: skip


def git(name: str, args: list[Word], ctx: Context) -> list[Hit]:
    opts, operands = options(args, "Cc", frozenset({"--git-dir", "--work-tree", "--namespace",
                                                    "--exec-path", "--config-env"}),
                             stop_at_operand=True)  # fmt: skip
    if flags(opts) & {"-c", "--config-env", "--exec-path"}:
        return [("shell.interpreter", f"{ctx.display} (git -c can set a command to run)")]
    if not operands:
        return [("shell.read", ctx.display)]
    verb = operands[0].text if operands[0].literal else "$"
    rest = operands[1:]
    texts = [w.text for w in rest]
    short = _GIT_RUNS_SHORT.get(verb)
    if any(_GIT_RUNS.match(t) or (short and t.startswith(short)) for t in texts):
        return [("shell.interpreter", ctx.display)]
    if verb == "push":
        return _git_push(rest, ctx)
    if verb in _GIT_READS:
        return [("shell.read", ctx.display)]
    if verb == "stash" and not texts:
        return [("shell.write", ctx.display)]  # stash alone is stash push
    if verb in {"branch", "tag", "remote", "stash", "worktree", "config", "notes", "submodule"}:
        listing = {
            "-l",
            "--list",
            "-a",
            "--all",
            "-r",
            "--remotes",
            "-v",
            "-vv",
            "--verbose",
            "--show-current",
            "--contains",
            "--merged",
            "--no-merged",
            "show",
            "list",
            "get-url",
            "--get",
            "--get-all",
            "--get-regexp",
            "--show-origin",
            "status",
            "--sort",
            "-n",
            "--points-at",
            "--format",
            "--column",
            "--no-column",
        }
        named = [t for t in texts if not t.startswith("-")]
        if all(t in listing or t.startswith(("--sort=", "--format=", "--contains=")) for t in
               texts) and (not named or all(t in listing for t in named)):  # fmt: skip
            return [("shell.read", ctx.display)]
        if verb == "config" and (set(texts) & {"--get", "--get-all", "-l", "--list"}):
            return [("shell.read", ctx.display)]
    return [("shell.write", ctx.display)]


def _git_push(rest: list[Word], ctx: Context) -> list[Hit]:
    for w in rest:
        t = w.text
        if (
            t in {"-f", "--force", "--mirror", "--delete", "-d", "--prune"}
            or t.startswith(("--force-with-lease", "--force-if-includes"))
            or (re.fullmatch(r"-[a-zA-Z]+", t) and ("f" in t or "d" in t))
        ):
            return [("shell.force_push", ctx.display)]
    refspecs = [w.text for w in rest if not w.text.startswith("-")][1:]
    if any(r.startswith("+") or r.startswith(":") for r in refspecs):
        return [("shell.force_push", ctx.display)]
    return [("shell.write", ctx.display)]


# --- packages ------------------------------------------------------------------------------

_PACKAGE_READS = frozenset({
    "list", "show", "search", "policy", "info", "ls", "view", "outdated", "freeze", "check",
    "--version", "-V", "version", "help", "depends", "rdepends", "showpkg", "madison",
    "provides", "whatprovides", "repolist", "history", "config", "why", "audit", "query",
    "inspect", "files", "changelog", "download-info", "",
})  # fmt: skip


def packages(name: str, args: list[Word], ctx: Context) -> list[Hit]:
    if name in {"apt-cache", "dpkg-query"}:
        return [("shell.read", ctx.display)]
    if name == "dpkg":
        reads = {"-l", "--list", "-L", "--listfiles", "-s", "--status", "-S", "--search",
                 "-p", "--print-avail", "--version", "--get-selections", "-c", "--contents",
                 "-I", "--info", "--print-architecture"}  # fmt: skip
        return [("shell.read" if args and args[0].text in reads else "shell.write", ctx.display)]
    if name == "rpm":
        if args and re.fullmatch(
            r"-q[a-zA-Z]*|--query|--version|-V[a-zA-Z]*|--verify", args[0].text
        ):
            return [("shell.read", ctx.display)]
        return [("shell.write", ctx.display)]
    verb, _ = _first(args, "cr", frozenset({"--config", "--root", "-C", "--prefix"}))
    if verb in _PACKAGE_READS:
        return [("shell.read", ctx.display)]
    return [("shell.write", ctx.display)]


# --- HTTP clients --------------------------------------------------------------------------

_CURL_VALUES = "oTdFHXuAebcDKxmwrEUYyzCQtPhk"
_CURL_LONG_VALUES = frozenset({
    "--output", "--upload-file", "--data", "--data-raw", "--data-binary", "--data-urlencode",
    "--data-ascii", "--form", "--form-string", "--json", "--header", "--request", "--user",
    "--user-agent", "--referer", "--cookie", "--cookie-jar", "--dump-header", "--config",
    "--proxy", "--max-time", "--write-out", "--range", "--cert", "--url", "--connect-timeout",
    "--retry", "--resolve", "--cacert", "--key", "--output-dir", "--stderr", "--trace",
    "--trace-ascii", "--libcurl", "--quote", "--etag-save", "--hsts", "--alt-svc",
})  # fmt: skip
_SENDS = frozenset({"-d", "--data", "--data-raw", "--data-binary", "--data-urlencode",
                    "--data-ascii", "-F", "--form", "--form-string", "--json", "-T",
                    "--upload-file", "-Q", "--quote"})  # fmt: skip
_SAVES = frozenset({"-O", "--remote-name", "--remote-name-all", "-J", "--remote-header-name",
                    "-c", "--cookie-jar", "--output-dir", "--etag-save", "--hsts", "--alt-svc",
                    "--trace", "--trace-ascii", "--libcurl", "--stderr", "-D",
                    "--dump-header", "--create-dirs"})  # fmt: skip


def curl(name: str, args: list[Word], ctx: Context) -> list[Hit]:
    opts, _ = options(args, _CURL_VALUES, _CURL_LONG_VALUES)
    keys = flags(opts)
    method = value_of(opts, "-X", "--request")
    if keys & _SENDS or (method is not None and method.text.upper() not in {"GET", "HEAD"}):
        return [("shell.network_write", ctx.display)]
    if keys & {"-K", "--config"}:
        return [("shell.network_write", f"{ctx.display} (options read from a file)")]
    harmless = {"-", "/dev/null", "/dev/stdout", "/dev/stderr"}
    for key, value in opts:
        if key in {"-o", "--output"} and value is not None and value.text not in harmless:
            return [("shell.write", ctx.display)]
        if key in {"-D", "--dump-header", "--stderr", "--trace", "--trace-ascii"} and (
            value is not None and value.text in harmless
        ):
            continue
        if key in _SAVES:
            return [("shell.write", ctx.display)]
    return [("shell.read", ctx.display)]


def wget(name: str, args: list[Word], ctx: Context) -> list[Hit]:
    opts, _ = options(args, "OoaPeiBUtTwYlAR", frozenset({
        "--output-document", "--post-data", "--post-file", "--method", "--body-data",
        "--body-file", "--output-file", "--append-output", "--directory-prefix", "--header",
        "--execute", "--input-file", "--user-agent", "--tries", "--timeout",
    }))  # fmt: skip
    keys = flags(opts)
    method = value_of(opts, "--method")
    if keys & {"--post-data", "--post-file", "--body-data", "--body-file"} or (
        method is not None and method.text.upper() not in {"GET", "HEAD"}
    ):
        return [("shell.network_write", ctx.display)]
    if keys & {"--spider", "--version", "-V", "--help", "-h"}:
        return [("shell.read", ctx.display)]
    document = value_of(opts, "-O", "--output-document")
    writes_log = keys & {"-o", "--output-file", "-a", "--append-output"}
    if document is not None and document.text in {"-", "/dev/null"} and not writes_log:
        return [("shell.read", ctx.display)]
    return [("shell.write", f"{ctx.display} (saves what it downloads)")]
