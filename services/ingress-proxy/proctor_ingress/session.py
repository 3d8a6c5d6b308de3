"""One agent connection: startup, authentication as a Proctor identity, the upstream
connection, and the handlers of what each side sends once the session runs (see pipes.py)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import struct
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from google.protobuf.timestamp_pb2 import Timestamp
from nats.aio.client import Client as NATS
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext

from proctor import pgwire
from proctor.approval.v1 import approval_pb2 as apb
from proctor.classifier.v1 import classifier_pb2 as cpb
from proctor.decisions import DecisionVerifier
from proctor.errors import BusError
from proctor.events import codec
from proctor.events.v1 import events_pb2 as pb
from proctor.gateway import GatewayConfig, IdentityConfig
from proctor.masker.v1 import masker_pb2 as mpb
from proctor.maskrules import Prefilter
from proctor.pgwire import Message, MessageBuffer
from proctor.settings import Settings
from proctor_ingress import limits, oversize, refusals
from proctor_ingress.approvals import command_binding, redeem
from proctor_ingress.authentication import AuthenticationFailed, Authenticator, is_loopback
from proctor_ingress.emitter import SessionEvents
from proctor_ingress.limits import ConnectionLimits
from proctor_ingress.masking import (
    BATCH_BYTES,
    BATCH_ROWS,
    BATCH_VALUES,
    MASK_IN_FLIGHT,
    Descriptions,
    MaskStats,
    MaskUnavailable,
    Result,
    Unmaskable,
    add_counts,
    call_masker,
    learn_masker,
    message_candidates,
)
from proctor_ingress.pipes import Pipe, close_gently
from proctor_ingress.statements import SqlStatements
from proctor_ingress.tracking import Command, CommandTracker, Completed
from proctor_ingress.trust import DecisionCheck
from proctor_ingress.upstream import Target, Upstream, UpstreamError, open_upstream, send_cancel
from proctor_ingress.verdicts import ClassifierUnavailable, Verdicts
from proctor_ingress.workers import CANCEL_SUBJECT, cancel_message

log = logging.getLogger("proctor.ingress")

# A batch masked: its frames (candidate rows rebuilt), the answer, its number of candidate rows.
_Masked = tuple[list[bytes], mpb.MaskResponse, int]

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
REFUSED_MARKER = "PROCTOR_REFUSED_"
PROTOCOL_VIOLATION = "08P01"
ADMIN_SHUTDOWN = "57P01"
HELD_READ_LIMIT = 1 << 20  # bytes of client input kept while a statement awaits approval
UPSTREAM_READ_LIMIT = 1 << 20  # bytes of target output kept while the client or masker lags
MASKING_FAILED = "58000"
WITHHELD_FIELD = "(withheld by Proctor: masking was unavailable)"


@dataclass
class Gateway:
    """What every session shares."""

    settings: Settings
    config: GatewayConfig
    nc: NATS
    js: JetStreamContext
    verdicts: Verdicts
    ssl: object | None = None  # ssl.SSLContext when TLS is configured
    # Shared by every session: lets every text value through once the masker says it looks
    # at all text (a NER model for names), or when PROCTOR_MASK_ALL_TEXT says so.
    prefilter: Prefilter = field(default_factory=Prefilter)
    # Live sessions by the BackendKeyData their clients were given, for CancelRequests.
    cancel_keys: dict[tuple[int, int], ClientSession] = field(default_factory=dict)
    sessions: int = 0
    limits: ConnectionLimits = field(init=False)
    # Which approval decisions to believe: only those the approval service signed.
    trust: DecisionCheck = field(default_factory=lambda: DecisionCheck(DecisionVerifier(())))

    def __post_init__(self) -> None:
        self.limits = ConnectionLimits(
            self.settings.pg_max_connections, self.settings.pg_max_connections_per_identity
        )

    async def cancel(self, pid: int, key: int) -> bool:
        """Cancel what the session with this BackendKeyData runs, if it is held here."""
        session = self.cancel_keys.get((pid, key))
        if session is None:
            return False
        await session.cancel()
        return True


class SessionEnded(Exception):
    """The client went away or broke the protocol; nothing more to say to it."""


class ClientSession:
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
        self.decisions: dict[str, asyncio.Future[tuple[str, str, str]]] = {}
        self.bindings: dict[str, str] = {}  # approval id -> the binding of the command held
        self.skip_until_sync = False
        self.client_buf = MessageBuffer()  # client messages not handled yet (the pipe's)
        self.client_pipe: Pipe | None = None  # the client's socket once the session runs
        self.upstream_pipe: Pipe | None = None  # the target's
        self.ending: str | None = None  # why the gateway ends the session, when it does
        self.linger = False  # close gently: the client may still be sending
        self.commands = 0
        self.upstream: Upstream | None = None
        self.events: SessionEvents | None = None
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
        self.in_flight: deque[tuple[int, asyncio.Task[_Masked]]] = deque()
        self.out: list[bytes | bytearray] = []  # what goes to the client from this read
        self.withheld: str | None = None  # masking failed: the result's rows are dropped
        self.drop_until_ready = False  # the failure was reported: skip to ReadyForQuery
        self.mask_stats: dict[str, MaskStats] = {}

    # ---- startup -------------------------------------------------------------------------

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
        held = [fut for fut in self.decisions.values() if not fut.done()]
        for fut in held:
            fut.set_result(("withdrawn", "", ""))
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
        resource = self.gw.config.resources.get(database or "")
        if resource is None:
            known = ", ".join(sorted(self.gw.config.resources)) or "none"
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

    # ---- the session ---------------------------------------------------------------------

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
        # Only the decisions, not every event of the session (which this proxy publishes).
        decisions = [
            await self.gw.nc.subscribe(
                codec.subject_filter(kind, self.session_id), cb=self._on_session_event
            )
            for kind in ("approval_granted", "approval_denied", "approval_expired")
        ]
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
            await self._close(decisions, reason)

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

    async def _close(self, decisions: list[Subscription], reason: str) -> None:
        reason = self.ending or reason
        self.gw.sessions -= 1
        self.gw.cancel_keys.pop(self.key, None)
        with contextlib.suppress(Exception):
            for sub in decisions:
                await sub.unsubscribe()
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
        for fut in self.decisions.values():
            fut.cancel()
        if self.events is not None:
            with contextlib.suppress(Exception):
                await self.events.emit(
                    session_closed=pb.SessionClosed(reason=reason, command_count=self.commands)
                )
        log.info(
            "session %s (%s via %s) closed: %s",
            self.session_id,
            self.identity.human,
            self.peer,
            reason,
        )

    async def _on_session_event(self, msg: object) -> None:
        try:
            event = codec.decode(getattr(msg, "data", b""))
        except Exception:
            return
        kind = codec.event_type(event)
        if kind not in ("approval_granted", "approval_denied", "approval_expired"):
            return
        decision = getattr(event, kind)
        fut = self.decisions.get(decision.approval_id)
        if fut is None or fut.done():
            return
        binding = self.bindings.get(decision.approval_id, "")
        if self.gw.trust.decision(kind, decision, binding, self.session_id):
            fut.set_result((kind, getattr(decision, "approver", ""), getattr(decision, "note", "")))

    # ---- client -> target ------------------------------------------------------------------

    async def _client_data(self) -> str | None:
        """Handle what the client sent: judge each statement, forward the rest. Returns why
        the session ends, or None to go on."""
        assert self.client_pipe is not None and self.upstream_pipe is not None
        up = self.upstream_pipe
        out: list[bytes] = []
        largest = 0
        try:
            for msg in self.client_buf.messages():
                kind = msg.type
                largest = max(largest, len(msg.body))
                if kind in (b"Q", b"P", b"F"):
                    if out:  # let the target work on what came before while we judge
                        up.write(b"".join(out))
                        out.clear()
                    out.append(await self._judge(msg))
                elif kind == b"B":
                    portal, statement, _ = pgwire.parse_bind(msg.body)
                    command = self.statements.bind(portal, statement)
                    if command is not None and command.reviewed and not self.skip_until_sync:
                        if out:
                            up.write(b"".join(out))
                            out.clear()
                        out.append(
                            self._expect(
                                await self._judge_execution(msg, portal, statement, command)
                            )
                        )
                    else:  # forwarded as it came: no need to parse it again
                        formats = pgwire.bind_result_formats(msg.body)
                        self.descriptions.bind(portal, statement, formats)
                        out.append(msg.frame)
                elif kind == b"E":
                    portal, _ = pgwire.parse_execute(msg.body)
                    self.tracker.execute(self.statements.portal(portal))
                    self.descriptions.execute(portal)
                    out.append(msg.frame)
                elif kind == b"D":
                    self.descriptions.describe(*pgwire.parse_describe(msg.body))
                    out.append(msg.frame)
                elif kind == b"S":
                    self.tracker.sync()
                    self.descriptions.sync()
                    self.skip_until_sync = False
                    out.append(msg.frame)
                elif kind == b"C":
                    self.statements.close(*pgwire.parse_close(msg.body))
                    out.append(msg.frame)
                elif kind == b"X":
                    up.write(b"".join(out) + msg.frame)
                    return "client closed"
                else:
                    out.append(msg.frame)
        except pgwire.MessageTooLarge as exc:
            self.writer.write(limits.message_too_large(exc))
            self.linger = True  # the client is likely still sending the body
            return f"message too large from client: {exc}"
        except pgwire.ProtocolError as exc:
            self.writer.write(
                pgwire.error_response(
                    f"invalid message: {exc}", code=PROTOCOL_VIOLATION, severity="FATAL"
                )
            )
            return f"protocol error from client: {exc}"
        except SessionEnded as exc:
            return str(exc)
        if out:
            up.write(b"".join(out))
            out.clear()
        if largest >= limits.LARGE_MESSAGE:
            limits.release_memory()
        assert self.events is not None
        self.events.flush_soon()
        await up.drain()
        return None

    def _expect(self, frame: bytes) -> bytes:
        """Note the Parse or Bind forwarded for a reviewed execution, for the result
        descriptions; returns it."""
        kind = frame[:1]
        if kind == b"P":
            parse = pgwire.parse_parse(frame[5:])
            self.descriptions.parse(parse.statement, pgwire.type_oids(parse.param_types))
        elif kind == b"B":
            portal, statement, _ = pgwire.parse_bind(frame[5:])
            self.descriptions.bind(portal, statement, pgwire.bind_result_formats(frame[5:]))
        return frame

    async def _judge(self, msg: Message) -> bytes:
        """The bytes to send the target in place of a Query, Parse or FunctionCall (a Query
        for a Query or FunctionCall, a Parse for a Parse, noted for the result descriptions)."""
        if msg.type != b"P":
            self.descriptions.sync()  # the target answers the Query with a ReadyForQuery
        if msg.type == b"F":
            self.tracker.query(None)
            return self._refuse_query(refusals.function_call())
        if msg.type == b"P":
            parse = pgwire.parse_parse(msg.body)
            self.descriptions.parse(parse.statement, pgwire.type_oids(parse.param_types))
            if self.skip_until_sync:  # the target discards it anyway after an error
                return msg.frame
            command = Command(codec.new_hex_id(), parse.query)
            refusal = await self._refuse_oversized(command, len(msg.body)) or await self._decide(
                command, self.statements.judged_text(parse.query)
            )
            if refusal is None:
                self.statements.forget_replaced(parse.query)
                self.statements.parse(parse.statement, command)
                return msg.frame
            command.refused = True
            if not parse.statement:
                # A failed Parse still drops the unnamed statement; a named one the target
                # already had stays, and so does what the proxy knows of it.
                self.statements.parse(parse.statement, command)
            self.skip_until_sync = True
            token = self._remember(refusal)
            return pgwire.build_parse(parse.statement, REFUSED_MARKER + token)
        text = pgwire.query_text(msg.body)
        command = Command(codec.new_hex_id(), text)
        refusal = await self._refuse_oversized(command, len(msg.body)) or await self._decide(
            command, self.statements.judged_text(text), b""
        )
        if refusal is not None:
            command.refused = True
            self.tracker.query(command)
            return self._refuse_query(refusal)
        self.statements.forget_replaced(text)
        self.tracker.query(command)
        return msg.frame

    async def _judge_execution(
        self, msg: Message, portal: str, name: str, statement: Command
    ) -> bytes:
        """The bytes to send in place of a Bind of a statement that needs a human's approval.

        Each execution (a driver's statement cache, prepare=True, runs one statement many
        times) is judged and reviewed on its own, with the values it is bound to.
        """
        command = Command(codec.new_hex_id(), statement.text)
        command.parameter_types = tuple(self.descriptions.parameter_types(name))
        parameters = pgwire.bind_parameters(msg.body)
        refusal = await self._decide(
            command, self.statements.judged_text(statement.text), parameters
        )
        if refusal is None:
            self.statements.bind_command(portal, command)
            return msg.frame
        command.refused = True
        self.statements.bind_command(portal, command)
        self.skip_until_sync = True
        # A Parse the target fails, under a name of our own so that no statement of the
        # client's is replaced: the Execute that follows is skipped like after any error.
        token = self._remember(refusal)
        return pgwire.build_parse(f"proctor_refused_{token}", REFUSED_MARKER + token)

    async def _refuse_oversized(self, command: Command, message_size: int) -> bytes | None:
        """Refuse a statement whose events cannot be recorded: when the outbox stays full (the
        broker is away), or (recorded by excerpt and digest) when it is too large for its
        events to fit in a NATS message; None for any other."""
        assert self.events is not None
        outbox = self.events.outbox
        wait = self.gw.settings.outbox_wait
        if not await outbox.room(wait):
            return limits.outbox_full(outbox.pending_bytes, wait)
        limit = oversize.statement_limit(self.gw.settings.pg_max_statement, self.gw.nc.max_payload)
        if message_size <= limit:
            return None
        size, sha256 = oversize.digest(command.text)
        if size <= limit:
            return None
        self.commands += 1
        self.events.later(
            command.command_id,
            acknowledged=False,
            command_received=pb.CommandReceived(text=oversize.excerpt(command.text, size, sha256)),
        )
        await self.events.emit(
            command.command_id,
            command_blocked=pb.CommandBlocked(
                rule_ids=[oversize.RULE], reason=oversize.reason(size, limit, sha256)
            ),
        )
        return oversize.refusal(size, limit, sha256)

    def _remember(self, refusal: bytes) -> str:
        token = secrets.token_hex(8)
        self.replacements[token] = refusal
        return token

    def _refuse_query(self, refusal: bytes) -> bytes:
        # The target itself fails this placeholder at parse time, so the agent sees exactly
        # the error flow Postgres would give (transaction state, pipeline skipping), with
        # Proctor's message put in place of the target's.
        token = self._remember(refusal)
        return pgwire.frame(b"Q", (REFUSED_MARKER + token).encode() + b"\0")

    async def _decide(
        self, command: Command, judged: str, parameters: bytes | None = None
    ) -> bytes | None:
        """Classify (and, for review, wait for a decision or redeem one); None means run it.
        `parameters` are the execution's (b"" for a simple Query); None at a Parse, where
        they are not known yet."""
        assert self.events is not None
        self.commands += 1
        # Confirmed by the acknowledgement of whatever follows (executed, blocked, requested);
        # published once the statement is on its way (or at once, if it is refused).
        self.events.later(
            command.command_id,
            acknowledged=False,
            command_received=pb.CommandReceived(text=command.text),
        )
        values = None
        if parameters is not None:

            def values() -> list[str]:
                return pgwire.parameter_values(parameters, command.parameter_types)

        try:
            verdict, cached = await self.gw.verdicts.classify(
                judged, self.identity, self.resource, self.groups, values
            )
        except ClassifierUnavailable as exc:
            return await self._unavailable(command, str(exc), "classifier")
        if verdict.changes_catalog:
            command.changes_catalog = True
            self.gw.verdicts.catalog_changed(self.resource.name)
        self.events.later(
            command.command_id,
            acknowledged=False,
            command_classified=pb.CommandClassified(
                action=verdict.action,
                rule_ids=[m.rule_id for m in verdict.matches],
                reasons=[m.reason for m in verdict.matches],
                policy_version=verdict.policy_version,
                cached=cached,
            ),
        )
        if verdict.action == pb.ACTION_ALLOW:
            return None
        if verdict.action == pb.ACTION_REVIEW:
            if parameters is None:
                # A Parse runs nothing, and the values the statement will run with are not
                # known yet: every execution is reviewed at its Bind, where the approver sees
                # them and the approval is bound to them.
                command.reviewed = True
                return None
            if verdict.approval_mode != pb.APPROVAL_MODE_ASYNC:
                return await self._review(command, verdict, parameters)
            return await self._redeem(command, verdict, parameters)
        blocking = [m for m in verdict.matches if m.action == pb.ACTION_BLOCK] or verdict.matches
        await self.events.emit(
            command.command_id,
            command_blocked=pb.CommandBlocked(
                rule_ids=[m.rule_id for m in blocking],
                reason="; ".join(m.reason for m in blocking),
                hint=" ".join(m.hint for m in blocking if m.hint),
            ),
        )
        return refusals.blocked(verdict)

    async def _unavailable(self, command: Command, why: str, service: str) -> bytes:
        """Fail closed when a service the decision needs does not answer."""
        assert self.events is not None
        await self.events.emit(
            command.command_id,
            command_blocked=pb.CommandBlocked(rule_ids=["gateway.unavailable"], reason=why),
        )
        return refusals.unavailable(why, service)

    def _approval_request(
        self,
        approval_id: str,
        command: Command,
        verdict: cpb.ClassifyResponse,
        binding: str,
        parameters: bytes,
    ) -> pb.ApprovalRequested:
        expires = Timestamp()
        timeout = self.gw.settings.approval_timeout
        expires.FromDatetime(datetime.now(UTC) + timedelta(seconds=timeout))
        reviewing = [m for m in verdict.matches if m.action == pb.ACTION_REVIEW]
        return pb.ApprovalRequested(
            approval_id=approval_id,
            command_text=command.text,
            rule_ids=[m.rule_id for m in reviewing],
            reason="; ".join(m.reason for m in reviewing),
            command_hash=binding,
            expires_at=expires,
            approver_groups=list(verdict.approver_groups),
            mode=verdict.approval_mode or pb.APPROVAL_MODE_WAIT,
            parameters=pgwire.parameter_values(parameters, command.parameter_types),
            estimated_rows=(verdict.estimated_rows if verdict.HasField("estimated_rows") else None),
        )

    async def _redeem(
        self, command: Command, verdict: cpb.ClassifyResponse, parameters: bytes
    ) -> bytes | None:
        """Async mode: run the command if its approval was granted (once), report a denial or
        expiry, or ask for an approval and tell the agent to re-submit after it."""
        assert self.events is not None
        # The approval service records the redemption on the stream: this command's own
        # events (received, classified) must be there before it.
        await self.events.flush()
        binding = command_binding(command.text, parameters, self.identity.human, self.resource.name)
        request = apb.RedeemRequest(
            command_hash=binding,
            session_id=self.session_id,
            command_id=command.command_id,
            identity=self.identity,
            resource=self.resource,
        )
        try:
            found = await redeem(self.gw.nc, request, self.gw.settings.classify_timeout)
        except BusError as exc:
            return await self._unavailable(command, str(exc), "approval service")
        outcome = found.outcome
        if outcome == apb.REDEEM_OUTCOME_GRANTED:
            if not self.gw.trust.redemption(found, binding, command.command_id):
                why = f"the grant of approval {found.approval_id} could not be verified"
                return await self._unavailable(command, why, "approval service")
            return None  # the grant is used up by this command (ApprovalRedeemed)
        if outcome == apb.REDEEM_OUTCOME_DENIED:
            return refusals.denied(found.approval_id, found.approver, found.note)
        if outcome == apb.REDEEM_OUTCOME_EXPIRED:
            return refusals.expired_async(found.approval_id)
        approvers = list(verdict.approver_groups)
        if outcome == apb.REDEEM_OUTCOME_PENDING:
            await self.events.emit(
                command.command_id,
                command_blocked=pb.CommandBlocked(
                    rule_ids=["approval.pending"],
                    reason=f"approval {found.approval_id} is still pending",
                    hint="re-submit the same statement once it is approved",
                ),
            )
            return refusals.pending(found.approval_id, approvers, new=False)
        approval_id = uuid.uuid4().hex[:12]
        try:  # stored before the agent is told, so its re-submission finds it
            await self.events.emit_stored(
                command.command_id,
                approval_requested=self._approval_request(
                    approval_id, command, verdict, binding, parameters
                ),
            )
        except BusError as exc:
            return await self._unavailable(command, str(exc), "approval service")
        return refusals.pending(approval_id, approvers, new=True)

    async def _review(
        self, command: Command, verdict: cpb.ClassifyResponse, parameters: bytes
    ) -> bytes | None:
        assert self.events is not None
        approval_id = uuid.uuid4().hex[:12]
        fut: asyncio.Future[tuple[str, str, str]] = asyncio.get_running_loop().create_future()
        self.decisions[approval_id] = fut
        timeout = self.gw.settings.approval_timeout
        binding = command_binding(command.text, parameters, self.identity.human, self.resource.name)
        self.bindings[approval_id] = binding
        await self.events.emit(
            command.command_id,
            approval_requested=self._approval_request(
                approval_id, command, verdict, binding, parameters
            ),
        )
        try:
            kind, approver, note = await self._await_decision(approval_id, fut, timeout)
        except SessionEnded:
            await self._withdraw(command, approval_id, "the client disconnected")
            raise
        except TimeoutError:
            await self.events.emit(
                command.command_id, approval_expired=pb.ApprovalExpired(approval_id=approval_id)
            )
            return refusals.expired(approval_id, timeout)
        finally:
            self.decisions.pop(approval_id, None)
            self.bindings.pop(approval_id, None)
        if kind == "approval_granted":
            return None
        if kind == "withdrawn":
            await self._withdraw(command, approval_id, "the client cancelled the statement")
            return refusals.withdrawn(approval_id)
        if kind == "approval_denied":
            return refusals.denied(approval_id, approver, note)
        return refusals.expired(approval_id, timeout)

    async def _withdraw(self, command: Command, approval_id: str, reason: str) -> None:
        """Nobody waits for this approval any more: approvers stop being asked (wait mode;
        an async request is not waited on and stays open)."""
        assert self.events is not None
        with contextlib.suppress(BusError):  # the approval then expires as it would have
            await self.events.emit(
                command.command_id,
                approval_withdrawn=pb.ApprovalWithdrawn(approval_id=approval_id, reason=reason),
            )

    async def _await_decision(
        self, approval_id: str, fut: asyncio.Future[tuple[str, str, str]], timeout: float
    ) -> tuple[str, str, str]:
        """The decision on a held statement (TimeoutError after `timeout`). If the client
        leaves meanwhile, the statement is withdrawn, since it must not run for nobody; what
        it sends in the meantime waits in its pipe."""
        assert self.client_pipe is not None
        gone = self.client_pipe.closed
        await asyncio.wait((fut, gone), timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        if fut.done():
            return fut.result()
        if gone.done():
            raise SessionEnded(
                f"client left while approval {approval_id} was pending; it was withdrawn"
            )
        raise TimeoutError

    # ---- target -> client ------------------------------------------------------------------

    async def _upstream_data(self) -> str | None:
        """Forward what the target answers. DataRows of results with columns that could hold
        text are masked in batches (see masking.py): consecutive rows with a candidate value
        go to the masker together and come back rebuilt, in order; the batch is flushed at
        every other message and at the end of each read, so rows stream. Error and notice
        texts are masked too. When masking fails nothing unmasked is sent: the rest of the
        result is dropped and its end becomes an ErrorResponse (58000); everything else the
        target sends up to the ReadyForQuery (later results of a pipeline) is dropped too,
        since after an error the client expects nothing but the ReadyForQuery."""
        assert self.upstream_pipe is not None and self.client_pipe is not None
        pending = self.upstream_pipe.buffer  # grows at its end while this waits
        header = _HEADER
        if len(pending) < 5 or len(pending) < header.unpack_from(pending, 0)[1] + 1:
            return None
        out = self.out = []
        start = pos = 0
        end = len(pending)
        rows = 0
        while end - pos >= 5:
            kind, length = header.unpack_from(pending, pos)
            nxt = pos + 1 + length
            if nxt > end:
                break
            if kind == b"D" or (kind == b"d" and self.result is not None):
                rows += kind == b"D"
                result = self.result
                if result is None:
                    _, columns = self.descriptions.execution()
                    width = struct.unpack_from("!h", pending, pos + 5)[0]
                    result = self.result = (
                        Result.unknown(width) if columns is None else Result.describe(columns)
                    )
                dropping = self.withheld is not None or self.drop_until_ready
                if not dropping and not result.needs_masking:
                    pos = nxt
                    continue
                out.append(pending[start:pos])
                start = nxt
                if not dropping:
                    await self._row(result, bytes(pending[pos:nxt]))
                pos = nxt
                continue
            if kind not in b"TnCEZIsN12tHcA" and not self.drop_until_ready and not self.in_flight:
                pos = nxt  # forwarded as it is
                continue
            if self.batch or self.in_flight:
                out.append(pending[start:pos])
                start = pos
                await self._flush()
            if rows:
                self.tracker.add_rows(rows)
                rows = 0
            body = bytes(pending[pos + 5 : nxt])
            forward = await self._backend(kind, body)
            if forward is not None:
                out.append(pending[start:pos])
                if forward:
                    out.append(forward)
                start = nxt
            pos = nxt
        if rows:
            self.tracker.add_rows(rows)
        out.append(pending[start:pos])
        if self.batch or self.in_flight:
            await self._flush()
        del pending[:pos]
        self.client_pipe.write(b"".join(out))
        assert self.events is not None
        self.events.flush_soon()
        await self.client_pipe.drain()
        return None

    async def _backend(self, kind: bytes, body: bytes) -> bytes | None:
        """Account for one target message other than a DataRow; returns what to send in its
        place (b"" drops it), or None to forward it as it is."""
        if kind == b"A":
            return await self._mask_notification(body)
        if kind not in b"TnCEZIsN12tHc":
            return b""  # after a withheld result, until the ReadyForQuery
        if kind in b"Hc":
            if kind == b"H":  # CopyOutResponse: overall format 0 text, 1 binary
                if self.result is None:
                    self.descriptions.execution()  # a COPY run by an Execute
                self.result = Result.copy_out()
                if body[:1] != b"\0":
                    self.withheld = "a binary COPY cannot be masked; use the text or CSV format"
            return b"" if self.drop_until_ready or self.withheld is not None else None
        if kind in b"Tn12t":
            fields = pgwire.parse_row_description(body) if kind == b"T" else None
            types = pgwire.type_oids(body) if kind == b"t" else ()
            columns = self.descriptions.backend(kind, fields, types)
            if kind in b"Tn" and columns is not None:
                self.result = Result.describe(columns)
            return b"" if self.drop_until_ready or self.withheld is not None else None
        if kind in b"CIs" and self.result is None:
            self.descriptions.execution()  # an Execute that returned no rows
        replaced: bytes | None = None
        if self.withheld is not None and kind in b"CEIs":
            replaced = pgwire.error_response(
                "Proctor withheld this result: masking was unavailable, so no rows were sent",
                code=MASKING_FAILED,
                detail=self.withheld,
                hint="Retry when the masker is running; results with no text columns or no "
                "sensitive-looking values do not need it.",
            )
            self.withheld = None
            self.drop_until_ready = True
            body = replaced[5:]
            kind = b"E"
        elif self.drop_until_ready and kind != b"Z":
            replaced = b""
        elif kind in b"EN":
            refusal = self._replacement(body) if kind == b"E" and self.replacements else None
            if refusal is not None:
                replaced = refusal
            else:
                masked = await self._mask_message(kind, body)
                if masked is not None:
                    replaced, body = masked, masked[5:]
        if kind == b"Z":
            self.drop_until_ready = False
            self.withheld = None
        if kind in b"CEZIs":
            self.result = None  # the next Execute (even of a suspended portal) looks it up
            if kind in b"EZ":
                self.descriptions.backend(kind)
            for done in self.tracker.backend(kind, body):
                await self._executed(done)
        return replaced

    async def _row(self, result: Result, frame: bytes) -> None:
        """One DataRow of a result that may need masking: batched, or forwarded."""
        values = result.values(frame)
        try:
            texts = result.candidate(values, self.prefilter)
        except Unmaskable as exc:
            self.batch.clear()
            self.batch_bytes = self.batch_values = 0
            self.withheld = str(exc)
            return
        if not texts:
            if self.batch:
                self.batch.append((frame, [], []))
            else:
                self.out.append(frame)
            return
        self.batch.append((frame, values, texts))
        self.batch_bytes += len(frame)
        self.batch_values += len(texts) - texts.count(None)
        if (
            self.batch_values >= BATCH_VALUES
            or len(self.batch) >= BATCH_ROWS
            or self.batch_bytes >= BATCH_BYTES
        ):
            await self._send()

    async def _send(self) -> None:
        """Send the pending batch to the masker without waiting for its answer: its rows keep
        their place in `out`, and up to MASK_IN_FLIGHT batches of a result are masked at once
        (by as many masker replicas as there are)."""
        batch, self.batch = self.batch, []
        self.batch_bytes = self.batch_values = 0
        result = self.result
        if not batch or result is None:
            return
        while len(self.in_flight) >= MASK_IN_FLIGHT:
            await self._settle()
        if self.withheld is not None:  # an earlier batch failed: these rows go nowhere
            return
        task = asyncio.ensure_future(self._masked(result, batch))
        self.in_flight.append((len(self.out), task))
        self.out.append(b"")

    async def _masked(
        self, result: Result, batch: list[tuple[bytes, list[bytes | None], list[str | None]]]
    ) -> _Masked:
        """The batch's frames, its candidate rows rebuilt as the masker answers them."""
        candidates = [(i, values, texts) for i, (_, values, texts) in enumerate(batch) if texts]
        frames = [frame for frame, _, _ in batch]
        response = await call_masker(
            self.gw.nc,
            result.request([texts for _, _, texts in candidates]),
            self.gw.settings.mask_timeout,
        )
        for (i, values, texts), row in zip(candidates, response.rows, strict=True):
            rebuilt = result.rebuild(values, texts, row)
            if rebuilt is not None:
                frames[i] = result.frame(rebuilt)
        return frames, response, len(candidates)

    async def _settle(self) -> None:
        """Wait for the oldest batch at the masker and put its rows in their place; when it
        failed, nothing of the result from there on is sent (the later batches are dropped)."""
        index, task = self.in_flight.popleft()
        try:
            frames, response, candidates = await task
        except (MaskUnavailable, Unmaskable) as exc:
            log.warning("session %s: rows withheld: %s", self.session_id, exc)
            self.withheld = str(exc)
            del self.out[index:]
            self._abandon_batches()
            return
        self._count(response, candidates)
        self.out[index] = b"".join(frames)

    async def _flush(self) -> None:
        """Send the pending batch and wait until every batch at the masker is back in `out`."""
        await self._send()
        while self.in_flight:
            await self._settle()

    def _abandon_batches(self) -> None:
        """Forget the batches at the masker (the result failed, or the session ended)."""
        for _, task in self.in_flight:
            if not task.done():
                task.cancel()
            elif not task.cancelled():
                task.exception()  # retrieved: nothing will use it
        self.in_flight.clear()

    def _count(self, response: mpb.MaskResponse, rows: int) -> None:
        learn_masker(self.gw.prefilter, response)
        command = self.tracker.current()
        if command is not None:
            add_counts(self.mask_stats.setdefault(command.command_id, MaskStats()), response, rows)

    async def _mask_texts(self, what: str, texts: list[str]) -> list[str]:
        """Loose texts the target sent (message fields, a notification payload) masked as
        one text column; each is withheld when the masker does not answer."""
        request = mpb.MaskRequest(
            columns=[mpb.Column(name=what, type_name="text")],
            rows=[mpb.Row(values=[mpb.Value(text=t)]) for t in texts],
        )
        try:
            response = await call_masker(self.gw.nc, request, self.gw.settings.mask_timeout)
        except MaskUnavailable as exc:
            log.warning("session %s: %s withheld: %s", self.session_id, what, exc)
            return [WITHHELD_FIELD] * len(texts)
        self._count(response, 0)
        return [row.values[0].text if row.values else WITHHELD_FIELD for row in response.rows]

    async def _mask_message(self, kind: bytes, body: bytes) -> bytes | None:
        """An ErrorResponse or NoticeResponse of the target with its texts masked (the detail
        of a unique violation repeats the value), or None when nothing could need it."""
        fields = pgwire.error_fields(body)
        codes = message_candidates(fields, self.prefilter)
        if not codes:
            return None
        masked = await self._mask_texts("message", [fields[c] for c in codes])
        fields.update(zip(codes, masked, strict=True))
        return pgwire.fields_message(kind, fields)

    async def _mask_notification(self, body: bytes) -> bytes | None:
        """A NotificationResponse (LISTEN/NOTIFY) with its payload masked, or None when it
        cannot hold anything sensitive."""
        pid, channel, payload = pgwire.parse_notification(body)
        if not self.prefilter.could_contain(payload):
            return None
        (masked,) = await self._mask_texts("notification", [payload])
        return pgwire.notification(pid, channel, masked)

    def _replacement(self, body: bytes) -> bytes | None:
        message = pgwire.error_fields(body).get("M", "")
        at = message.find(REFUSED_MARKER)
        if at < 0:
            return None
        token = message[at + len(REFUSED_MARKER) : at + len(REFUSED_MARKER) + 16]
        return self.replacements.pop(token, None)

    async def _executed(self, done: Completed) -> None:
        assert self.events is not None
        if not done.error_code:
            self.statements.simple_query(done.command.text, done.command)
        if done.command.changes_catalog:
            # What was looked up before it ran may be stale now (and again at its COMMIT,
            # which the TTL bounds).
            self.gw.verdicts.catalog_changed(self.resource.name)
        stats = self.mask_stats.pop(done.command.command_id, None)
        if stats is not None and stats.values_masked:
            self.events.later(
                done.command.command_id,
                acknowledged=False,
                result_masked=pb.ResultMasked(
                    row_count=stats.rows,
                    values_masked=stats.values_masked,
                    counts=[
                        pb.MaskCount(column=column, entity_type=entity, count=n)
                        for (column, entity), n in sorted(stats.counts.items())
                    ],
                ),
            )
        # Published once the result is on its way to the client (see _upstream_data).
        self.events.later(
            done.command.command_id,
            command_executed=pb.CommandExecuted(
                row_count=done.rows,
                duration_us=done.duration_us,
                error_code=done.error_code,
                error_message=done.error_message,
            ),
        )


_HEADER = struct.Struct("!ci")


def _read_ahead(reader: asyncio.StreamReader) -> bytes:
    """What a stream reader read ahead and nobody consumed, taken from it."""
    buffered = getattr(reader, "_buffer", None)
    if not buffered:
        return b""
    data = bytes(buffered)
    buffered.clear()
    return data
