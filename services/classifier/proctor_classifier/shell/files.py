"""Judges of programs that read or change files: rm and its relatives at a root, chmod, find's
actions, dd, tee, sed -i, awk, tar and the ordinary writers."""

from __future__ import annotations

import re

from proctor_classifier.shell.context import Context, Hit, flags, options, value_of
from proctor_classifier.shell.paths import dangerous_target
from proctor_classifier.shell.words import Word

_DISK_DEVICE = re.compile(r"^/dev/(sd|hd|vd|xvd|nvme|mmcblk|md|dm-|loop|nbd|mapper/|disk/)")


def _recursive(opts: list[tuple[str, Word | None]]) -> bool:
    return bool(flags(opts) & {"-r", "-R", "--recursive"})


def _maybe_options(operands: list[Word]) -> bool:
    """An operand computed at run time could be an option (`rm $FLAGS /`)."""
    return any(w.dynamic and not w.text.startswith(("/", "~", ".")) for w in operands)


def rm(name: str, args: list[Word], ctx: Context) -> list[Hit]:
    opts, operands = options(args)
    recursive = _recursive(opts) or (name == "rm" and _maybe_options(operands))
    if name == "rm" and recursive:
        for target in operands:
            found = dangerous_target(target, ctx.cwd)
            if found:
                return [("shell.rm_root", f"{ctx.display} deletes {found}")]
    what = "deletes files recursively" if recursive else "deletes files"
    if any(w.dynamic for w in operands):
        what += " named only at run time"
    return [("shell.write", f"{ctx.display} ({what})")]


def chmod(name: str, args: list[Word], ctx: Context) -> list[Hit]:
    opts, operands = options(args, "", {"--reference", "--from"})
    if _recursive(opts) or _maybe_options(operands):
        targets = operands[1:] if value_of(opts, "--reference") is None else operands
        for target in targets:
            found = dangerous_target(target, ctx.cwd)
            if found:
                return [("shell.chmod_root", f"{ctx.display} changes {found}")]
    return [("shell.write", ctx.display)]


def shred(name: str, args: list[Word], ctx: Context) -> list[Hit]:
    return [("shell.disk", ctx.display)]


def dd(name: str, args: list[Word], ctx: Context) -> list[Hit]:
    for w in args:
        if w.text.startswith("of="):
            target = w.text[3:]
            if target in {"/dev/null", "/dev/stdout", "/dev/stderr"} and w.literal:
                continue
            if w.literal and target.startswith("/dev/"):
                return [("shell.disk", ctx.display)]
            return [("shell.write", ctx.display)]
    return [("shell.read", ctx.display)]


def tee(name: str, args: list[Word], ctx: Context) -> list[Hit]:
    _, files = options(args)
    files = [f for f in files if not (f.literal and f.text in {"/dev/null", "/dev/stdout",
                                                                  "/dev/stderr"})]  # fmt: skip
    if any(f.literal and _DISK_DEVICE.match(f.text) for f in files):
        return [("shell.disk", ctx.display)]
    return [("shell.write", ctx.display)] if files else [("shell.read", ctx.display)]


def sed(name: str, args: list[Word], ctx: Context) -> list[Hit]:
    opts, operands = options(args, "efl", {"--expression", "--file", "--line-length"})
    keys = flags(opts)
    if keys & {"-i", "--in-place"} or any(k.startswith("--in-place") for k in keys):
        return [("shell.write", ctx.display)]
    scripts = [v for k, v in opts if k in {"-e", "--expression"} and v is not None]
    if not scripts and not keys & {"-f", "--file"} and operands:
        scripts = [operands[0]]
    if keys & {"-f", "--file"}:
        return [("shell.interpreter", ctx.display)]
    for script in scripts:
        if not script.literal or _SED_RUNS.search(script.text):
            return [("shell.interpreter", ctx.display)]
        if _SED_WRITES.search(script.text):
            return [("shell.write", ctx.display)]
    return [("shell.read", ctx.display)]


# `e` runs a command (as a command, or a flag of s///); `w`/`W` write a file.
_SED_RUNS = re.compile(r"(^|[;{}\n]\s*|\d\s*|\$\s*|/\s*)e(\s|$|;)|s(.).*?\3.*?\3[gpiImM0-9]*e")
_SED_WRITES = re.compile(r"(^|[;{}\n]\s*|\d\s*|\$\s*|/\s*)[wW]\s+\S|s(.).*?\2.*?\2[gpiImMe0-9]*w\s")


