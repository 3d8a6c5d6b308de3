"""An ORM through the gateway: SQLAlchemy's unit of work on psycopg 3 reads as usual, its
flush of a change waits for a human (who sees the values), and a bulk delete is blocked."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import create_engine, delete, func, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from sqlalchemy.pool import NullPool

from tests.integration.conftest import AGENT_TOKEN, RunningGateway, next_request

pytestmark = pytest.mark.integration


class Base(DeclarativeBase):
    pass


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    owner: Mapped[str]
    balance: Mapped[Decimal]


def _engine(gateway: RunningGateway) -> Any:
    url = (
        f"postgresql+psycopg://alice:{AGENT_TOKEN}@{gateway.host}:{gateway.port}/target"
        "?sslmode=disable&application_name=orm-agent"
    )
    return create_engine(url, poolclass=NullPool)


async def test_sqlalchemy_reads_changes_on_approval_and_is_blocked_from_a_bulk_delete(
    gateway: RunningGateway, approval_requests: asyncio.Queue[Any]
) -> None:
    engine = _engine(gateway)
    session = Session(engine)
    try:
        # Reads: the ORM's own queries, with parameters, pass.
        count = await asyncio.to_thread(session.scalar, select(func.count()).select_from(Account))
        assert count == 100
        account = await asyncio.to_thread(session.get, Account, 7)
        assert account is not None and (account.owner, account.balance) == ("owner7", 70)

        # A change: the flush's UPDATE waits for a human, who sees the values it binds.
        account.owner = "orm-owner"
        flush = asyncio.create_task(asyncio.to_thread(session.commit))
        request = await next_request(approval_requests)
        asked = request.approval_requested
        assert asked.command_text.startswith("UPDATE accounts SET owner=")
        assert list(asked.parameters) == ["orm-owner", "7"]
        assert not flush.done()
        await gateway.decide(request.session_id, asked.approval_id, True)
        await asyncio.wait_for(flush, 10)
        assert await gateway.target_rows("SELECT owner FROM accounts WHERE id = 7") == [
            {"owner": "orm-owner"}
        ]

        # A bulk delete without a WHERE never reaches the target.
        with pytest.raises(DBAPIError, match=r"dml\.delete_all"):
            await asyncio.to_thread(session.execute, delete(Account))
        await asyncio.to_thread(session.rollback)
        assert await gateway.target_rows("SELECT count(*) AS n FROM accounts") == [{"n": 100}]

        # The session goes on after the refusal.
        again = await asyncio.to_thread(session.get, Account, 8)
        assert again is not None and again.owner == "owner8"
    finally:
        await asyncio.to_thread(session.close)
        engine.dispose()
