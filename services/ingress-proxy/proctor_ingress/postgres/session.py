"""One Postgres agent connection: startup, authentication as a Proctor identity, the upstream
connection, and the session's two halves once it runs (client.py: what the client sends,
target.py: what the target answers; pipes.py carries the bytes)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import shlex
import struct
import uuid
from collections import deque

from proctor import pgwire
from proctor.errors import AuthenticationFailed, SessionEnded
from proctor.events.v1 import events_pb2 as pb
from proctor.gateway import IdentityConfig, PostgresResource
from proctor.masker.v1 import masker_pb2 as mpb  # noqa: F401
from proctor.pgwire import MessageBuffer
from proctor_ingress import limits
from proctor_ingress.emitter import SessionEvents
from proctor_ingress.gateway import Gateway
from proctor_ingress.lifecycle import Lifecycle
from proctor_ingress.masking import MaskStats
from proctor_ingress.postgres.authentication import Authenticator, is_loopback
from proctor_ingress.postgres.base import (
    ADMIN_SHUTDOWN,
    HELD_READ_LIMIT,
    PROTOCOL_VIOLATION,
    UPSTREAM_READ_LIMIT,
    Masked,
)
from proctor_ingress.postgres.client import ClientSide
from proctor_ingress.postgres.pipes import Pipe, close_gently
from proctor_ingress.postgres.results import Descriptions, Result
from proctor_ingress.postgres.statements import SqlStatements
from proctor_ingress.postgres.target import TargetSide
from proctor_ingress.postgres.tracking import CommandTracker
from proctor_ingress.postgres.upstream import (
    Target,
    Upstream,
    UpstreamError,
    open_upstream,
    send_cancel,
)
from proctor_ingress.workers import CANCEL_SUBJECT, cancel_message

__all__ = ["ClientSession", "Gateway", "SessionEnded"]

log = logging.getLogger("proctor.ingress")

# Startup parameters passed to the target; others (notably `options`, which can set any
# server setting) stay with the gateway.
FORWARDED_PARAMS = (
    "application_name",
    "client_encoding",
    "DateStyle",
    "TimeZone",
    "IntervalStyle",
    "extra_float_digits",
    "search_path",
)

REVIEW_WAIT = "proctor.review_wait"


def review_wait(options: str, ceiling: float) -> float | None:
    """The seconds a statement under review may hold this connection before the client is
    told it is pending, when the client asked with `options=-c proctor.review_wait=N` (at
    most `ceiling`, the approval timeout); None when it did not ask."""
    words = shlex.split(options) if options else []
    for i, word in enumerate(words):
        setting = words[i + 1] if word == "-c" and i + 1 < len(words) else word.removeprefix("--")
        name, sep, value = setting.partition("=")
        if sep and name == REVIEW_WAIT:
            try:
                return max(0.0, min(float(value), ceiling))
            except ValueError:
                return None
    return None


class ClientSession(ClientSide, TargetSide):
    def __init__(
        self, gw: Gateway, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.gw = gw
        self.reader = reader
        self.writer = writer
        self.peer = "{}:{}".format(*(writer.get_extra_info("peername") or ("?", "?"))[:2])
        self.session_id = uuid.uuid4().hex
        self.tracker = CommandTracker()
        self.statements = SqlStatements()
        self.replacements: dict[str, bytes] = {}
        self.skip_until_sync = False
        self.client_buf = MessageBuffer()  # client messages not handled yet (the pipe's)
        self.client_pipe: Pipe | None = None  # the client's socket once the session runs
        self.upstream_pipe: Pipe | None = None  # the target's
        self.ending: str | None = None  # why the gateway ends the session, when it does
        self.linger = False  # close gently: the client may still be sending
        self.upstream: Upstream | None = None
        self.events: SessionEvents | None = None
        self.life: Lifecycle | None = None  # the commands' lifecycle, once the session runs
        self.identity = pb.Identity()
        self.groups: tuple[str, ...] = ()
        self.resource = pb.Resource(kind=pb.RESOURCE_KIND_POSTGRES)
        self.key = (secrets.randbits(31), secrets.randbits(31))
        # Masking of what the target answers (see _upstream_data).
        self.prefilter = gw.prefilter
        self.descriptions = Descriptions()
        self.result: Result | None = None  # the columns of the result being read
        self.batch: list[tuple[bytes, list[bytes | None], list[str | None]]] = []
        self.batch_bytes = 0
        self.batch_values = 0
        # Batches at the masker, oldest first: where their rows go in `out`, and the call.
        self.in_flight: deque[tuple[int, asyncio.Task[Masked]]] = deque()
        self.out: list[bytes | bytearray] = []  # what goes to the client from this read
        self.withheld: str | None = None  # masking failed: the result's rows are dropped
        self.drop_until_ready = False  # the failure was reported: skip to ReadyForQuery
        self.mask_stats: dict[str, MaskStats] = {}

    async def _read_startup(self) -> tuple[int, bytes]:
        header = await self.reader.readexactly(4)
        (length,) = struct.unpack("!i", header)
        if length < 8 or length > pgwire.MAX_STARTUP:
            raise SessionEnded(f"invalid startup packet length {length}")
        body = await self.reader.readexactly(length - 4)
        (code,) = struct.unpack_from("!i", body)
        return code, body

    async def _fatal(self, message: str, code: str = "28000", hint: str | None = None) -> None:
        self.writer.write(pgwire.error_response(message, code=code, severity="FATAL", hint=hint))
        with contextlib.suppress(ConnectionError):
            await self.writer.drain()

    async def startup(self) -> dict[str, str] | None:
        """Negotiate TLS and read the StartupMessage; None after a CancelRequest."""
        for _ in range(3):
            code, body = await self._read_startup()
            if code == pgwire.SSL_REQUEST:
                if self.gw.ssl is None:
                    self.writer.write(b"N")
                    continue
                self.writer.write(b"S")
                await self.writer.drain()
                await self.writer.start_tls(self.gw.ssl)  # type: ignore[arg-type]
                continue
            if code == pgwire.GSSENC_REQUEST:
                self.writer.write(b"N")
                continue
            if code == pgwire.CANCEL_REQUEST:
                pid, key = struct.unpack_from("!ii", body, 4)
                await self._cancel(pid, key)
                return None
            if code >> 16 != 3:
                await self._fatal(
                    f"unsupported frontend protocol {code >> 16}.{code & 0xFFFF}", code="0A000"
                )
                return None
            return pgwire.parse_startup(body)
        raise SessionEnded("too many startup negotiation requests")

    async def _cancel(self, pid: int, key: int) -> None:
        if not await self.gw.cancel(pid, key):
            # Held by another process on this port, or another replica: it acts on it.
            await self.gw.nc.publish(CANCEL_SUBJECT, cancel_message(pid, key))

    async def cancel(self) -> None:
        """A CancelRequest for this session: withdraw a statement held for approval (it
        must not run later), or else ask the target to stop what it runs."""
        held = self.life is not None and self.life.withdraw_held()
        upstream = self.upstream
        if not held and upstream is not None:
            with contextlib.suppress(OSError, TimeoutError):
                await send_cancel(upstream.target, upstream.pid, upstream.secret)

    async def authenticate(self, params: dict[str, str]) -> IdentityConfig | None:
        user, database = params.get("user"), params.get("database") or params.get("user")
        if not user:
            await self._fatal(
                "no user name given: connect as your Proctor identity",
                hint="Use postgresql://IDENTITY:TOKEN@gateway:6543/RESOURCE",
            )
            return None
        if params.get("replication"):
            await self._fatal(
                "replication connections are not available through Proctor", code="42501"
            )
            return None
        identity = await self._prove(user)
        if identity is None:
            return None
        databases = self.gw.config.of_kind("postgres")
        resource = databases.get(database or "")
        if resource is None:
            known = ", ".join(sorted(databases)) or "none"
            await self._fatal(
                f'resource "{database}" is not configured in Proctor',
                code="3D000",
                hint=f"Configured resources: {known}.",
            )
            return None
        self.identity = pb.Identity(
            human=identity.name,
            agent=params.get("application_name") or "unknown",
            groups=list(identity.groups),
        )
        self.groups = tuple(sorted(identity.groups))  # the verdict cache's key, once
        self.resource = pb.Resource(name=resource.name, kind=pb.RESOURCE_KIND_POSTGRES)
        return identity

    async def _prove(self, user: str) -> IdentityConfig | None:
        """The identity `user` proves to be: by SCRAM-SHA-256 when it has a verifier, else by
        its token as a cleartext password, refused off loopback without TLS."""
        auth = Authenticator(self.reader, self.writer)
        config = self.gw.config
        known = config.identities.get(user)
        # An unknown name gets the method most names get, so the answer does not tell it.
        scram = (known.scram is not None) if known is not None else config.prefers_scram
        try:
            if scram:
                return await auth.scram(config, user)
            if self.writer.get_extra_info("ssl_object") is None and not is_loopback(self.peer):
                await self._fatal(
                    "Proctor does not accept a cleartext password over an unencrypted "
                    "connection from another host",
                    code="28000",
                    hint="Connect with sslmode=require (or verify-full), or ask for a SCRAM "
                    "verifier for your identity.",
                )
                return None
            return await auth.cleartext(config, user)
        except AuthenticationFailed:
            await self._fatal(
                f'password authentication failed for user "{user}"',
                code="28P01",
                hint="The password is your Proctor access token.",
            )
            return None

    async def run(self) -> None:
        admitted = ""  # the identity counted against its cap
        try:
            deadline = self.gw.settings.pg_auth_timeout
            try:
                async with asyncio.timeout(deadline):
                    params = await self.startup()
                    if params is None or await self.authenticate(params) is None:
                        return
            except TimeoutError:
                self.writer.write(limits.authentication_timeout(deadline))
                log.info("session %s from %s: authentication timed out", self.session_id,
                         self.peer)  # fmt: skip
                return
            if not self.gw.limits.admit_identity(self.identity.human):
                await self._fatal_frame(
                    limits.too_many_for_identity(self.identity.human, self.gw.limits.per_identity)
                )
                return
            admitted = self.identity.human
            await self._open(params)
        except pgwire.MessageTooLarge as exc:
            await self._fatal_frame(limits.message_too_large(exc))
        except pgwire.ProtocolError as exc:
            await self._fatal(f"invalid startup: {exc}", code=PROTOCOL_VIOLATION)
            log.info("session %s from %s: invalid startup: %s", self.session_id, self.peer, exc)
        except (SessionEnded, asyncio.IncompleteReadError, ConnectionError, TimeoutError) as e:
            log.debug("session %s from %s ended during startup: %s", self.session_id, self.peer, e)
        finally:
            if admitted:
                self.gw.limits.release_identity(admitted)
            if self.upstream is None:
                self.writer.close()

    async def _fatal_frame(self, frame: bytes) -> None:
        self.writer.write(frame)
        with contextlib.suppress(ConnectionError):
            await self.writer.drain()

    async def _open(self, params: dict[str, str]) -> None:
        resource = self.gw.config.resources[self.resource.name]
        assert isinstance(resource, PostgresResource)  # authenticate admits databases only
        target = Target.from_url(resource.url)
        forwarded = {k: v for k, v in params.items() if k in FORWARDED_PARAMS}
        try:
            self.upstream, upstream_buf = await open_upstream(target, forwarded)
        except UpstreamError as exc:
            await self._fatal(
                f"Proctor could not connect to resource {resource.name}: {exc}",
                code=exc.fields.get("C", "08006"),
            )
            return
        self.gw.cancel_keys[self.key] = self
        greeting = [pgwire.auth_request(0)]
        for msg in self.upstream.greeting:
            if msg.type == b"Z":
                greeting.append(pgwire.backend_key_data(*self.key))
            greeting.append(msg.frame)
        self.writer.write(b"".join(greeting))
        await self.writer.drain()
        self.events = SessionEvents(
            self.gw.nc,
            self.gw.js,
            self.gw.settings.stream_name,
            self.session_id,
            self.identity,
            self.resource,
        )
        await self.events.emit(
            session_opened=pb.SessionOpened(
                protocol="postgres", client_address=self.peer, client_name=self.identity.agent
            )
        )
        life = self.life = Lifecycle(
            self.gw,
            self.events,
            self.session_id,
            self.identity,
            self.resource,
            self.groups,
            client_gone=lambda: None if self.client_pipe is None else self.client_pipe.closed,
        )
        life.patience = review_wait(params.get("options", ""), self.gw.settings.approval_timeout)
        await life.open()
        self.gw.sessions += 1
        reason = "client closed"
        finished: asyncio.Future[str] = asyncio.get_running_loop().create_future()

        def end(why: str) -> None:
            if not finished.done():
                finished.set_result(why)
            client.stop()  # the other side's handler may be running: neither goes on
            server.stop()

        client = self.client_pipe = Pipe("client", "client closed", HELD_READ_LIMIT)
        # Read where the pipe receives; a message over the limit is refused at its header.
        self.client_buf = MessageBuffer(client.buffer, self.gw.settings.pg_max_message)
        server = self.upstream_pipe = Pipe(
            "upstream", "target closed the connection", UPSTREAM_READ_LIMIT
        )
        try:
            upstream = self.upstream
            server.attach(
                upstream.writer.transport,
                self._upstream_data,
                end,
                upstream_buf.take_raw() + _read_ahead(upstream.reader),
                upstream.reader.at_eof(),
            )
            client.attach(
                self.writer.transport,
                self._client_data,
                end,
                _read_ahead(self.reader),
                self.reader.at_eof(),
            )
            reason = await finished
        finally:
            waiting = [t for t in (client.cancel(), server.cancel()) if t is not None]
            if waiting:
                await asyncio.wait(waiting)
            self._abandon_batches()
            await self._close(reason)

    def shutdown(self) -> None:
        """The gateway is stopping: tell the client as Postgres would, then hang up; the
        pipes see the connection end and the session closes as usual."""
        self.ending = "gateway shutdown"
        self.writer.write(
            pgwire.error_response(
                "terminating connection because the Proctor gateway is shutting down",
                code=ADMIN_SHUTDOWN,
                severity="FATAL",
                hint="Reconnect in a moment; statements that were not answered did not run.",
            )
        )
        self.writer.close()

    async def _close(self, reason: str) -> None:
        reason = self.ending or reason
        self.gw.sessions -= 1
        self.gw.cancel_keys.pop(self.key, None)
        life = self.life
        if life is not None:
            await life.close()
        upstream = self.upstream
        if upstream is not None:
            if len(self.tracker):
                # The client left while a command was still running (a dropped socket and a
                # Terminate both end the session here): stop the target's work too, or a
                # backend busy without writing would run on with nobody to answer.
                with contextlib.suppress(OSError, TimeoutError):
                    await send_cancel(upstream.target, upstream.pid, upstream.secret)
            upstream.writer.close()
        if self.linger:
            close_gently(self.writer.transport)
        else:
            self.writer.close()
        if self.events is not None:
            with contextlib.suppress(Exception):
                await self.events.emit(
                    session_closed=pb.SessionClosed(
                        reason=reason, command_count=0 if life is None else life.commands
                    )
                )
        log.info(
            "session %s (%s via %s) closed: %s",
            self.session_id,
            self.identity.human,
            self.peer,
            reason,
        )


def _read_ahead(reader: asyncio.StreamReader) -> bytes:
    """What a stream reader read ahead and nobody consumed, taken from it."""
    buffered = getattr(reader, "_buffer", None)
    if not buffered:
        return b""
    data = bytes(buffered)
    buffered.clear()
    return data
