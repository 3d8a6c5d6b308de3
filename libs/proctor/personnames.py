"""People's names without a model: given names and surnames of many locales, and the pairs of
capitalised words in a text that read as a person's name.

The lists are Faker's (MIT, maintained, no download at run time): its person providers carry
the common given names and surnames of each locale; the locales below are every one whose names
are written in the Latin alphabet. A pair is a candidate when its first word is a known given
name; it is a name when the second is a known surname too, when the second is not a common word
of any of seven European languages (so an uncommon surname counts: "Grace Hopper" is a person,
"Grace Period" is not), or when a word around it says a person is meant (Mr, Dr, customer,
contact, ...). Common words are pyspellchecker's frequency lists (MIT, maintained, built from
subtitles, shipped in the wheel). The masker decides; the proxy's prefilter uses
`could_hold_name`, which is never narrower.
"""

from __future__ import annotations

import gzip
import importlib
import importlib.resources
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from proctor import wordcache

LOCALES = (
    "en", "en_US", "en_GB", "en_IE", "en_IN", "en_CA", "en_AU", "en_NZ", "en_KE", "en_NG",
    "en_PK", "en_TH", "ga_IE", "de_DE", "de_AT", "de_CH", "de_LI", "de_LU", "fr_FR", "fr_BE",
    "fr_CA", "fr_CH", "fr_DZ", "fr_QC", "es", "es_ES", "es_MX", "es_AR", "es_CA", "es_CL", "es_CO",
    "it_IT", "nl_NL", "nl_BE", "pt_BR", "pt_PT", "pl_PL", "cs_CZ", "sk_SK", "sl_SI", "hr_HR",
    "hu_HU", "ro_RO", "sv_SE", "da_DK", "no_NO", "fi_FI", "is_IS", "et_EE", "lt_LT", "lv_LV",
    "tr_TR", "az_AZ", "uz_UZ", "id_ID", "vi_VN", "sw", "yo_NG", "ig_NG", "ha_NG", "tw_GH", "zu_ZA",
)  # fmt: skip
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

# Words near a pair that say a person is meant.
CONTEXT = re.compile(
    r"\b(?:mr|mrs|ms|miss|mx|dr|prof|sir|dame|herr|frau|m\.|mme|mlle|sr|sra|sig|"
    r"customer|client|contact|patient|employee|user|owner|holder|cardholder|recipient|"
    r"name|signed|sincerely|dear|hi|hello|attn|attention|spoke|called|emailed|met|"
    r"née|geb|per|by|from|to|for|with|cc)\b",
    re.IGNORECASE,
)

# A capitalised word (any alphabet's letters), with one hyphen or apostrophe part.
_WORD = re.compile(r"[^\W\d_]+(?:['’\-][^\W\d_]+)?")
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
    return wordcache.key(name, Path(__file__), ("faker", "pyspellchecker"))


def _faker_names(attrs: tuple[str, ...]) -> set[str]:
    names: set[str] = set()
    for locale in LOCALES:
        try:
            provider = importlib.import_module(f"faker.providers.person.{locale}").Provider
        except ImportError:  # a locale a Faker release dropped
            continue
        for attr in attrs:
            names.update(n for n in _listed(provider, attr) if _plain(n))
    return names


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


def name_pairs(text: str) -> Iterator[NamePair]:
    """Each known given name followed (after a space, maybe a middle initial and surname
    particles) by a capitalised word."""
    given, surnames = name_lists()
    if given.isdisjoint(_WORD.findall(text)):
        return
    common = common_words()
    words = [(m.start(), m.end(), m.group()) for m in _WORD.finditer(text)]
    for i, (start, end, word) in enumerate(words):
        if word not in given:
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
                and candidate not in NOT_GIVEN
                and candidate.lower() not in _NOT_A_PERSON
            ):
                known = particle or candidate in surnames or candidate.split("-")[-1] in surnames
                uncommon = not known and candidate.lower() not in common
                yield NamePair(start, words[j][1], known, uncommon)
            break


# A title, then one or two capitalised words: a person whatever the names are.
_NAME_WORD = r"[A-ZÀ-Þ][^\W\d_]+(?:['’\-][^\W\d_]+)?"
_TITLED = re.compile(
    r"\b(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Sir|Dame|Herr|Frau|Mme|Mlle)\.?[ \t]+"
    rf"(?P<name>{_NAME_WORD}(?:[ \t]+{_NAME_WORD})?)"
)


def person_spans(text: str) -> list[tuple[int, int]]:
    """The people's names in free text: a known given name and a known surname or an uncommon
    capitalised word, a known given name and any capitalised word with a context word in the
    text, or a title and one or two capitalised words."""
    out = [m.span("name") for m in _TITLED.finditer(text)]
    pairs = list(name_pairs(text))
    if not pairs:
        return out
    context = None
    for pair in pairs:
        if not (pair.surname_known or pair.surname_uncommon):
            if context is None:
                context = CONTEXT.search(text) is not None
            if not context:
                continue
        out.append((pair.start, pair.end))
    return out


_ASCII_CAPITALISED = re.compile(r"[A-Z][a-z]")


def could_hold_name(text: str) -> bool:
    """Never False where `person_spans` finds something: a known given name is followed by
    another word, or a title by a capitalised word."""
    if text.isascii() and _ASCII_CAPITALISED.search(text) is None:
        return False
    if _TITLED.search(text) is not None:
        return True
    words = _WORD.findall(text)
    return not name_lists()[0].isdisjoint(words[:-1])


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
