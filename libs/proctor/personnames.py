"""People's names without a model: given names and surnames of many locales, and the pairs of
capitalised words in a text that read as a person's name.

The lists are Faker's (MIT, maintained, no download at run time): its person providers carry
the common given names and surnames of each locale; the locales below are every one whose names
are written in the Latin alphabet, Faker's romanised Japanese and Chinese lists, and the
Cyrillic, Greek, Armenian and Georgian lists romanised by anyascii (ISC, maintained). A pair is
a name when a known given name comes first and the second word is a known surname, is not a
common word of any of seven European languages (so an uncommon surname counts: "Grace Hopper"
is a person, "Grace Period" is not), or has a word around it that says a person is meant (Mr,
Dr, customer, contact, ...); when an uncommon word, no place's, comes before a known surname
that is not a common word either (a given name the lists lack); or when a word that introduces
a person (customer, dear, regards, ...) comes right before two known or uncommon capitalised
words. Common words are pyspellchecker's frequency lists (MIT, maintained, built from
subtitles, shipped in the wheel); place words are those of the places Faker's address
providers list. The masker decides; the proxy's prefilter uses `could_hold_name`, which is
never narrower.
"""

from __future__ import annotations

import gzip
import importlib
import importlib.resources
import itertools
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from anyascii import anyascii

from proctor import wordcache

LOCALES = (
    "en", "en_US", "en_GB", "en_IE", "en_IN", "en_CA", "en_AU", "en_NZ", "en_KE", "en_NG",
    "en_PK", "en_TH", "ga_IE", "de_DE", "de_AT", "de_CH", "de_LI", "de_LU", "fr_FR", "fr_BE",
    "fr_CA", "fr_CH", "fr_DZ", "fr_QC", "es", "es_ES", "es_MX", "es_AR", "es_CA", "es_CL", "es_CO",
    "it_IT", "nl_NL", "nl_BE", "pt_BR", "pt_PT", "pl_PL", "cs_CZ", "sk_SK", "sl_SI", "hr_HR",
    "hu_HU", "ro_RO", "sv_SE", "da_DK", "no_NO", "fi_FI", "is_IS", "et_EE", "lt_LT", "lv_LV",
    "tr_TR", "az_AZ", "uz_UZ", "id_ID", "vi_VN", "sw", "yo_NG", "ig_NG", "ha_NG", "tw_GH", "zu_ZA",
)  # fmt: skip
# Locales whose names Faker also lists romanised (Hiroshi, Tanaka; Wei, Zhang).
ROMANISED = ("ja_JP", "zh_CN", "zh_TW")
# Locales whose alphabets anyascii romanises letter for letter (Cyrillic, Greek, Armenian,
# Georgian): Volkov, Papadopoulos. Scripts that leave vowels unwritten (Arabic, Hebrew) or
# implied (Devanagari, Tamil) do not romanise to the spellings people use, so they are left out.
TRANSLITERATED = ("ru_RU", "uk_UA", "bg_BG", "mk_MK", "el_GR", "hy_AM", "ka_GE")
# The languages whose common words are not surnames (pyspellchecker's lists).
WORD_LANGUAGES = ("en", "de", "fr", "es", "it", "nl", "pt")
# A word used at least this often per million words of a language is a common word.
COMMON_PER_MILLION = 1.0

# Capitalised words that are names in the lists but, before another capitalised word, far more
# often start something else (a month, a weekday, a modal, a product line).
NOT_GIVEN = frozenset({
    "May", "June", "April", "August", "January", "March", "Will", "Mark", "Bill", "Page",
    "Art", "Hope", "Faith", "Joy", "Rose", "Iris", "Holly", "Summer", "Autumn", "Winter",
    "Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Max",
    "Pro", "Prime", "Else", "Lane", "Sky", "Star", "River", "Ray", "Gene", "Dean", "Chase",
    "Grant", "Price", "Miles", "Royal", "Major", "General", "Son", "Christian", "Angel",
    "Paris", "London", "Berlin", "Sydney", "Florence", "Austin", "Dallas", "Phoenix", "Jersey",
    "Georgia", "Virginia", "Carolina", "India", "China", "Israel", "Jordan", "Kennedy",
    "Lincoln", "Washington", "Madison", "Jackson", "Victoria", "Adelaide", "Charlotte",
    "Chelsea", "Camden", "Hudson", "Brooklyn", "Orlando", "Santiago", "Dakota", "Nevada",
    "Amazon", "Apple", "Oracle", "Tesla", "Ford", "Dell", "Mercedes", "Porsche", "Jaguar",
    # words that begin place names (Santa Monica, Villa Borghese, North Dakota)
    "Santa", "Santo", "San", "Saint", "Mont", "Monte", "Villa", "Isla", "Sierra", "Mar", "Ville",
    "El", "North", "South", "East", "West", "Little", "Fort", "Port", "Mount", "Lake", "Cape",
})  # fmt: skip
# Of those, the ones that after a given name still start something else; the rest are surnames
# there (Mary Jackson, Andrew Lincoln, Anna Ford).
NOT_SURNAME = frozenset({
    "May", "June", "April", "August", "January", "March", "Will", "Mark", "Bill", "Page",
    "Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Max",
    "Pro", "Prime", "Else", "Sky", "Star", "Royal", "Major", "General",
    "Santa", "Santo", "San", "Saint", "Mont", "Monte", "Villa", "Isla", "Sierra", "Mar", "Ville",
    "El", "North", "South", "East", "West", "Little", "Fort", "Port", "Mount", "Lake", "Cape",
})  # fmt: skip

