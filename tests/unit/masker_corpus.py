"""A labelled corpus for the masker, generated with Faker under a fixed seed.

Every secret is fake by construction (FAKE/EXAMPLE fillers, random characters): none is or was
ever a live credential. Each sample is one value and the set of entity types it holds; hard
negatives hold none.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import string
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date as _date
from datetime import datetime

from faker import Faker

SEED = 20261122
# Faker's dates end at its idea of now unless told: a fixed end keeps the corpus the same from
# one second to the next.
_NOW = datetime(2026, 11, 22)


@dataclass(frozen=True)
class Sample:
    text: str
    labels: frozenset[str]


STRUCTURED = (
    "EMAIL_ADDRESS",
    "CREDIT_CARD",
    "US_SSN",
    "IBAN_CODE",
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
)

_ALNUM = string.ascii_letters + string.digits
_UPPER_DIGITS = string.ascii_uppercase + string.digits


class _Gen:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.fake = Faker(["en_US", "en_GB", "de_DE", "fr_FR", "nl_NL", "es_ES"])
        self.fake.seed_instance(seed)
        self.us = self.fake["en_US"]

    def chars(self, alphabet: str, n: int) -> str:
        return "".join(self.rng.choice(alphabet) for _ in range(n))

    def b64(self, n_bytes: int) -> str:
        return base64.b64encode(self.rng.randbytes(n_bytes)).decode()

    # Positives: each returns the value alone.
    def email(self) -> str:
        return self.rng.choice([self.fake.email, self.fake.company_email, self.fake.free_email])()

    def phone(self) -> str:
        area = self.rng.choice(["212", "415", "312", "617", "206", "303"])
        line = f"{self.rng.randint(200, 999)}-{self.rng.randint(0, 9999):04d}"
        a, b = line.split("-")
        return self.rng.choice(
            [
                f"({area}) {a}-{b}",
                f"{area}-{a}-{b}",
                f"{area}.{a}.{b}",
                f"+1 {area} {a} {b}",
                f"+44 20 7{self.rng.randint(100, 999)} {self.rng.randint(1000, 9999)}",
                f"+49 30 {self.rng.randint(1000000, 9999999)}",
                f"+33 1 {self.rng.randint(10, 99)} {self.rng.randint(10, 99)} "
                f"{self.rng.randint(10, 99)} {self.rng.randint(10, 99)}",
            ]
        )

    def card(self) -> str:
        brand = self.rng.choice(["visa", "mastercard", "amex", "discover", "visa16"])
        number: str = self.us.credit_card_number(card_type=brand)
        if len(number) == 16 and self.rng.random() < 0.5:
            sep = self.rng.choice([" ", "-"])
            number = sep.join(number[i : i + 4] for i in range(0, 16, 4))
        return number

    def iban(self) -> str:
        locale = self.rng.choice(["de_DE", "fr_FR", "en_GB", "nl_NL", "es_ES"])
        return str(self.fake[locale].iban())

    def ssn(self) -> str:
        value = str(self.us.ssn())
        return value if "-" in value else f"{value[:3]}-{value[3:5]}-{value[5:]}"

    def ipv4(self) -> str:
        return str(self.rng.choice([self.fake.ipv4_public, self.fake.ipv4_private])())

    def ipv6(self) -> str:
        return str(self.fake.ipv6())

    def aws_access_key(self) -> str:
        return self.rng.choice(["AKIA", "ASIA"]) + "FAKE" + self.chars(_UPPER_DIGITS, 12)

    def aws_secret_key(self) -> str:
        value = "FAKE" + self.chars(_ALNUM + "/+", 36)
        label = self.rng.choice(
            ["aws_secret_access_key = ", "AWS_SECRET_ACCESS_KEY=", '"SecretAccessKey": "']
        )
        return label + value + ('"' if label.endswith('"') else "")

    def pem(self, escaped_newlines: bool = False) -> str:
        kind = self.rng.choice(["", "RSA ", "EC ", "OPENSSH "])
        nl = "\\n" if escaped_newlines else "\n"
        body = nl.join(self.b64(48) for _ in range(self.rng.randint(2, 5)))
        return f"-----BEGIN {kind}PRIVATE KEY-----{nl}{body}{nl}-----END {kind}PRIVATE KEY-----"

    def gcp_key(self) -> str:
        doc = {
            "type": "service_account",
            "project_id": f"fake-project-{self.rng.randint(100, 999)}",
            "private_key_id": self.chars("0123456789abcdef", 40),
            "private_key": self.pem() + "\n",
            "client_email": "fake@fake-project.iam.gserviceaccount.com",
        }
        return json.dumps(doc)

    def azure(self) -> str:
        return (
            "DefaultEndpointsProtocol=https;AccountName=fakeacct"
            f"{self.rng.randint(1, 99)};AccountKey={self.b64(64)};EndpointSuffix=core.windows.net"
        )

    def github(self) -> str:
        if self.rng.random() < 0.2:
            return "github_pat_" + "FAKE" + self.chars(_ALNUM + "_", 78)
        return self.rng.choice(["ghp_", "gho_", "ghu_", "ghs_", "ghr_"]) + self.chars(_ALNUM, 36)

    def gitlab(self) -> str:
        return "glpat-" + self.chars(_ALNUM + "-_", 20)

    def slack(self) -> str:
        return (
            f"xox{self.rng.choice('abprs')}-{self.rng.randint(10**10, 10**11)}-"
            f"{self.rng.randint(10**10, 10**11)}-{self.chars(_ALNUM, 24)}"
        )

    def stripe(self) -> str:
        return (
            self.rng.choice(["sk_live_", "rk_live_", "sk_test_"]) + "FAKE" + self.chars(_ALNUM, 20)
        )

    def jwt(self) -> str:
        def part(obj: object) -> str:
            return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

        header = {"alg": self.rng.choice(["HS256", "RS256"]), "typ": "JWT"}
        payload = {"sub": self.fake.uuid4(), "name": "Fake User", "iat": 1700000000}
        sig = base64.urlsafe_b64encode(self.rng.randbytes(32)).rstrip(b"=").decode()
        return f"{part(header)}.{part(payload)}.{sig}"

    def bearer(self) -> str:
        return "Authorization: Bearer " + self.chars(_ALNUM + "-._", 32)

    def url_password(self) -> str:
        user = self.fake.user_name()
        password = self.chars(_ALNUM, 12)
        host = self.fake.hostname()
        return self.rng.choice(
            [
                f"postgresql://{user}:{password}@{host}:5432/app",
                f"mysql://{user}:{password}@{host}/shop",
                f"redis://:{password}@{host}:6379/0",
                f"mongodb+srv://{user}:{password}@{host}/test?retryWrites=true",
                f"https://{user}:{password}@{host}/repo.git",
            ]
        )

    def dob(self) -> str:
        day = self.fake.date_between_dates(_date(1936, 1, 1), _date(2008, 1, 1))
        label = self.rng.choice(["dob: ", "DOB=", "date of birth: ", '"date_of_birth": "'])
        value = self.rng.choice([day.isoformat(), day.strftime("%m/%d/%Y")])
        return label + value + ('"' if label.endswith('"') else "")

    def nhs(self) -> str:
        while True:
            digits = [self.rng.randint(0, 9) for _ in range(9)]
            check = 11 - sum(d * (10 - i) for i, d in enumerate(digits)) % 11
            if check == 11:
                check = 0
            if check != 10:
                s = "".join(map(str, digits)) + str(check)
                return f"NHS number {s[:3]} {s[3:6]} {s[6:]}"

    def passport(self) -> str:
        return "passport no: " + self.chars(string.ascii_uppercase, 1) + self.chars("0123456789", 8)

    def driver_license(self) -> str:
        label = self.rng.choice(["DL: ", "driver's license # ", "driving licence number "])
        return label + self.chars(string.ascii_uppercase, 1) + self.chars("0123456789", 7)

    # Hard negatives.
    def negative(self) -> str:
        f = self.fake
        makers: list[Callable[[], str]] = [
            lambda: str(f.uuid4()),
            lambda: hashlib.sha256(self.rng.randbytes(16)).hexdigest(),
            lambda: hashlib.md5(self.rng.randbytes(16)).hexdigest(),
            lambda: f.date_time(end_datetime=_NOW).isoformat() + "Z",
            lambda: f.date_time(end_datetime=_NOW).strftime("%Y-%m-%d %H:%M:%S"),
            lambda: f.date(end_datetime=_NOW),
            lambda: f"{self.rng.randint(0, 9)}.{self.rng.randint(0, 30)}.{self.rng.randint(0, 99)}",
            lambda: f"v{self.rng.randint(1, 4)}.{self.rng.randint(0, 20)}.{self.rng.randint(0, 9)}",
            lambda: f"ORD-{self.rng.randint(100000, 999999)}",
            lambda: f"INV-{self.rng.randint(2020, 2026)}-{self.rng.randint(1000, 9999)}",
            lambda: self.b64(self.rng.randint(12, 40)),
            lambda: f.sentence(),
            lambda: f.catch_phrase(),
            lambda: f"${self.rng.randint(1, 999)}.{self.rng.randint(0, 99):02d}",
            lambda: str(self.rng.randint(0, 99999)),
            lambda: f.file_path(),
            lambda: f"created on {f.date(end_datetime=_NOW)} by the nightly job",
            lambda: (
                f"order ORD-{self.rng.randint(100000, 999999)} shipped {f.date(end_datetime=_NOW)}"
            ),
            lambda: f"sku {self.chars(_UPPER_DIGITS, 8)} qty {self.rng.randint(1, 50)}",
            lambda: f.hostname(),
            lambda: f"passport office opens {f.day_of_week()}",
            lambda: f"dl_{f.word()}.tar.gz",
            lambda: "bearer bonds and other bearer instruments",
            lambda: f"license: {self.rng.choice(['MIT', 'Apache-2.0', 'BSD-3-Clause'])}",
        ]
        return self.rng.choice(makers)()


# Entity type -> generator, and how many values of it the corpus holds.
_POSITIVES: dict[str, tuple[str, int]] = {
    "EMAIL_ADDRESS": ("email", 30),
    "PHONE_NUMBER": ("phone", 30),
    "CREDIT_CARD": ("card", 30),
    "IBAN_CODE": ("iban", 20),
    "US_SSN": ("ssn", 20),
    "IP_ADDRESS": ("ipv4", 15),
    "AWS_ACCESS_KEY": ("aws_access_key", 12),
    "AWS_SECRET_KEY": ("aws_secret_key", 10),
    "PRIVATE_KEY": ("pem", 10),
    "AZURE_STORAGE_KEY": ("azure", 10),
    "GITHUB_TOKEN": ("github", 15),
    "GITLAB_TOKEN": ("gitlab", 10),
    "SLACK_TOKEN": ("slack", 10),
    "STRIPE_KEY": ("stripe", 10),
    "JWT": ("jwt", 12),
    "BEARER_TOKEN": ("bearer", 10),
    "URL_PASSWORD": ("url_password", 15),
    "DATE_OF_BIRTH": ("dob", 12),
    "UK_NHS": ("nhs", 8),
    "PASSPORT": ("passport", 8),
    "DRIVER_LICENSE": ("driver_license", 8),
}

_SENTENCES = (
    "Customer wrote: please update my details to {}.",
    "{} was found in the request log",
    "note from support ({}) - escalate",
    "value={} source=import",
)


# A service-account key also names the account's email.
_GCP_LABELS = frozenset({"GCP_SERVICE_ACCOUNT_KEY", "PRIVATE_KEY", "EMAIL_ADDRESS"})


def build_corpus(seed: int = SEED) -> list[Sample]:
    """A few hundred labelled values: positives alone and inside sentences, and hard negatives."""
    gen = _Gen(seed)
    samples: list[Sample] = []
    for entity, (method, count) in _POSITIVES.items():
        make: Callable[[], str] = getattr(gen, method)
        for i in range(count):
            value = make()
            if i % 2:  # every other one inside a sentence
                value = gen.rng.choice(_SENTENCES).format(value)
            samples.append(Sample(value, frozenset({entity})))
    for _ in range(10):
        samples.append(Sample(gen.ipv6(), frozenset({"IP_ADDRESS"})))
    for _ in range(6):
        samples.append(Sample(gen.gcp_key(), _GCP_LABELS))
    for _ in range(4):  # a key as it appears in a JSON log line
        samples.append(Sample(f'{{"key": "{gen.pem(True)}"}}', frozenset({"PRIVATE_KEY"})))
    for _ in range(4):  # two entities in one value
        text = f"contact {gen.email()} or {gen.card()}"
        samples.append(Sample(text, frozenset({"EMAIL_ADDRESS", "CREDIT_CARD"})))
    for _ in range(150):
        samples.append(Sample(gen.negative(), frozenset()))
    return samples


def realistic_mix(n: int, sensitive_share: float = 0.05, seed: int = SEED) -> list[str]:
    """`n` values as a results table might hold them: mostly harmless, some sensitive."""
    gen = _Gen(seed + 1)
    positives = [s.text for s in build_corpus(seed) if s.labels]
    out = []
    for _ in range(n):
        if gen.rng.random() < sensitive_share:
            out.append(gen.rng.choice(positives))
        else:
            out.append(gen.negative())
    return out


def pii_table_sql(table: str, rows: int, customers: int | None = None) -> str:
    """SQL that creates `table` with `rows` rows of a realistic customer-orders table, made
    server-side: an id, a timestamp, a status, an amount, a name, and PII in most rows (an email
    in every row, a US or international phone number in four rows of five, a Luhn-valid card
    number in every other row, and now and then an email in the note).

    The PII is that of customer c: every row its own customer (all values distinct), or with
    `customers`, c = id % customers, as when orders repeat their customer's details."""
    c = "g" if customers is None else f"(g % {customers})"
    # A card: 4, then the seven digits of c at the positions Luhn does not double, zeros at
    # those it doubles, and the check digit: distinct and valid for c below 10 million.
    digits = [f"({c} / {10**k} % 10)" for k in range(6, -1, -1)]
    card = "'4' || " + " || '0' || ".join(digits) + " || '0' || "
    card += f"(10 - (8 + {' + '.join(digits)}) % 10) % 10"
    return f"""
CREATE TABLE {table} AS
SELECT g::bigint AS id,
       timestamptz '2026-01-01' + g * interval '17 seconds' AS created_at,
       (ARRAY['active', 'pending', 'shipped', 'cancelled', 'refunded'])[1 + g % 5] AS status,
       round((g % 99991) / 7.0 + 1, 2)::numeric(12, 2) AS amount,
       (ARRAY['Ada', 'Grace', 'Alan', 'Edsger', 'Barbara', 'Ken', 'Margaret'])[1 + {c} % 7]
           || ' ' || (ARRAY['Lovelace', 'Hopper', 'Turing', 'Dijkstra', 'Liskov', 'Thompson',
                            'Hamilton', 'Ritchie', 'Knuth', 'Wirth', 'Backus'])[1 + {c} / 7 % 11]
           AS customer,
       'customer' || {c} || '@' || (ARRAY['example.com', 'gmail.com', 'corp.example.org',
                                          'mail.example.net'])[1 + {c} % 4] AS email,
       CASE WHEN {c} % 5 = 0 THEN NULL
            WHEN {c} % 3 = 0
                THEN '+44 20 7' || (100 + {c} % 900) || ' ' || lpad(({c} % 10000)::text, 4, '0')
            ELSE format(CASE WHEN {c} % 2 = 0 THEN '(%s) %s-%s' ELSE '%s-%s-%s' END,
                        (ARRAY['212', '415', '312', '617', '206', '303', '646'])[1 + {c} % 7],
                        200 + {c} * 7 % 800, lpad(({c} % 10000)::text, 4, '0'))
       END AS phone,
       CASE WHEN {c} % 2 = 0 THEN {card} END AS card,
       CASE WHEN g % 25 = 0 THEN 'customer wrote from backup' || {c} || '@example.org'
            ELSE (ARRAY['left at front door', 'gift wrap please', 'deliver after 5pm', '',
                        'priority shipping', 'order ORD-' || (100000 + g % 900000),
                        'refund approved by support'])[1 + g % 7]
       END AS note
FROM generate_series(1, {rows}) g;
"""


