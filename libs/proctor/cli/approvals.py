"""`proctor approvals`: list, show and decide pending approvals through the approval service's
HTTP API (its address is the `approval_http_listen` setting).

The token is `--token`, else `PROCTOR_APPROVER_TOKEN`, else (for a local demo stack) the one
`proctor up` wrote for that user in `<run_dir>/demo-credentials.json`.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import quote

from proctor.errors import ConfigError, ProctorError
from proctor.settings import load_settings

TOKEN_ENV = "PROCTOR_APPROVER_TOKEN"
DEMO_CREDENTIALS = "demo-credentials.json"


def _demo_token(run_dir: Path, user: str | None) -> str | None:
    if not user:
        return None
    try:
        creds = json.loads((run_dir / DEMO_CREDENTIALS).read_text())
    except (OSError, ValueError):
        return None
    entry = creds.get(user) if isinstance(creds, dict) else None
    if isinstance(entry, dict):
        entry = entry.get("token")
    return entry if isinstance(entry, str) and entry else None


def resolve_token(token: str | None, user: str | None, run_dir: Path) -> str:
    found = token or os.environ.get(TOKEN_ENV) or _demo_token(run_dir, user)
    if not found:
        raise ConfigError(f"no approver token: pass --token or set {TOKEN_ENV}")
    return found


class ApprovalClient:
    """A small client of the approval service's HTTP API."""

    def __init__(self, base_url: str, token: str, user: str | None, timeout: float = 10.0):
        self.base_url = base_url.rstrip("/")
        self.headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        if user:
            self.headers["X-Proctor-Identity"] = user
        self.timeout = timeout

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        data = json.dumps(body).encode() if body is not None else None
        headers = dict(self.headers)
        if data is not None:
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(
            self.base_url + path, data=data, headers=headers, method=method
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                result: dict[str, Any] = json.loads(response.read() or b"{}")
                return result
        except urllib.error.HTTPError as exc:
            try:
                message = json.loads(exc.read()).get("error") or exc.reason
            except ValueError:
                message = exc.reason
            raise ProctorError(f"{message} (HTTP {exc.code})") from exc
        except (urllib.error.URLError, OSError) as exc:
            raise ProctorError(
                f"the approval service does not answer at {self.base_url}: {exc}"
            ) from exc


def _client(user: str | None, token: str | None) -> ApprovalClient:
    settings = load_settings()
    return ApprovalClient(
        f"http://{settings.approval_http_listen}",
        resolve_token(token, user, settings.run_dir),
        user,
    )


def _print_pending(item: dict[str, Any]) -> None:
    rules = ", ".join(item.get("rule_ids", []))
    print(
        f"{item['approval_id']}  {item['requester']} on {item['resource']}  [{rules}]  "
        f"expires {item.get('expires_at') or 'never'}"
    )
    print(f"    {item['command']}")
    for i, value in enumerate(item.get("parameters") or [], 1):
        print(f"    ${i} = {value}")
    if item.get("estimated_rows") is not None:
        print(f"    estimated rows: {item['estimated_rows']:,} (the planner's estimate)")


def run(
    action: str,
    approval_id: str | None,
    note: str | None,
    user: str | None,
    token: str | None,
    as_json: bool = False,
) -> int:
    client = _client(user, token)
    aid = quote(approval_id or "", safe="")
    if action == "list":
        result = client.call("GET", "/approvals")
        if as_json:
            print(json.dumps(result, indent=2))
        elif not result["pending"]:
            print("no approvals pending")
        for item in [] if as_json else result["pending"]:
            _print_pending(item)
        return 0
    if action == "show":
        result = client.call("GET", f"/approvals/{aid}")
    elif action == "approve":
        result = client.call("POST", f"/approvals/{aid}/approve", {"note": note or ""})
    elif action == "deny":
        if not note or not note.strip():
            print("proctor: a denial needs --note: the agent is told why", file=sys.stderr)
            return 2
        result = client.call("POST", f"/approvals/{aid}/deny", {"note": note})
    else:
        raise ConfigError(f"unknown approvals action {action!r}")
    if as_json or action == "show":
        print(json.dumps(result, indent=2))
    elif result.get("status") == "pending":
        got, need = len(result.get("approvals", [])), result.get("approvals_required")
        print(f"approval {approval_id}: your approval is recorded ({got} of {need})")
    else:
        print(f"approval {approval_id} {result['status']}")
    return 0