# Words near a pair that say a person is meant.
CONTEXT = re.compile(
    r"\b(?:mr|mrs|ms|miss|mx|dr|prof|sir|dame|herr|frau|m\.|mme|mlle|sr|sra|sig|"
    r"customer|client|contact|patient|employee|user|owner|holder|cardholder|recipient|"
    r"name|signed|sincerely|dear|hi|hello|attn|attention|spoke|called|emailed|met|"
    r"née|geb|per|by|from|to|for|with|cc)\b",
    re.IGNORECASE,
)

# A capitalised word (any alphabet's letters), with one hyphen or apostrophe part.
_WORD = re.compile(r"[^\W\d_]+(?:['’](?![sS]\b)[^\W\d_]+|-[^\W\d_]+)?")  # not a possessive 's
# Particles inside surnames: van der Berg, de la Cruz, O'Neil is one word.
_PARTICLES = frozenset({"van", "von", "der", "den", "de", "da", "di", "del", "della", "la",
                        "le", "du", "dos", "das", "ter", "ten", "zu", "bin", "al"})  # fmt: skip
_GAP = re.compile(r"[ \t]+(?:[A-Z]\.[ \t]+)?")  # one space run, maybe a middle initial


@lru_cache(maxsize=1)
def name_lists() -> tuple[frozenset[str], frozenset[str]]:
    """(given names, surnames), capitalised as written; built once per machine (wordcache)."""
    given = wordcache.remembered(_cache_key("given"), lambda: _faker_names(_GIVEN_ATTRS))
    surnames = wordcache.remembered(_cache_key("surnames"), lambda: _faker_names(("last_names",)))
    return given - NOT_GIVEN, surnames


_GIVEN_ATTRS = ("first_names", "first_names_male", "first_names_female")


def _cache_key(name: str) -> str:
    return wordcache.key(name, Path(__file__), ("faker", "pyspellchecker", "anyascii"))


def _faker_names(attrs: tuple[str, ...]) -> set[str]:
    names: set[str] = set()
    for locale in LOCALES + ROMANISED + TRANSLITERATED:
        try:
            provider = importlib.import_module(f"faker.providers.person.{locale}").Provider
        except ImportError:  # a locale a Faker release dropped
            continue
        for attr in attrs:
            if locale in ROMANISED:
                attr = attr.replace("_names", "_romanized_names")
            listed = _listed(provider, attr)
            if locale in TRANSLITERATED:
                listed = (_romanise(n) for n in listed)
            names.update(n for n in listed if _plain(n))
    return names


def _romanise(name: str) -> str:
    latin = anyascii(name)
    return latin[:1].upper() + latin[1:]  # Georgian has no capitals


def _listed(provider: object, attr: str) -> Iterable[str]:
    names = getattr(provider, attr, None)  # a tuple, a dict of weights, or absent
    return names if isinstance(names, (tuple, list, dict)) else ()


def _plain(name: str) -> bool:
    """One capitalised word in the Latin alphabet (with a hyphen or apostrophe at most)."""
    return bool(name) and name[0].isupper() and all(_latin(c) or c in "'-" for c in name)


def _latin(c: str) -> bool:
    return c.isalpha() and ("A" <= c <= "z" or "\u00c0" <= c < "\u0250")


@lru_cache(maxsize=1)
def common_words() -> frozenset[str]:
    """Lowercase words used at least COMMON_PER_MILLION times per million in any of
    WORD_LANGUAGES; built once per machine (wordcache)."""
    return wordcache.remembered(_cache_key("common"), _frequent_words)