TABLE_COLUMNS = (
    ("id", "int8"),
    ("created_at", "timestamptz"),
    ("status", "text"),
    ("amount", "numeric"),
    ("customer", "text"),
    ("email", "text"),
    ("phone", "text"),
    ("card", "text"),
    ("note", "text"),
)


def realistic_table(n: int, seed: int = SEED) -> list[tuple[str | None, ...]]:
    """`n` rows of a customer-orders table (TABLE_COLUMNS) in Postgres text format, each row its
    own customer: a distinct email in every row, a phone number (US, UK, German, French formats)
    in four of five, a card number in every other, and a note that is sensitive 5% of the time
    and otherwise a hard negative (dates, hashes, order numbers, sentences)."""
    gen = _Gen(seed)
    rng = gen.rng
    notes = realistic_mix(n, 0.05, seed=seed)
    statuses = ("active", "pending", "shipped", "cancelled", "refunded")
    rows: list[tuple[str | None, ...]] = []
    for i in range(n):
        rows.append(
            (
                str(i + 1),
                f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d} "
                f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}+00",
                rng.choice(statuses),
                f"{rng.randint(1, 2000)}.{rng.randint(0, 99):02d}",
                gen.fake.name(),
                f"{gen.fake.user_name()}{i}@{gen.fake.free_email_domain()}",
                gen.phone() if rng.random() < 0.8 else None,
                gen.card() if rng.random() < 0.5 else None,
                notes[i],
            )
        )
    return rows
