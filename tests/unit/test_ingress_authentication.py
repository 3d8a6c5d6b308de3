"""Where the proxy accepts a token in cleartext: only from loopback (or over TLS)."""

from __future__ import annotations

import pytest

from proctor_ingress.postgres.authentication import is_loopback


@pytest.mark.parametrize(
    ("peer", "loopback"),
    [
        ("127.0.0.1:5000", True),
        ("127.8.9.10:1", True),
        ("::1:5000", True),
        ("[::1]:5000", True),
        ("192.0.2.7:5000", False),
        ("10.0.0.1:5432", False),
        ("?:?", False),
    ],
)
def test_loopback_peers(peer: str, loopback: bool) -> None:
    assert is_loopback(peer) is loopback
