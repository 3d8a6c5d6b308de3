"""Throughput of `kubectl logs` masking: `LogMasker` over the real masker (its own process,
over a real nats-server, as in production) against the same log passed through unmasked.

The log is an application's, as `kubectl logs --timestamps` shows it: each line starts with
the kubelet's RFC 3339 timestamp; most lines are requests (an order id, a duration), some
health checks, some warnings, and a share (`--sensitive`) names a customer's email and card.
Ids and emails differ line by line, so the masker's cache does not help. The bytes are fed in
chunks of `--chunk` bytes, as the API server streams them.

- direct: the chunks passed on as they are (what the proxy does with masking off), written
  to a loopback connection whose other end reads and drops them (kubectl);
- framing: LogMasker with a mask function that returns its input (the cost of cutting lines);
- masked: LogMasker with `masker_over_nats` (prefilter, requests, the masker's work).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from pathlib import Path

import nats

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from proctor.embedded import EmbeddedNats
from proctor.maskrules import Prefilter
from proctor.settings import Settings
from proctor.testing import ServiceRunner
from proctor_ingress.kube.maskcall import masker_over_nats
from proctor_ingress.kube.streams import LogMasker
from proctor_ingress.masking import MaskStats


def log_lines(n: int, sensitive: float, timestamps: bool, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    lines = []
    for i in range(n):
        ts = f"2026-12-01T10:{i // 6000 % 60:02d}:{i // 100 % 60:02d}.{i % 100000:06d}Z "
        roll = rng.random()
        if roll < sensitive:
            line = (
                f"INFO checkout: order {100000 + i} paid by customer{i}@example.com with card "
                f"4111 1111 1111 {rng.randrange(10000):04d}"
            )
        elif roll < sensitive + 0.1:
            line = "INFO http: GET /healthz 200"
        elif roll < sensitive + 0.2:
            line = f"WARN payments: gateway slow, retrying in {rng.randrange(1, 9)}s"
        else:
            line = (
                f"INFO http: GET /api/orders/{rng.randrange(10**6)} 200 {rng.randrange(1, 400)}ms"
            )
        lines.append((ts if timestamps else "") + line)
    return lines


def chunks_of(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


class Client:
    """kubectl's side of the proxy: a loopback connection that reads and drops what it gets,
    so each run pays for the writes the proxy makes."""

    async def open(self) -> None:
        async def drain(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while await reader.read(1 << 16):
                pass
            writer.close()

        self.server = await asyncio.start_server(drain, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        _, self.writer = await asyncio.open_connection("127.0.0.1", port)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def close(self) -> None:
        self.writer.close()
        self.server.close()


async def direct(client: Client, chunks: list[bytes]) -> float:
    start = time.perf_counter()
    for chunk in chunks:
        await client.send(chunk)
    return time.perf_counter() - start


async def through(client: Client, masker: LogMasker, chunks: list[bytes]) -> tuple[float, bytes]:
    start = time.perf_counter()
    out = []
    for chunk in chunks:
        masked = await masker.feed(chunk)
        await client.send(masked)
        out.append(masked)
    out.append(await masker.finish())
    await client.send(out[-1])
    return time.perf_counter() - start, b"".join(out)


async def identity(pairs: list[tuple[str, str]]) -> list[str]:
    return [text for _, text in pairs]


async def run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="proctor-bench-") as tmp:
        workdir = Path(tmp)
        server = EmbeddedNats(workdir / "nats").start()
        settings = Settings(nats_url=server.url, run_dir=workdir / "run")
        maskers = [
            ServiceRunner("proctor_masker", settings, workdir / f"masker-{i}.log").start()
            for i in range(args.maskers)
        ]
        nc = await nats.connect(server.url)
        client = Client()
        await client.open()
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    await nc.request("proctor.rpc.mask", b"", timeout=1)
                    break
                except Exception:
                    if time.monotonic() > deadline:
                        raise
                    await asyncio.sleep(0.2)
            for timestamps in (True, False):
                lines = log_lines(args.lines, args.sensitive, timestamps, seed=11 + timestamps)
                data = ("\n".join(lines) + "\n").encode()
                chunks = chunks_of(data, args.chunk)
                n = len(lines)
                # Warm up the masker's recognizers (other lines than the measured ones).
                warm = LogMasker(masker_over_nats(nc, 30.0, Prefilter(), MaskStats()))
                await warm.feed(("\n".join(log_lines(2000, 0.5, True, seed=1)) + "\n").encode())
                t_direct = min([await direct(client, chunks) for _ in range(3)])
                t_framing, _ = await through(client, LogMasker(identity), chunks)
                stats = MaskStats()
                mask = masker_over_nats(nc, 30.0, Prefilter(), stats)
                t_masked, out = await through(client, LogMasker(mask), chunks)
                assert b"@example.com" not in out
                label = "with kubelet timestamps" if timestamps else "without timestamps"
                print(
                    f"{n} lines ({len(data) / 1e6:.1f} MB), {args.sensitive:.0%} sensitive, "
                    f"{label}, {args.chunk // 1024} KiB chunks, {args.maskers} masker(s):"
                )
                print(f"  direct   {n / t_direct:>12,.0f} lines/s")
                print(f"  framing  {n / t_framing:>12,.0f} lines/s  ({t_direct / t_framing:.3f}x)")
                print(
                    f"  masked   {n / t_masked:>12,.0f} lines/s  ({t_direct / t_masked:.4f}x "
                    f"direct); {stats.rows / n:.0%} of lines sent to the masker, "
                    f"{stats.values_masked} masked"
                )
        finally:
            await client.close()
            await nc.close()
            for m in maskers:
                m.stop()
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=50_000)
    parser.add_argument("--sensitive", type=float, default=0.05)
    parser.add_argument("--chunk", type=int, default=32 * 1024)
    parser.add_argument("--maskers", type=int, default=1)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
