"""Street lines without a model: a house number and a street name with its street type, in
the common forms of the US and UK (`221B Baker Street`), Germany and the Netherlands
(`Hauptstraße 5`, `Kerkstraat 12`), France (`12, rue de la Paix`), and Spain, Italy and
Portugal (`Calle Mayor 3`, `Via Roma, 12`).

The street types are Faker's (MIT, maintained, no download at run time): the USPS suffixes
its en_US provider carries and the prefixes and suffixes of its other locales, with the usual
abbreviations added. The masker's recognizer and the proxy's prefilter both call
`street_spans`, so the prefilter is never narrower.
"""

from __future__ import annotations

import importlib
import re


def _faker_words(locale: str, attr: str) -> set[str]:
    try:
        provider = importlib.import_module(f"faker.providers.address.{locale}").Provider
    except ImportError:
        return set()
    return {w for w in getattr(provider, attr, ()) or () if w and w != "Street"}


# Number first, type last (US, UK, Ireland, Australia).
_EN_TYPES = (
    _faker_words("en_US", "street_suffixes")
    | _faker_words("en_GB", "street_suffixes")
    | {"Street", "St", "Ave", "Rd", "Blvd", "Ln", "Dr", "Ct", "Pl", "Sq", "Pkwy", "Hwy", "Cir",
       "Close", "Crescent", "Gardens", "Mews", "Grove", "Row", "Terrace", "Walk", "Hill",
       "Parade", "Rise", "Wharf", "Embankment"}
)  # fmt: skip
# Type first, number last (Spain, Italy, Portugal, Latin America).
_LEAD_TYPES = (
    _faker_words("es_ES", "street_prefixes")
    | _faker_words("it_IT", "street_suffixes")
    | _faker_words("pt_PT", "street_prefixes")
    | _faker_words("pt_BR", "street_prefixes")
    | {"Calle", "Avenida", "Av.", "Plaza", "Paseo", "Carrer", "Via", "Viale", "Piazza", "Corso",
       "Largo", "Rua", "Travessa", "Praça", "Estrada"}
)  # fmt: skip
# One word with the name (Germany, the Netherlands, Scandinavia), number last.
_GLUED_TYPES = {"straße", "strasse", "str.", "weg", "platz", "allee", "gasse", "ring", "damm",
                "ufer", "chaussee", "steig", "pfad", "markt"} | _faker_words(
    "nl_NL", "street_suffixes") | {"straat", "laan", "gracht", "kade", "plein", "dijk",
                                   "gatan", "vägen", "gade", "vej"}  # fmt: skip
_FR_TYPES = _faker_words("fr_FR", "street_prefixes") | {
    "rue", "avenue", "av.", "boulevard", "bd", "place", "allée", "impasse", "chemin", "quai",
    "route", "cours", "square", "passage", "cité",
}  # fmt: skip


_EN_LOWER = frozenset(w.lower().rstrip(".") for w in _EN_TYPES)
_LEAD = frozenset(_LEAD_TYPES)
_FR_LOWER = frozenset(w.lower() for w in _FR_TYPES)
_GLUED = tuple(sorted(_GLUED_TYPES, key=len, reverse=True))
_PARTICLES = frozenset(
    {"de", "del", "della", "dei", "delle", "di", "da", "do", "dos", "das", "la", "le", "du", "des",
     "van", "von", "der", "den", "l'", "d'"}
)  # fmt: skip

# A house number and the space after it; a word (letters, with inner ' . -); one with a number.
_HOUSE = re.compile(r"\b\d{1,5}[A-Za-z]?(?:[-/]\d{1,4})?(?:\s?(?:bis|ter))?,?[ \t]+")
_WORD = re.compile(r"[^\W\d_][\w'’.\-]*")
_SPACE = re.compile(r",?[ \t]+")
_NAME_BEFORE = re.compile(r"([^\W\d_][\w'’.]*)[ \-]\Z")
_TRAILING_NUMBER = re.compile(r",?[ \t]+\d{1,5}[A-Za-z]?(?:[-/]\d{1,4})?\b")


