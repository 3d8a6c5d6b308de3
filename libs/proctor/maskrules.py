"""What the masker and the ingress-proxy must agree on, so the proxy sends the masker every value
it could change and nothing more: the prefilter pattern, the column kinds, and the names of
date-of-birth columns.

The prefilter is a fast, conservative test of whether a value COULD hold anything the
recognizers find. One compiled alternation, case-insensitive like presidio's patterns. It may say
yes to plenty of harmless values (timestamps, prices); it must never say no to a value a
recognizer would flag, which the corpus test checks. When NER is on (names, locations), every
value can match, so the prefilter lets everything through.
"""

from __future__ import annotations

import re
from enum import StrEnum
from functools import lru_cache
from itertools import pairwise

from proctor.personnames import could_hold_name, person_column
from proctor.places import could_hold_street

# Each line covers the recognizers named in its comment. Keep them in step with the masker's
# recognizers.py.
_ALTERNATIVES = (
    r"@",  # email, credentials in URLs
    r"://",  # credentials in URLs
    # Five digits, each pair at most one separator apart: cards, phones, SSN, IBAN, NHS, NINO,
    # DEA numbers, unlabelled dates of birth in common formats. Phones such as +33 1 23 45 67 89
    # are why single separators are allowed.
    r"\d(?:[\s.\-()/]?\d){4}",
    r"\d\.\d{1,3}\.\d",  # IPv4 (1.2.3.4 has only four digits)
    r":[0-9a-f]{0,4}:",  # IPv6, including ::1 (two colons at most four hex digits apart)
    # US Medicare beneficiary ids (1EG4-TE5-MK73): the whole shape, or hex digests all pass.
    r"\d[a-z][a-z0-9]\d-?[a-z][a-z0-9]\d-?[a-z]{2}\d\d",
    r"akia|asia|agpa|aida|aroa",  # AWS access key ids
    r"secret|private_key|private key|accountkey|sharedaccesskey",  # AWS, GCP, PEM, Azure
    r"passw|pwd|token|api.?key|access.?key|credential",  # labelled secrets (KEY=value)
    r"gh[pousr]_|github_pat_|glpat-|xox[abprs]-|[sr]k_(?:live|test)_",  # service tokens
    r"eyj|bearer",  # JWTs, bearer tokens
    r"dob|d\.o\.b|birth|born|ssn|social.security|passport|licen[cs]e|\bdl",  # labels
    # UK postcodes, labelled postcodes (street lines: places.py, in _could_contain).
    r"[a-z]{1,2}\d[a-z\d]? \d[a-z]{2}\b",
    r"zip|post(?:al)?.?code",
    # JSON keys that name a person or an address (their values are masked whole).
    r"\"(?:[a-z_]*name|contact|patient|employee|customer|owner|recipient|address|street|"
    r"city|zip|post(?:al)?_?code)\"\s*:",
)
PATTERN = re.compile("|".join(f"(?:{a})" for a in _ALTERNATIVES), re.IGNORECASE)

# The same test for ASCII text, ~3x faster: case-insensitive matching is what makes PATTERN slow,
# and for ASCII text it equals matching the lowered text (every letter in the alternatives is
# lower case), here with the alternatives that start with `@`, `:` or a digit factored by their
# first character and the keyword alternatives flattened into one. A test proves both agree.
_ASCII_SHAPES = re.compile(
    r"@|:(?://|[0-9a-f]{0,4}:)"
    r"|\d(?:(?:[\s.\-()/]?\d){4}|\.\d{1,3}\.\d|[a-z][a-z0-9]\d-?[a-z][a-z0-9]\d-?[a-z]{2}\d\d)"
)
_ASCII_WORDS = re.compile("|".join(_ALTERNATIVES[6:]))

# A column that holds dates of birth says so in its name; its values need no label.
DOB_COLUMN = re.compile(r"(?:^|_)(?:dob|birth_?date|date_of_birth|birthday|born_on)$", re.I)
# So do columns of addresses and of the places in them.
ADDRESS_COLUMN = re.compile(
    r"(?:^|_)(?:address|addr|street|street_?address|address_?line_?\d|line_?[12]|"
    r"(?:home|billing|shipping|mailing|postal|residential|work)_?address)$",
    re.I,
)
LOCATION_COLUMN = re.compile(r"(?:^|_)(?:city|town|zip|zip_?code|post_?code|postal_?code)$", re.I)

#: What a column's name says its text values are, whatever they look like.
PERSON = "PERSON"
STREET_ADDRESS = "STREET_ADDRESS"
LOCATION = "LOCATION"
MAYBE_PERSON = "PERSON?"  # a `name` column: a person's name when the value looks like one
SECRET = "SECRET"  # a value named for a secret (`password`, `api_token`, `DB_PASSWORD`)

