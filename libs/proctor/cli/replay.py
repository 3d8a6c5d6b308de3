"""`proctor replay` and `proctor audit verify`: read the audit store and print for humans."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import Any

from proctor import auditstore
from proctor.errors import ChainBroken, ConfigError
from proctor.events import codec
from proctor.events.describe import describe
from proctor.settings import load_settings


def _database_url() -> str:
    url = load_settings().database_url
    if not url:
        raise ConfigError(
            "no audit store: set PROCTOR_DATABASE_URL, or run this where `proctor up` runs"
        )
    return url


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes | memoryview):
        return bytes(value).hex()
    raise TypeError(f"cannot serialise {type(value).__name__}")


def render(replay: dict[str, Any]) -> str:
    """The timeline of one session as terminal text."""
    lines: list[str] = []
    s = replay["session"]
    if s:
        closed = f", closed {s['closed_at']:%Y-%m-%d %H:%M:%S} ({s['close_reason']})" if s[
            "closed_at"] else ", still open"  # fmt: skip
        opened = f"{s['opened_at']:%Y-%m-%d %H:%M:%S}" if s["opened_at"] else "?"
        lines.append(f"session {s['session_id']}")
        lines.append(f"  who:      {s['human']} via {s['agent']}"
                     + (f" (groups: {', '.join(s['groups'])})" if s["groups"] else ""))  # fmt: skip
        lines.append(f"  resource: {s['resource']} ({s['resource_kind']})")
        lines.append(f"  when:     opened {opened}{closed}; {s['command_count']} commands")
        lines.append("")
    commands = {c["command_id"]: i + 1 for i, c in enumerate(replay["commands"])}
    for e in replay["events"]:
        if e["type"] == "undecodable":
            lines.append(f"  #{e['seq']:<6} (undecodable message: {e['error']})")
            continue
        event = codec.decode(bytes(e["payload"]))
        at = event.occurred_at.ToDatetime()
        label = f"cmd {commands[event.command_id]}" if event.command_id in commands else "session"
        lines.append(f"  #{e['seq']:<6} {at:%H:%M:%S.%f}"[:-3] + f"  {label:<7} {describe(event)}")
    if replay["commands"]:
        lines.append("")
        lines.append("commands:")
        for i, c in enumerate(replay["commands"], 1):
            verdict = c["action"] or "unclassified"
            rules = f" ({', '.join(c['rule_ids'])})" if c["rule_ids"] else ""
            rows = f", {c['row_count']} rows" if c["row_count"] is not None else ""
            masked = f", {c['values_masked']} values masked" if c["values_masked"] else ""
            note = f', note: "{c["note"]}"' if c["note"] else ""
            lines.append(f"  {i}. [{c['status']}] {verdict}{rules}{rows}{masked}{note}")
            lines.append(f"     {c['text']}")
    return "\n".join(lines)


async def replay(session_id: str, *, as_json: bool) -> int:
    conn = await auditstore.connect(_database_url())
    try:
        data = await auditstore.session_replay(conn, session_id)
    finally:
        await conn.close()
    if data is None:
        print(f"proctor: no session {session_id!r} in the audit store", file=sys.stderr)
        return 1
    if as_json:
        for e in data["events"]:
            e.pop("payload")
        print(json.dumps(data, default=_json_default, indent=2))
    else:
        print(render(data))
    return 0


async def verify() -> int:
    conn = await auditstore.connect(_database_url())
    try:
        walk = await auditstore.verify_chain(conn)
        records = await conn.fetch(
            "SELECT type, count(*) AS n FROM audit.events "
            "WHERE type IN ('undecodable', 'dead_letter') GROUP BY type"
        )
        counts: dict[str, int] = {r["type"]: int(r["n"]) for r in records}
    except ChainBroken as exc:
        print(f"audit chain BROKEN at seq {exc.seq}: {exc.problem}")
        return 1
    finally:
        await conn.close()
    if walk.checked == 0:
        print("audit chain empty: no events stored yet")
    else:
        print(
            f"audit chain OK: {walk.checked} events, seq {walk.first_seq or '?'}..{walk.last_seq}"
            f", head {walk.last_hash.hex()[:16]}; {counts.get('undecodable', 0)} undecodable"
            f"; {_dead_letters(counts.get('dead_letter', 0))}"
        )
    return 0


def _dead_letters(count: int) -> str:
    if not count:
        return "0 dead letters"
    return (
        f"{count} dead letter{'s' if count != 1 else ''} (events that failed to store, kept raw: "
        "SELECT seq, subject, error FROM audit.events WHERE type = 'dead_letter')"
    )
