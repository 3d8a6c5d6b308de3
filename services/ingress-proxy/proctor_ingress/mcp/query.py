"""The `query` tool: one SQL text through the gateway's Postgres path, its answer returned a
page at a time. A page that leaves rows unread gets a cursor; the rows wait in the
connection until the agent asks for them, the cursor sits idle too long, or the agent opens
more cursors than it may hold (then the oldest goes)."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from proctor import pgwire
from proctor_ingress.mcp.sqlclient import Column, SqlConnection, Statement, type_name
from proctor_ingress.postgres.session import REVIEW_WAIT

CURSOR_IDLE = 300.0  # seconds an unread page waits for the agent
CURSORS_PER_IDENTITY = 4
IDLE_CONNECTIONS = 64  # kept open between calls, for all identities together


@dataclass
class Page:
    """What a query call returns: each statement's columns, the rows of this page, tags."""

    statements: list[Statement] = field(default_factory=list)
    rows: list[list[list[str | None]]] = field(default_factory=list)  # by statement
    notices: list[str] = field(default_factory=list)
    cursor: str = ""  # set when more rows follow
    first_row: int = 0  # 0-based number of the page's first row, within its statement

    @property
    def error(self) -> dict[str, str] | None:
        return next((s.error for s in self.statements if s.error is not None), None)


class Answer:
    """One Query's answer, read on demand."""

    def __init__(self, conn: SqlConnection, sql: str) -> None:
        self.conn = conn
        self.reader = conn.query(sql)
        self._messages: AsyncIterator[pgwire.Message] = self.reader.messages()
        self._held: pgwire.Message | None = None  # read ahead: it belongs to the next page
        self.current: Statement | None = None
        self.rows_read = 0  # of the current statement
        self.done = False

    async def _next(self) -> pgwire.Message:
        if self._held is not None:
            msg, self._held = self._held, None
            return msg
        return await anext(self._messages)

    async def page(self, limit: int) -> Page:
        page = Page()
        count = 0

        def section(statement: Statement) -> list[list[str | None]]:
            if not page.statements or page.statements[-1] is not statement:
                page.statements.append(statement)
                page.rows.append([])
            return page.rows[-1]

        if self.current is not None and not self.current.tag:
            section(self.current)
            page.first_row = self.rows_read
        while not self.done:
            msg = await self._next()
            kind = msg.type
            if kind in (b"D", b"T") and count >= limit:
                self._held = msg
                break
            if kind == b"T":
                self.current = Statement(
                    columns=[
                        Column(f.name, type_name(f.type_oid))
                        for f in pgwire.parse_row_description(msg.body)
                    ]
                )
                self.rows_read = 0
                section(self.current)
            elif kind == b"D":
                if self.current is None:  # a DataRow without its description: not Postgres
                    raise pgwire.ProtocolError("a row came before its description")
                values = pgwire.parse_data_row(msg.body)
                section(self.current).append(
                    [None if v is None else v.decode("utf-8", "replace") for v in values]
                )
                self.rows_read += 1
                count += 1
            elif kind == b"C":
                statement = self.current if self.current is not None else Statement()
                statement.tag = pgwire.cstring(msg.body, 0)[0]
                section(statement)
                self.current = None
            elif kind == b"I":
                section(Statement(tag="(empty query)"))
            elif kind == b"E":
                section(Statement(error=pgwire.error_fields(msg.body)))
                self.current = None
            elif kind == b"Z":
                self.done = True
        page.notices = list(self.reader.notices)
        self.reader.notices.clear()
        return page


@dataclass
class OpenCursor:
    owner: str
    key: tuple[str, str, str]
    answer: Answer
    used: float