# Secret names: the words of a name (split at separators and camelCase), lower case.
SECRET_WORDS = frozenset({
    "password", "passwd", "pass", "pwd", "pw", "secret", "secrets", "token", "tokens",
    "apikey", "accesskey", "secretkey", "privatekey", "credential", "credentials", "creds",
    "passphrase", "clientsecret", "authtoken",
})  # fmt: skip
# A last word that says the value is about the secret, not the secret (`PASSWORD_FILE`).
_ABOUT = frozenset({
    "name", "file", "path", "dir", "ref", "url", "uri", "length", "len", "size", "expiry",
    "expiration", "ttl", "timeout", "seconds", "enabled", "enable", "disabled", "header", "id",
    "type", "kind", "mode", "policy", "version", "prefix", "suffix", "count", "min", "max",
    "provider", "endpoint", "host", "port", "location", "mount", "format", "algorithm",
    "lifetime", "duration", "audience", "issuer", "namespace", "keys", "field", "at", "on",
    "date", "time", "updated", "changed", "required", "reset", "hint", "strength", "attempts",
})  # fmt: skip
# Words before `key` that make it a credential, whatever names it is in.
_CREDENTIAL_KEYS = frozenset({
    "api", "secret", "private", "access", "signing", "encryption", "master", "client",
    "service", "ssh", "session", "webhook", "hmac", "jwt", "license", "auth", "app",
})  # fmt: skip
_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")


def secret_name(name: str, *, keys: bool = True) -> bool:
    """Whether a value named `name` is a secret by its name: a word of it is one of
    `SECRET_WORDS`, or it ends in `key` or `auth` (`STRIPE_KEY`, `BASIC_AUTH`), and its last
    word does not say it is about the secret (`TOKEN_TTL`, `PASSWORD_FILE`). `PWD` (the working
    directory) and public keys are not. With `keys=False` (a database column's name), a name
    ending in `key` counts only after a word that makes it a credential (`api_key`,
    `signing_key`), since `sort_key` or `object_key` name identifiers."""
    words = [w.lower() for w in _WORD.findall(name)]
    if not words or name in ("PWD", "OLDPWD") or "public" in words:
        return False
    if words[-1] in ("key", "auth") and len(words) > 1 and (keys or words[-2] in _CREDENTIAL_KEYS):
        return True
    if words[-1] in _ABOUT:
        return False
    joined = {a + b for a, b in pairwise(words)}
    return any(w in SECRET_WORDS for w in words) or bool(joined & SECRET_WORDS)


@lru_cache(maxsize=4096)  # column names and JSON keys repeat, batch after batch
def column_hint(name: str) -> str | None:
    """The entity a text column holds by its name (DATE_OF_BIRTH is `DOB_COLUMN`'s), or
    MAYBE_PERSON, or None. The proxy sends every value of a hinted column to the masker."""
    if DOB_COLUMN.search(name):
        return "DATE_OF_BIRTH"
    if ADDRESS_COLUMN.search(name):
        return STREET_ADDRESS
    if LOCATION_COLUMN.search(name):
        return LOCATION
    if secret_name(name, keys=False):
        return SECRET
    person = person_column(name)
    if person == "sure":
        return PERSON
    return MAYBE_PERSON if person == "maybe" else None


def _search(text: str) -> bool:
    if text.isascii():
        low = text.lower()
        return _ASCII_SHAPES.search(low) is not None or _ASCII_WORDS.search(low) is not None
    return PATTERN.search(text) is not None


def _could_contain(text: str) -> bool:
    # People's names (personnames.py) and street lines (places.py) are found in Python.
    return _search(text) or could_hold_name(text) or could_hold_street(text)


# The alternation costs ~0.3 µs a character; short values (statuses, names, cities) repeat down
# a column, so their verdicts are remembered process-wide (bounded: ~4 MB at most).
_CACHED_CHARS = 64
_cached_search = lru_cache(maxsize=32768)(_could_contain)


def forget_prefilter() -> None:
    """Forget the verdicts remembered for short values (for measuring values never seen)."""
    _cached_search.cache_clear()


class Prefilter:
    """`could_contain(text)`: False only where no recognizer can match."""

    def __init__(self, *, everything: bool = False) -> None:
        self.everything = everything

    def could_contain(self, text: str) -> bool:
        if self.everything:
            return True
        return _cached_search(text) if len(text) <= _CACHED_CHARS else _could_contain(text)


class ColumnKind(StrEnum):
    TEXT = "text"
    JSON = "json"
    ARRAY = "array"
    OTHER = "other"


_OTHER_TYPES = frozenset(
    {
        *("int2", "int4", "int8", "smallint", "integer", "bigint", "serial", "bigserial", "oid"),
        *("numeric", "decimal", "float4", "float8", "real", "double precision", "money"),
        *("bool", "boolean", "uuid", "date", "time", "timetz", "timestamp", "timestamptz"),
        *("timestamp with time zone", "timestamp without time zone", "interval"),
    }
)
_DATE_TYPES = frozenset({"date", "timestamp", "timestamptz"})


def kind_for_type(type_name: str) -> ColumnKind:
    """The kind for a Postgres type name; anything unknown is TEXT (scanned), to fail closed."""
    name = type_name.strip().lower()
    if name.startswith("_") or name.endswith("[]"):
        return ColumnKind.ARRAY
    if name in ("json", "jsonb"):
        return ColumnKind.JSON
    if name in _OTHER_TYPES:
        return ColumnKind.OTHER
    return ColumnKind.TEXT


def is_date_type(type_name: str) -> bool:
    return type_name.strip().lower() in _DATE_TYPES
