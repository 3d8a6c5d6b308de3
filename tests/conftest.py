"""Fixtures: a real nats-server per test and a real Postgres per session (a database per test),
started from the project's wheels on free ports in temporary directories.

PROCTOR_TEST_DATABASE_URL (a superuser URL) makes the tests use that Postgres instead.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import nats
import pytest
from nats.aio.client import Client as NATS

from proctor import bus
from proctor.decisions import load_or_create_signing_key
from proctor.embedded import EmbeddedNats, EmbeddedPostgres
from proctor.settings import Settings


class PostgresForTests:
    def __init__(self, admin_url: str, server: EmbeddedPostgres | None) -> None:
        self.admin_url = admin_url
        self.server = server

    async def new_database(self, setup: str = "") -> str:
        """A new database's URL, `setup` (SQL) run in it."""
        name = f"t_{uuid.uuid4().hex[:12]}"
        conn = await asyncpg.connect(self.admin_url)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        base, _, _ = self.admin_url.rpartition("/")
        url = f"{base}/{name}"
        if setup:
            conn = await asyncpg.connect(url)
            try:
                await conn.execute(setup)
            finally:
                await conn.close()
        return url


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresForTests]:
    given = os.environ.get("PROCTOR_TEST_DATABASE_URL")
    if given:
        yield PostgresForTests(given, None)
        return
    server = EmbeddedPostgres(tmp_path_factory.mktemp("pg")).start()
    try:
        yield PostgresForTests(server.url("postgres"), server)
    finally:
        server.stop("immediate")


@pytest.fixture
async def database_url(postgres: PostgresForTests) -> str:
    return await postgres.new_database()


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[EmbeddedNats]:
    server = EmbeddedNats(tmp_path / "nats").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def nc(nats_server: EmbeddedNats) -> AsyncIterator[NATS]:
    """A plain NATS connection to the test's server."""
    conn = await nats.connect(nats_server.url)
    try:
        yield conn
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def approval_key(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The approval service's signing key for the tests (a file) and its public key."""
    path = tmp_path_factory.mktemp("keys") / "approval-signing-key.pem"
    return path, load_or_create_signing_key(path)


@pytest.fixture
def settings(
    nats_server: EmbeddedNats, database_url: str, tmp_path: Path, approval_key: tuple[Path, str]
) -> Settings:
    return Settings(
        nats_url=nats_server.url,
        database_url=database_url,
        audit_ack_wait=3.0,
        audit_batch_size=200,
        run_dir=tmp_path / "run",
        approval_signing_key=approval_key[0],
        approval_verify_keys=approval_key[1],
    )


@pytest.fixture
async def js(settings: Settings) -> AsyncIterator[object]:
    nc = await bus.connect(settings, "test")
    js = nc.jetstream()
    await bus.ensure_stream(js, settings)
    try:
        yield js
    finally:
        await nc.close()
