"""The gateway configuration's resources: target URLs and how the gateway reaches them."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from proctor.errors import ConfigError
from proctor.gateway import (
    SSL_MODES,
    GatewayConfig,
    KubernetesResource,
    PostgresResource,
    load_gateway_config,
    parse_gateway_config,
)
from proctor_ingress.postgres.upstream import Target


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
    with pytest.raises(ConfigError, match=r"resource db: url: sslmode 'verify' is not one of"):
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


def _load(tmp_path: Path, text: str) -> GatewayConfig:
    path = tmp_path / "gateway.yaml"
    path.write_text(text)
    return load_gateway_config(path)


def test_resources_are_typed_by_kind(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("fake-cluster-token\n")
    config = _load(
        tmp_path,
        f"""
resources:
  db:
    url: postgresql://app@db.internal/orders
  cluster:
    kind: kubernetes
    url: https://10.0.0.1:6443/
    token_file: {token_file}
    certificate_authority: /run/ca.crt
""",
    )
    db, cluster = config.resources["db"], config.resources["cluster"]
    assert isinstance(db, PostgresResource) and db.kind == "postgres"  # the default kind
    assert isinstance(cluster, KubernetesResource)
    assert cluster.url == "https://10.0.0.1:6443"
    assert cluster.bearer_token() == "fake-cluster-token"
    assert list(config.of_kind("kubernetes")) == ["cluster"]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "    kind: mongodb\n    url: x\n",
            r"gateway.yaml:4: resource r: kind: kind must be one of",
        ),
        (
            "    kind: kubernetes\n    url: ftp://x\n",
            r"gateway.yaml:5: resource r: url: .*https://",
        ),
        ("    kind: kubernetes\n", r"gateway.yaml:3: resource r: url: is required"),
        (
            "    kind: kubernetes\n    url: https://k\n    tokn: x\n",
            r"gateway.yaml:6: resource r: tokn: Extra inputs are not permitted",
        ),
        ("    url: mysql://x\n", r"gateway.yaml:4: resource r: url: must be a postgresql:// URL"),
    ],
)
def test_a_bad_resource_names_its_line(tmp_path: Path, body: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        _load(tmp_path, "identities: {}\nresources:\n  r:\n" + body)