def _frequent_words() -> set[str]:
    words: set[str] = set()
    resources = importlib.resources.files("spellchecker") / "resources"
    for language in WORD_LANGUAGES:
        with (resources / f"{language}.json.gz").open("rb") as raw:
            counts: dict[str, int] = json.loads(gzip.decompress(raw.read()))
        floor = sum(counts.values()) * COMMON_PER_MILLION / 1e6
        words.update(w for w, n in counts.items() if n >= floor)
    return words


@lru_cache(maxsize=1)
def place_words() -> frozenset[str]:
    """The words of the countries, states, regions and cities Faker's address providers list
    in the Latin alphabet (Sri Lanka, Costa Rica, Ferrara); built once per machine."""
    return wordcache.remembered(_cache_key("places"), _faker_places)


_PLACE_SPLIT = re.compile(r"[\s\-/,.()]+")
_PLACE_ATTRS = ("countries", "states", "provinces", "regions", "cities", "city_names")


def _faker_places() -> set[str]:
    words: set[str] = set()
    for locale in LOCALES:
        try:
            provider = importlib.import_module(f"faker.providers.address.{locale}").Provider
        except ImportError:  # a locale without an address provider
            continue
        for attr in _PLACE_ATTRS:
            for place in _listed(provider, attr):  # a name, or a tuple of name and code
                for text in place if isinstance(place, tuple) else (place,):
                    words.update(w for w in _PLACE_SPLIT.split(text) if len(w) > 2 and _plain(w))
    return words


def _capitalised(word: str) -> bool:
    return word[0].isupper() and (len(word) == 1 or not word[1:].isupper())


@dataclass(frozen=True, slots=True)
class NamePair:
    """A given name followed by a capitalised word: [start, end) of both; `surname_known` when
    the word is a known surname or follows a particle, `surname_uncommon` when it is not a common
    word."""

    start: int
    end: int
    surname_known: bool
    surname_uncommon: bool


_Word = tuple[int, int, str]  # start, end, the word
# A given name after one of these is a saint's in a place's name (San Giuliano Terme, St Mary
# Axe, São Paulo).
_SAINT_BEFORE = re.compile(
    r"\b(?:San|Santa|Santo|Saint|Sainte|St|Ste|São|Sankt|Sint|Szent)\.?[ \t]+$"
)


def _words(text: str) -> list[_Word]:
    return [(m.start(), m.end(), m.group()) for m in _WORD.finditer(text)]


def name_pairs(text: str, words: list[_Word] | None = None) -> Iterator[NamePair]:
    """Each known given name followed (after a space, maybe a middle initial and surname
    particles) by a capitalised word."""
    given, surnames = name_lists()
    if words is None:
        if given.isdisjoint(_WORD.findall(text)):
            return
        words = _words(text)
    common = common_words()
    for i, (start, end, word) in enumerate(words):
        if word not in given or _SAINT_BEFORE.search(text, max(0, start - 8), start):
            continue
        j = i + 1
        last_end = end
        particle = False
        while j < len(words):
            gap = text[last_end : words[j][0]]
            if not _GAP.fullmatch(gap) and not (gap == "" and j > i + 1):
                break
            candidate = words[j][2]
            if candidate.lower() in _PARTICLES and not _capitalised(candidate):
                last_end = words[j][1]
                particle = True  # van, de, von ...: what follows is a surname
                j += 1
                continue
            if (
                _capitalised(candidate)
                and candidate not in NOT_SURNAME
                and (candidate not in NOT_GIVEN or candidate in surnames)
                and candidate.lower() not in _NOT_A_PERSON
                and not _company_follows(text, words[j][1])
            ):
                known = particle or candidate in surnames or candidate.split("-")[-1] in surnames
                uncommon = not known and candidate.lower() not in common
                yield NamePair(start, words[j][1], known, uncommon)
            break


def surname_pairs(text: str, words: list[_Word] | None = None) -> Iterator[tuple[int, int]]:
    """Each uncommon capitalised word, no place's, followed (after a space, maybe a middle
    initial) by a known surname that is not a common word either: a given name the lists
    lack (Haruki Murakami)."""
    _, surnames = name_lists()
    if words is None:
        words = _words(text)
    common = common_words()
    places = place_words()
    for (start, end, first), (s2, end2, second) in itertools.pairwise(words):
        if (
            second in surnames
            and _capitalised(first)
            and len(first) > 1
            and _GAP.fullmatch(text[end:s2])
            and first not in NOT_GIVEN
            and first.lower() not in common
            and first.lower() not in _NOT_A_PERSON
            and second.lower() not in common
            and first not in places
            and not _company_follows(text, end2)
        ):
            yield start, end2


