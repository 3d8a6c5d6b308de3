"""The masker's recognizers and prefilter on a labelled corpus (tests/unit/masker_corpus.py).

Scored per value: a type is found when the detector reports that entity anywhere in the value.
`pytest -s` prints the table; a failing assertion carries it too.
"""

from __future__ import annotations

import functools
import string
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from presidio_analyzer.predefined_recognizers import PhoneRecognizer

from proctor_masker.core import default_detector
from proctor_masker.prefilter import Prefilter
from proctor_masker.recognizers import Detector, GatedPhoneRecognizer
from tests.unit.masker_corpus import STRUCTURED, Sample, build_corpus, realistic_mix


@pytest.fixture(scope="module")
def corpus() -> list[Sample]:
    return build_corpus()


@pytest.fixture(scope="module")
def detector() -> Detector:
    return default_detector()


@pytest.fixture(scope="module")
def found(corpus: list[Sample], detector: Detector) -> list[frozenset[str]]:
    return [frozenset(f.entity for f in detector.find(s.text)) for s in corpus]


def _scores(
    corpus: list[Sample], found: list[frozenset[str]]
) -> tuple[Counter[str], Counter[str], Counter[str]]:
    tp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    for sample, got in zip(corpus, found, strict=True):
        for entity in sample.labels:
            (tp if entity in got else fn)[entity] += 1
        for entity in got - sample.labels:
            fp[entity] += 1
    return tp, fn, fp


def _table(tp: Counter[str], fn: Counter[str], fp: Counter[str]) -> str:
    lines = [f"{'entity':<26}{'n':>5}{'recall':>8}{'precision':>11}{'fp':>4}"]
    for entity in sorted(set(tp) | set(fn) | set(fp)):
        n = tp[entity] + fn[entity]
        recall = tp[entity] / n if n else float("nan")
        flagged = tp[entity] + fp[entity]
        precision = tp[entity] / flagged if flagged else float("nan")
        lines.append(f"{entity:<26}{n:>5}{recall:>8.3f}{precision:>11.3f}{fp[entity]:>4}")
    all_tp, all_fn, all_fp = sum(tp.values()), sum(fn.values()), sum(fp.values())
    lines.append(
        f"{'overall':<26}{all_tp + all_fn:>5}{all_tp / (all_tp + all_fn):>8.3f}"
        f"{all_tp / max(1, all_tp + all_fp):>11.3f}{all_fp:>4}"
    )
    return "\n".join(lines)


def test_corpus_is_a_few_hundred_values_with_hard_negatives(corpus: list[Sample]) -> None:
    assert 300 <= len(corpus) <= 800
    assert sum(1 for s in corpus if not s.labels) >= 100
    assert build_corpus() == corpus  # the seed makes it reproducible


def test_recall_and_precision(corpus: list[Sample], found: list[frozenset[str]]) -> None:
    tp, fn, fp = _scores(corpus, found)
    table = _table(tp, fn, fp)
    print("\n" + table)
    for entity in STRUCTURED:
        n = tp[entity] + fn[entity]
        assert n, f"no {entity} in the corpus"
        assert tp[entity] / n >= 0.99, f"{entity} recall below 0.99\n{table}"
    for entity in ("PHONE_NUMBER", "IP_ADDRESS", "DATE_OF_BIRTH"):
        assert tp[entity] / (tp[entity] + fn[entity]) >= 0.9, f"{entity} recall\n{table}"
    precision = sum(tp.values()) / (sum(tp.values()) + sum(fp.values()))
    assert precision >= 0.95, f"precision {precision:.3f} below 0.95\n{table}"


def test_hard_negatives_mostly_clean(corpus: list[Sample], found: list[frozenset[str]]) -> None:
    negatives = [(s.text, got) for s, got in zip(corpus, found, strict=True) if not s.labels]
    flagged = [(text, sorted(got)) for text, got in negatives if got]
    assert len(flagged) <= len(negatives) * 0.02, flagged


def test_prefilter_never_narrower_than_recognizers(
    corpus: list[Sample], found: list[frozenset[str]]
) -> None:
    prefilter = Prefilter()
    missed = [
        s.text for s, got in zip(corpus, found, strict=True)
        if (s.labels or got) and not prefilter.could_contain(s.text)
    ]  # fmt: skip
    assert not missed


def test_prefilter_lets_plain_values_skip_analysis() -> None:
    prefilter = Prefilter()
    for plain in ("hello world", "shipped", "42", "2024", "a1b2", "true", "Acme Corp"):
        assert not prefilter.could_contain(plain), plain
    assert Prefilter(everything=True).could_contain("hello world")


def test_direct_recognizer_calls_match_the_engine(corpus: list[Sample], detector: Detector) -> None:
    """The detector calls recognizers itself (no NLP step): same spans as AnalyzerEngine.analyze."""
    for sample in corpus:
        results = detector.analyzer.analyze(
            text=sample.text,
            language="en",
            entities=detector.entities,
            score_threshold=detector.min_score,
        )
        engine = {(r.entity_type, r.start, r.end) for r in results}
        direct = {(f.entity, f.start, f.end) for f in detector.find(sample.text)}
        assert direct <= engine, sample.text


def test_phone_gate_never_drops_a_number_presidio_finds(corpus: list[Sample]) -> None:
    regions = ("US", "GB", "FR", "IN")
    gated = GatedPhoneRecognizer(supported_regions=regions)
    plain = PhoneRecognizer(supported_regions=regions)
    texts = [s.text for s in corpus] + realistic_mix(400, 0.2, seed=3)
    for text in texts:
        want = {(r.start, r.end) for r in plain.analyze(text, ["PHONE_NUMBER"])}
        assert {(r.start, r.end) for r in gated.analyze(text, ["PHONE_NUMBER"])} == want, text


_NOISE = st.text(alphabet=string.printable, max_size=12)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_prefilter_never_narrower_on_mixed_fragments(data: st.DataObject) -> None:
    """Corpus positives cut, spliced and surrounded by noise: whatever the recognizers still
    find, the prefilter lets through."""
    corpus, detector, prefilter = _shared_corpus(), default_detector(), Prefilter()
    positives = [s.text for s in corpus if s.labels]
    parts = []
    for _ in range(data.draw(st.integers(1, 3))):
        text = data.draw(st.sampled_from(positives))
        start = data.draw(st.integers(0, len(text)))
        end = data.draw(st.integers(start, len(text)))
        parts += [data.draw(_NOISE), text[start:end]]
    text = "".join(parts)
    if detector.find(text):
        assert prefilter.could_contain(text), text


@functools.cache
def _shared_corpus() -> list[Sample]:
    return build_corpus()
