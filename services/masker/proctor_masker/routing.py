"""Which recognizers a value needs, and calling them cheaply.

Each recognizer gets a gate: a cheap regex that every value it can flag matches (a card has
thirteen digits, an email an `@`). A value is shown only to the recognizers whose gates it
passes; `test_masker_corpus` proves on the corpus that no gate is narrower than its recognizer.
presidio's plain pattern recognizers are run here without their per-match explanation objects
and debug logging (same patterns, flags, validation and scores), and the phone recognizer calls
libphonenumber's matcher directly, once per region, which is all presidio's does that matters.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import phonenumbers
from phonenumbers import phonenumbermatcher as _pnm
from presidio_analyzer import EntityRecognizer, PatternRecognizer
from presidio_analyzer.nlp_engine import NlpArtifacts
from presidio_analyzer.predefined_recognizers import (
    CreditCardRecognizer,
    EmailRecognizer,
    IbanRecognizer,
    IpRecognizer,
    MedicalLicenseRecognizer,
    NhsRecognizer,
    PhoneRecognizer,
    UkNinoRecognizer,
    UsMbiRecognizer,
    UsSsnRecognizer,
)

# Python's `\d` and `\s` are Unicode-wide, like those of the `regex` module presidio uses, so a
# gate never misses a value written in other digits.
_CARD = r"\d(?:[\- ]?\d){12}"  # thirteen digits, single separators
PRESIDIO_GATES: dict[type[EntityRecognizer], str] = {
    EmailRecognizer: r"@",
    CreditCardRecognizer: _CARD,
    IbanRecognizer: r"[A-Z]{2}\d{2}",
    UsSsnRecognizer: r"\d(?:[\- .]?\d){8}",
    # IPv4 (four octets), IPv6 (two colons, at most four hex digits apart, or `::`).
    IpRecognizer: r"\d\.\d{1,3}\.\d|[0-9a-f]{0,4}:[0-9a-f]{0,4}:",
    MedicalLicenseRecognizer: r"\d{7}",
    NhsRecognizer: r"\d(?:[\- ]?\d){9}",
    UsMbiRecognizer: r"\d[a-z][a-z0-9]\d-?[a-z][a-z0-9]\d-?[a-z]{2}\d\d",
    UkNinoRecognizer: r"\d\d ?\d\d ?\d\d",
}
# Seven digits with at most a few non-word characters between each: no shorter or looser run
# can be a valid number in any region (the shortest, e.g. +683 4002, have seven digits).
PHONE_GATE = re.compile(r"\d(?:\W{0,4}\d){6}")
PHONE_ENTITY = "PHONE_NUMBER"
PHONE_SCORE: float = PhoneRecognizer.SCORE


@dataclass(frozen=True, slots=True)
class Hit:
    """One raw recognizer result: what, where, how sure."""

    entity: str
    start: int
    end: int
    score: float


Runner = Callable[[str], list[Hit]]


@dataclass(frozen=True, slots=True)
class Route:
    """A recognizer, the cheap test a value must pass to be shown to it, and how to call it."""

    name: str
    gate: re.Pattern[str] | None
    run: Runner


def _gate_of(recognizer: EntityRecognizer) -> re.Pattern[str] | None:
    gate = getattr(recognizer, "gate", None)
    if isinstance(gate, re.Pattern):
        return gate
    for cls, pattern in PRESIDIO_GATES.items():
        if isinstance(recognizer, cls):
            presidio_flags = int(getattr(recognizer, "global_regex_flags", 0) or 0)
            flags = re.IGNORECASE if presidio_flags & re.IGNORECASE else 0
            return re.compile(pattern, flags)
    return None  # unknown: always run


def _plain_patterns(recognizer: PatternRecognizer, entity: str, min_score: float) -> Runner:
    """presidio's PatternRecognizer.analyze for a recognizer that does not override it: each
    pattern's matches, validated (score 1 or 0) and invalidated (score 0), kept above 0.

    Two differences, neither in what is found: a pattern scored below `min_score` is left out
    when the recognizer has no validation that could raise it (presidio's bare 9-digit SSN at
    0.05), and the `regex` module's per-call timeout (60 s, ~5 µs a call, after which presidio
    skips the pattern silently) is not set: a pathological value stalls this batch, and the
    proxy, which waits `mask_timeout`, then withholds the rows rather than pass them."""
    flags = recognizer.global_regex_flags
    presidio_patterns: list[Any] = list(getattr(recognizer, "patterns", []))
    if any(not p.compiled_regex or p.compiled_with_flags != flags for p in presidio_patterns):
        recognizer.analyze("", [entity])  # compiles them as presidio does
    validates = type(recognizer).validate_result is not PatternRecognizer.validate_result
    patterns = [
        (float(p.score), p.compiled_regex)
        for p in presidio_patterns
        if validates or p.score >= min_score
    ]
    validate = recognizer.validate_result
    invalidate = recognizer.invalidate_result
    max_score = float(EntityRecognizer.MAX_SCORE)

    def run(text: str) -> list[Hit]:
        hits: list[Hit] = []
        for score, regex in patterns:
            for m in regex.finditer(text):
                start, end = m.span()
                if start == end:
                    continue
                found = text[start:end]
                valid = validate(found)
                s = score if valid is None else (max_score if valid else 0.0)
                if invalidate(found):
                    s = 0.0
                if s > 0:
                    hits.append(Hit(entity, start, end, s))
        return hits

    return run


def _analyze(recognizer: EntityRecognizer, entities: list[str], no_nlp: NlpArtifacts) -> Runner:
    wanted = frozenset(entities)

    def run(text: str) -> list[Hit]:
        return [
            Hit(r.entity_type, r.start, r.end, r.score)
            for r in recognizer.analyze(text, entities, no_nlp) or ()
            if r.entity_type in wanted
        ]

    return run


def _reaches_parsing(matcher: phonenumbers.PhoneNumberMatcher, candidate: str, offset: int) -> bool:
    """Whether the matcher's `_parse_and_verify` gets as far as parsing `candidate`: the checks
    it makes first (phonenumbers 9.0), which are the same in every region."""
    if not _pnm._MATCHING_BRACKETS.fullmatch(candidate) or _pnm._PUB_PAGES.search(candidate):
        return False
    if matcher.leniency >= _pnm.Leniency.VALID:
        text = matcher.text
        if offset > 0 and not _pnm._LEAD_PATTERN.match(candidate):
            before = text[offset - 1]
            if matcher._is_invalid_punctuation_symbol(before) or matcher._is_latin_letter(before):
                return False
        end = offset + len(candidate)
        if end < len(text):
            after = text[end]
            if matcher._is_invalid_punctuation_symbol(after) or matcher._is_latin_letter(after):
                return False
    return True


class _FirstRegionMatcher(phonenumbers.PhoneNumberMatcher):
    """libphonenumber's matcher, noting whether any candidate got as far as being parsed.
    Finding candidates and skipping dates, time stamps, page references, unbalanced brackets
    and digits glued to letters happen before that and are the same in every region; so when
    this matcher finds nothing and parsed nothing, the other regions find nothing either (a
    text of hex digests or UUIDs costs one region instead of four)."""

    parsed = False

    def _parse_and_verify(self, candidate: str, offset: int) -> Any:
        if not self.parsed and _reaches_parsing(self, candidate, offset):
            self.parsed = True
        return super()._parse_and_verify(candidate, offset)


def phone_runner(recognizer: PhoneRecognizer) -> Runner:
    """The spans libphonenumber's matcher finds in any of the recognizer's regions (presidio
    also re-parses each match to name its region in the explanation, which is not used).

    When the first region finds nothing and parses no candidate, no region can find anything
    (`_FirstRegionMatcher`). Once a region's match spans the whole value (leading and trailing
    spaces aside: a match starts with a digit, `(` or `+` and ends with a digit or `#`), the
    other regions are not asked: whatever they found would lie inside it, and
    `resolve_overlaps` keeps the longest of equally scored findings, so the result is the
    same. A column of phone numbers in the first region's format or with a `+country` prefix
    costs one region instead of four."""
    regions = tuple(recognizer.supported_regions)
    leniency: int = 1 if recognizer.leniency is None else recognizer.leniency
    score = float(recognizer.SCORE)
    matcher = phonenumbers.PhoneNumberMatcher

    def run(text: str) -> list[Hit]:
        first = len(text) - len(text.lstrip())
        whole = (first, len(text.rstrip()))
        screen = _FirstRegionMatcher(text, regions[0], leniency)
        spans = {(m.start, m.end) for m in screen}
        if not spans and not screen.parsed:
            return []
        for region in regions[1:]:
            if whole in spans:
                return [Hit(PHONE_ENTITY, whole[0], whole[1], score)]
            spans.update((m.start, m.end) for m in matcher(text, region, leniency))
        return [Hit(PHONE_ENTITY, start, end, score) for start, end in sorted(spans)]

    return run


def route(
    recognizer: EntityRecognizer, entities: list[str], no_nlp: NlpArtifacts, min_score: float
) -> Route:
    """The route of one recognizer (other than the phone recognizer) for `entities`."""
    plain = (
        isinstance(recognizer, PatternRecognizer)
        and type(recognizer).analyze is PatternRecognizer.analyze
        and len(recognizer.supported_entities) == 1
    )
    if plain:
        assert isinstance(recognizer, PatternRecognizer)
        run = _plain_patterns(recognizer, recognizer.supported_entities[0], min_score)
    else:
        run = _analyze(recognizer, entities, no_nlp)
    name: str = getattr(recognizer, "name", type(recognizer).__name__)
    return Route(name, _gate_of(recognizer), run)


def gate_groups(routes: list[Route]) -> list[tuple[re.Pattern[str] | None, list[Route]]]:
    """The routes in a few groups, each behind the alternation of its members' gates, so a
    value costs a handful of searches instead of one per recognizer: the email gate alone
    (emails are common), the gates that need digits, and those that need a keyword.
    Routes without a gate form a group that is always entered."""
    email: list[Route] = []
    digits: list[Route] = []
    words: list[Route] = []
    always: list[Route] = []
    for r in routes:
        if r.gate is None:
            always.append(r)
        elif r.gate.pattern == "@":
            email.append(r)
        elif "\\d" in r.gate.pattern:
            digits.append(r)
        else:
            words.append(r)
    groups: list[tuple[re.Pattern[str] | None, list[Route]]] = []
    for members in (email, digits, words):
        if members:
            union = "|".join(
                f"(?{'i' if m.gate is not None and m.gate.flags & re.IGNORECASE else ''}:"
                f"{m.gate.pattern if m.gate is not None else ''})"
                for m in members
            )
            groups.append((re.compile(union), members))
    if always:
        groups.append((None, always))
    return groups


def blank(text: str, hits: Iterable[Hit]) -> str:
    """`text` with the spans of `hits` overwritten by letters (so no digit run crosses them)."""
    chars = list(text)
    for h in hits:
        chars[h.start : h.end] = "x" * (h.end - h.start)
    return "".join(chars)
