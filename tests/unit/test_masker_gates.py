"""The recognizer gates in their ASCII forms (lowered text, no IGNORECASE) pass exactly the
values the gates themselves pass, and the detector finds the same either way."""

from __future__ import annotations

import re
import string

from hypothesis import given, settings
from hypothesis import strategies as st

from proctor_masker.core import default_detector
from proctor_masker.recognizers import Detector
from proctor_masker.routing import ascii_form, ascii_groups
from tests.unit.masker_corpus import build_corpus, realistic_mix

_ASCII = st.text(alphabet=string.ascii_letters + string.digits + " .-_:/@=#'\"\t+", max_size=60)
_KEYWORDS = st.sampled_from(
    ["AKIA", "Secret", "PRIVATE KEY", "AccountKey=", "ghp_", "GLPAT-", "xoxB-", "SK_live_",
     "eyJ", "Bearer ", "DOB: ", "Social Security", "Passport", "LICENSE", "DL ", "GB82", "de44"]
)  # fmt: skip


def _detector() -> Detector:
    return default_detector()


def _texts() -> list[str]:
    texts = [s.text for s in build_corpus()] + realistic_mix(400, 0.2, seed=13)
    return texts + [t.upper() for t in texts] + [t.swapcase() for t in texts]


def _gate_verdicts(detector: Detector, text: str) -> list[bool]:
    return [r.gate is None or r.gate.search(text) is not None for r in detector.routes]


def _ascii_verdicts(detector: Detector, text: str) -> list[bool]:
    low = text.lower()
    verdict = {}
    for group in ascii_groups(detector._groups):
        entered = group.entered(text, low)
        for r, low_gate in group.members:
            # a member without an ASCII form is alone in its group (its gate is the group's)
            # or has no gate
            passed = low_gate.search(low) is not None if low_gate is not None else entered
            # the group's test never keeps out a value its member's gate passes
            assert entered or not passed, (r.name, text)
            verdict[id(r)] = passed  # by route: several routes share a name (POSTAL_CODE)
    return [verdict[id(r)] for r in detector.routes]


def test_case_insensitive_gates_have_an_ascii_form() -> None:
    detector = _detector()
    for r in detector.routes:
        if r.gate is not None and r.gate.flags & re.IGNORECASE:
            assert ascii_form(r.gate) is not None, r.name


def test_ascii_forms_agree_with_the_gates_on_the_corpus() -> None:
    detector = _detector()
    for text in _texts():
        if text.isascii():
            assert _ascii_verdicts(detector, text) == _gate_verdicts(detector, text), text


@settings(max_examples=500, deadline=None)
@given(parts=st.lists(st.one_of(_ASCII, _KEYWORDS), max_size=4))
def test_ascii_forms_agree_with_the_gates(parts: list[str]) -> None:
    detector = _detector()
    text = "".join(parts)
    assert _ascii_verdicts(detector, text) == _gate_verdicts(detector, text), text


def test_detector_finds_the_same_with_ascii_gates() -> None:
    detector = _detector()
    plain = Detector(detector.analyzer, detector.entities, detector.min_score)
    plain._ascii_groups = None
    for text in _texts():
        assert detector._find(text) == plain._find(text), text
