"""A service told to stop while its broker is still connecting to a NATS that is not there
stops within a few seconds, whenever the stop comes (proctor.rpc.start_broker). Each case runs
as its own process, as a service does."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from proctor.rpc import STOP_TIMEOUT

_SERVICE = """
import asyncio, sys
from proctor.rpc import make_broker, start_broker
from proctor.settings import load_settings

async def main() -> None:
    settings = load_settings()
    broker = make_broker(settings, "proctor-test")
    stop = asyncio.Event()
    asyncio.get_running_loop().call_later(float(sys.argv[1]), stop.set)
    print(await start_broker(broker, stop, settings.nats_url), flush=True)

asyncio.run(main())
"""


def _dead_url() -> str:
    with socket.socket() as s:  # a free port nothing listens on
        s.bind(("127.0.0.1", 0))
        return f"nats://127.0.0.1:{s.getsockname()[1]}"


@pytest.mark.parametrize("after", [0.0, 0.001, 0.3, 1.5])
def test_a_stop_while_connecting_returns(after: float) -> None:
    env = os.environ | {"PROCTOR_NATS_URL": _dead_url()}
    done = subprocess.run(
        [sys.executable, "-c", _SERVICE, str(after)], env=env, capture_output=True, text=True,
        timeout=after + 2 * STOP_TIMEOUT + 15,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
