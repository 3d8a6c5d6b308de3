"""Masker throughput in one process: `mask()` against a plain loop of presidio's
`AnalyzerEngine.analyze` over the same values, in the same run.

Two workloads from the labelled corpus generator (tests/unit/masker_corpus.py):
- table: a customer-orders table (`realistic_table`): id, timestamp, status, amount, name, and
  PII in every row, each row its own customer (a distinct email in every row, a phone number in
  four of five, a card number in every other, a note sensitive 5% of the time).
- hard: one text column, 95% hard negatives (hashes, dates, order numbers, sentences), 5%
  sensitive values; most values contain digits, so the prefilter lets most through.

`mask()` is timed cold (the masker has seen none of the values: its per-value cache emptied
before the run) and on a repeated read (the same values again, answered from that cache).
Values/s counts every value of the batch, including those that pass untouched; the presidio
loop is given only the text values, and is charged for the same total.

Last, the masker's NATS handler without NATS (`handle_bytes`: request bytes in, reply bytes
out) on 100-row requests of the orders table, cold and with values seen before.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
from presidio_analyzer.nlp_engine import NlpEngineProvider

from proctor.masker.v1 import masker_pb2 as mpb
from proctor_masker import wire
from proctor_masker.core import default_detector, mask
from proctor_masker.model import Column, ColumnKind, MaskRequestBatch, MaskSettings, kind_for_type
from proctor_masker.recognizers import Detector
from proctor_masker.service import handle_bytes
from tests.unit.masker_corpus import TABLE_COLUMNS, realistic_mix, realistic_table


def presidio_default() -> AnalyzerEngine:
    """presidio as documented, on the no_op NLP engine: every predefined recognizer."""
    nlp = NlpEngineProvider(
        nlp_configuration={
            "nlp_engine_name": "no_op",
            "models": [{"lang_code": "en", "model_name": "no_op"}],
        }
    ).create_engine()
    registry = RecognizerRegistry(supported_languages=["en"])
    registry.load_predefined_recognizers(languages=["en"], nlp_engine=nlp)
    return AnalyzerEngine(nlp_engine=nlp, registry=registry, supported_languages=["en"])


def hard_batch(n: int, share: float) -> MaskRequestBatch:
    values = realistic_mix(n, share)
    return MaskRequestBatch((Column("note", "text", ColumnKind.TEXT),), tuple((v,) for v in values))


def table_batch(n_rows: int) -> MaskRequestBatch:
    columns = tuple(Column(name, t, kind_for_type(t)) for name, t in TABLE_COLUMNS)
    return MaskRequestBatch(columns, tuple(realistic_table(n_rows)))


def timed(fn: Callable[[], object], before: Callable[[], object] = lambda: None) -> float:
    before()
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def forget(detector: Detector) -> None:
    """Empty every cache kept across values (the detector's findings, the prefilter's and the
    phone matcher's verdicts, email hosts): the next run sees every value for the first time."""
    detector.forget()


def text_values(batch: MaskRequestBatch) -> list[str]:
    return [
        v
        for row in batch.rows
        for c, v in zip(batch.columns, row, strict=True)
        if v is not None and c.kind is not ColumnKind.OTHER
    ]


def request_bytes(batch: MaskRequestBatch) -> bytes:
    return mpb.MaskRequest(
        columns=[mpb.Column(name=c.name, type_name=c.type_name) for c in batch.columns],
        rows=[
            mpb.Row(values=[mpb.Value(null=True) if v is None else mpb.Value(text=v) for v in r])
            for r in batch.rows
        ],
    ).SerializeToString()


def adapter(values: int, repeat: int, detector: Detector, settings: MaskSettings) -> None:
    batch = table_batch(max(100, values))
    bodies = [
        request_bytes(MaskRequestBatch(batch.columns, batch.rows[i : i + 100]))
        for i in range(0, len(batch.rows) - 99, 100)
    ]

    def run() -> None:
        for body in bodies:
            handle_bytes(body, settings)

    def forget_all() -> None:
        detector.forget()
        wire.forget()

    cold = min(timed(run, forget_all) for _ in range(repeat))
    warm = min(timed(run) for _ in range(repeat))
    print(f"\n[adapter] handle_bytes, {len(bodies)} requests of 100 orders rows "
          f"({len(bodies[0]):,} bytes each)")  # fmt: skip
    print(f"  values never seen              {cold / len(bodies) * 1e6:>10,.0f} µs a request")
    print(f"  the same values again          {warm / len(bodies) * 1e6:>10,.0f} µs a request")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--values", type=int, default=2000, help="rows (table) or values (hard)")
    ap.add_argument("--share", type=float, default=0.05, help="sensitive share (hard)")
    ap.add_argument("--batch", type=int, default=500, help="rows per mask() call")
    ap.add_argument("--repeat", type=int, default=3, help="runs of mask(); the best is reported")
    args = ap.parse_args()
    logging.basicConfig(level="ERROR")

    detector = default_detector()
    detector.warm_up()
    plain = presidio_default()
    settings = MaskSettings()
    print(f"rows (table) / values (hard): {args.values}; mask() in batches of {args.batch} rows; "
          f"mask() best of {args.repeat}; one process, 2 cores shared by everything")  # fmt: skip
    for name, batch in (
        ("table", table_batch(args.values)),
        ("hard", hard_batch(args.values, args.share)),
    ):
        n_all = sum(v is not None for row in batch.rows for v in row)
        texts = text_values(batch)
        chunks = [
            MaskRequestBatch(batch.columns, batch.rows[i : i + args.batch])
            for i in range(0, len(batch.rows), args.batch)
        ]

        def run_mask(chunks: list[MaskRequestBatch] = chunks) -> None:
            for chunk in chunks:
                mask(chunk, settings, detector)

        def run_plain(texts: list[str] = texts) -> None:
            for text in texts:
                plain.analyze(text=text, language="en")

        cold = min(timed(run_mask, lambda: forget(detector)) for _ in range(args.repeat))
        warm = min(timed(run_mask) for _ in range(args.repeat))
        t_plain = timed(run_plain)
        forget(detector)
        analysed = sum(mask(c, settings, detector).report.analysed for c in chunks)
        print(f"\n[{name}] {n_all} non-NULL values ({len(texts)} text), "
              f"{analysed} distinct sent to the recognizers")  # fmt: skip
        print(f"  mask(), values never seen      {n_all / cold:>10,.0f} values/s"
              f"  x{t_plain / cold:,.0f} presidio")  # fmt: skip
        print(f"  mask(), the same values again  {n_all / warm:>10,.0f} values/s"
              f"  x{t_plain / warm:,.0f} presidio")  # fmt: skip
        print(f"  presidio analyze() loop        {n_all / t_plain:>10,.0f} values/s")
    adapter(args.values, args.repeat, detector, settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
