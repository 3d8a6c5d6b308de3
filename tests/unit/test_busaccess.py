"""The NATS users' rights: each service only its own subjects."""

from __future__ import annotations

import json
from pathlib import Path

from proctor import busaccess, subjects

RULES = busaccess.permissions("PROCTOR_EVENTS", "audit")


def _allowed(patterns: tuple[str, ...], subject: str) -> bool:
    def match(pattern: str) -> bool:
        p, s = pattern.split("."), subject.split(".")
        for i, token in enumerate(p):
            if token == ">":
                return len(s) > i
            if i >= len(s) or (token != "*" and token != s[i]):
                return False
        return len(p) == len(s)

    return any(match(p) for p in patterns)


def _may_publish(user: str, subject: str) -> bool:
    rights = RULES[user]
    return _allowed(rights.publish, subject) and not _allowed(rights.publish_deny, subject)


def test_only_the_approval_service_publishes_grants_and_denials() -> None:
    for kind in ("approval_granted", "approval_denied"):
        subject = f"proctor.evt.{kind}.s1"
        assert [u for u in busaccess.USERS if _may_publish(u, subject)] == ["approval", "admin"]


def test_only_the_ingress_publishes_command_events() -> None:
    subject = "proctor.evt.command_received.s1"
    assert [u for u in busaccess.USERS if _may_publish(u, subject)] == ["ingress", "admin"]


def test_only_the_ingress_records_accepted_mcp_tool_definitions() -> None:
    bucket = busaccess.MCP_TOOLS_BUCKET
    for subject in (
        f"$KV.{bucket}.github.Y3JlYXRlX2lzc3Vl",
        f"$JS.API.STREAM.CREATE.KV_{bucket}",
        f"$JS.API.DIRECT.GET.KV_{bucket}.$KV.{bucket}.github.Y3JlYXRlX2lzc3Vl",
    ):
        assert [u for u in busaccess.USERS if _may_publish(u, subject)] == ["ingress", "admin"]
    assert not _may_publish("ingress", f"$JS.API.STREAM.DELETE.KV_{bucket}")
    assert not _may_publish("ingress", f"$KV.{busaccess.STATE_BUCKET}.checkpoint")


def test_only_their_services_serve_classify_and_mask() -> None:
    for subject, server in ((subjects.CLASSIFY, "classifier"), (subjects.MASK, "masker")):
        serving = [u for u in busaccess.USERS if _allowed(RULES[u].subscribe, subject)]
        assert serving == [server, "admin"]


def test_only_the_proxy_asks_and_only_the_approval_service_answers_approval_requests() -> None:
    for subject in (subjects.APPROVAL_REDEEM, subjects.APPROVAL_STATUS):
        serving = [u for u in busaccess.USERS if _allowed(RULES[u].subscribe, subject)]
        assert serving == ["approval", "admin"]
        assert [u for u in busaccess.USERS if _may_publish(u, subject)] == ["ingress", "admin"]


def test_siem_reads_but_cannot_publish_events_or_take_audits_messages() -> None:
    assert not _may_publish("siem", "proctor.evt.approval_granted.s1")
    assert _may_publish("siem", "$JS.API.CONSUMER.CREATE.PROCTOR_EVENTS")
    assert not _may_publish("siem", "$JS.API.CONSUMER.MSG.NEXT.PROCTOR_EVENTS.audit")
    assert not _may_publish("siem", "$JS.ACK.PROCTOR_EVENTS.audit.1.2.3.4.5")
    assert not _may_publish("approval", "$JS.API.CONSUMER.DELETE.PROCTOR_EVENTS.audit")
    assert not _may_publish("siem", "$JS.API.STREAM.DELETE.PROCTOR_EVENTS")


def test_every_user_has_its_own_inbox() -> None:
    for user in busaccess.USERS:
        if user != "admin":
            assert RULES[user].subscribe[-1] == f"_INBOX.{user}.>"


def test_credentials_are_made_once_and_kept_private(tmp_path: Path) -> None:
    path = tmp_path / "secrets" / busaccess.CREDENTIALS_FILE
    first = busaccess.load_or_create_credentials(path)
    assert set(first) == set(busaccess.USERS)
    assert path.stat().st_mode & 0o777 == 0o600
    assert busaccess.load_or_create_credentials(path) == first
    config = busaccess.write_server_config(tmp_path / "nats.conf", first, "PROCTOR_EVENTS")
    users = json.loads(config.read_text())["authorization"]["users"]
    assert {u["user"] for u in users} == set(busaccess.USERS)
    masker = next(u for u in users if u["user"] == "masker")["permissions"]
    assert masker["publish"] == {"deny": [">"]} and masker["allow_responses"] is True