def awk(name: str, args: list[Word], ctx: Context) -> list[Hit]:
    opts, operands = options(args, "fvFiE", {"--file", "--assign", "--field-separator",
                                              "--include", "--exec"})  # fmt: skip
    keys = flags(opts)
    if keys & {"-f", "--file", "-E", "--exec", "--include"}:
        return [("shell.interpreter", ctx.display)]
    if any(k in {"-i", "--include"} and v is not None and "inplace" in v.text for k, v in opts):
        return [("shell.write", ctx.display)]
    if not operands:
        return [("shell.read", ctx.display)]
    program = operands[0]
    if not program.literal or _AWK_RUNS.search(program.text):
        from proctor_classifier.shell.wrappers import shell_strings  # it imports this module

        strings = shell_strings(program.text, ctx) if program.literal else []
        return [("shell.interpreter", ctx.display), *strings]
    if _AWK_WRITES.search(program.text):
        return [("shell.write", ctx.display)]
    return [("shell.read", ctx.display)]


_AWK_RUNS = re.compile(r"\bsystem\s*\(|\|\s*getline|\|&|print[f]?\b[^;}]*\|")
_AWK_WRITES = re.compile(r"print[f]?\b[^;}]*>|\bfflush\b.*>")


def find_parts(args: list[Word]) -> tuple[list[Word], list[Word], bool]:
    """find's start paths, its expression, and whether a test narrows what it matches."""
    i = 0
    while i < len(args) and args[i].literal and args[i].text in {"-H", "-L", "-P"}:
        i += 1
    starts: list[Word] = []
    while i < len(args) and not (args[i].literal and args[i].text.startswith(("-", "(", "!"))):
        starts.append(args[i])
        i += 1
    expression = args[i:]
    narrowed = any(w.literal and w.text in _NARROWING for w in expression)
    return starts or [Word(".")], expression, narrowed


def found_paths(starts: list[Word], narrowed: bool) -> list[Word]:
    """What find hands on for `{}`: its start paths themselves, or when a test narrows the
    match, paths below them."""
    if not narrowed:
        return [Word(s.text, dynamic=s.dynamic, glob=s.glob, tilde=s.tilde) for s in starts]
    return [Word(s.text.rstrip("/") + "/{found}", dynamic=s.dynamic) for s in starts]


def find(name: str, args: list[Word], ctx: Context) -> list[Hit]:
    """find: without actions a read; -delete a delete (of everything at a root, unless a test
    narrows it); -exec and -ok run their command once per file found."""
    starts, expression, narrowed = find_parts(args)
    root = next((f for s in starts if (f := dangerous_target(s, ctx.cwd))), None)
    hits: list[Hit] = []
    j = 0
    while j < len(expression):
        w = expression[j]
        t = w.text if w.literal else ""
        if t == "-delete":
            if root and not narrowed:
                hits.append(("shell.rm_root", f"{ctx.display} deletes {root}"))
            else:
                hits.append(("shell.write", f"{ctx.display} (deletes the files it finds)"))
        elif t in {"-exec", "-execdir", "-ok", "-okdir"}:
            end = j + 1
            while end < len(expression) and not (
                expression[end].text in {";", "+"} and expression[end].literal
            ):
                end += 1
            inner = expression[j + 1 : end]
            hits += _each_found(inner, starts, narrowed, bool(root) and not narrowed, ctx)
            j = end
        elif t in {"-fprint", "-fprint0", "-fprintf", "-fls"}:
            hits.append(("shell.write", f"{ctx.display} (writes a file)"))
        j += 1
    return hits or [("shell.read", ctx.display)]


# Tests that narrow what find matches (a bare -type or -maxdepth does not).
_NARROWING = frozenset({
    "-name", "-iname", "-path", "-ipath", "-wholename", "-iwholename", "-regex", "-iregex",
    "-newer", "-mtime", "-mmin", "-atime", "-amin", "-ctime", "-cmin", "-size", "-empty",
    "-user", "-uid", "-group", "-gid", "-perm", "-links", "-inum", "-samefile", "-lname",
    "-ilname", "-nouser", "-nogroup", "-used", "-newermt",
})  # fmt: skip


