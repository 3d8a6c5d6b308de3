"""How an agent proves its identity to the gateway: SCRAM-SHA-256 when the identity has a
verifier (the token never crosses the wire), else the token as a cleartext password, which is
accepted only over TLS or from loopback."""

from __future__ import annotations

import asyncio
import ipaddress
import struct

from proctor import pgwire
from proctor.errors import AuthenticationFailed
from proctor.gateway import GatewayConfig, IdentityConfig
from proctor.pgwire import MAX_STARTUP, Message, MessageBuffer
from proctor.scram import MECHANISM, ScramExchange, ScramVerifier

AUTH_TIMEOUT = 60.0  # seconds a client may take for each authentication message
SASL, SASL_CONTINUE, SASL_FINAL, CLEARTEXT = 10, 11, 12, 3
# Answered for names that do not exist, so the exchange does not tell which names do.
_NOBODY = ScramVerifier.of("proctor-no-such-identity")


def is_loopback(peer: str) -> bool:
    host = peer.rpartition(":")[0].strip("[]")
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost" or host.startswith("/")  # a unix socket path


class Authenticator:
    """One client's authentication on one connection."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.buf = MessageBuffer(max_message=MAX_STARTUP)  # a password or SCRAM message

    async def _message(self) -> Message | None:
        while True:
            msg = next(iter(self.buf.messages()), None)
            if msg is not None:
                return msg
            data = await asyncio.wait_for(self.reader.read(65536), AUTH_TIMEOUT)
            if not data:
                return None
            self.buf.feed(data)

    async def _send(self, frame: bytes) -> None:
        self.writer.write(frame)
        await self.writer.drain()

    async def scram(self, config: GatewayConfig, user: str) -> IdentityConfig | None:
        """SCRAM-SHA-256; the identity, or None when the client left. AuthenticationFailed on
        a wrong proof (an unknown name fails the same way, at the same step)."""
        identity = config.identities.get(user)
        verifier = identity.scram if identity is not None and identity.scram else _NOBODY
        exchange = ScramExchange(verifier)
        await self._send(pgwire.auth_request(SASL, MECHANISM.encode() + b"\0\0"))
        first = await self._message()
        if first is None:
            return None
        try:
            mechanism, rest = first.body.split(b"\0", 1)
            (length,) = struct.unpack_from("!i", rest)
            if first.type != b"p" or mechanism.decode() != MECHANISM:
                raise ValueError(f"mechanism {mechanism!r} was not offered")
            server_first = exchange.server_first(rest[4 : 4 + length].decode())
        except (ValueError, struct.error, UnicodeDecodeError) as exc:
            raise AuthenticationFailed(f"malformed SCRAM message: {exc}") from None
        await self._send(pgwire.auth_request(SASL_CONTINUE, server_first.encode()))
        final = await self._message()
        if final is None:
            return None
        try:
            server_final = (
                exchange.server_final(final.body.decode()) if final.type == b"p" else None
            )
        except UnicodeDecodeError:
            server_final = None
        if server_final is None or identity is None or identity.scram is None:
            raise AuthenticationFailed("wrong proof")
        await self._send(pgwire.auth_request(SASL_FINAL, server_final.encode()))
        return identity

    async def cleartext(self, config: GatewayConfig, user: str) -> IdentityConfig | None:
        """The token as a password; None when the client left. AuthenticationFailed when it
        is wrong."""
        await self._send(pgwire.auth_request(CLEARTEXT))
        msg = await self._message()
        if msg is None:
            return None
        token = pgwire.query_text(msg.body) if msg.type == b"p" else ""
        identity = config.authenticate(user, token)
        if identity is None:
            raise AuthenticationFailed("wrong token")
        return identity
