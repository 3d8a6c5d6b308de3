"""TLS between the gateway and the target, as the resource URL's sslmode says: the target's
certificate checked (verify-full against a CA, or not at all with require), a target without
TLS refused where TLS is required and used in plain text where it is only preferred.

The embedded Postgres is built without TLS, so the TLS target here is a TLS front relaying to
it; the plain target is the server itself, which declines TLS."""

from __future__ import annotations

import asyncio
import ssl
import struct
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import pytest
import trustme

from proctor import pgwire
from proctor.embedded import free_port
from proctor.settings import Settings
from proctor.testing import ServiceRunner, wait_for_port, write_gateway_config
from tests.conftest import PostgresForTests
from tests.integration.conftest import AGENT_TOKEN

pytestmark = pytest.mark.integration


class TlsFront:
    """A TLS front for a Postgres, as cloud SQL proxies and stunnel-style setups are: it
    answers the SSLRequest with "S", completes TLS with a certificate for 127.0.0.1 from its
    own CA, and relays the decrypted protocol to the real server. It counts TLS sessions."""

    def __init__(self, target_port: int, ca: trustme.CA) -> None:
        self.target_port = target_port
        self.ca = ca
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1", "localhost").configure_cert(self.context)
        self.tls_sessions = 0

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await reader.readexactly(8)
            if struct.unpack("!ii", request) != (8, pgwire.SSL_REQUEST):
                writer.close()  # this front speaks TLS only
                return
            writer.write(b"S")
            await writer.start_tls(self.context)
            self.tls_sessions += 1
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        finally:
            writer.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        writer.close()


@pytest.fixture
async def front(postgres: PostgresForTests) -> AsyncIterator[tuple[TlsFront, int]]:
    front = TlsFront(urlsplit(postgres.admin_url).port or 5432, trustme.CA())
    port = await front.start()
    try:
        yield front, port
    finally:
        front.server.close()


@pytest.fixture
async def proxy(
    settings: Settings,
    postgres: PostgresForTests,
    front: tuple[TlsFront, int],
    tmp_path: Path,
) -> AsyncIterator[str]:
    """A gateway with resources behind the TLS front and on the plain server, in several
    sslmodes; yields its host:port."""
    tls, tls_port = front
    tls_url = f"postgresql://postgres@127.0.0.1:{tls_port}/postgres"
    ca = tls.ca
    ca_path, other_ca_path = tmp_path / "ca.pem", tmp_path / "other-ca.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    trustme.CA().cert_pem.write_to_path(str(other_ca_path))
    plain_url = postgres.admin_url
    config = write_gateway_config(
        tmp_path / "gateway.yaml",
        {"alice": {"groups": ["engineering"], "token": AGENT_TOKEN}},
        {
            "verified": f"{tls_url}?sslmode=verify-full&sslrootcert={ca_path}",
            "wrong_ca": f"{tls_url}?sslmode=verify-full&sslrootcert={other_ca_path}",
            "unverified": f"{tls_url}?sslmode=require",
            "default": tls_url,
            "plain_required": f"{plain_url}?sslmode=require",
            "plain_preferred": f"{plain_url}?sslmode=prefer",
            "plain_disabled": f"{plain_url}?sslmode=disable",
        },
    )
    port = free_port()
    env = {"PROCTOR_GATEWAY_CONFIG": str(config), "PROCTOR_PG_LISTEN": f"127.0.0.1:{port}"}
    classifier = ServiceRunner("proctor_classifier", settings, tmp_path / "classifier.log", env)
    gateway = ServiceRunner("proctor_ingress", settings, tmp_path / "proxy.log", env)
    classifier.start()
    gateway.start()
    try:
        await asyncio.to_thread(wait_for_port, "127.0.0.1", port)
        yield f"127.0.0.1:{port}"
    finally:
        gateway.stop()
        classifier.stop()


async def _tls_sessions_for(address: str, resource: str, front: TlsFront) -> int:
    """Query `resource` through the gateway; how many TLS sessions the front saw for it."""
    before = front.tls_sessions
    conn = await asyncpg.connect(
        f"postgresql://alice:{AGENT_TOKEN}@{address}/{resource}", ssl=False
    )
    try:
        assert await conn.fetchval("SELECT 41 + 1") == 42
    finally:
        await conn.close()
    return front.tls_sessions - before


async def test_the_gateway_reaches_targets_as_their_sslmode_says(
    proxy: str, front: tuple[TlsFront, int]
) -> None:
    tls, _ = front
    assert await _tls_sessions_for(proxy, "verified", tls) == 1
    assert await _tls_sessions_for(proxy, "unverified", tls) == 1
    assert await _tls_sessions_for(proxy, "default", tls) == 1  # prefer: TLS when offered
    # The plain server declines TLS: prefer goes on without it, disable never asks.
    assert await _tls_sessions_for(proxy, "plain_preferred", tls) == 0
    assert await _tls_sessions_for(proxy, "plain_disabled", tls) == 0


async def test_a_certificate_that_does_not_pass_or_tls_that_is_missing_refuses(
    proxy: str, front: tuple[TlsFront, int]
) -> None:
    tls, _ = front
    with pytest.raises(asyncpg.PostgresError, match="TLS with the target failed") as wrong:
        await _tls_sessions_for(proxy, "wrong_ca", tls)
    assert "verify-full" in str(wrong.value) and "CERTIFICATE_VERIFY_FAILED" in str(wrong.value)
    with pytest.raises(asyncpg.PostgresError, match=r"does not accept TLS.*require"):
        await _tls_sessions_for(proxy, "plain_required", tls)
    assert await _tls_sessions_for(proxy, "verified", tls) == 1  # the gateway is fine after
