"""The pure parts of the shell path: host resources in the gateway config, how a refusal
becomes an exit status and words on stderr, and binary lines passed as they are."""

from __future__ import annotations

from pathlib import Path

import pytest

from proctor.errors import ConfigError
from proctor.gateway import SshResource, parse_gateway_config
from proctor_ingress.outcomes import Kind, Outcome
from proctor_ingress.shell.runner import REFUSED, UNAVAILABLE, refusal
from proctor_ingress.textmask import LogMasker

HOST = {"kind": "ssh", "host": "web-1.internal", "user": "deploy", "private_key_file": "/k"}


def test_a_host_resource_is_read_with_its_defaults() -> None:
    web_1 = {**HOST, "host_key": "ssh-ed25519 AAAA"}
    config = parse_gateway_config({"resources": {"web-1": web_1}})
    web = config.resources["web-1"]
    assert isinstance(web, SshResource)
    assert (web.port, web.workdir, web.private_key_file) == (22, None, Path("/k"))
    assert web.url == "ssh://deploy@web-1.internal:22"
    assert config.of_kind("ssh") == {"web-1": web}


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({}, "needs known_hosts"),
        ({"host_key": "AAAA"}, "host_key: must be a public key line"),
        ({"host_key": "ssh-ed25519 AAAA", "port": 0}, "port"),
        ({"host_key": "ssh-ed25519 AAAA", "password": "x"}, "password"),
    ],
)
def test_a_host_the_gateway_cannot_verify_is_refused_at_load(
    extra: dict[str, object], expected: str
) -> None:
    with pytest.raises(ConfigError, match=expected):
        parse_gateway_config({"resources": {"web-1": {**HOST, **extra}}})


def test_identities_register_ssh_keys() -> None:
    line = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBx alice@laptop"
    identity = {"token_sha256": "0" * 64, "ssh_keys": [line]}
    config = parse_gateway_config({"identities": {"alice": identity}})
    assert config.identities["alice"].ssh_keys == (line,)
    with pytest.raises(ConfigError, match="ssh_keys must be a list of public key lines"):
        parse_gateway_config({"identities": {"alice": {**identity, "ssh_keys": ["AAAA"]}}})


def test_refusals_become_exit_statuses_with_the_words_on_stderr() -> None:
    blocked = refusal(
        Outcome(Kind.BLOCKED, rule_ids=("shell.rm_root",), reason="rule shell.rm_root: rm -rf /",
                hint="Name exactly what to change.", detail="Policy 1: shell.rm_root -> block")
    )  # fmt: skip
    assert blocked.status == REFUSED and blocked.outcome == "blocked"
    text = blocked.text().decode()
    assert "Proctor blocked this command (rule shell.rm_root" in text
    assert "Nothing was run." in text and "hint: Name exactly what to change." in text
    denied = refusal(Outcome(Kind.DENIED, approval_id="ap1", approver="bob", note="not now"))
    assert denied.status == REFUSED and '"not now"' in denied.text().decode()
    pending = refusal(Outcome(Kind.PENDING, approval_id="ap2", new=True))
    assert pending.status == REFUSED and pending.approval_id == "ap2"
    down = refusal(Outcome(Kind.UNAVAILABLE, reason="no classifier", service="classifier"))
    assert down.status == UNAVAILABLE


async def test_binary_lines_pass_as_they_are_and_are_counted() -> None:
    seen: list[str] = []

    async def mask(pairs: list[tuple[str, str]]) -> list[str]:
        seen.extend(text for _, text in pairs)
        return ["<masked>" if "@" in text else text for _, text in pairs]

    masker = LogMasker(mask, hint="stdout", pass_binary=True)
    out = await masker.feed(b"mail a@example.com\n\x89PNG\xff\xfe\x00\n")
    out += await masker.feed(b"plain \xc3")  # a character cut by the chunk: not binary
    out += await masker.feed(b"\xa9\n")
    out += await masker.finish()
    assert out == b"<masked>\n\x89PNG\xff\xfe\x00\nplain \xc3\xa9\n"
    assert (masker.binary_units, masker.binary_bytes) == (1, 7)
    assert "plain é" in seen and not any("PNG" in t for t in seen)
