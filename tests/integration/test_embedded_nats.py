"""The embedded nats-server the tests and `proctor up` start: a port taken between choosing it
and binding it does not fail a first start."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from proctor.embedded import EmbeddedNats
from proctor.errors import StackError

pytestmark = pytest.mark.integration


def test_a_port_taken_before_the_first_start_is_replaced(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        server = EmbeddedNats(tmp_path / "nats")
        server.port = taken.getsockname()[1]  # as if another process won the race for it
        server.start()
        try:
            assert server.port != taken.getsockname()[1]
            with socket.create_connection(("127.0.0.1", server.port), timeout=5) as conn:
                assert conn.recv(4) == b"INFO"
        finally:
            server.stop()


def test_a_restart_keeps_its_port_or_fails(tmp_path: Path) -> None:
    server = EmbeddedNats(tmp_path / "nats").start()
    port = server.port
    server.stop()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        with pytest.raises(StackError, match="exited"):
            server.start()  # clients know the old port: moving would strand them
    assert server.port == port
