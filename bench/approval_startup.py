"""Approval service start-up with a long history: N past approvals (each requested and
granted) on the stream, then the time until a starting replica has folded them and serves.

Two starts: the first (no checkpoint yet: it folds every approval event from sequence 1) and a
second one, from the checkpoint the first saved (it reads only the events after it). In
process, against its own nats-server (embedded, free ports, a temporary directory).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

from proctor import bus
from proctor.embedded import EmbeddedNats
from proctor.events import codec
from proctor.events.v1 import events_pb2 as pb
from proctor.settings import Settings
from proctor.testing import approval_history
from proctor_approval.core import ApproverRules
from proctor_approval.service import ApprovalService


async def publish(settings: Settings, events: list[pb.Event]) -> None:
    nc = await bus.connect(settings, "bench")
    js = nc.jetstream(publish_async_max_pending=4000)
    await bus.ensure_stream(js, settings)
    for start in range(0, len(events), 2000):
        for event in events[start : start + 2000]:
            await js.publish_async(codec.subject_for(event), codec.encode(event),
                                   stream=settings.stream_name)  # fmt: skip
        await js.publish_async_completed()
    await nc.close()


async def start_once(settings: Settings) -> tuple[float, int, int]:
    """Seconds until a new replica is caught up; pending and checkpoint seq at that point."""
    nc = await bus.connect(settings, "bench-approval")
    service = ApprovalService(nc.jetstream(), settings, ApproverRules(identities={}))
    stop = asyncio.Event()
    started = time.perf_counter()
    follower = asyncio.create_task(service.follow(stop))
    await service.caught_up.wait()
    took = time.perf_counter() - started
    # Let it fold to the head and save its checkpoint there, for the next start.
    info = await nc.jetstream().stream_info(settings.stream_name)
    await service.checkpoints.maybe_save(service.state, info.state.last_seq)
    await asyncio.sleep(1.5)
    stop.set()
    await follower
    await nc.close()
    return took, len(service.state.pending), service.checkpoints.saved_seq


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--approvals", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="proctor-approval-") as tmp:
        server = EmbeddedNats(Path(tmp) / "nats").start()
        try:
            settings = Settings(nats_url=server.url, log_level="WARNING")
            made = time.perf_counter()
            asyncio.run(publish(settings, approval_history(args.approvals)))
            print(f"{args.approvals:,} past approvals ({2 * args.approvals:,} events) stored "
                  f"in {time.perf_counter() - made:.1f} s")  # fmt: skip
            cold, pending, _ = asyncio.run(start_once(settings))
            print(f"  first start (from sequence 1):    {cold:6.2f} s, {pending} pending")
            warm, pending, seq = asyncio.run(start_once(settings))
            print(f"  next start (from the checkpoint): {warm:6.2f} s, {pending} pending "
                  f"(checkpoint at seq {seq:,})")  # fmt: skip
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