class Queries:
    """Connections to the gateway's Postgres listener, and the cursors of unread pages."""

    def __init__(self, host: str, port: int, patience: float, ca_file: str | None = None) -> None:
        self.host = host
        self.port = port
        self.ca_file = ca_file  # the gateway's CA, for a Postgres listener off loopback
        self.patience = patience
        self.idle: OrderedDict[tuple[str, str, str], SqlConnection] = OrderedDict()
        self.cursors: dict[str, OpenCursor] = {}
        self._janitor: asyncio.Task[None] | None = None

    async def _connection(
        self, identity: str, token: str, resource: str, agent: str
    ) -> SqlConnection:
        conn = self.idle.pop((identity, resource, agent), None)
        if conn is not None and not conn.upstream.writer.is_closing():
            return conn
        params = {
            "application_name": agent,
            # A statement under review holds the call only so long (MCP clients drop calls
            # that stay silent for about a minute); then the agent is told it is pending.
            "options": f"-c {REVIEW_WAIT}={self.patience:g}",
        }
        return await SqlConnection.open(
            self.host, self.port, identity, token, resource, params, ca_file=self.ca_file
        )

    async def _release(self, key: tuple[str, str, str], conn: SqlConnection) -> None:
        if conn.broken:
            await conn.close()
            return
        old = self.idle.pop(key, None)
        conn.idle_since = time.monotonic()
        self.idle[key] = conn
        self._start_janitor()
        if old is not None:
            await old.close()
        while len(self.idle) > IDLE_CONNECTIONS:
            _, oldest = self.idle.popitem(last=False)
            await oldest.close()

    async def run(
        self, identity: str, token: str, resource: str, agent: str, sql: str, limit: int
    ) -> Page:
        key = (identity, resource, agent)
        conn = await self._connection(identity, token, resource, agent)
        answer = Answer(conn, sql)
        return await self._page(key, identity, answer, limit)

    async def more(self, identity: str, cursor: str, limit: int) -> Page | None:
        """The next page of an open cursor; None when this identity has no such cursor."""
        found = self.cursors.get(cursor)
        if found is None or found.owner != identity:
            return None
        del self.cursors[cursor]
        return await self._page(found.key, identity, found.answer, limit)

    async def _page(
        self, key: tuple[str, str, str], identity: str, answer: Answer, limit: int
    ) -> Page:
        try:
            page = await answer.page(limit)
        except BaseException:
            answer.conn.broken = True
            await answer.conn.close()
            raise
        if answer.done:
            await self._release(key, answer.conn)
            return page
        page.cursor = "c" + secrets.token_hex(8)
        self.cursors[page.cursor] = OpenCursor(identity, key, answer, time.monotonic())
        await self._keep_to(identity, CURSORS_PER_IDENTITY)
        self._start_janitor()
        return page

    async def _keep_to(self, identity: str, most: int) -> None:
        mine = [c for c, o in self.cursors.items() if o.owner == identity]
        for cursor in mine[: max(0, len(mine) - most)]:
            await self._drop(cursor)

    async def _drop(self, cursor: str) -> None:
        found = self.cursors.pop(cursor, None)
        if found is not None:  # the gateway's session sees its client leave mid-result
            await found.answer.conn.close()

    def _start_janitor(self) -> None:
        if self._janitor is None or self._janitor.done():
            self._janitor = asyncio.create_task(self._expire())

    async def _expire(self) -> None:
        """Close cursors and kept connections idle for CURSOR_IDLE (the gateway's Postgres
        session of a kept connection then ends, and says so in its events)."""
        while self.cursors or self.idle:
            await asyncio.sleep(min(CURSOR_IDLE / 10, 30.0))
            now = time.monotonic()
            for cursor, found in list(self.cursors.items()):
                if now - found.used > CURSOR_IDLE:
                    await self._drop(cursor)
            for key, conn in list(self.idle.items()):
                if now - conn.idle_since > CURSOR_IDLE and self.idle.get(key) is conn:
                    del self.idle[key]
                    await conn.close()

    async def close(self) -> None:
        if self._janitor is not None:
            self._janitor.cancel()
        for cursor in list(self.cursors):
            await self._drop(cursor)
        while self.idle:
            _, conn = self.idle.popitem()
            with contextlib.suppress(Exception):
                await conn.close()
