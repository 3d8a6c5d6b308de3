"""What the masker detects: presidio's pattern recognizers plus Proctor's own for secrets.

`Detector.find(text)` returns non-overlapping findings. The presidio engine is built on the
`no_op` NLP engine so nothing is downloaded; names and locations are found only when a spaCy
model (`en_core_web_sm`) is installed, and `build_detector` logs when they are not.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import tldextract
from presidio_analyzer import (
    AnalyzerEngine,
    EntityRecognizer,
    Pattern,
    RecognizerRegistry,
    RecognizerResult,
)
from presidio_analyzer.nlp_engine import NlpArtifacts, NlpEngineProvider
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
from tldextract.remote import lenient_netloc

from proctor.maskrules import Prefilter, forget_prefilter
from proctor.personnames import common_words, name_lists, person_spans, place_words
from proctor.places import STREET_GATE, street_spans
from proctor_masker.patterns import (
    LABEL_SEP,
    SECRET_ENTITIES,
    RegexRecognizer,
    secret_recognizers,
)
from proctor_masker.routing import (
    PHONE_ENTITY,
    PHONE_GATE,
    PHONE_SCORE,
    AsciiGroup,
    Hit,
    PhoneRunner,
    Route,
    ascii_groups,
    blank,
    gate_groups,
    phone_runner,
    route,
    unglued,
)

log = logging.getLogger("proctor.masker")

SPACY_MODEL = "en_core_web_sm"
NER_ENTITIES = ("PERSON", "LOCATION")


@dataclass(frozen=True, slots=True)
class Finding:
    """One sensitive span in a value: [start, end) and what it is. Never holds the value."""

    entity: str
    start: int
    end: int
    score: float


class PersonNameRecognizer(EntityRecognizer):
    """People's names in free text without a model (personnames.py): name lists, common words,
    place words and the words around a pair (Mr, customer, dear, ...)."""

    SCORE = 0.6

    def __init__(self) -> None:
        # Case-sensitive: a capitalised ASCII word, or any non-ASCII letter.
        self.gate = re.compile(r"[A-Z][a-z]|[^\x00-\x7f]")
        super().__init__(supported_entities=["PERSON"], name="proctor:person")

    def load(self) -> None:
        name_lists(), common_words(), place_words()  # read the lists once, at start

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        return [RecognizerResult("PERSON", s, e, self.SCORE) for s, e in person_spans(text)]


class StreetRecognizer(EntityRecognizer):
    """Street lines (places.py): a house number and a street name with its type."""

    SCORE = 0.7

    def __init__(self) -> None:
        self.gate = STREET_GATE
        super().__init__(supported_entities=["STREET_ADDRESS"], name="proctor:street_address")

    def load(self) -> None:
        pass

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        return [RecognizerResult("STREET_ADDRESS", s, e, self.SCORE) for s, e in street_spans(text)]


def place_recognizers() -> list[EntityRecognizer]:
    """Street lines (US, UK, German and French forms) and postcodes in context."""
    return [
        StreetRecognizer(),
        RegexRecognizer(
            "POSTAL_CODE",
            r"\b(?:GIR 0AA|[A-Z]{1,2}\d[A-Z\d]? \d[A-Z]{2})\b",  # UK
            score=0.6,
            gate=r"[a-z]{1,2}\d[a-z\d]? \d[a-z]{2}\b|gir 0aa",
        ),
        RegexRecognizer(
            "POSTAL_CODE",
            r"(?:\b(?:zip|post(?:al)?.?code)(?:[ _\-]?code)?"
            + LABEL_SEP
            + r"|,\s*[A-Z]{2}\s+)(?P<value>\d{5}(?:-\d{4})?|[A-Z]\d[A-Z] ?\d[A-Z]\d)\b",
            flags=0,
            score=0.6,
            gate=r"zip|post(?:al)?.?code|,\s*[a-z]{2}\s+\d{5}",
        ),
        # German and French: after a comma, before the town (", 10115 Berlin").
        RegexRecognizer(
            "POSTAL_CODE",
            r"(?<=, )\d{5}(?= [A-ZÀ-Þ][a-zà-ÿ]+)",
            flags=0,
            score=0.6,
            gate=r", \d{5} ",
        ),
    ]


# The public-suffix snapshot bundled with tldextract: presidio's email check would otherwise try
# to download the list at the first email (and log a traceback where there is no network).
_OFFLINE_TLDS = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


@lru_cache(maxsize=4096)
def _has_public_suffix(host: str) -> bool:
    return _OFFLINE_TLDS(host).fqdn != ""


class OfflineEmailRecognizer(EmailRecognizer):
    """presidio's email recognizer, with its domain check made offline. The check reads only
    the host part (what tldextract's lenient_netloc keeps), so it is cached per host."""

    def validate_result(self, pattern_text: str) -> bool:
        return _has_public_suffix(lenient_netloc(pattern_text))


class StrictNhsRecognizer(NhsRecognizer):
    """presidio's NHS number, in the NHS's own format: 3-3-4 digits with spaces or none. A
    hyphenated 3-3-4 is how US phone numbers are written (and passes the mod-11 check one time
    in eleven), and digits after a `+country` code are a phone number."""

    def __init__(self) -> None:
        super().__init__(
            patterns=[
                Pattern("NHS (medium)", r"(?<![\d+][ \-])(?<![+\-])\b\d{3}( ?)\d{3}\1\d{4}\b", 0.5)
            ]
        )


class GatedPhoneRecognizer(PhoneRecognizer):
    """presidio's phone recognizer (libphonenumber's matcher, ~50 µs per region per value), run
    only on values that hold a run of digits long enough to be a phone number."""

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        if PHONE_GATE.search(text) is None:
            return []
        results: list[RecognizerResult] = super().analyze(text, entities)  # uses no NLP
        return results


def presidio_recognizers() -> list[EntityRecognizer]:
    """presidio's recognizers whose hits stand without context (checksums or strict shapes)."""
    return [
        OfflineEmailRecognizer(),
        # Numbers with a +country prefix are found for every country; national formats only for
        # these regions (US covers Canada's). DE and AU are left out: they accept 6-digit numbers
        # (ORD-130622).
        GatedPhoneRecognizer(supported_regions=("US", "GB", "FR", "IN")),
        # Cards: proctor:credit_card (patterns.py) knows every brand's issuer ranges; presidio's
        # card recognizer would add only Luhn-valid numbers no brand issues.
        IbanRecognizer(),
        UsSsnRecognizer(),
        IpRecognizer(),
        MedicalLicenseRecognizer(),
        StrictNhsRecognizer(),
        UsMbiRecognizer(),
        UkNinoRecognizer(),
    ]


def _spacy_model_installed() -> bool:
    try:
        import spacy.util
    except ImportError:  # pragma: no cover - spaCy comes with presidio
        return False
    return bool(spacy.util.is_package(SPACY_MODEL))


def build_analyzer(recognizers: Iterable[EntityRecognizer], use_ner: bool) -> AnalyzerEngine:
    """A presidio engine over exactly `recognizers`; spaCy NER only if `use_ner`."""
    model = SPACY_MODEL if use_ner else "no_op"
    engine_name = "spacy" if use_ner else "no_op"
    nlp_engine = NlpEngineProvider(
        nlp_configuration={
            "nlp_engine_name": engine_name,
            "models": [{"lang_code": "en", "model_name": model}],
        }
    ).create_engine()
    registry = RecognizerRegistry(supported_languages=["en"])
    for recognizer in recognizers:
        registry.add_recognizer(recognizer)
    if use_ner:
        from presidio_analyzer.predefined_recognizers import SpacyRecognizer

        registry.add_recognizer(SpacyRecognizer(supported_entities=list(NER_ENTITIES)))
    return AnalyzerEngine(nlp_engine=nlp_engine, registry=registry, supported_languages=["en"])


# presidio's DEA-number pattern has no word boundaries: it fires inside hex digests.
_WHOLE_WORD_ENTITIES = frozenset({"MEDICAL_LICENSE"})
# Numbers that are part of an identifier when glued to letters (ORD-2024-321515, INV-555-0111).
_STANDALONE_ENTITIES = frozenset({PHONE_ENTITY, "UK_NHS", "US_SSN"})


def _whole_word(text: str, start: int, end: int) -> bool:
    return (start == 0 or not text[start - 1].isalnum()) and (
        end == len(text) or not text[end].isalnum()
    )


def _standalone(text: str, start: int, end: int) -> bool:
    """No letter next to the span, nor one separator (-, _, /) away from it."""
    before = start - 1
    if before >= 0 and text[before] in "-_/":
        before -= 1
    after = end + 1 if end < len(text) and text[end] in "-_/" else end
    return not (before >= 0 and text[before].isalpha()) and not (
        after < len(text) and text[after].isalpha()
    )


def accepted(entity: str, text: str, start: int, end: int) -> bool:
    """Whether a recognizer's span stands as a finding of `entity` where it lies."""
    if entity in _WHOLE_WORD_ENTITIES:
        return _whole_word(text, start, end)
    if entity in _STANDALONE_ENTITIES:
        return _standalone(text, start, end)
    return True


class Detector:
    """Finds sensitive spans in one string. Build once per process (building takes ~1 s).

    Without NER, each recognizer is called directly, and only on values that pass its gate
    (routing.py); the phone recognizer, the slowest by far, comes last and is skipped when every
    long run of digits lies inside a finding that outranks a phone number (a card, an IBAN).
    Findings are remembered per value (an LRU of `cache_size` values of up to
    `CACHED_CHARS` characters), so a value seen again costs a dictionary look-up; a longer value's
    findings are remembered by its digest (BLAKE2b, 128 bits), `LONG_CACHED` of them, so a long
    value seen again costs hashing it rather than reading it again, without keeping it.
    """

    CACHED_CHARS = 512
    LONG_CACHED = 4096

    def __init__(
        self,
        analyzer: AnalyzerEngine,
        entities: Sequence[str],
        min_score: float,
        cache_size: int = 65536,
    ) -> None:
        self.analyzer = analyzer
        self.entities = list(entities)
        self.min_score = min_score
        # A spaCy model among the recognizers: it reads every text, so nothing is routed.
        self.uses_ner = any(
            type(r).__name__ == "SpacyRecognizer" for r in analyzer.registry.recognizers
        )
        wanted = set(self.entities)
        # Without NER the engine's NLP step, context enhancer and bookkeeping do nothing for
        # these recognizers but cost ~120 µs a value: call the recognizers themselves.
        no_nlp = analyzer.nlp_engine.process_text("", "en")
        self.routes: list[Route] = []
        self._phone: PhoneRunner | None = None
        if not self.uses_ner:
            for r in analyzer.registry.recognizers:
                entities_here = [e for e in r.supported_entities if e in wanted]
                if not entities_here:
                    continue
                if isinstance(r, PhoneRecognizer) and entities_here == [PHONE_ENTITY]:
                    self._phone = phone_runner(r)
                else:
                    self.routes.append(route(r, entities_here, no_nlp, min_score))
        self._groups = gate_groups(self.routes)
        self._ascii_groups: list[AsciiGroup] | None = ascii_groups(self._groups)  # None: unused
        self.cache_size = cache_size
        # What core.mask makes of a value, per MaskSettings object (see core._results).
        self.results: dict[object, tuple[Any, Callable[..., Any]]] = {}
        self._cached = lru_cache(maxsize=cache_size)(self._find)
        self._long: OrderedDict[bytes, tuple[Finding, ...]] = OrderedDict()
        self.prefilter = Prefilter(everything=self.uses_ner)
        self._screened = lru_cache(maxsize=cache_size)(self._screen)

    def _hits(self, text: str) -> list[Hit]:
        if self.uses_ner:
            return [
                Hit(r.entity_type, r.start, r.end, r.score)
                for r in self.analyzer.analyze(
                    text=text, language="en", entities=self.entities,
                    score_threshold=self.min_score,
                )
            ]  # fmt: skip
        hits: list[Hit] = []
        if self._ascii_groups is not None and text.isascii():
            low = text.lower()  # gates in their ASCII forms: case-insensitive costs ~3x
            for group in self._ascii_groups:
                gate = group.gate
                if gate is not None and gate.search(low if group.lowered else text) is None:
                    continue
                for r, low_gate in group.members:
                    if low_gate is None or low_gate.search(low) is not None:
                        hits += r.run(text)
        else:
            for union, routes in self._groups:
                if union is None or union.search(text) is not None:
                    for r in routes:
                        if r.gate is None or r.gate is union or r.gate.search(text) is not None:
                            hits += r.run(text)
        if self._phone is not None and PHONE_GATE.search(text) is not None:
            # A phone number scores 0.4 and is no secret: any finding of a higher score or a
            # secret wins over a phone number it overlaps, so only digits outside them count;
            # nor can one begin in digits glued to letters (identifiers: `unglued`).
            free = unglued(text)
            strong = [h for h in hits if h.score > PHONE_SCORE or h.entity in SECRET_ENTITIES]
            if PHONE_GATE.search(blank(free, strong) if strong else free) is not None:
                hits += self._phone(text)
        return hits

    def _find(self, text: str) -> tuple[Finding, ...]:
        min_score = self.min_score
        return tuple(
            resolve_overlaps(
                Finding(h.entity, h.start, h.end, h.score)
                for h in self._hits(text)
                if h.score >= min_score
                and h.end > h.start
                and accepted(h.entity, text, h.start, h.end)
            )
        )

    def find(self, text: str) -> Sequence[Finding]:
        if len(text) > self.CACHED_CHARS:
            return self._find_long(text)
        return self._cached(text)

    def _find_long(self, text: str) -> tuple[Finding, ...]:
        digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()
        found = self._long.get(digest)
        if found is not None:
            self._long.move_to_end(digest)
            return found
        found = self._long[digest] = self._find(text)
        if len(self._long) > self.LONG_CACHED:
            self._long.popitem(last=False)
        return found

    def _screen(self, text: str) -> Sequence[Finding] | None:
        return self.find(text) if self.prefilter.could_contain(text) else None

    def screen(self, text: str) -> Sequence[Finding] | None:
        """None when the prefilter rules every recognizer out, else `find(text)`; remembered
        per value like `find`, so a value seen again skips the prefilter too."""
        if len(text) > self.CACHED_CHARS:
            return self._screen(text)
        return self._screened(text)

    def forget(self) -> None:
        """Forget every verdict remembered across values (findings, prefilter verdicts, phone
        number candidates, email hosts), as in a process that has seen none of them."""
        self._cached.cache_clear()
        self._long.clear()
        self._screened.cache_clear()
        self.results.clear()
        if self._phone is not None:
            self._phone.forget()
        _has_public_suffix.cache_clear()
        forget_prefilter()

    def warm_up(self) -> None:
        """Load what the recognizers load on first use (libphonenumber reads each region's
        metadata then, ~10 ms a region), so the first batch served does not pay for it."""
        sample = "+1 212 555 0134, 020 7946 0958, 01 23 45 67 89, 98765 43210, a@example.com"
        self._find(sample)
        if self._phone is not None:
            self._phone(sample)


def resolve_overlaps(findings: Iterable[Finding]) -> list[Finding]:
    """Of overlapping findings keep secrets first (`user:pass@host` also reads as an email), then
    the most confident (an IP also reads as a phone number), then the longest; in text order."""
    chosen: list[Finding] = []
    ranked = sorted(
        findings,
        key=lambda f: (f.entity not in SECRET_ENTITIES, -f.score, f.start - f.end, f.start),
    )
    for f in ranked:
        if all(f.end <= c.start or f.start >= c.end for c in chosen):
            chosen.append(f)
    return sorted(chosen, key=lambda f: f.start)


def build_detector(min_score: float = 0.4, ner: bool | None = None) -> Detector:
    """The masker's detector. `ner=None`: use spaCy NER when its model is installed."""
    use_ner = _spacy_model_installed() if ner is None else ner
    recognizers = presidio_recognizers() + secret_recognizers() + place_recognizers()
    recognizers.append(PersonNameRecognizer())
    entities = sorted({e for r in recognizers for e in r.supported_entities})
    if use_ner:
        entities += NER_ENTITIES
    else:
        log.info(
            "no spaCy model %s installed: people's names are found by name lists and column "
            "names, places only as street lines and postcodes (install it for NER's %s)",
            SPACY_MODEL,
            ", ".join(NER_ENTITIES),
        )
    return Detector(build_analyzer(recognizers, use_ner), entities, min_score)
