"""Connecting to a target Postgres with the credentials only the gateway holds
(trust, cleartext, md5 or SCRAM-SHA-256; SCRAM from the scramp library), over TLS as the
resource URL's `sslmode` says (libpq's modes and default)."""

from __future__ import annotations

import asyncio
import hashlib
import ssl
import struct
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

from scramp import ScramClient

from proctor import errors, pgwire
from proctor.gateway import sslmode_of
from proctor.pgwire import Message, MessageBuffer


class UpstreamError(errors.UpstreamError):
    """The target refused the connection or its credentials; `fields` is its ErrorResponse."""

    def __init__(self, message: str, fields: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.fields = fields or {}


_TLS_REQUIRED = ("require", "verify-ca", "verify-full")


@dataclass(frozen=True, slots=True)
class Target:
    host: str
    port: int
    user: str
    password: str | None
    database: str
    sslmode: str = "prefer"  # as libpq: prefer tries TLS and falls back to plain
    sslrootcert: str | None = None  # CA file for verify-ca / verify-full (else the system's)

    @classmethod
    def from_url(cls, url: str) -> Target:
        parts = urlsplit(url)
        query = parse_qs(parts.query)
        host = unquote(parts.hostname or "") or query.get("host", ["127.0.0.1"])[0]
        return cls(
            host=host,
            port=parts.port or int(query.get("port", ["5432"])[0]),
            user=unquote(parts.username or "postgres"),
            password=unquote(parts.password) if parts.password else None,
            database=unquote(parts.path.lstrip("/")) or "postgres",
            sslmode=sslmode_of(url),
            sslrootcert=query.get("sslrootcert", [None])[0],
        )

    def tls_context(self) -> ssl.SSLContext:
        """What `sslmode` asks of the target's certificate: nothing (require, prefer,
        allow), a chain to `sslrootcert` or the system's CAs (verify-ca), and the host name
        too (verify-full)."""
        if self.sslmode in ("verify-ca", "verify-full"):
            ctx = ssl.create_default_context(cafile=self.sslrootcert)
            ctx.check_hostname = self.sslmode == "verify-full"
            return ctx
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx


async def _start_tls(
    target: Target, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, timeout: float
) -> None:
    """Ask the target for TLS (SSLRequest) and switch to it, or go on in plain text where
    `sslmode` allows; UpstreamError when it requires TLS the target does not offer, or the
    target's certificate does not pass."""
    writer.write(struct.pack("!ii", 8, pgwire.SSL_REQUEST))
    try:
        await writer.drain()
        answer = await asyncio.wait_for(reader.readexactly(1), timeout)
    except (asyncio.IncompleteReadError, ConnectionError, TimeoutError) as exc:
        raise UpstreamError(f"the target did not answer the TLS request: {exc!r}") from exc
    if answer == b"N":
        if target.sslmode in _TLS_REQUIRED:
            raise UpstreamError(
                f"the target does not accept TLS, and the resource's sslmode is {target.sslmode}"
            )
        return
    if answer != b"S":
        raise UpstreamError(f"the target answered the TLS request with {answer!r}")
    hostname = target.host if target.sslmode == "verify-full" else None
    try:
        await asyncio.wait_for(
            writer.start_tls(target.tls_context(), server_hostname=hostname), timeout
        )
    except (ssl.SSLError, ConnectionError, TimeoutError) as exc:
        raise UpstreamError(f"TLS with the target failed ({target.sslmode}): {exc!r}") from exc


@dataclass
class Upstream:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    pid: int
    secret: int
    # ParameterStatus messages and the first ReadyForQuery, to replay to the client.
    greeting: list[Message]
    target: Target


async def _read(reader: asyncio.StreamReader, buf: MessageBuffer) -> Message:
    while True:
        for msg in buf.messages():
            return msg
        data = await reader.read(65536)
        if not data:
            raise UpstreamError("the target closed the connection during startup")
        buf.feed(data)


def _password_message(data: bytes) -> bytes:
    return pgwire.frame(b"p", data)


async def open_upstream(
    target: Target, params: dict[str, str], timeout: float = 10.0
) -> tuple[Upstream, MessageBuffer]:
    """Connect, authenticate and read up to the first ReadyForQuery."""
    if target.host.startswith("/"):
        path = f"{target.host}/.s.PGSQL.{target.port}"
        conn = asyncio.open_unix_connection(path, limit=1 << 20)
    else:
        conn = asyncio.open_connection(target.host, target.port, limit=1 << 20)
    try:
        reader, writer = await asyncio.wait_for(conn, timeout)
    except (OSError, TimeoutError) as exc:
        raise UpstreamError(
            f"cannot reach the target at {target.host}:{target.port}: {exc}"
        ) from exc
    buf = MessageBuffer()
    startup = {**params, "user": target.user, "database": target.database}
    scram: ScramClient | None = None
    pid = secret = 0
    greeting: list[Message] = []
    try:
        if target.sslmode not in ("disable", "allow") and not target.host.startswith("/"):
            await _start_tls(target, reader, writer, timeout)
        writer.write(pgwire.startup_message(startup))
        while True:
            msg = await asyncio.wait_for(_read(reader, buf), timeout)
            if msg.type == b"E":
                fields = pgwire.error_fields(msg.body)
                raise UpstreamError(fields.get("M", "the target refused the connection"), fields)
            if msg.type == b"R":
                (code,) = struct.unpack_from("!i", msg.body)
                if code == 0:
                    continue
                if target.password is None:
                    raise UpstreamError("the target asks for a password and none is configured")
                if code == 3:
                    writer.write(_password_message(target.password.encode() + b"\0"))
                elif code == 5:
                    salt = msg.body[4:8]
                    inner = hashlib.md5((target.password + target.user).encode()).hexdigest()
                    outer = hashlib.md5(inner.encode() + salt).hexdigest()
                    writer.write(_password_message(b"md5" + outer.encode() + b"\0"))
                elif code == 10:
                    mechanisms = [m for m in msg.body[4:].split(b"\0") if m]
                    if b"SCRAM-SHA-256" not in mechanisms:
                        raise UpstreamError(f"unsupported SASL mechanisms {mechanisms!r}")
                    scram = ScramClient(["SCRAM-SHA-256"], target.user, target.password)
                    first = scram.get_client_first().encode()
                    writer.write(_password_message(
                        b"SCRAM-SHA-256\0" + struct.pack("!i", len(first)) + first))  # fmt: skip
                elif code == 11 and scram is not None:
                    scram.set_server_first(msg.body[4:].decode())
                    writer.write(_password_message(scram.get_client_final().encode()))
                elif code == 12 and scram is not None:
                    scram.set_server_final(msg.body[4:].decode())
                else:
                    raise UpstreamError(f"unsupported authentication request {code}")
                await writer.drain()
            elif msg.type == b"K":
                pid, secret = struct.unpack_from("!ii", msg.body)
            elif msg.type == b"Z":
                greeting.append(msg)
                return Upstream(reader, writer, pid, secret, greeting, target), buf
            else:  # ParameterStatus, NoticeResponse, NegotiateProtocolVersion
                greeting.append(msg)
    except BaseException:
        writer.close()
        raise


async def send_cancel(target: Target, pid: int, secret: int) -> None:
    """Ask the target to cancel what backend `pid` is running."""
    if target.host.startswith("/"):
        conn = asyncio.open_unix_connection(f"{target.host}/.s.PGSQL.{target.port}")
    else:
        conn = asyncio.open_connection(target.host, target.port)
    reader, writer = await asyncio.wait_for(conn, 5)
    writer.write(pgwire.cancel_request(pid, secret))
    await writer.drain()
    await reader.read()  # the server closes the connection when done
    writer.close()
