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
        brand = self.rng.choice(_BRANDS)
        if brand == "unionpay":  # not among Faker's brands
            number = _luhn_complete("62" + self.chars("0123456789", 13))
        elif brand == "maestro":  # Faker's have 12 digits; these have 13 to 19
            prefix = self.rng.choice(["5018", "5020", "6304", "6759", "6761"])
            digits = self.rng.randint(13, 19) - len(prefix) - 1
            number = _luhn_complete(prefix + self.chars("0123456789", digits))
        else:
            number = self.us.credit_card_number(card_type=brand)
        if len(number) == 16 and self.rng.random() < 0.5:
            sep = self.rng.choice([" ", "-"])
            number = sep.join(number[i : i + 4] for i in range(0, 16, 4))
        return number

    def person(self) -> str:
        locale = self.rng.choice(_NAME_LOCALES)
        f = self.fake[locale] if locale in self.fake.locales else Faker(locale)
        return f"{f.first_name()} {f.last_name()}"

    def street(self) -> str:
        while True:
            locale = self.rng.choice(_ADDRESS_LOCALES)
            address = str(Faker(locale).street_address() if locale not in self.fake.locales
                          else self.fake[locale].street_address()).replace("\n", ", ")  # fmt: skip
            if any(c.isdigit() for c in address):  # a street line has a house number
                return address

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
            # Identifiers an agent follows an incident by.
            lambda: f"ORD-{self.rng.randint(2019, 2026)}-{self.rng.randint(100000, 999999)}",
            lambda: f"INV-{self.rng.randint(2019, 2026)}-{self.rng.randint(0, 999999):06d}",
            lambda: f"SKU-{self.chars(_UPPER_DIGITS, 4)}-{self.rng.randint(1000, 9999)}",
            lambda: f"build {self.rng.randint(1000, 99999)} of {f.date(end_datetime=_NOW)}",
            lambda: (
                f"{f.word()}-{self.chars('0123456789abcdef', 10)}-{self.chars(_ALNUM, 5).lower()}"
            ),
            lambda: f"{f.word()}-deployment-{self.chars('0123456789abcdef', 9)}",
            lambda: (
                f"ip-10-{self.rng.randint(0, 255)}-{self.rng.randint(0, 255)}-"
                f"{self.rng.randint(0, 255)}.ec2.internal"
            ),
            lambda: f"sha256:{hashlib.sha256(self.rng.randbytes(8)).hexdigest()}",
            lambda: (
                f"release {self.rng.randint(1, 9)}.{self.rng.randint(0, 40)}."
                f"{self.rng.randint(0, 20)}-rc{self.rng.randint(1, 5)}"
            ),
            # Products, companies and places that must pass.
            lambda: self.rng.choice(_PRODUCTS),
            lambda: str(f.company()),
            lambda: str(f.city()),
            lambda: f"shipped from the {f.city()} warehouse",
            lambda: self.rng.choice(_LOG_LINES).format(n=self.rng.randint(2, 500)),
        ]
        return self.rng.choice(makers)()


def _luhn_complete(body: str) -> str:
    for check in "0123456789":
        digits = [int(c) for c in body + check]
        total = sum(d if i % 2 == 0 else (d * 2 - 9 if d > 4 else d * 2)
                    for i, d in enumerate(reversed(digits)))  # fmt: skip
        if total % 10 == 0:
            return body + check
    raise AssertionError("unreachable")


_BRANDS = ("visa", "mastercard", "amex", "discover", "visa16", "visa13", "visa19", "jcb15",
           "jcb16", "diners", "maestro", "unionpay")  # fmt: skip
_NAME_LOCALES = ("en_US", "en_GB", "de_DE", "fr_FR", "nl_NL", "es_ES")
_ADDRESS_LOCALES = ("en_US", "en_GB", "de_DE", "fr_FR", "nl_NL", "es_ES")


