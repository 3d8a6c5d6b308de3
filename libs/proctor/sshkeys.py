"""SSH keys the gateway makes for itself and its demo: Ed25519 pairs in OpenSSH format."""

from __future__ import annotations

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
    """The public line of the key at `path`, made first if there is none."""
    pub = Path(str(path) + ".pub")
    if path.exists() and pub.exists():
        return pub.read_text().strip()
    return make_key(path, comment)


def public_line(path: Path) -> str:
    """`type base64` of the public half of the key at `path` (its comment left out)."""
    return " ".join(Path(str(path) + ".pub").read_text().split()[:2])