def _each_found(
    inner: list[Word], starts: list[Word], narrowed: bool, everything: bool, ctx: Context
) -> list[Hit]:
    """find's -exec command, run with `{}` as each file found under `starts`."""
    if not inner:
        return []
    found = found_paths(starts, narrowed)
    words: list[Word] = []
    for w in inner:
        if w.text == "{}":
            words += found
        else:
            words.append(w)
    head = words[0].text.rsplit("/", 1)[-1] if words[0].literal else ""
    if everything and head in {"rm", "shred", "unlink"}:
        return [("shell.rm_root", f"{ctx.display} deletes everything it finds under "
                                  f"{', '.join(s.text for s in starts)}")]  # fmt: skip
    if everything and head in {"chmod", "chown", "chgrp"}:
        return [("shell.chmod_root", f"{ctx.display} changes everything it finds under "
                                     f"{', '.join(s.text for s in starts)}")]  # fmt: skip
    return ctx.run(words, ctx.but(feed=None))


def tar(name: str, args: list[Word], ctx: Context) -> list[Hit]:
    texts = [w.text for w in args]
    first = texts[0] if texts else ""
    cluster = first.lstrip("-") if not first.startswith("--") else ""
    long = {t.partition("=")[0] for t in texts if t.startswith("--")}
    if long & {"--to-command", "--checkpoint-action", "--use-compress-program", "--info-script",
               "--new-volume-script", "--rsh-command"} or "-I" in texts:  # fmt: skip
        return [("shell.interpreter", ctx.display)]
    writes = (
        set("xcruA") & set(cluster)
        or long
        & {"--extract", "--get", "--create", "--append", "--update", "--delete", "--catenate"}
        or any(re.fullmatch(r"-[a-zA-Z]*[xcruA][a-zA-Z]*", t) for t in texts)
    )
    return [("shell.write", ctx.display)] if writes else [("shell.read", ctx.display)]


def compressor(name: str, args: list[Word], ctx: Context) -> list[Hit]:
    """gzip and friends replace the file they are given, unless they write to stdout."""
    opts, operands = options(args)
    if flags(opts) & {"-c", "--stdout", "--to-stdout", "-l", "--list", "-t", "--test"}:
        return [("shell.read", ctx.display)]
    if not operands or name in {"zcat", "bzcat", "xzcat", "zstdcat"}:
        return [("shell.read", ctx.display)]
    return [("shell.write", ctx.display)]


def sort(name: str, args: list[Word], ctx: Context) -> list[Hit]:
    opts, _ = options(args, "otkSTt", {"--output", "--compress-program", "--key",
                                       "--buffer-size", "--temporary-directory",
                                       "--field-separator"})  # fmt: skip
    if flags(opts) & {"--compress-program"}:
        return [("shell.interpreter", ctx.display)]
    if flags(opts) & {"-o", "--output"}:
        return [("shell.write", ctx.display)]
    return [("shell.read", ctx.display)]


def uniq(name: str, args: list[Word], ctx: Context) -> list[Hit]:
    _, operands = options(args, "fsw", {"--skip-fields", "--skip-chars", "--check-chars"})
    return [("shell.write", ctx.display)] if len(operands) > 1 else [("shell.read", ctx.display)]


def mover(name: str, args: list[Word], ctx: Context) -> list[Hit]:
    """cp, mv, install, rsync: moving a root away deletes it there; `rsync --delete` onto a
    root deletes what the source lacks; copying onto a disk device overwrites it."""
    opts, operands = options(args, "tSeT", {"--target-directory", "--suffix", "--rsh",
                                            "--rsync-path", "--exclude", "--include",
                                            "--filter", "--backup-dir"})  # fmt: skip
    keys = flags(opts)
    if name == "rsync" and keys & {"-e", "--rsh", "--rsync-path"}:
        return [("shell.interpreter", f"{ctx.display} (a command given in an option runs)")]
    target = value_of(opts, "-t", "--target-directory")
    sources, dest = (operands, target) if target is not None else (operands[:-1], (
        operands[-1] if operands else None))  # fmt: skip
    if dest is not None and dest.literal and _DISK_DEVICE.match(dest.text):
        return [("shell.disk", ctx.display)]
    if name == "mv":
        for source in sources:
            found = dangerous_target(source, ctx.cwd)
            if found:
                return [("shell.rm_root", f"{ctx.display} moves {found} away")]
    if name == "rsync" and any(k.startswith("--delete") for k in keys) and dest is not None:
        found = dangerous_target(dest, ctx.cwd)
        if found and ":" not in dest.text:
            return [("shell.rm_root", f"{ctx.display} deletes from {found} what the source "
                                      "lacks")]  # fmt: skip
    return [("shell.write", ctx.display)]


def writer(name: str, args: list[Word], ctx: Context) -> list[Hit]:
    """Programs whose purpose is to create, change or remove files."""
    return [("shell.write", ctx.display)]
