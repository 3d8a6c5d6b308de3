"""Which paths are roots: the file system's root, its top-level directories and home
directories, where a recursive delete or chmod destroys the host.

Paths are resolved lexically against the working directory the analyzer tracks (`cd /` makes
`*` mean `/*`); the login directory is a home (`~`), as an SSH session starts there.
"""

from __future__ import annotations

import posixpath
import re

from proctor_classifier.shell.words import Word, expand_braces

HOME = "~"
#: Where a command may run: every directory it could be in (None: one not known). `cd DIR;`
#: leaves both the old and the new one, since the next command runs even when cd fails.
Cwd = tuple[str | None, ...]
LOGIN: Cwd = (HOME,)
UNKNOWN: Cwd = (None,)
_MAX_PLACES = 4
#: Top-level directories whose loss breaks the host.
TOP_LEVEL = frozenset({
    "bin", "boot", "dev", "etc", "home", "lib", "lib32", "lib64", "libx32", "media", "mnt",
    "opt", "proc", "root", "run", "sbin", "srv", "sys", "usr", "var", "snap",
})  # fmt: skip
#: Directories one level further down that hold the system.
SECOND_LEVEL = frozenset({
    "/usr/bin", "/usr/sbin", "/usr/lib", "/usr/lib64", "/usr/local", "/usr/share",
    "/usr/include", "/var/lib", "/var/log", "/var/spool", "/var/www", "/etc/ssh",
    "/etc/systemd", "/etc/ssl",
})  # fmt: skip
# Where a home directory stands while a path is normalised (`~/..` is /home).
_HOME_DIR = "/home/\x00home"
_HOME_VARS = re.compile(r"^(\$HOME|\$\{HOME\}|~[A-Za-z0-9_.-]*)(?=/|$)")
# An expansion that bash refuses to leave empty (${X:?}) cannot make a path a root.
_GUARDED = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*:?\?[^}]*\}")
_VAR_PREFIX = re.compile(r"^(\$[A-Za-z_][A-Za-z0-9_]*|\$\{[^}]*\}|\$\([^)]*\)|`[^`]*`)")


def resolve(path: str, cwd: str | None) -> str | None:
    """`path` made absolute against `cwd` (None: unknown) and normalised lexically; a home
    directory stays `~` (or `~/...` below it); None when it cannot be known."""
    home = _HOME_VARS.match(path)
    if home:
        path = HOME + path[home.end() :]
    if not path.startswith(("/", HOME)):
        if cwd is None:
            return None
        path = f"{cwd}/{path}"
    if path.startswith(HOME):
        path = _HOME_DIR + path[len(HOME) :]
    normal = _normal(path)
    if normal == _HOME_DIR or normal.startswith(_HOME_DIR + "/"):
        return HOME + normal[len(_HOME_DIR) :]
    return normal


def union(*places: Cwd) -> Cwd:
    """Every directory any of `places` holds, in order, at most _MAX_PLACES (else unknown)."""
    out: list[str | None] = []
    for cwd in places:
        out += [c for c in cwd if c not in out]
    return tuple(out) if len(out) <= _MAX_PLACES else (*out[: _MAX_PLACES - 1], None)


def moved(cwd: Cwd, target: Word) -> Cwd:
    """Where `cd TARGET` leads from each of `cwd`."""
    if not target.literal or target.text == "-":
        return UNKNOWN
    return tuple(dict.fromkeys(resolve(target.text, c) for c in cwd))


def _normal(path: str) -> str:
    normal = posixpath.normpath(path)
    return "/" + normal.lstrip("/") if normal.startswith("/") else normal


def root_named(path: str) -> str | None:
    """What a root is (`/`, `/etc`, `~`, `/home/alice`), if a resolved path is one."""
    if path in {"/", HOME}:
        return path
    if path in SECOND_LEVEL:
        return path
    parts = [p for p in path.split("/") if p]
    if len(parts) == 1 and parts[0] in TOP_LEVEL:
        return path
    if len(parts) == 2 and parts[0] == "home":
        return path  # someone's home directory
    return None


def _glob_only(component: str) -> bool:
    """A last path component that matches everything in its directory (`*`, `.*`, `*.*`)."""
    return bool(component) and set(component) <= set("*.?") and "*" in component


def dangerous_target(target: Word, places: Cwd) -> str | None:
    """Why deleting `target` recursively, run in any of `places`, would destroy the host (the
    root it reaches), or None. A target whose expansion could be empty in front of `/`
    (`$DIR/*`) counts as the root it would then be."""
    for i, cwd in enumerate(places):
        found = _target(target, cwd)
        if found:
            return found if i == 0 else f"{found} if a cd before it fails"
    return None


def _target(target: Word, cwd: str | None) -> str | None:
    text = target.text
    if target.dynamic and not _HOME_VARS.match(text):
        if _GUARDED.match(text):
            return None
        bare = _VAR_PREFIX.match(text)
        if not bare or not text[bare.end() :].startswith("/"):
            return None
        emptied = text[bare.end() :]
        found = _target(Word(emptied, glob=target.glob), cwd)
        return f"{found} if {bare.group(0)} is empty" if found else None
    for one in expand_braces(text) if target.brace else [text]:
        found = _dangerous(one, cwd)
        if found:
            return found
    return None


def _dangerous(text: str, cwd: str | None) -> str | None:
    if not text:
        return None
    stripped = text.rstrip("/") or "/"
    head, _, last = stripped.rpartition("/")
    if _glob_only(last):
        parent = resolve(head or ("/" if text.startswith("/") else "."), cwd)
        named = root_named(parent) if parent is not None else None
        if named:
            return f"everything in {named}"
    full = resolve(text, cwd)
    if full is None:
        return None
    named = root_named(full)
    return f"everything under {named}" if named else None