# A company's legal form after a pair makes it a company named for people (Wagner Hornich GmbH,
# Lefebvre Garcia et Fils).
_COMPANY_FORM = re.compile(
    r"[ \t,]*(?:&|(?:et|e|und|y)[ \t]+(?:Fils|Figli|Söhne|Hijos|Filhos)\b|"
    r"(?:Inc|INC|Ltd|LTD|LLC|LLP|PLC|plc|Corp|Co|GmbH|AG|KG|KGaA|OHG|SE|SA|SAS|SARL|"
    r"S\.A|S\.L|BV|B\.V|NV|N\.V|AB|Oy|OY|SpA|S\.p\.A|Srl|S\.r\.l|Pty|GbR|UG|e\.V|e\.G|eG|"
    r"Stiftung|Group|Holding|Holdings|Partners|Associates)\b(?![-'’]))"
)


def _company_follows(text: str, end: int) -> bool:
    return _COMPANY_FORM.match(text, end) is not None


# A title, then one or two capitalised words: a person whatever the names are.
_TITLES = (
    "Mr",
    "Mrs",
    "Ms",
    "Miss",
    "Mx",
    "Dr",
    "Prof",
    "Sir",
    "Dame",
    "Herr",
    "Frau",
    "Mme",
    "Mlle",
)
_NAME_WORD = r"[A-ZÀ-Þ][^\W\d_]+(?:['’](?![sS]\b)[^\W\d_]+|-[^\W\d_]+)?"
_TITLED = re.compile(
    rf"\b(?:{'|'.join(_TITLES)})\.?[ \t]+(?P<name>{_NAME_WORD}(?:[ \t]+{_NAME_WORD})?)"
)

# A word that introduces a person (in lower, capitalised or upper case), right before two
# capitalised words: "Customer Oluwaseun Adebayo", "Dear Chiamaka Eze".
_INTRODUCERS = tuple(
    spelling
    for word in ("customer", "client", "contact", "patient", "employee", "cardholder",
                 "recipient", "beneficiary", "user", "owner", "guest", "passenger", "member",
                 "applicant", "sender", "signatory", "dear", "hi", "hello", "attn", "cc", "thanks",
                 "regards", "sincerely", "née", "geb")
    for spelling in (word, word.capitalize(), word.upper())
)  # fmt: skip
_INTRODUCED = re.compile(
    rf"\b(?:{'|'.join(_INTRODUCERS)})[.:,]?[ \t]+"
    rf"(?P<name>(?P<first>{_NAME_WORD})[ \t]+(?P<second>{_NAME_WORD}))"
)
# The words without which neither pattern can match (a cheap set test before the search).
_CUE_WORDS = frozenset(_TITLES + _INTRODUCERS)


def introduced_pairs(text: str) -> Iterator[tuple[int, int]]:
    """Two capitalised words (not acronyms) right after a word that introduces a person, each a
    known name or an uncommon word, and the first no place's."""
    given, surnames = name_lists()
    common = common_words()
    for m in _INTRODUCED.finditer(text):
        first, second = m.group("first"), m.group("second")
        if (
            _capitalised(first)
            and _capitalised(second)  # not an acronym (Kubernetes SIG, Grafana OSS)
            and (first in given or first.lower() not in common)
            and (second in surnames or second.lower() not in common)
            and first not in NOT_GIVEN
            and first not in place_words()
            and second.lower() not in _NOT_A_PERSON
            and not _company_follows(text, m.end())
        ):
            yield m.span("name")


def person_spans(text: str) -> list[tuple[int, int]]:
    """The people's names in free text: a known given name and a known surname or an uncommon
    capitalised word; a known given name and any capitalised word with a context word in the
    text; an uncommon capitalised word and a known uncommon surname; two capitalised words,
    known names or uncommon, after a word that introduces a person; a title and one or two
    capitalised words. Each span once, in order."""
    plain = _WORD.findall(text)
    out: list[tuple[int, int]] = []
    if not _CUE_WORDS.isdisjoint(plain):
        out += (m.span("name") for m in _TITLED.finditer(text))
        out += introduced_pairs(text)
    given, surnames = name_lists()
    has_given = not given.isdisjoint(plain)
    has_surname = not surnames.isdisjoint(plain[1:])
    if has_given or has_surname:
        words = _words(text)
        if has_surname:
            out += surname_pairs(text, words)
        if has_given:
            out += _accepted_pairs(text, words)
    return sorted(set(out)) if len(out) > 1 else out


