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
from functools import lru_cache
from typing import Any

import phonenumbers
from phonenumbers import phonenumbermatcher as _pnm
from presidio_analyzer import EntityRecognizer, PatternRecognizer
from presidio_analyzer.nlp_engine import NlpArtifacts
from presidio_analyzer.predefined_recognizers import (
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
PRESIDIO_GATES: dict[type[EntityRecognizer], str] = {
    EmailRecognizer: r"@",
    IbanRecognizer: r"[A-Z]{2}\d{2}",
    UsSsnRecognizer: r"\d(?:[\- .]?\d){8}",
    # IPv4 (four octets), IPv6 (two colons, at most four hex digits apart, or `::`).
    IpRecognizer: r"\d\.\d{1,3}\.\d|:[0-9a-f]{0,4}:",
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


Verdict = Callable[[str, str], Any]

# A candidate of ASCII digits and these separators only: no plus sign, letter or extension mark.
_PLAIN_CANDIDATE = re.compile(r"[0-9 .()/\-]+")
_NOT_DIGIT = re.compile(r"[^0-9]")


@dataclass(frozen=True, slots=True)
class _NationalLengths:
    """What decides, for one region, whether a plain candidate is read as a national number
    kept whole: the digits must not start with the region's country code, its international
    (IDD) prefix or a national prefix it strips. A candidate read so is valid only if its digit
    count is a possible length of a region of that country code."""

    country_code: str
    prefixes: tuple[re.Pattern[str], ...]  # IDD and national prefixes, matched at the start
    lengths: frozenset[int]


def _national_lengths(region: str) -> _NationalLengths | None:
    """For `region`, from libphonenumber's metadata; None where the rule cannot be relied on (a
    national prefix transform, a region of its country code with no possible lengths listed).

    `parse(candidate, region)` of a plain candidate (`_PLAIN_CANDIDATE`): the possible number
    is the candidate from its first digit to its last, no extension can be stripped (every
    extension pattern needs a letter, `#`, `,`, `;`, `~` or `x`), and normalising keeps its ASCII
    digits. Without a plus sign or an IDD prefix the country code is the region's; the digits
    lose a leading country code or national prefix only when they start with one; otherwise
    the national significant number is all of them. `is_valid_number` then requires its length
    to be one of the possible lengths of the region of the country code it picks."""
    meta = phonenumbers.PhoneMetadata.metadata_for_region(region)
    if meta is None or meta.country_code is None:
        return None
    code = meta.country_code
    main = phonenumbers.PhoneMetadata.metadata_for_region(
        phonenumbers.region_code_for_country_code(code)
    )
    prefixes = []
    lengths: set[int] = set()
    for m in (meta, main):
        if m is None or m.national_prefix_transform_rule:
            return None
        for pattern in (m.international_prefix, m.national_prefix_for_parsing):
            if pattern:
                prefixes.append(re.compile(pattern))
    for other in phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(code, ()):
        other_meta = phonenumbers.PhoneMetadata.metadata_for_region(other)
        desc = None if other_meta is None else other_meta.general_desc
        if desc is None or not desc.possible_length:
            return None
        lengths.update(desc.possible_length)
    return _NationalLengths(str(code), tuple(prefixes), frozenset(lengths))


def cannot_be_valid(candidate: str, rule: _NationalLengths | None) -> bool:
    """True only where `parse` and `is_valid_number` must reject `candidate` in the region of
    `rule` (see `_national_lengths`): a plain candidate, read as a national number kept whole,
    whose digit count is no possible length there (a date, 2024-01-05, in the US or France)."""
    if rule is None or _PLAIN_CANDIDATE.fullmatch(candidate) is None:
        return False
    digits = _NOT_DIGIT.sub("", candidate)
    if digits.startswith(rule.country_code) or any(p.match(digits) for p in rule.prefixes):
        return False
    return len(digits) not in rule.lengths


def _verdicts(leniency: int, size: int = 65536) -> Verdict:
    """`verdict(candidate, region)`: the number libphonenumber's matcher accepts `candidate` as
    in `region`, or None. Past the checks of `_reaches_parsing` (the text around the candidate,
    its brackets), the matcher's `_parse_and_verify` is `parse` and `_verify` of the candidate
    alone, a pure function of (candidate, region, leniency): asked of a matcher over the
    candidate alone (nothing around it to check) unless `cannot_be_valid` rules it out, and
    remembered. Candidates repeat across values (dates, times, the digit runs of hex digests),
    and across the regions of one value.
    """
    rules: dict[str, _NationalLengths | None] = {}

    @lru_cache(maxsize=size)
    def verdict(candidate: str, region: str) -> Any:
        if region not in rules:
            rules[region] = _national_lengths(region)
        if leniency >= _pnm.Leniency.VALID and cannot_be_valid(candidate, rules[region]):
            return None
        match = phonenumbers.PhoneNumberMatcher(candidate, region, leniency)._parse_and_verify(
            candidate, 0
        )
        return None if match is None else match.number

    return verdict


class _VerdictMatcher(phonenumbers.PhoneNumberMatcher):
    """libphonenumber's matcher, its parse-and-verify step answered from `verdict`, noting each
    candidate that got as far as being parsed (`parsed`, in the order the matcher asked).

    Finding candidates and skipping dates, time stamps, page references, unbalanced brackets
    and digits glued to letters happen before parsing and are the same in every region; only
    the parse-and-verify verdicts differ, and the matcher's path through the text depends only
    on them. So when this matcher finds nothing, another region finds nothing either unless
    it accepts one of the candidates noted here."""

    def __init__(self, text: str, region: str, leniency: int, verdict: Verdict) -> None:
        super().__init__(text, region, leniency)
        self.parsed: list[str] = []
        self._region = region
        self._verdict = verdict

    def _parse_and_verify(self, candidate: str, offset: int) -> Any:
        if not _reaches_parsing(self, candidate, offset):
            return None
        self.parsed.append(candidate)
        number = self._verdict(candidate, self._region)
        return None if number is None else _pnm.PhoneNumberMatch(offset, candidate, number)


class PhoneRunner:
    """The spans libphonenumber's matcher finds in any of the recognizer's regions (presidio
    also re-parses each match to name its region in the explanation, which is not used).

    The first region's matcher runs over the text. When it finds nothing, another region can
    find something only by accepting a candidate the first one parsed (`_VerdictMatcher`):
    those verdicts are asked first, remembered per candidate, and a region that accepts none
    is not run (a text of dates, hex digests or UUIDs costs one region instead of four). Once a
    region's match spans the whole value (leading and trailing spaces aside: a match starts
    with a digit, `(` or `+` and ends with a digit or `#`), the other regions are not asked:
    whatever they found would lie inside it, and `resolve_overlaps` keeps the longest of
    equally scored findings, so the result is the same. A column of phone numbers in the first
    region's format or with a `+country` prefix costs one region instead of four."""

    def __init__(self, recognizer: PhoneRecognizer) -> None:
        self.regions = tuple(recognizer.supported_regions)
        self.leniency: int = 1 if recognizer.leniency is None else recognizer.leniency
        self.score = float(recognizer.SCORE)
        self.verdict = _verdicts(self.leniency)

    def forget(self) -> None:
        """Forget the verdicts remembered per candidate."""
        self.verdict.cache_clear()  # type: ignore[attr-defined]

    def __call__(self, text: str) -> list[Hit]:
        regions, leniency, verdict, score = self.regions, self.leniency, self.verdict, self.score
        if leniency >= _pnm.Leniency.VALID and _HEX_WORD.fullmatch(text) is not None:
            return []
        first = len(text) - len(text.lstrip())
        whole = (first, len(text.rstrip()))
        screen = _VerdictMatcher(text, regions[0], leniency, verdict)
        spans = {(m.start, m.end) for m in screen}
        if spans:
            others = regions[1:]
        else:
            parsed = screen.parsed
            others = tuple(r for r in regions[1:] if any(verdict(c, r) for c in parsed))
        for region in others:
            if whole in spans:
                return [Hit(PHONE_ENTITY, whole[0], whole[1], score)]
            spans.update((m.start, m.end) for m in _VerdictMatcher(text, region, leniency, verdict))
        return [Hit(PHONE_ENTITY, start, end, score) for start, end in _uncontained(spans)]


# One hexadecimal word with a letter (a hash, a digest, an id): no number is found in it at
# VALID leniency. The matcher's candidates are its digit runs whole (hex has no separator, no
# extension mark such as `x` or `ext`, and blocks of digits may follow each other without
# punctuation), and every run touches a Latin letter before it or after it, which
# `_parse_and_verify` rejects. Hashes are common and have runs of seven digits: ~40% of the
# phone recognizer's time on the hard mix.
_HEX_WORD = re.compile(r"[0-9a-f]*[a-f][0-9a-f]*|[0-9A-F]*[A-F][0-9A-F]*")


def _uncontained(spans: set[tuple[int, int]]) -> list[tuple[int, int]]:
    """The spans that no other span contains, as presidio's `remove_duplicates` keeps them (one
    region's match inside another's would otherwise outlive the outer one's loss to a third in
    `resolve_overlaps`)."""
    kept: list[tuple[int, int]] = []
    for start, end in sorted(spans, key=lambda s: (s[0], s[0] - s[1])):
        if not any(s <= start and end <= e for s, e in kept):
            kept.append((start, end))
    return kept


def phone_runner(recognizer: PhoneRecognizer) -> PhoneRunner:
    """The runner of presidio's phone recognizer (`PhoneRunner`)."""
    return PhoneRunner(recognizer)


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
    A gate without an ASCII form (`ascii_form`: a case-sensitive one such as a capitalised
    word) cannot join its group's alternation, and some pass most text: each stands alone, its
    gate searched once. Routes without a gate form a group that is always entered."""
    email: list[Route] = []
    digits: list[Route] = []
    words: list[Route] = []
    always: list[Route] = []
    alone: list[Route] = []
    for r in routes:
        if r.gate is None:
            always.append(r)
        elif ascii_form(r.gate) is None:
            alone.append(r)
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
    groups += [(r.gate, [r]) for r in alone]
    if always:
        groups.append((None, always))
    return groups


# An escape that names a class by an upper-case letter (`\\D`, `\\W`, `\\S`...) would change meaning
# when the pattern is lowered; so would inline flags.
_CASE_SENSITIVE_SYNTAX = re.compile(r"\\[A-Z]|\(\?[a-zA-Z]")


def ascii_form(pattern: re.Pattern[str]) -> re.Pattern[str] | None:
    """The pattern that, searched in an ASCII text lowered, finds a match exactly where
    `pattern` finds one in the text; None where there is no such simple form.

    For a case-insensitive pattern and ASCII text, matching ignoring case is matching the
    lowered pattern against the lowered text (a literal letter matches either case; a class
    `[A-Z]` lowered reads `[a-z]`), and Python's case-insensitive matching costs ~3x as much.
    Only case-insensitive patterns without upper-case class escapes and inline flags are
    rewritten."""
    if not pattern.flags & re.IGNORECASE or _CASE_SENSITIVE_SYNTAX.search(pattern.pattern):
        return None
    return re.compile(pattern.pattern.lower(), pattern.flags & ~re.IGNORECASE)


# A member of a group for ASCII text: the route, and its gate's `ascii_form`, searched in the
# lowered text (None: the group's own test is the member's).
AsciiMember = tuple[Route, re.Pattern[str] | None]


@dataclass(frozen=True, slots=True)
class AsciiGroup:
    """A group of `gate_groups` for ASCII text. A value enters it when `gate` finds a match:
    the alternation of the members' ASCII forms, searched in the lowered text (`lowered`), or
    a lone member's own gate, searched in the text; always when `gate` is None. Then each
    member's ASCII form, if any, decides."""

    gate: re.Pattern[str] | None
    lowered: bool
    members: list[AsciiMember]

    def entered(self, text: str, low: str) -> bool:
        return self.gate is None or self.gate.search(low if self.lowered else text) is not None


def ascii_groups(groups: list[tuple[re.Pattern[str] | None, list[Route]]]) -> list[AsciiGroup]:
    """The groups in their ASCII forms."""
    out: list[AsciiGroup] = []
    for gate, routes in groups:
        if gate is None:
            out.append(AsciiGroup(None, False, [(r, None) for r in routes]))
        elif len(routes) == 1 and gate is routes[0].gate:
            out.append(AsciiGroup(gate, False, [(routes[0], None)]))  # alone: searched once
        else:
            members: list[AsciiMember] = []
            for r in routes:
                form = None if r.gate is None else ascii_form(r.gate)
                assert form is not None, r.name  # gate_groups leaves such a gate alone
                members.append((r, form))
            union = re.compile("|".join(f"(?:{form.pattern})" for _, form in members if form))
            out.append(AsciiGroup(union, True, members))
    return out


# Digits and hyphens right after a letter, or after a letter and one of `-_/` (ORD-2024-321515,
# INV_555-0111, abc5551234567): no phone number `accepted` keeps can begin there. A number the
# matcher finds there begins at the run's first digit (it scans from the left, a candidate
# takes in the whole run, and its inner matches begin after spaces, dots, slashes, brackets or
# long dashes, which the run lacks), and a number beginning there is glued to the letter.
# A number after the run has seven digits of its own outside it; one whose extension is the run
# (`555-0100x1234567`) has them before it.
_GLUED_DIGITS = re.compile(r"(?<=[A-Za-z])[-_/]?\d[\d-]*")


def unglued(text: str) -> str:
    """`text` with the digit runs no accepted phone number can begin in (`_GLUED_DIGITS`)
    overwritten by letters: PHONE_GATE finds nothing there when no number can be accepted."""
    return _GLUED_DIGITS.sub(lambda m: "x" * (m.end() - m.start()), text)


def blank(text: str, hits: Iterable[Hit]) -> str:
    """`text` with the spans of `hits` overwritten by letters (so no digit run crosses them)."""
    chars = list(text)
    for h in hits:
        chars[h.start : h.end] = "x" * (h.end - h.start)
    return "".join(chars)
