"""Word lists built once per machine and kept in the user's cache directory.

The masker's name, common-word and place-word lists are built from Faker's providers and
pyspellchecker's frequency lists at start; building them costs ~1.5 s and ~170 MB of transient
memory. The result is written to `$XDG_CACHE_HOME/proctor/words/` (platformdirs' user cache
directory) under a key that covers the building module's source and the libraries' versions,
so any change rebuilds it, and the files of earlier keys are removed then. Where the directory
cannot be written (a read-only root filesystem) the lists are built at every start instead; a
file that does not read back whole is ignored and rebuilt.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
from collections.abc import Callable, Iterable
from pathlib import Path

import platformdirs

_HEADER = "proctor-words "


def directory() -> Path:
    return Path(platformdirs.user_cache_dir("proctor")) / "words"


def key(name: str, source: Path, packages: Iterable[str]) -> str:
    """A file name for `name` that changes when `source` or a package's version does."""
    digest = hashlib.sha256(source.read_bytes())
    for package in packages:
        digest.update(f"\0{package}={importlib.metadata.version(package)}".encode())
    return f"{name}-{digest.hexdigest()[:16]}.txt"


def remembered(file_name: str, build: Callable[[], Iterable[str]]) -> frozenset[str]:
    """The words in the cache file `file_name`, or `build()` written there first."""
    path = directory() / file_name
    try:
        header, _, body = path.read_text(encoding="utf-8").partition("\n")
        words = body.split("\n") if body else []
        if header == f"{_HEADER}{len(words)}":
            return frozenset(words)
    except (OSError, UnicodeDecodeError):
        pass
    built = sorted(set(build()))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
        partial.write_text(f"{_HEADER}{len(built)}\n" + "\n".join(built), encoding="utf-8")
        partial.replace(path)
        _forget_others(path)
    except OSError:
        pass
    return frozenset(built)


def _forget_others(path: Path) -> None:
    """Remove the files of the same list under other keys (built by an earlier release)."""
    name, dash, _ = path.name.rpartition("-")
    if not dash:
        return
    for other in path.parent.glob(f"{name}-*.txt"):
        if other != path and other.name.rpartition("-")[0] == name:
            other.unlink(missing_ok=True)
