"""The phone runner's shortcuts never reject what libphonenumber's matcher (and so presidio's
PhoneRecognizer) accepts: the plain-candidate length rule, the remembered verdicts, and the
regions skipped when the first region parsed nothing another region accepts."""

from __future__ import annotations

import string

import phonenumbers
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from presidio_analyzer.predefined_recognizers import PhoneRecognizer

from proctor_masker.recognizers import Finding, GatedPhoneRecognizer, resolve_overlaps
from proctor_masker.routing import _national_lengths, cannot_be_valid, phone_runner

REGIONS = ("US", "GB", "FR", "IN")
# Regions with national prefix transforms, 7-digit numbers sharing a country code, or short
# numbers: the rule must hold (or stand aside) there too.
MORE_REGIONS = ("CA", "DE", "AU", "AR", "SM", "BR", "MX", "IT", "NU", "JP", "CN", "RU")
_SEPARATORS = " .()/-"


def _accepts(candidate: str, region: str) -> bool:
    """libphonenumber's own verdict: the matcher's parse-and-verify of the candidate alone."""
    matcher = phonenumbers.PhoneNumberMatcher(candidate, region, phonenumbers.Leniency.VALID)
    return matcher._parse_and_verify(candidate, 0) is not None


def _examples() -> list[str]:
    """Example numbers of every type of many regions, as digits, in national and international
    formats."""
    out = []
    for region in REGIONS + MORE_REGIONS:
        for kind in range(12):
            number = phonenumbers.example_number_for_type(region, kind)
            if number is None:
                continue
            out.append(phonenumbers.national_significant_number(number))
            formats = (phonenumbers.PhoneNumberFormat.NATIONAL, phonenumbers.PhoneNumberFormat.E164)
            for fmt in formats:
                out.append(phonenumbers.format_number(number, fmt))
    return out


EXAMPLES = _examples()


def _spaced(digits: str, cuts: list[int], seps: list[str]) -> str:
    out, last = [], 0
    for cut, sep in zip(sorted(cuts), seps, strict=False):
        out += [digits[last:cut], sep]
        last = cut
    return "".join(out) + digits[last:]


@st.composite
def _candidates(draw: st.DrawFn) -> str:
    """Example numbers with digits changed, dropped, added and separators put in, and random
    runs of digits and separators."""
    if draw(st.booleans()):
        return draw(st.text(alphabet=string.digits + _SEPARATORS, min_size=1, max_size=20))
    base = draw(st.sampled_from(EXAMPLES))
    digits = [c for c in base if c.isdigit()]
    for _ in range(draw(st.integers(0, 3))):
        op = draw(st.sampled_from(("change", "drop", "add")))
        i = draw(st.integers(0, len(digits)))
        if op == "change" and i < len(digits):
            digits[i] = draw(st.sampled_from(string.digits))
        elif op == "drop" and i < len(digits) and len(digits) > 1:
            del digits[i]
        else:
            digits.insert(i, draw(st.sampled_from(string.digits)))
    text = "".join(digits)
    cuts = draw(st.lists(st.integers(1, max(1, len(text) - 1)), max_size=4, unique=True))
    seps = draw(st.lists(st.sampled_from([" ", "-", ".", "/", ") ", "("]), min_size=4, max_size=4))
    return _spaced(text, cuts, seps)


def test_plain_length_rule_keeps_every_example_number() -> None:
    for region in REGIONS + MORE_REGIONS:
        rule = _national_lengths(region)
        for candidate in EXAMPLES:
            if _accepts(candidate, region):
                assert not cannot_be_valid(candidate, rule), (candidate, region)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(candidate=_candidates(), region=st.sampled_from(REGIONS + MORE_REGIONS))
def test_plain_length_rule_never_rejects_what_libphonenumber_accepts(
    candidate: str, region: str
) -> None:
    if cannot_be_valid(candidate, _national_lengths(region)):
        assert not _accepts(candidate, region), (candidate, region)


def test_plain_length_rule_rules_out_dates_in_the_us_and_france() -> None:
    for region in ("US", "FR"):
        assert cannot_be_valid("2024-01-05", _national_lengths(region))
    assert not cannot_be_valid("+1 212 555 0134", _national_lengths("US"))  # a plus: not plain


_PHONE_NOISE = st.text(alphabet=string.digits + " .()/-+:#TZabcx,", max_size=30)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    parts=st.lists(
        st.one_of(_candidates(), _PHONE_NOISE, st.sampled_from(["call ", " or ", "ORD-", "Z "])),
        min_size=1,
        max_size=4,
    )
)
def test_phone_runner_matches_presidio_on_generated_text(parts: list[str]) -> None:
    """The runner (remembered verdicts, skipped regions, the length rule) against presidio's
    PhoneRecognizer, on numbers near valid ones in many formats, glued to noise."""
    text = "".join(parts)
    plain = PhoneRecognizer(supported_regions=REGIONS)
    run = phone_runner(GatedPhoneRecognizer(supported_regions=REGIONS))
    want = resolve_overlaps(
        Finding(r.entity_type, r.start, r.end, r.score)
        for r in plain.analyze(text, ["PHONE_NUMBER"])
    )
    for _ in range(2):  # cold, then from remembered verdicts
        got = resolve_overlaps(Finding(h.entity, h.start, h.end, h.score) for h in run(text))
        assert got == want, text


_HEX_LOWER, _HEX_UPPER = "0123456789abcdef", "0123456789ABCDEF"


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.data(),
    before=st.text(alphabet=_HEX_LOWER, max_size=12),
    after=st.text(alphabet=_HEX_LOWER, max_size=12),
    upper=st.booleans(),
)
def test_no_number_in_a_hex_word(data: st.DataObject, before: str, after: str, upper: bool) -> None:
    """The runner skips hexadecimal words (hashes): libphonenumber finds no number in them, even
    with a valid number's digits at the start, the end or inside."""
    number = data.draw(st.sampled_from([e for e in _examples() if e.isdigit()]))
    text = before + number + after
    if text.isdigit():  # digits alone are no hex word (and may well be a number)
        text += "f"
    if upper:
        text = text.upper()
    for region in REGIONS + MORE_REGIONS:
        assert not PhoneRecognizer(supported_regions=(region,)).analyze(text, ["PHONE_NUMBER"])
    assert phone_runner(GatedPhoneRecognizer(supported_regions=REGIONS))(text) == []