_PRODUCTS = (
    "Apple Watch Series 9",
    "Model S Plaid",
    "Google Cloud Storage",
    "Amazon Web Services",
    "Microsoft Teams",
    "Grafana Cloud",
    "Postgres Pro",
    "Red Hat Enterprise Linux",
    "Visual Studio Code",
    "Kubernetes Engine",
    "Premium Support Plan",
    "Blue Widget XL",
    "Santa Clara office",
    "New York data center",
    "San Francisco Bay Area",
    "Los Angeles",
    "Golden Gate Bridge",
    "Rio de Janeiro",
    "Buenos Aires",
    "Hong Kong",
)
_LOG_LINES = (
    "ERROR Connection refused to db-primary:5432 after {n} retries",
    "WARN Pod web-7f9c8d-x2z4q restarted {n} times (CrashLoopBackOff)",
    "INFO Deployment Succeeded in {n} ms",
    "Back-off restarting failed container api in pod api-5d8f7-abcde",
    "GET /api/v1/orders/{n} 200 12ms",
    "Node Ready condition changed to False after {n} s",
    "Kafka Consumer Group rebalanced ({n} partitions)",
)


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
    "PERSON": ("person", 40),
    "STREET_ADDRESS": ("street", 30),
}

_SENTENCES = (
    "Customer wrote: please update my details to {}.",
    "{} was found in the request log",
    "note from support ({}) - escalate",
    "value={} source=import",
)
# Where a person's name stands in free text (the context word is optional).
_NAME_SENTENCES = (
    "Ticket opened by {} after the outage",
    "{} asked for a refund on the last order",
    "assigned to {}",
    "escalated to {} (on call)",
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
                sentences = _NAME_SENTENCES if entity == "PERSON" else _SENTENCES
                value = gen.rng.choice(sentences).format(value)
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
    for _ in range(260):
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


# ---- first hand-written part ------------------------------------------------------------------
# Names and addresses of real people and places (public figures and landmarks), not drawn from
# Faker's lists, and hard negatives an agent meets; reported apart from the corpus above. Its
# misses were seen while the name rules changed, so it is tuned on in effect; the later parts
# were each written before a change and not tuned on.
HELD_OUT_NAMES = (
    "Edsger Dijkstra", "Radia Perlman", "Margaret Hamilton", "Tim Berners-Lee", "Linus Torvalds",
    "Guido van Rossum", "Barbara Liskov", "Katherine Johnson", "Dorothy Vaughan", "Alan Kay",
    "Niklaus Wirth", "Bjarne Stroustrup", "Anders Hejlsberg", "Hedy Lamarr", "Sophie Wilson",
    "Marie Curie", "Émilie du Châtelet", "Simone de Beauvoir", "Angela Merkel", "Konrad Zuse",
    "Clara Schumann", "Pablo Picasso", "Frida Kahlo", "Rita Levi-Montalcini", "Enrico Fermi",
    "Maria Montessori", "Vincent van Gogh", "Anne Frank", "Grace Hopper", "John McCarthy",
    "Donald Knuth", "Leslie Lamport", "Shafi Goldwasser", "Whitfield Diffie", "Martin Hellman",
    "Ivan Sutherland", "Fernando Corbató", "Jean Bartik", "Ingrid Daubechies", "Lise Meitner",
)  # fmt: skip
_HELD_OUT_NAME_SENTENCES = (
    "{}",
    "Please call {} back tomorrow",
    "Refund approved for {}",
    "{} updated the shipping address",
    "Customer {} reported a double charge",
)
_HELD_OUT_STREETS = (
    "10 Downing Street", "1600 Pennsylvania Avenue NW", "350 Fifth Avenue", "742 Evergreen Terrace",
    "1 Infinite Loop", "4059 Mt Lee Drive", "12 Grimmauld Place", "221B Baker Street",
    "Wilhelmstraße 54", "Friedrichstraße 43-45", "Prinsengracht 263", "Keizersgracht 123",
    "55 rue du Faubourg Saint-Honoré", "8 avenue des Champs-Élysées", "Calle de Alcalá 42",
    "Via del Corso 18", "Piazza Navona 45", "Rua Augusta 100", "31 Spooner Street",
    "Platz der Republik 1",
)  # fmt: skip
_HELD_OUT_NEGATIVES = (
    "Goldman Sachs", "Morgan Stanley", "Santa Monica", "San Jose", "Jordan River",
    "Florence, Italy", "Apple Music", "Office 365", "Windows Server 2022", "Ubuntu 24.04 LTS",
    "Amazon Aurora", "Oracle Database 23ai", "Adobe Photoshop", "Slack Huddles", "Zoom Rooms",
    "checkout-api-6b9f7c5d4-kx2pl", "redis-master-0", "coredns-5d78c9869d-7xq2m",
    "kube-proxy-h8j2k", "ORD-2024-321515", "INV-2023-000123", "PO-77812-A", "CASE-00451982",
    "build #48213", "v2.14.3", "1.29.4-eks-036c24b", "a3f5c9e2d1b4", "release 24.10",
    "Deployment rolled out in 42 seconds", "ERROR Timeout after 30000 ms calling payments",
    "WARN Disk usage at 91% on /var/lib/postgresql", "Connection reset by peer",
    "GET /healthz 200", "Retrying in 5 s (attempt 3 of 10)", "Grace period of 30 s exceeded",
    "Summer Sale 2025", "Black Friday promo", "Chase Bank transfer", "Victoria Station",
    "Lincoln Center", "Hudson Yards", "Austin, Texas", "Charlotte, NC", "Paris Hilton Hotel",
    "Tesla Model 3", "Mercedes-Benz Sprinter", "Ford Transit", "Jaguar Land Rover",
    "Mark as read", "Will be retried", "May contain nuts", "Bill of materials", "Grant access",
)  # fmt: skip


def build_held_out() -> list[Sample]:
    """The hand-written part: each name in each sentence, each street alone and in a line,
    and the negatives."""
    return _hand_written(
        HELD_OUT_NAMES, _HELD_OUT_NAME_SENTENCES, _HELD_OUT_STREETS,
        "Please ship it to {} by Friday", _HELD_OUT_NEGATIVES,
    )  # fmt: skip


def _hand_written(
    names: tuple[str, ...],
    name_sentences: tuple[str, ...],
    streets: tuple[str, ...],
    street_sentence: str,
    negatives: tuple[str, ...],
) -> list[Sample]:
    samples = []
    for i, name in enumerate(names):
        sentence = name_sentences[i % len(name_sentences)]
        samples.append(Sample(sentence.format(name), frozenset({"PERSON"})))
    for i, street in enumerate(streets):
        text = street if i % 2 else street_sentence.format(street)
        samples.append(Sample(text, frozenset({"STREET_ADDRESS"})))
    samples += [Sample(text, frozenset()) for text in negatives]
    return samples


# ---- second held-out part: written by hand after the first part's results had been seen, and
# fixed before any recognizer changed; never used to tune. Other people, other sentences, other
# streets and other hard negatives (names that are also words, brands, places, tech terms).
HELD_OUT_B_NAMES = (
    "Ada Yonath", "Tu Youyou", "Srinivasa Ramanujan", "Chien-Shiung Wu", "Emmy Noether",
    "Sofia Kovalevskaya", "Niels Bohr", "Max Planck", "Werner Heisenberg", "Erwin Schrödinger",
    "Paul Dirac", "Richard Feynman", "Rosalind Franklin", "Dorothy Hodgkin", "Vera Rubin",
    "Cecilia Payne", "Henrietta Leavitt", "Mary Jackson", "Ken Thompson", "Dennis Ritchie",
    "Brian Kernighan", "Rob Pike", "Yukihiro Matsumoto", "Rasmus Lerdorf", "Larry Wall",
    "James Gosling", "Brendan Eich", "Andrew Tanenbaum", "Adele Goldberg", "Frances Allen",
    "Jeannette Wing", "Daphne Koller", "Geoffrey Hinton", "Jürgen Schmidhuber", "Tove Jansson",
    "Astrid Lindgren", "Søren Kierkegaard", "Wisława Szymborska", "Isabel Allende",
    "Italo Calvino",
)  # fmt: skip
_HELD_OUT_B_NAME_SENTENCES = (
    "Invoice 2291 disputed by {}",
    "{} cannot log in since Tuesday",
    "Hi, this is {} from accounting",
    "Shipment for {} is delayed",
    "Left voicemail for {}",
    "Chargeback filed: {}",
    "{} (VIP) asked about the new plan",
    "Account owner {} changed the billing email",
)
_HELD_OUT_B_STREETS = (
    "1 Microsoft Way", "1 Hacker Way", "2211 North First Street", "500 Oracle Parkway",
    "15 Rue de la Paix", "Unter den Linden 77", "Kurfürstendamm 21", "Königsallee 60",
    "Damrak 1", "Calle Mayor 5", "Gran Vía 28", "Avenida da Liberdade 185", "Via Roma 12",
    "2 Savile Row", "30 St Mary Axe", "47 Boulevard Haussmann", "Herengracht 182",
    "88 Colin P Kelly Jr Street", "711 Maple Court", "9 Church Lane",
)  # fmt: skip
_HELD_OUT_B_NEGATIVES = (
    "Elastic Beanstalk", "Azure Functions", "Google Cloud Run", "Ruby on Rails 7.1",
    "Julia 1.10 release notes", "Jenkins pipeline #882 failed", "Sentry issue PAYMENTS-3F2",
    "Grafana Loki", "Victoria Metrics", "Harley-Davidson", "Wells Fargo", "Lloyds Bank",
    "Marks & Spencer", "Johnson & Johnson", "Procter & Gamble", "San Francisco", "Santa Clara",
    "Fort Worth", "Virginia Beach", "Cape Town", "Mount Rainier", "Lake Tahoe",
    "New York Times", "Harvard Medical School", "Kaiser Permanente", "Chrome OS",
    "Kindle Paperwhite", "Galaxy S24", "Pixel 9 Pro", "ThinkPad X1 Carbon", "MacBook Air M3",
    "payments-7d9c8b6f5-q2w8e", "ip-10-0-3-17.ec2.internal", "sha256:9f86d081884c7d65",
    "trace id 4bf92f3577b34da6a3ce929d0e0e4736", "REF-88213-XZ", "TCK-2025-004411",
    "SKU BX-4410-RED", "Order #100234 shipped", "Upgrade to PostgreSQL 16.4",
    "Kernel 6.8.0-45-generic", "Rose Gold finish", "Amber alert threshold", "Ivy League",
    "Olive Garden", "Crystal Reports", "Sterling Silver", "Liberty Mutual", "Charles River",
    "Pearl Harbor",
)  # fmt: skip


def build_held_out_b() -> list[Sample]:
    """The second hand-written part, built like the first."""
    return _hand_written(
        HELD_OUT_B_NAMES, _HELD_OUT_B_NAME_SENTENCES, _HELD_OUT_B_STREETS,
        "Deliver to {} before noon", _HELD_OUT_B_NEGATIVES,
    )  # fmt: skip


# ---- third held-out part: written by hand after the second part had been measured, and fixed
# before the recognizers changed again; never used to tune.
HELD_OUT_C_NAMES = (
    "Wangari Maathai", "Chimamanda Adichie", "Malala Yousafzai", "Kofi Annan", "Nelson Mandela",
    "Desmond Tutu", "Haruki Murakami", "Akira Kurosawa", "Hayao Miyazaki", "Zaha Hadid",
    "Oscar Niemeyer", "Lina Bo Bardi", "Alvar Aalto", "Greta Thunberg", "Ingmar Bergman",
    "Liv Ullmann", "Roald Amundsen", "Fridtjof Nansen", "Jean Sibelius", "Bertha von Suttner",
    "Stefan Zweig", "Hannah Arendt", "Rosa Luxemburg", "Käthe Kollwitz", "Pina Bausch",
    "Zhang Yimou", "Satyajit Ray", "Amartya Sen", "Arundhati Roy", "Salman Rushdie",
    "Naguib Mahfouz", "Orhan Pamuk", "Elif Shafak", "Ryszard Kapuściński", "Olga Tokarczuk",
    "Milan Kundera", "Bohumil Hrabal", "Imre Kertész", "Mircea Eliade", "Jorge Amado",
)  # fmt: skip
_HELD_OUT_C_NAME_SENTENCES = (
    "Payment from {} bounced twice",
    "{} opened ticket #4471",
    "Please verify the identity of {}",
    "Escalation: {} is still waiting",
    "Shipping label printed for {}",
    "{} left a 1-star review",
    "Call back {} before 5pm",
    "Duplicate account: {}",
)
_HELD_OUT_C_STREETS = (
    "4 Privet Drive", "1313 Mockingbird Lane", "77 Massachusetts Avenue",
    "100 Universal City Plaza", "3 Abbey Road", "20 Fenchurch Street", "Karl-Marx-Allee 72",
    "Schönhauser Allee 36", "Maximilianstraße 17", "Oudezijds Voorburgwal 300",
    "99 rue de Rivoli", "12 place Vendôme", "Paseo de la Castellana 89", "Rambla de Catalunya 15",
    "Via Condotti 8", "Corso Buenos Aires 33", "Rua Garrett 120", "1 Main St",
    "600 W Chicago Ave", "5 rue Crémieux",
)  # fmt: skip
_HELD_OUT_C_NEGATIVES = (
    "Jenkins X", "Argo CD sync failed", "Apache Kafka Streams", "Amazon EKS", "Microsoft Teams",
    "Salesforce Einstein", "Oracle Cloud Infrastructure", "Adobe Acrobat Reader",
    "Spotify Wrapped", "Victoria's Secret", "Ben & Jerry's", "Dr Pepper", "Saint Petersburg",
    "Rio de Janeiro", "Costa Rica", "Buenos Aires", "Las Vegas", "Palo Alto", "Mountain View",
    "Menlo Park", "Grand Rapids", "Salt Lake City", "Kansas City", "Little Rock",
    "Pod Sandbox changed", "Back-off restarting failed container", "Liveness probe failed",
    "Readiness Gate", "Horizontal Pod Autoscaler", "Persistent Volume Claim pending",
    "Node Not Ready", "Image Pull Back Off", "Helm Chart v3.14", "Terraform Cloud workspace",
    "GitHub Actions runner", "Ginger Ale", "Candy Crush", "Sandy Beach", "Misty Morning",
    "Olive Oil", "Amber Ale", "Ruby Slippers", "Jasmine Rice", "Rusty Nail", "Hunter Boots",
    "Mason Jar", "Carter Bank", "Sterling Heights", "Chase Sapphire card", "Lloyds Banking Group",
)  # fmt: skip


def build_held_out_c() -> list[Sample]:
    """The third hand-written part, built like the others."""
    return _hand_written(
        HELD_OUT_C_NAMES, _HELD_OUT_C_NAME_SENTENCES, _HELD_OUT_C_STREETS,
        "Return address: {}, please", _HELD_OUT_C_NEGATIVES,
    )  # fmt: skip


# ---- fourth held-out part: written by hand after the third part had been measured, and fixed
# before the recognizers changed again; never used to tune. Where the others hold well-known
# people, this one holds ordinary names of the kind support tickets carry, from many countries.
HELD_OUT_D_NAMES = (
    "Priya Raghunathan", "Tomasz Wiśniewski", "Oluwaseun Adebayo", "Hiroshi Tanaka",
    "Mei-Ling Chen", "Rafael Domínguez", "Aoife Gallagher", "Sven Lindqvist", "Fatima Benali",
    "Kwame Mensah", "Thanh Nguyen", "Dmitri Volkov", "Giulia Ferraro", "Bart Vermeulen",
    "Ananya Iyer", "Seo-yeon Lee", "Carlos Souza", "Leilani Kahale", "Emeka Okafor",
    "Yusuf Demir", "Katarzyna Nowak", "Björn Eriksson", "Chloé Lefebvre", "Matteo Ricci",
    "Zainab Hussain", "Arjun Mehta", "Lucía Fernández", "Hamza Qureshi", "Ingrid Solberg",
    "Jonas Petersen", "Wei Zhang", "Keiko Yamamoto", "Thabo Nkosi", "Amara Okonkwo",
    "Declan Murphy", "Siobhan Kelly", "Marek Dvořák", "Nadia Haddad", "Bruno Carvalho",
    "Pooja Venkatesan",
)  # fmt: skip
_HELD_OUT_D_NAME_SENTENCES = (
    "Refund of 40 EUR issued to {} on 3 March",
    "{} reported that the CSV export is empty",
    "Ticket reassigned from {} to the on-call engineer",
    "Called {} about the failed payment",
    "Note: {} prefers email over phone",
    "Password reset requested by {}",
    "{}'s subscription renews tomorrow",
    "Merged duplicate profiles of {}",
)
_HELD_OUT_D_STREETS = (
    "1 Apple Park Way", "1600 Amphitheatre Parkway", "11 Wall Street", "405 Lexington Ave",
    "233 S Wacker Dr", "8 Canada Square", "25 Old Kent Road", "14 Tavistock Place",
    "Hauptstraße 5", "Leopoldstraße 120", "Am Kupfergraben 6", "Lindengracht 77",
    "12 boulevard Saint-Michel", "6 place de la Concorde", "Avenida Paulista 1578",
    "Calle de Serrano 41", "Via Toledo 256", "Rua do Ouro 88", "19 Elm Grove",
    "57 Queen's Road",
)  # fmt: skip
_HELD_OUT_D_NEGATIVES = (
    "Kafka Connect worker rebalanced", "Prometheus Alertmanager", "Datadog APM", "New Relic One",
    "Cloudflare Workers", "Heroku Postgres", "Stripe Radar", "Twilio Flex", "Zendesk Sunshine",
    "HubSpot Sales Hub", "Jira Service Management", "Bitbucket Pipelines", "Travis CI",
    "Nomad Autoscaler", "Consul Connect", "Vault Agent Injector", "Istio Ingress Gateway",
    "Envoy Proxy", "Cilium Hubble", "Karpenter NodePool", "Velero Backup", "Tekton Pipelines",
    "Flux Kustomization", "Harbor Registry", "Rancher Fleet", "Longhorn Volume degraded",
    "Ceph OSD down", "Keycloak Realm", "Goldman Sachs", "Deutsche Bank", "Credit Suisse",
    "Banco Santander", "Tata Consultancy Services", "Mitsubishi Heavy Industries",
    "Kuala Lumpur", "Addis Ababa", "Ho Chi Minh City", "Rio Grande", "Sao Paulo", "Tel Aviv",
    "Abu Dhabi", "Hong Kong", "New Delhi", "Daisy chain the hubs", "Victor Mono font",
    "Crystal Palace", "Hunter Valley", "Georgia Pacific", "Scheduled Job Failed",
    "Health Check Passed",
)  # fmt: skip


def build_held_out_d() -> list[Sample]:
    """The fourth hand-written part, built like the others."""
    return _hand_written(
        HELD_OUT_D_NAMES, _HELD_OUT_D_NAME_SENTENCES, _HELD_OUT_D_STREETS,
        "Send the replacement to {} today", _HELD_OUT_D_NEGATIVES,
    )  # fmt: skip


# ---- fifth held-out part: written by hand after the fourth part had been measured, and fixed
# before the recognizers changed again; never used to tune. Ordinary names again, other
# countries and sentences, and hard negatives from operations and business text.
HELD_OUT_E_NAMES = (
    "Chinedu Okeke", "Ayşe Yılmaz", "Mateusz Zieliński", "Sakura Inoue", "Jin-woo Choi",
    "Abdullah Al-Farsi", "Lars Halvorsen", "Eleni Papadaki", "Nikolai Sorokin", "Joana Tavares",
    "Kai Müller", "Femi Adeyemi", "Rohan Kapoor", "Deepika Nair", "Farhan Siddiqui",
    "Linh Tran", "Mariana Rocha", "Pedro Alves", "Hannah Becker", "Lukas Hoffmann",
    "Emma Janssen", "Noah de Vries", "Camille Roux", "Théo Girard", "Sofía Romero",
    "Alejandro Castillo", "Chiara Esposito", "Lorenzo Greco", "Agnieszka Kaczmarek",
    "Petra Novotná", "Mihai Popescu", "Zsófia Tóth", "Aisha Bello", "Kofi Boateng",
    "Tendai Moyo", "Mohammed Rahman", "Yuki Sato", "Lina Wang", "Sione Tupou",
    "Maja Kovačević",
)  # fmt: skip
_HELD_OUT_E_NAME_SENTENCES = (
    "Chargeback raised by {} for order 88123",
    "{} cannot see invoices since the upgrade",
    "Account locked after 5 failed logins by {}",
    "Sent a replacement card to {}",
    "Invoice #2041 was emailed to {} twice",
    "{} wants the data export in JSON",
    "Escalated: {} reports slow dashboards",
    "Onboarding call with {} moved to Thursday",
)
_HELD_OUT_E_STREETS = (
    "350 Mission Street", "1 Market St", "500 Terry Francois Blvd", "44 Cherry Tree Lane",
    "9 Marine Parade", "120 Kings Road", "3 Station Approach", "18 Harbour Drive",
    "Bahnhofstraße 12", "Schillerstraße 8a", "Kaiserstraße 45", "Kalverstraat 92",
    "23 rue de la République", "7 avenue Victor Hugo", "Avenida de América 17",
    "Via Nazionale 184", "Viale Monza 140", "Rua da Prata 52", "Calle de Toledo 66",
    "16 rue Saint-Denis",
)  # fmt: skip
_HELD_OUT_E_NEGATIVES = (
    "Argo Workflows controller restarted", "Grafana Tempo", "Jaeger Collector",
    "OpenSearch Dashboards", "Elastic Agent", "Fluent Bit", "Logstash Pipeline",
    "Kibana Spaces", "Redis Sentinel", "Patroni Leader", "PgBouncer Pool", "Temporal Worker",
    "Celery Beat", "Sidekiq Enterprise", "Puma Worker", "Gunicorn Arbiter", "Traefik Proxy",
    "Caddy Server", "Nginx Plus", "Pulumi Stack", "Crossplane Provider", "Backstage Catalog",
    "Spinnaker Pipeline", "Octopus Deploy", "Snyk Container", "Trivy Scan",
    "Falco Rule triggered", "Kyverno Policy", "Gatekeeper Constraint", "Lehman Brothers",
    "Barclays Capital", "Siemens Healthineers", "Schneider Electric", "Rolls Royce",
    "Aston Martin", "Petronas Towers", "Marina Bay Sands", "Copacabana Beach",
    "Table Mountain", "Golden Gate Bridge", "Grand Central Terminal", "Port Elizabeth",
    "Santa Barbara", "Puerto Rico", "Sierra Leone", "Phnom Penh", "Dar es Salaam",
    "Disk Pressure detected", "Memory Limit Exceeded", "Certificate Expiring Soon",
)  # fmt: skip


def build_held_out_e() -> list[Sample]:
    """The fifth hand-written part, built like the others."""
    return _hand_written(
        HELD_OUT_E_NAMES, _HELD_OUT_E_NAME_SENTENCES, _HELD_OUT_E_STREETS,
        "Courier pickup at {} after 2pm", _HELD_OUT_E_NEGATIVES,
    )  # fmt: skip
