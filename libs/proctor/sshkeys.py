"""SSH keys the gateway makes for itself and its demo: Ed25519 pairs in OpenSSH format."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import asyncssh


def make_key(path: Path, comment: str = "") -> str:
    """A new Ed25519 key pair at `path` (private, 0600, written whole or not at all) and
    `path.pub`; its public line."""
    key = asyncssh.generate_private_key("ssh-ed25519", comment=comment or path.name)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    key.write_private_key(str(tmp))
    tmp.chmod(0o600)
    key.write_public_key(str(path) + ".pub")
    tmp.replace(path)
    return Path(str(path) + ".pub").read_text().strip()


def ensure_key(path: Path, comment: str = "") -> str:
    """The public line of the key at `path`, made first if there is none. Processes that
    start together (ingress workers) end up with one key: the first to link its key in
    place wins, the others read that one."""
    if not path.exists():
        key = asyncssh.generate_private_key("ssh-ed25519", comment=comment or path.name)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        key.write_private_key(str(tmp))
        tmp.chmod(0o600)
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            with contextlib.suppress(OSError):
                tmp.unlink()
    key = asyncssh.read_private_key(str(path))
    pub = Path(str(path) + ".pub")
    line = key.export_public_key().decode().strip()
    if not pub.exists() or pub.read_text().split()[:2] != line.split()[:2]:
        pub.write_text(line + "\n")
    return pub.read_text().strip()


def public_line(path: Path) -> str:
    """`type base64` of the public half of the key at `path` (its comment left out)."""
    return " ".join(Path(str(path) + ".pub").read_text().split()[:2])
