"""TLS between the agent and the gateway when a certificate is configured."""

from __future__ import annotations

import ssl
from pathlib import Path

import asyncpg
import pytest
import trustme

from tests.integration.conftest import RunningGateway

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def gateway_env(ca: trustme.CA, tmp_path: Path) -> dict[str, str]:
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert_path, key_path = tmp_path / "gateway.pem", tmp_path / "gateway.key"
    cert.cert_chain_pems[0].write_to_path(str(cert_path))
    cert.private_key_pem.write_to_path(str(key_path))
    return {"PROCTOR_TLS_CERT": str(cert_path), "PROCTOR_TLS_KEY": str(key_path)}


async def test_client_verifies_the_gateway_certificate(
    gateway: RunningGateway, ca: trustme.CA
) -> None:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    conn = await asyncpg.connect(gateway.dsn(), ssl=context)
    try:
        assert conn.get_server_version() is not None
        assert await conn.fetchval("SELECT count(*) FROM accounts") == 100
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("TRUNCATE accounts")
    finally:
        await conn.close()
    assert await gateway.target_rows("SELECT count(*) AS n FROM accounts") == [{"n": 100}]


async def test_untrusted_certificate_is_refused_by_the_client(gateway: RunningGateway) -> None:
    context = ssl.create_default_context()  # does not trust the test CA
    with pytest.raises(ssl.SSLCertVerificationError):
        await asyncpg.connect(gateway.dsn(), ssl=context)
