"""The `query` tool's Postgres client: it connects to the gateway's own Postgres listener as
the agent's identity, so a tool call takes exactly the path a wire client takes (the same
session, lifecycle, approvals, masking and events), and reads the answer of one simple Query
a page at a time. Rows not read yet stay in the socket: a page held open for its next part
costs the client's buffers, not the whole result."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from asyncpg.protocol.protocol import BUILTIN_TYPE_OID_MAP

from proctor import pgwire
from proctor.pgwire import MessageBuffer
from proctor_ingress.postgres.authentication import is_loopback
from proctor_ingress.postgres.upstream import Target, Upstream, UpstreamError, open_upstream

READ_SIZE = 64 * 1024


def type_name(oid: int) -> str:
    return str(BUILTIN_TYPE_OID_MAP.get(oid, f"oid {oid}"))


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    type: str


@dataclass
class Statement:
    """What one statement of the Query answered: its columns (none for a command that
    returns no rows), its command tag once complete, or the error it raised."""

    columns: list[Column] = field(default_factory=list)
    tag: str = ""
    error: dict[str, str] | None = None


class ReplyReader:
    """The messages of one Query's answer, in order, up to its ReadyForQuery."""

    def __init__(self, upstream: Upstream, buf: MessageBuffer) -> None:
        self.upstream = upstream
        self.buf = buf
        self.notices: list[str] = []

    async def messages(self) -> AsyncIterator[pgwire.Message]:
        while True:
            for msg in self.buf.messages():
                if msg.type == b"N":
                    self.notices.append(pgwire.error_fields(msg.body).get("M", ""))
                    continue
                if msg.type in (b"S", b"A"):  # ParameterStatus, NotificationResponse
                    continue
                yield msg
                if msg.type == b"Z":
                    return
            data = await self.upstream.reader.read(READ_SIZE)
            if not data:
                raise UpstreamError("the gateway closed the connection")
            self.buf.feed(data)


class SqlConnection:
    """One connection to the gateway's Postgres listener, for one identity and resource."""

    def __init__(self, upstream: Upstream, buf: MessageBuffer) -> None:
        self.upstream = upstream
        self.buf = buf
        self.broken = False
        self.idle_since = 0.0  # when it was last given back, unused since

    @classmethod
    async def open(
        cls,
        host: str,
        port: int,
        identity: str,
        token: str,
        resource: str,
        params: dict[str, str],
        timeout: float = 10.0,
        ca_file: str | None = None,
    ) -> SqlConnection:
        # On loopback nothing can sit in between; elsewhere the listener's certificate must
        # be the gateway's (the token may be sent as a password).
        if is_loopback(f"{host}:{port}"):
            sslmode, ca = "prefer", None
        else:
            sslmode, ca = "verify-full", ca_file
        target = Target(host, port, identity, token, resource, sslmode=sslmode, sslrootcert=ca)
        upstream, buf = await open_upstream(target, params, timeout)
        return cls(upstream, buf)

    def query(self, sql: str) -> ReplyReader:
        """Send one simple Query; read its answer from the returned reader."""
        self.upstream.writer.write(pgwire.frame(b"Q", sql.encode() + b"\0"))
        return ReplyReader(self.upstream, self.buf)

    async def close(self) -> None:
        writer = self.upstream.writer
        with contextlib.suppress(Exception):
            if not writer.is_closing():
                writer.write(pgwire.frame(b"X"))
            writer.close()
            await asyncio.wait_for(writer.wait_closed(), 2.0)
