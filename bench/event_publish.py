"""The ingress-proxy's event publishing, in process: CPU per statement's three events.

Starts its own nats-server (embedded, free ports, a temporary directory) with the event stream,
then runs rounds of what the proxy does per allowed statement: record CommandReceived,
CommandClassified and CommandExecuted in the outbox, which its drainer publishes to JetStream.
Reports the client's CPU per round (time.process_time) and the nats-server's (from /proc).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

from proctor import bus
from proctor.embedded import EmbeddedNats
from proctor.events import codec
from proctor.events.v1 import events_pb2 as pb
from proctor.settings import Settings
from proctor_ingress.emitter import SessionEvents
from proctor_ingress.outbox import Outbox

TEXT = "SELECT abalance FROM pgbench_accounts WHERE aid = 48213;"


def server_cpu(pid: int) -> float:
    """Seconds of CPU (user + system) a process has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def run(url: str, pid: int, rounds: int, work: Path) -> tuple[float, float]:
    settings = Settings(nats_url=url)
    nc = await bus.connect(settings, "bench")
    js = nc.jetstream()
    await bus.ensure_stream(js, settings)
    outbox = Outbox(work / "outbox", nc, settings.stream_name)
    await outbox.start()
    events = SessionEvents(
        nc,
        js,
        settings.stream_name,
        codec.new_hex_id(),
        pb.Identity(human="alice", agent="bench", groups=["analysts", "readers"]),
        pb.Resource(name="target", kind=pb.RESOURCE_KIND_POSTGRES),
    )
    await events.emit(session_opened=pb.SessionOpened(protocol="postgres"))
    before = await js.stream_info(settings.stream_name)

    async def one(command_id: str) -> None:
        events.later(command_id, acknowledged=False, command_received=pb.CommandReceived(text=TEXT))
        events.later(
            command_id,
            acknowledged=False,
            command_classified=pb.CommandClassified(
                action=pb.ACTION_ALLOW, rule_ids=["read-only"], policy_version="v1", cached=True
            ),
        )
        events.later(command_id, command_executed=pb.CommandExecuted(row_count=1, duration_us=85))
        for _ in range(3):  # the loop turns between statements; the drainer sends meanwhile
            await asyncio.sleep(0)

    for _ in range(min(rounds // 10, 1000)):  # warm up
        await one(codec.new_hex_id())
    ids = [codec.new_hex_id() for _ in range(rounds)]
    server0, client0 = server_cpu(pid), time.process_time()
    for command_id in ids:
        await one(command_id)
    await events.emit_stored(session_closed=pb.SessionClosed())
    client, server = time.process_time() - client0, server_cpu(pid) - server0
    after = await js.stream_info(settings.stream_name)
    stored = after.state.last_seq - before.state.last_seq
    if events.failures:
        sys.exit(f"{events.failures} events could not be written to the outbox")
    print(f"stored {stored} events after warm-up (expected at least {3 * rounds + 1})")
    await outbox.close()
    await nc.close()
    return client / rounds * 1e6, server / rounds * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedNats(Path(tmp) / "nats").start()
        try:
            assert server.pid is not None
            client, nats = asyncio.run(run(server.url, server.pid, args.rounds, Path(tmp)))
        finally:
            server.stop()
    print(f"{args.rounds} rounds: client {client:.1f} us CPU/round, nats-server {nats:.1f} us")


if __name__ == "__main__":
    main()