def _accepted_pairs(text: str, words: list[_Word]) -> Iterator[tuple[int, int]]:
    """The given-name pairs that are names: with a known or uncommon surname, or with a context
    word anywhere in the text."""
    context = None
    for pair in name_pairs(text, words):
        if not (pair.surname_known or pair.surname_uncommon):
            if context is None:
                context = CONTEXT.search(text) is not None
            if not context:
                continue
        yield pair.start, pair.end


_ASCII_CAPITALISED = re.compile(r"[A-Z][a-z]")


def could_hold_name(text: str) -> bool:
    """Never False where `person_spans` finds something: a known given name is followed by
    another word, a known surname follows one, or a title or a word that introduces a person
    comes before capitalised words."""
    if text.isascii() and _ASCII_CAPITALISED.search(text) is None:
        return False
    words = _WORD.findall(text)
    given, surnames = name_lists()
    return (
        not _CUE_WORDS.isdisjoint(words)
        or not given.isdisjoint(words[:-1])
        or not surnames.isdisjoint(words[1:])
    )


# ---- column hints -----------------------------------------------------------------------------

_PERSON_COLUMN = re.compile(
    r"(?:^|_)(?:first_?name|last_?name|sur_?name|given_?name|family_?name|full_?name|"
    r"middle_?name|maiden_?name|(?:customer|contact|patient|employee|client|owner|"
    r"account_?holder|card_?holder|recipient|billing|shipping|beneficiary|guardian|"
    r"emergency_contact|person|member|student|passenger|guest|doctor|physician|nurse)_?name|"
    r"cardholder|account_holder)$",
    re.IGNORECASE,
)
# Columns whose values are people more often than not, but not always (a product's `name`).
_MAYBE_PERSON_COLUMN = re.compile(
    r"^(?:name|contact|patient|employee|customer|owner|recipient|author|assignee|reporter|"
    r"requester|holder|signatory)$",
    re.IGNORECASE,
)


def person_column(name: str) -> str | None:
    """ "sure" for a column of people's names by its name, "maybe" for one that often is
    (`name`), None otherwise."""
    if _PERSON_COLUMN.search(name):
        return "sure"
    if _MAYBE_PERSON_COLUMN.search(name):
        return "maybe"
    return None


# Words that, in a `name` column, say the row is not a person.
_NOT_A_PERSON = frozenset({
    "inc", "ltd", "llc", "llp", "plc", "corp", "corporation", "co", "company", "gmbh", "ag",
    "sa", "sas", "sarl", "bv", "nv", "ab", "oy", "spa", "srl", "group", "holdings", "team",
    "kg", "kgaa", "ohg", "gbr", "mbh", "pty", "coop",
    "department", "dept", "office", "service", "services", "systems", "solutions", "labs",
    "pro", "max", "plus", "mini", "ultra", "lite", "edition", "premium", "basic", "standard",
    "enterprise", "free", "plan", "tier", "bundle", "pack", "kit", "set", "series", "model",
    "version", "cluster", "server", "node", "pod", "queue", "topic", "bucket",
    "street", "road", "avenue", "city", "county", "state", "park", "hotel", "airport",
    "station", "university", "school", "hospital", "bank", "store", "shop", "cafe", "restaurant",
})  # fmt: skip


def looks_like_person(value: str) -> bool:
    """For a "maybe" column: two to five words, a capitalised letters-only word, maybe surname
    particles (`Adam de Jong`), a capitalised letters-only word, the rest capitalised,
    particles or numbers (`Ada Lovelace 10`), and none a word of companies, products or
    places."""
    words = value.split()
    if not 2 <= len(words) <= 5:
        return False
    if any(w.strip(",.()").lower() in _NOT_A_PERSON for w in words):
        return False
    if not _name_word(words[0]):
        return False
    i = 1
    while i < len(words) - 1 and words[i] in _PARTICLES:
        i += 1
    if not _name_word(words[i]):
        return False
    return all(w[0].isupper() or w.isdigit() or w in _PARTICLES for w in words[i + 1 :])


def _name_word(word: str) -> bool:
    word = word.strip(",.")
    return bool(word) and word[0].isupper() and word.replace("-", "").replace("'", "").isalpha()
