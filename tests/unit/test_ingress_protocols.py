"""Which listeners an ingress replica runs (PROCTOR_INGRESS_PROTOCOLS)."""

from __future__ import annotations

import pytest

from proctor.errors import ConfigError
from proctor.gateway import parse_gateway_config
from proctor.settings import Settings
from proctor_ingress.__main__ import protocols

BOTH = parse_gateway_config(
    {
        "resources": {
            "db": {"kind": "postgres", "url": "postgresql://app@db/x"},
            "cluster": {"kind": "kubernetes", "url": "https://k8s:6443"},
        }
    }
)


def test_by_default_every_protocol_with_resources() -> None:
    assert protocols(Settings(), BOTH) == ["postgres", "kubernetes", "mcp"]
    only_db = parse_gateway_config({"resources": {"db": {"url": "postgresql://app@db/x"}}})
    assert protocols(Settings(), only_db) == ["postgres", "mcp"]


def test_a_replica_may_run_one_protocol() -> None:
    assert protocols(Settings(ingress_protocols="kubernetes"), BOTH) == ["kubernetes"]
    assert protocols(Settings(ingress_protocols=" postgres , kubernetes"), BOTH) == [
        "postgres",
        "kubernetes",
    ]


def test_an_unknown_protocol_is_refused_by_name() -> None:
    with pytest.raises(ConfigError, match="PROCTOR_INGRESS_PROTOCOLS names ftp"):
        protocols(Settings(ingress_protocols="ftp"), BOTH)
