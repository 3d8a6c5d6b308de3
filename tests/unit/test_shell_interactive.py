"""The pure parts of an interactive shell: keystrokes cut into the lines recorded, with
memory bounded whatever is pasted, and the command that starts the host's shell."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from proctor.gateway import SshResource, parse_gateway_config
from proctor_ingress.shell.hosts import Host
from proctor_ingress.shell.interactive import TypedLines


def test_lines_end_at_cr_or_lf_whatever_the_chunks() -> None:
    typed = TypedLines()
    assert typed.feed(b"echo hel") == []
    assert typed.feed(b"lo\r") == ["echo hello"]
    assert typed.feed(b"ls\r\n\r\nexit\nwho") == ["ls", "exit"]
    assert typed.finish() == ["who"]
    assert typed.finish() == []


def test_a_long_line_is_recorded_in_pieces() -> None:
    typed = TypedLines(cap=8)
    assert typed.feed(b"x" * 20) == ["x" * 8, "x" * 8]
    assert typed.feed(b"\n") == ["xxxx"]


@given(st.lists(st.binary(max_size=40), max_size=20))
def test_chunking_does_not_change_the_lines(chunks: list[bytes]) -> None:
    whole, pieces = TypedLines(cap=16), TypedLines(cap=16)
    expected = whole.feed(b"".join(chunks)) + whole.finish()
    got = [line for chunk in chunks for line in pieces.feed(chunk)] + pieces.finish()
    assert got == expected
    assert all(len(line.encode()) <= 16 * 3 for line in got)  # bytes replaced at most x3


def host(**extra: str) -> Host:
    web = {
        "kind": "ssh",
        "host": "h",
        "user": "u",
        "private_key_file": "/k",
        "host_key": "ssh-ed25519 AAAA",
    }
    resource = parse_gateway_config({"resources": {"web": {**web, **extra}}}).resources["web"]
    assert isinstance(resource, SshResource)
    return Host(resource)


def test_the_shell_starts_in_the_workdir_when_there_is_one() -> None:
    assert host().shell_command() is None  # the login shell, in the login's home
    moved = host(workdir="/srv/a b").shell_command()
    assert moved == "cd -- '/srv/a b' && exec \"${SHELL:-/bin/sh}\" -l"
