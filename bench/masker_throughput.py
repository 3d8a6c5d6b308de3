"""Masker throughput in one process: `mask()` (prefilter, per-batch cache, only the needed
entities) against a plain loop of presidio's `AnalyzerEngine.analyze` over the same values.

Two workloads from the labelled corpus generator (tests/unit/masker_corpus.py):
- hard: one text column, 95% hard negatives (hashes, dates, order numbers, sentences), 5%
  sensitive values; most values contain digits, so the prefilter lets most through.
- table: a typical result set (id, status, name, created_at, note, email) where the note holds a
  sensitive value 5% of the time and the email column is always an email (mostly repeated).
Values/s counts every value in the batch, including those that pass untouched.
"""

from __future__ import annotations

import argparse
import logging
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
from presidio_analyzer.nlp_engine import NlpEngineProvider

from proctor_masker.core import default_detector, mask
from proctor_masker.model import Column, ColumnKind, MaskRequestBatch, MaskSettings
from tests.unit.masker_corpus import realistic_mix


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


def table_batch(n_rows: int, share: float) -> MaskRequestBatch:
    rng = random.Random(7)
    notes = realistic_mix(n_rows, share)
    emails = [f"user{i}@example.com" for i in range(max(1, n_rows // 20))]
    statuses = ["active", "pending", "shipped", "cancelled", "refunded"]
    names = ["Acme Corp", "Globex", "Initech", "Umbrella", "Hooli", "Stark Industries"]
    columns = (
        Column("id", "int8", ColumnKind.OTHER),
        Column("status", "text", ColumnKind.TEXT),
        Column("customer", "text", ColumnKind.TEXT),
        Column("created_at", "timestamptz", ColumnKind.OTHER),
        Column("note", "text", ColumnKind.TEXT),
        Column("email", "varchar", ColumnKind.TEXT),
    )
    rows = tuple(
        (
            str(i),
            rng.choice(statuses),
            rng.choice(names),
            f"2026-11-{rng.randint(1, 28):02d} 10:{rng.randint(0, 59):02d}:00+00",
            notes[i],
            rng.choice(emails),
        )
        for i in range(n_rows)
    )
    return MaskRequestBatch(columns, rows)


def timed(fn: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def text_values(batch: MaskRequestBatch) -> list[str]:
    return [
        v
        for row in batch.rows
        for c, v in zip(batch.columns, row, strict=True)
        if v is not None and c.kind is ColumnKind.TEXT
    ]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--values", type=int, default=2000, help="values (hard) or rows (table)")
    ap.add_argument("--share", type=float, default=0.05, help="share of sensitive values")
    ap.add_argument("--batch", type=int, default=500, help="rows per mask() call")
    ap.add_argument("--repeat", type=int, default=3, help="runs; the best is reported")
    args = ap.parse_args()
    logging.basicConfig(level="ERROR")

    detector = default_detector()
    ours = detector.analyzer
    plain = presidio_default()
    settings = MaskSettings()
    print(f"values per workload: {args.values}, sensitive share {args.share:.0%}, "
          f"mask() batches of {args.batch} rows, best of {args.repeat}")  # fmt: skip
    for name, batch in (
        ("hard", hard_batch(args.values, args.share)),
        ("table", table_batch(args.values, args.share)),
    ):
        n_all = len(batch.rows) * len(batch.columns)
        texts = text_values(batch)
        chunks = [
            MaskRequestBatch(batch.columns, batch.rows[i : i + args.batch])
            for i in range(0, len(batch.rows), args.batch)
        ]

        def run_mask(chunks: list[MaskRequestBatch] = chunks) -> None:
            for chunk in chunks:
                mask(chunk, settings, detector)

        def run_plain(engine: AnalyzerEngine, texts: list[str] = texts, **kw: object) -> None:
            for text in texts:
                engine.analyze(text=text, language="en", **kw)

        t_mask = timed(run_mask, args.repeat)
        t_same = timed(lambda: run_plain(ours, entities=detector.entities), 1)
        t_default = timed(lambda: run_plain(plain), 1)
        analysed = sum(mask(c, settings, detector).report.analysed for c in chunks)
        print(f"\n[{name}] {n_all} values ({len(texts)} text), {analysed} sent to recognizers")
        print(f"  mask()                                   {n_all / t_mask:>10,.0f} values/s")
        print(f"  analyze() loop, Proctor recognizers      {n_all / t_same:>10,.0f} values/s")
        print(f"  analyze() loop, presidio defaults        {n_all / t_default:>10,.0f} values/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
