"""`proctor policy explain`: the classifier's verdict on one statement, as the gateway would give
it to that identity, with the groups taken from the gateway configuration."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from proctor.errors import ConfigError
from proctor.gateway import load_gateway_config
from proctor.settings import load_settings


def _groups(user: str) -> list[str]:
    settings = load_settings()
    path = settings.gateway_config or settings.run_dir / "gateway.yaml"
    if not Path(path).is_file():
        return []  # no gateway configured: the policy sees no groups
    identity = load_gateway_config(Path(path)).identities.get(user)
    if identity is None:
        raise ConfigError(f"identity {user!r} is not in the gateway configuration {path}")
    return list(identity.groups)


def explain(sql: str, resource: str, user: str, policy: str | None, *, as_json: bool) -> int:
    args = [sys.executable, "-m", "proctor_classifier", "explain", sql,
            "--resource", resource, "--as", user, "--groups", ",".join(_groups(user))]  # fmt: skip
    if policy:
        args += ["--policy", policy]
    if as_json:
        args.append("--json")
    # The classifier is its own deployable; run its explain rather than import it.
    return subprocess.run(args, env=dict(os.environ), check=False).returncode
