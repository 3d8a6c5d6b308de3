"""This checkout's masker against another commit's, on the same workloads, in the same run.

    bench/masker_versus.py REV [--rounds N] [--pairs P]

Two worker processes, one importing this checkout's masker and one REV's (extracted with
`git archive` into a temporary directory), each warmed up, take turns: each round times one cold
pass (every cache emptied) of each workload in both, in alternating order. Separate runs of
`masker_throughput.py` differ by ±20% on a shared machine; taking turns makes both see the same
machine. The rounds are shared by several fresh pairs of workers (`--pairs`), since one process
can run the same code up to ~1.5x slower than the next (where its memory lands). Workloads are
`masker_throughput.py`'s, built from this checkout's corpus for both: the orders table and the
hard mix through `mask()` (500 rows a call), and 100-row requests through the NATS handler
(`handle_bytes`); each also as `-again`, the same values a second time (after an untimed cold
pass, so answered from the caches; ten passes timed together). Prints each one's median and
the median of the per-round ratios (this checkout / REV; below 1 is faster).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORKLOADS = ("table", "hard", "adapter", "table-again", "hard-again", "adapter-again")
AGAIN = 10  # passes timed together for an -again workload (one is a few milliseconds)


def worker() -> None:
    """Serve timing requests on stdin: a workload's name in, its cold pass in seconds out."""
    import logging

    sys.path.insert(0, str(ROOT))
    logging.basicConfig(level="ERROR")
    from bench.masker_throughput import hard_batch, request_bytes, table_batch
    from proctor_masker import wire
    from proctor_masker.core import default_detector, mask
    from proctor_masker.model import MaskRequestBatch, MaskSettings
    from proctor_masker.service import handle_bytes

    detector = default_detector()
    detector.warm_up()
    settings = MaskSettings()
    table, hard = table_batch(2000), hard_batch(2000, 0.05)
    bodies = [
        request_bytes(MaskRequestBatch(table.columns, table.rows[i : i + 100]))
        for i in range(0, len(table.rows), 100)
    ]

    def run_mask(batch: MaskRequestBatch) -> None:
        for i in range(0, len(batch.rows), 500):
            mask(MaskRequestBatch(batch.columns, batch.rows[i : i + 500]), settings, detector)

    def run_adapter() -> None:
        for body in bodies:
            handle_bytes(body, settings)

    work = {"table": lambda: run_mask(table), "hard": lambda: run_mask(hard),
            "adapter": run_adapter}  # fmt: skip
    for run in work.values():  # first use loads what recognizers load lazily
        detector.forget()
        wire.forget()
        run()
    print("ready", flush=True)
    for line in sys.stdin:
        name, _, again = line.strip().partition("-")
        detector.forget()
        wire.forget()
        if again:  # the same values again: after an untimed cold pass, ten passes timed
            work[name]()
        start = time.perf_counter()
        for _ in range(AGAIN if again else 1):
            work[name]()
        print(time.perf_counter() - start, flush=True)


def extract(rev: str, into: Path) -> Path:
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", rev], check=True, capture_output=True
    ).stdout
    with tempfile.TemporaryFile() as f:
        f.write(archive)
        f.seek(0)
        with tarfile.open(fileobj=f) as tar:
            tar.extractall(into, filter="data")
    return into


def start(pythonpath: str | None) -> subprocess.Popen[str]:
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = pythonpath
    proc = subprocess.Popen(
        [sys.executable, __file__, "--worker"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL, text=True, env=env,
    )  # fmt: skip
    assert proc.stdout is not None
    if proc.stdout.readline().strip() != "ready":
        raise SystemExit("a worker did not start (is REV's masker importable?)")
    return proc


def time_once(proc: subprocess.Popen[str], workload: str) -> float:
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(workload + "\n")
    proc.stdin.flush()
    return float(proc.stdout.readline())


def main() -> int:
    if sys.argv[1:] == ["--worker"]:
        worker()
        return 0
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("rev", help="the commit to compare with")
    ap.add_argument("--rounds", type=int, default=12)
    ap.add_argument("--pairs", type=int, default=4, help="fresh pairs of workers the rounds share")
    args = ap.parse_args()
    names = ("this", args.rev)
    times: dict[tuple[str, str], list[float]] = {(w, k): [] for w in names for k in WORKLOADS}
    with tempfile.TemporaryDirectory() as tmp:
        other = extract(args.rev, Path(tmp))
        for pair in range(args.pairs):
            # Fresh processes per pair: one process's speed differs from the next one's by up
            # to ~1.5x on the same code (where its memory lands), so no pair decides alone.
            workers = {
                "this": start(None),
                args.rev: start(f"{other / 'libs'}{os.pathsep}{other / 'services' / 'masker'}"),
            }
            for i in range(pair, args.rounds, args.pairs):
                order = list(workers) if i % 2 == 0 else list(reversed(workers))
                for workload in WORKLOADS:
                    for name in order:
                        times[name, workload].append(time_once(workers[name], workload))
            for proc in workers.values():
                assert proc.stdin is not None
                proc.stdin.close()
                proc.wait()
    print(f"{args.rounds} rounds taking turns in {args.pairs} pairs of workers; medians "
          "(-again: the same values a second time)")  # fmt: skip
    for workload in WORKLOADS:
        this, that = times["this", workload], times[args.rev, workload]
        ratio = statistics.median(a / b for a, b in zip(this, that, strict=True))
        print(f"  {workload:<14} this {statistics.median(this) * 1e3:7.1f} ms   "
              f"{args.rev} {statistics.median(that) * 1e3:7.1f} ms   "
              f"this/{args.rev} {ratio:.3f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
