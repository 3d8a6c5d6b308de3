"""The gateway configuration's resources: target URLs and how the gateway reaches them."""

from __future__ import annotations

import ssl

import pytest

from proctor.errors import ConfigError
from proctor.gateway import SSL_MODES, parse_gateway_config
from proctor_ingress.upstream import Target


def _resources(url: str) -> dict[str, object]:
    return {"identities": {}, "resources": {"db": {"kind": "postgres", "url": url}}}


@pytest.mark.parametrize("mode", SSL_MODES)
def test_every_libpq_sslmode_is_accepted_and_reaches_the_target(mode: str) -> None:
    url = f"postgresql://app:pw@db.internal:6432/orders?sslmode={mode}&sslrootcert=/ca.pem"
    config = parse_gateway_config(_resources(url))
    target = Target.from_url(config.resources["db"].url)
    assert (target.host, target.port, target.database) == ("db.internal", 6432, "orders")
    assert (target.sslmode, target.sslrootcert) == (mode, "/ca.pem")


def test_without_sslmode_tls_is_preferred_as_libpq_does() -> None:
    target = Target.from_url("postgresql://app@db.internal/orders")
    assert (target.sslmode, target.sslrootcert) == ("prefer", None)


def test_an_unknown_sslmode_is_refused_at_load() -> None:
    with pytest.raises(ConfigError, match=r"resource db: sslmode 'verify' is not one of"):
        parse_gateway_config(_resources("postgresql://app@db.internal/orders?sslmode=verify"))


def test_what_the_modes_ask_of_the_certificate() -> None:
    def context(mode: str) -> ssl.SSLContext:
        return Target.from_url(f"postgresql://app@db/x?sslmode={mode}").tls_context()

    assert context("require").verify_mode == ssl.CERT_NONE
    assert context("prefer").verify_mode == ssl.CERT_NONE
    ca = context("verify-ca")
    assert ca.verify_mode == ssl.CERT_REQUIRED and not ca.check_hostname
    full = context("verify-full")
    assert full.verify_mode == ssl.CERT_REQUIRED and full.check_hostname