# Every street line has a street type among its words (lowered, letters only), or one glued to
# its name right before its number, or a one-letter type (`R.`): cheap tests that spare most
# text the search below.
_LETTERS = re.compile(r"[^\W\d_]+")
_TYPE_TOKENS = frozenset(
    token
    for word in _EN_TYPES | _LEAD_TYPES | _FR_TYPES
    for token in _LETTERS.findall(word.lower())
    if len(token) > 1  # a letter alone is in every hash: such types are searched as written
)
_SHORT_TYPES = sorted(
    w for w in _EN_TYPES | _LEAD_TYPES | _FR_TYPES
    if all(len(t) == 1 for t in _LETTERS.findall(w))
)  # fmt: skip
# Searched in the lowered text (ignoring case costs several times more).
_GLUED_BEFORE_NUMBER = re.compile(
    "(?:"
    + "|".join(re.escape(g) for g in _GLUED)
    + r"),?[ \t]+\d"
    + "".join("|" + re.escape(w.lower()) for w in _SHORT_TYPES)
)


def _capitalised(word: str) -> bool:
    return word[0].isupper()


def _words(text: str, pos: int, most: int) -> list[tuple[int, int, str]]:
    """Up to `most` words from `pos`, each after the previous one's single space run."""
    out: list[tuple[int, int, str]] = []
    while len(out) < most:
        m = _WORD.match(text, pos)
        if m is None:
            break
        out.append((m.start(), m.end(), m.group()))
        gap = _SPACE.match(text, m.end())
        if gap is None:
            break
        pos = gap.end()
    return out


def street_spans(text: str) -> list[tuple[int, int]]:
    """The street lines in `text`, as [start, end) spans."""
    low = text.lower()
    if _TYPE_TOKENS.isdisjoint(_LETTERS.findall(low)) and _GLUED_BEFORE_NUMBER.search(low) is None:
        return []
    spans = []
    for m in _HOUSE.finditer(text):  # number first: US/UK types last, French types first
        words = _words(text, m.end(), 6)
        if not words:
            continue
        first = words[0][2]
        if first.lower() in _FR_LOWER and len(words) > 1:
            names = [w for w in words[1:] if w[2].lower() in _PARTICLES or _capitalised(w[2])]
            named = [w for w in names if _capitalised(w[2])]
            if named and names[: len(names)] == words[1 : 1 + len(names)]:
                spans.append((m.start(), names[-1][1]))
            continue
        for k, (_, end, word) in enumerate(words):
            if not _capitalised(word):
                break
            if k >= 1 and word.lower().rstrip(".") in _EN_LOWER:
                spans.append((m.start(), end))
                break
    for m in _WORD.finditer(text):  # the type, then the name, then the number
        word = m.group()
        if word in _LEAD:
            gap = _SPACE.match(text, m.end())
            if gap is None:
                continue
            for _, end, name in _words(text, gap.end(), 5):
                if name.lower() in _PARTICLES:
                    continue
                if not _capitalised(name):
                    break
                tail = _TRAILING_NUMBER.match(text, end)
                if tail is not None:
                    spans.append((m.start(), tail.end()))
                    break
        elif _capitalised(word) and word.lower().endswith(_GLUED):
            tail = _TRAILING_NUMBER.match(text, m.end())
            if tail is None:
                continue
            start = m.start()
            # Capitalised words before it, hyphenated or spaced, belong to the name.
            while (before := _NAME_BEFORE.search(text, 0, start)) is not None and _capitalised(
                before.group(1)
            ):
                start = before.start()
            spans.append((start, tail.end()))
    return sorted(set(spans))


#: What every street line has: a number before a word, or a word before a number.
STREET_GATE = re.compile(r"\d[A-Za-z]?,?[ \t]+[^\W\d_]|[^\W\d_.][ \t]+\d")


def could_hold_street(text: str) -> bool:
    """Whether `street_spans` finds something (what the prefilter asks)."""
    return STREET_GATE.search(text) is not None and bool(street_spans(text))
