"""Street lines without a model: a house number and a street name with its street type, in
the common forms of the US and UK (`221B Baker Street`), Germany and the Netherlands
(`Hauptstraße 5`, `Kerkstraat 12`), France (`12, rue de la Paix`), and Spain, Italy and
Portugal (`Calle Mayor 3`, `Via Roma, 12`).

The street types are Faker's (MIT, maintained, no download at run time): the USPS suffixes
its en_US provider carries and the prefixes and suffixes of its other locales, with the usual
abbreviations added. The masker's recognizer uses `STREET_LINE` (capitalised names); the
proxy's prefilter uses `STREET_PREFILTER`, lower case and never narrower.
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


def _alternation(words: set[str]) -> str:
    return "|".join(re.escape(w) for w in sorted(words, key=lambda w: (-len(w), w)))


_CAP = r"[A-ZÀ-ÖØ-Þ][\w'’.\-]*"
_LOW = r"(?:de|del|della|dei|delle|di|da|do|dos|das|la|le|l['’]|d['’]|du|des|van|von|der)"
_NUMBER = r"\d{1,5}[A-Za-z]?(?:[-/]\d{1,4})?"

#: A street line (case-sensitive: its names capitalised).
STREET_LINE = re.compile(
    rf"\b{_NUMBER},?\s+(?:{_CAP}\s+){{1,4}}(?:{_alternation(_EN_TYPES)})\b\.?"
    rf"|\b(?:{_alternation(_LEAD_TYPES)})\s+(?:{_LOW}\s+)*{_CAP}(?:\s+(?:{_LOW}\s+)*{_CAP}){{0,3}}"
    rf",?\s+{_NUMBER}\b"
    rf"|\b(?:{_CAP}[ \-])*(?:[A-ZÀ-Þ][^\W\d_]*(?:{_alternation(_GLUED_TYPES)})|"
    rf"(?:{_alternation({w.capitalize() for w in _GLUED_TYPES})}))\s+{_NUMBER}\b"
    rf"|\b{_NUMBER}(?:\s?(?:bis|ter))?,?\s+(?i:{_alternation(_FR_TYPES)})\s+(?:{_LOW}\s*)*"
    rf"{_CAP}(?:\s+{_CAP}){{0,3}}"
)

#: The prefilter's superset of STREET_LINE, lower case (searched in lowered text too).
STREET_PREFILTER = (
    rf"\d[a-z]?,?\s+(?:[^\s]+\s+){{1,4}}(?:{_alternation({w.lower() for w in _EN_TYPES})})\b"
    rf"|\b(?:{_alternation({w.lower() for w in _LEAD_TYPES})})\s[^\n]{{1,80}}?\d"
    rf"|(?:{_alternation(_GLUED_TYPES)})\s+\d"
    rf"|\d(?:\s?(?:bis|ter))?,?\s+(?:{_alternation({w.lower() for w in _FR_TYPES})})\s"
)
