"""Judges of programs that read unless an option or argument makes them change something
(`date -s`, `hostname NAME`, `sysctl -w`, `ip link set`, `journalctl --vacuum-size`), or run a
command given in an option (`man -P CMD`)."""

from __future__ import annotations

from proctor_classifier.shell.context import Context, Hit, options
from proctor_classifier.shell.words import Word


def _read(ctx: Context) -> list[Hit]:
    return [("shell.read", ctx.display)]


def _write(ctx: Context) -> list[Hit]:
    return [("shell.write", ctx.display)]


def date(name: str, args: list[Word], ctx: Context) -> list[Hit]:
    opts, operands = options(args, "dfrsI", {"--date", "--file", "--reference", "--set"})
    if any(k in {"-s", "--set"} for k, _ in opts) or any(
        not w.text.startswith("+") for w in operands
    ):
        return _write(ctx)
    return _read(ctx)


def hostname(name: str, args: list[Word], ctx: Context) -> list[Hit]:
    opts, operands = options(args, "F", {"--file"})
    if operands or any(k in {"-F", "--file", "-b", "--boot"} for k, _ in opts):
        return _write(ctx)
    return _read(ctx)


def sysctl(name: str, args: list[Word], ctx: Context) -> list[Hit]:
    opts, operands = options(args, "pf", {"--load"})
    keys = {k for k, _ in opts}
    if keys & {"-w", "--write", "-p", "--load", "-f", "--system"} or any(
        "=" in w.text for w in operands
    ):
        return _write(ctx)
    return _read(ctx)


_IP_READS = frozenset({"", "show", "sh", "s", "list", "ls", "lst", "l", "get", "g", "help"})


def ip(name: str, args: list[Word], ctx: Context) -> list[Hit]:
    """`ip [OPTIONS] OBJECT [COMMAND ...]`: show, list and get read; `ip netns exec NS CMD`
    runs CMD."""
    _, operands = options(args, "fbrn", {"--family", "--batch", "--rcvbuf", "--netns"})
    words = [w.text for w in operands]
    if not words or words[0] in {"monitor", "mon", "help"}:
        return _read(ctx)
    if words[0] in {"netns", "net"} and len(words) > 3 and words[1] == "exec":
        return [("shell.service", ctx.display), *ctx.run(operands[3:], ctx)]
    verb = words[1] if len(words) > 1 else ""
    return _read(ctx) if verb in _IP_READS else _write(ctx)


def ifconfig(name: str, args: list[Word], ctx: Context) -> list[Hit]:
    plain = [w for w in args if w.text not in {"-a", "-s", "-v"}]
    return _read(ctx) if len(plain) <= 1 else _write(ctx)


_CTL_READS = frozenset({
    "", "status", "show", "list", "list-timezones", "show-timesync", "timesync-status",
    "list-locales", "list-keymaps", "list-x11-keymap-models", "list-sessions", "list-users",
    "list-seats", "session-status", "user-status", "seat-status", "show-session", "show-user",
    "show-seat", "query", "statistics", "dns", "domain", "llmnr", "mdns", "dnssec", "dnsovertls",
    "help", "--help", "--version", "lldp", "label",
})  # fmt: skip


def ctl(name: str, args: list[Word], ctx: Context) -> list[Hit]:
    """hostnamectl, timedatectl, localectl, loginctl, resolvectl, networkctl: reading verbs
    (status, show, list...) read; set-*, kill-*, terminate-*, up, down, reload change."""
    _, operands = options(args, "HMp", {"--host", "--machine", "--property"})
    verb = operands[0].text if operands and operands[0].literal else ""
    if name == "resolvectl" and len(operands) > 2:
        return _write(ctx)  # resolvectl dns LINK SERVER sets it
    return _read(ctx) if verb in _CTL_READS or verb.startswith("list") else _write(ctx)


def journalctl(name: str, args: list[Word], ctx: Context) -> list[Hit]:
    changes = ("--vacuum", "--rotate", "--flush", "--sync", "--relinquish-var", "--setup-keys",
               "--update-catalog", "--smart-relinquish-var")  # fmt: skip
    if any(w.text.startswith(changes) for w in args):
        return _write(ctx)
    return _read(ctx)


def dmesg(name: str, args: list[Word], ctx: Context) -> list[Hit]:
    opts, _ = options(args, "nfl", {"--console-level", "--facility", "--level"})
    keys = {k for k, _ in opts}
    if keys & {"-C", "--clear", "-c", "--read-clear", "-n", "--console-level", "-D",
               "--console-off", "-E", "--console-on"}:  # fmt: skip
        return _write(ctx)
    return _read(ctx)


def man(name: str, args: list[Word], ctx: Context) -> list[Hit]:
    opts, _ = options(args, "PHMCLmSsER", {"--pager", "--html", "--manpath", "--config-file"})
    if any(k in {"-P", "--pager", "-H", "--html"} for k, _ in opts):
        return [("shell.interpreter", f"{ctx.display} (the pager it names runs)")]
    return _read(ctx)


def declare(name: str, args: list[Word], ctx: Context) -> list[Hit]:
    """export, declare, local, readonly, typeset: their NAME=value words are assignments."""
    from proctor_classifier.shell.programs import assignment_hits  # it imports this module

    hits: list[Hit] = []
    for w in args:
        key, eq, value = w.text.partition("=")
        if eq:
            hits += assignment_hits(key, Word(value, dynamic=w.dynamic, node=w.node), ctx)
    return hits or _read(ctx)


def unless_output(short: str, long: str):  # type: ignore[no-untyped-def]
    """Programs that read unless told to write a file (`tree -o FILE`, `xxd IN OUT`)."""

    def judge(name: str, args: list[Word], ctx: Context) -> list[Hit]:
        opts, operands = options(args, short, {long} if long else set())
        if any(k in {f"-{short}", long} for k, _ in opts if short or long):
            return _write(ctx)
        if name == "xxd" and len(operands) > 1:
            return _write(ctx)
        return _read(ctx)

    return judge


tree = unless_output("o", "--output")
xxd = unless_output("", "")
tcpdump = unless_output("w", "")
