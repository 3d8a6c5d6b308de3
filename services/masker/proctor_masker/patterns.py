"""Proctor's own pattern recognizers: secrets presidio lacks (cloud keys, service tokens,
JWTs, passwords in URLs, values labelled as secrets), cards of every brand, and labelled
identifiers (dates of birth, SSNs, passports, driving licences)."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable
from typing import Any

from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

SECRET_ENTITIES = frozenset(
    {
        "AWS_ACCESS_KEY",
        "AWS_SECRET_KEY",
        "GCP_SERVICE_ACCOUNT_KEY",
        "PRIVATE_KEY",
        "AZURE_STORAGE_KEY",
        "GITHUB_TOKEN",
        "GITLAB_TOKEN",
        "SLACK_TOKEN",
        "STRIPE_KEY",
        "JWT",
        "BEARER_TOKEN",
        "URL_PASSWORD",
    }
)


Validator = Callable[[str], bool]


class RegexRecognizer(EntityRecognizer):
    """A compiled regex; the named group `value`, if present, is the span to mask.

    presidio's PatternRecognizer masks the whole match, which for `Bearer x`, `AccountKey=x` or
    `scheme://user:pass@host` would also hide the label, user and host the agent needs.
    """

    def __init__(
        self,
        entity: str,
        pattern: str,
        *,
        score: float = 0.9,
        flags: int = 0,
        validate: Validator | None = None,
        gate: str | None = None,
    ) -> None:
        self.regex = re.compile(pattern, flags)
        self.score = score
        self.validate = validate
        # A cheap test every match passes (a keyword of the pattern); see routing.py.
        self.gate = re.compile(gate, flags | re.IGNORECASE) if gate is not None else None
        self._group = "value" if "value" in self.regex.groupindex else 0
        super().__init__(supported_entities=[entity], name=f"proctor:{entity.lower()}")

    def load(self) -> None:
        pass

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        entity = self.supported_entities[0]
        results = []
        group = self._group
        for m in self.regex.finditer(text):
            start, end = m.span(group)
            if start < 0 or (self.validate and not self.validate(m.group(group))):
                continue
            results.append(RecognizerResult(entity, start, end, self.score))
        return results


def _b64url_json(part: str) -> Any:
    padded = part + "=" * (-len(part) % 4)
    try:
        return json.loads(base64.urlsafe_b64decode(padded))
    except (ValueError, binascii.Error):
        return None


def _luhn(number: str) -> bool:
    digits = [int(c) for c in number if c.isdigit()]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _card_number(text: str) -> bool:
    """A payment card number: Luhn-valid, of a length the brand its issuer range names issues."""
    digits = "".join(c for c in text if c.isdigit())
    return _issued_length(digits) and _luhn(digits)


def _issued_length(d: str) -> bool:
    n, p2, p3, p4 = len(d), int(d[:2]), int(d[:3]), int(d[:4])
    if d[0] == "4":  # Visa
        return n in (13, 16, 19)
    if 51 <= p2 <= 55 or 2221 <= p4 <= 2720:  # Mastercard
        return n == 16
    if p2 in (34, 37):  # American Express
        return n == 15
    if p4 in (2131, 1800):  # JCB's 15-digit ranges
        return n == 15
    if p4 == 6011 or 644 <= p3 <= 649 or p2 == 65 or p2 == 35 or p2 == 62:
        return 16 <= n <= 19  # Discover, JCB (3528-3589, and the rest of 35 it may issue), UnionPay
    if 300 <= p3 <= 305 or p2 in (36, 38, 39):  # Diners Club
        return 14 <= n <= 19
    if p2 == 50 or 56 <= p2 <= 69:  # Maestro
        return 13 <= n <= 19
    return False


def _looks_like_token(word: str) -> bool:
    """A digit, or both cases in a long word: `bearer instruments` in prose is not a token."""
    if any(c.isdigit() for c in word):
        return True
    return len(word) >= 16 and not word.islower() and not word.isupper()


def _is_jwt(token: str) -> bool:
    header = _b64url_json(token.split(".", 1)[0])
    return isinstance(header, dict) and "alg" in header


_I = re.IGNORECASE
# Between a label and its value (`dob: `, `DOB=`, `"ssn": "`, `passport no 1`): a separator is
# required, or `DL8VmVz`-like words would read as labelled values.
LABEL_SEP = r"[\"']?(?:\s*[:=#]\s*|\s+)[\"']?"
_B64 = r"[A-Za-z0-9+/]"
# An end-of-token boundary that also stops at the quotes and punctuation around a value.
_END = r"(?![A-Za-z0-9_\-])"


def secret_recognizers() -> list[EntityRecognizer]:
    """Proctor's own recognizers: secrets presidio lacks, and labelled identifiers."""
    return [
        # presidio's card pattern misses Mastercard's 2221-2720 range, JCB's 15-digit numbers
        # and 19-digit Visa: every brand's issuer ranges and lengths, spaced or dashed.
        RegexRecognizer(
            "CREDIT_CARD",
            r"\b\d(?:[ \-]?\d){12,18}\b",
            score=1,
            validate=_card_number,
            gate=r"\d(?:[\- ]?\d){12}",
        ),
        RegexRecognizer(
            "AWS_ACCESS_KEY",
            r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA)[A-Z0-9]{16}\b",
            score=1,
            gate="akia|asia|agpa|aida|aroa",
        ),
        RegexRecognizer(
            "AWS_SECRET_KEY",
            r"(?:aws.{0,20}?secret|secret.?access.?key)[\"']?\s*[:=]\s*[\"']?"
            rf"(?P<value>{_B64}{{40}})(?!{_B64})",
            flags=_I,
            gate="secret",
        ),
        RegexRecognizer(
            "GCP_SERVICE_ACCOUNT_KEY",
            r"\"private_key_id\"\s*:\s*\"(?P<value>[0-9a-f]{40})\"",
            gate="private_key_id",
        ),
        # Header, body and footer; a block cut short (no footer) is masked to where it stops.
        # `\\n` is a newline escaped inside JSON or a log line.
        RegexRecognizer(
            "PRIVATE_KEY",
            r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
            r"(?:[A-Za-z0-9+/=\s:,]|\\n|-(?!----))*"
            r"(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----)?",
            score=1,
            gate="private key",
        ),
        RegexRecognizer(
            "AZURE_STORAGE_KEY",
            rf"(?:AccountKey|SharedAccessKey)=(?P<value>{_B64}{{20,}}={{0,2}})",
            flags=_I,
            gate="accountkey=|sharedaccesskey=",
        ),
        RegexRecognizer(
            "GITHUB_TOKEN",
            rf"\b(?:gh[pousr]_[A-Za-z0-9]{{36,255}}|github_pat_[A-Za-z0-9_]{{22,255}}){_END}",
            score=1,
            gate="gh[pousr]_|github_pat_",
        ),
        RegexRecognizer(
            "GITLAB_TOKEN", rf"\bglpat-[A-Za-z0-9_\-]{{20,}}{_END}", score=1, gate="glpat-"
        ),
        RegexRecognizer(
            "SLACK_TOKEN", r"\bxox[abprs]-[A-Za-z0-9\-]{10,}", score=1, gate="xox[abprs]-"
        ),
        RegexRecognizer(
            "STRIPE_KEY",
            rf"\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{{16,}}{_END}",
            gate="[sr]k_(?:live|test)_",
        ),
        RegexRecognizer(
            "JWT",
            rf"\beyJ[A-Za-z0-9_\-]{{5,}}\.[A-Za-z0-9_\-]{{5,}}\.[A-Za-z0-9_\-]{{5,}}{_END}",
            score=1,
            validate=_is_jwt,
            gate="eyj",
        ),
        RegexRecognizer(
            "BEARER_TOKEN",
            r"\bBearer\s+(?P<value>[A-Za-z0-9_.~+/\-]{8,}=*)",
            flags=_I,
            validate=_looks_like_token,
            gate="bearer",
        ),
        # A value labelled as a secret by its key: DB_PASSWORD=..., "api_key": "...",
        # token=... in a query string, `password: ...` in a config file. Labels that name
        # where a secret is or how it behaves (PASSWORD_FILE, TOKEN_TTL, SECRET_NAME) do not
        # count, nor placeholders (${...}, <...>).
        RegexRecognizer(
            "SECRET",
            r"(?<![A-Za-z0-9])[A-Za-z0-9_.\-]*?"
            r"(?:passw(?:or)?d|pwd|secret|token|api[_\-]?key|access[_\-]?key|credentials?)"
            r"(?![A-Za-z0-9_.\-]*?(?:file|path|ttl|name|type|len(?:gth)?|expir\w*|url|id|ref)"
            r"(?![A-Za-z0-9]))[A-Za-z0-9_.\-]*[\"']?\s*[:=]\s*[\"']?"
            r"(?P<value>(?!\$\{|<)[^\s\"',;&]{3,})",
            flags=_I,
            gate=r"passw|pwd|secret|token|api.?key|access.?key|credential",
        ),
        RegexRecognizer(
            "URL_PASSWORD",
            r"\b[A-Za-z][A-Za-z0-9+.\-]{1,20}://[^\s:/@\"'<>]*:(?P<value>[^\s@/\"'<>]+)@",
            gate="://",
        ),
        RegexRecognizer(
            "DATE_OF_BIRTH",
            r"\b(?:dob|d\.o\.b\.?|date[ _\-]of[ _\-]birth|birth[ _\-]?date|born(?: on)?)"
            + LABEL_SEP
            + r"(?P<value>\d{4}-\d{2}-\d{2}|\d{1,2}[/.\-]\d{1,2}[/.\-]\d{2,4}"
            r"|\d{1,2} [A-Z][a-z]{2,8} \d{4}|[A-Z][a-z]{2,8} \d{1,2},? \d{4})",
            flags=_I,
            gate=r"dob|d\.o\.b|birth|born",
        ),
        # presidio scores a bare 9-digit SSN 0.05 and cannot raise it from context without an
        # NLP model; a label is what makes one certain.
        RegexRecognizer(
            "US_SSN",
            r"\b(?:ssn|social[ _\-]security(?:[ _\-](?:no\.?|num(?:ber)?))?)"
            + LABEL_SEP
            + r"(?P<value>\d{3}[ \-]?\d{2}[ \-]?\d{4})\b",
            flags=_I,
            gate="ssn|social",
        ),
        RegexRecognizer(
            "PASSPORT",
            r"\bpassport(?:[ _\-]?(?:no\.?|num(?:ber)?|#))?"
            + LABEL_SEP
            + r"(?P<value>(?=[A-Z]*\d)[A-Z0-9]{6,12})\b",
            flags=_I,
            gate="passport",
        ),
        RegexRecognizer(
            "DRIVER_LICENSE",
            r"\b(?:driver'?s?[ _\-]licen[cs]e|driving[ _\-]licen[cs]e|DL)"
            r"(?:[ _\-]?(?:no\.?|num(?:ber)?|#))?"
            + LABEL_SEP
            + r"(?P<value>(?=[A-Z\-]*\d)[A-Z0-9\-]{5,18})\b",
            flags=_I,
            gate=r"licen[cs]e|dl",
        ),
    ]
