"""The client's half of a Postgres session: each Query, Parse and Bind that runs something is
put through the command lifecycle (lifecycle.py) before the target sees it; a refusal is sent
in the protocol's own error flow (the target fails a placeholder, whose error the target half
replaces with Proctor's)."""

from __future__ import annotations

import secrets

from proctor import pgwire
from proctor.errors import SessionEnded
from proctor.events import codec
from proctor.events.v1 import events_pb2 as pb
from proctor.pgwire import Message
from proctor_ingress import limits, oversize
from proctor_ingress.approvals import command_binding
from proctor_ingress.lifecycle import Ask
from proctor_ingress.postgres import refusals
from proctor_ingress.postgres.base import PROTOCOL_VIOLATION, REFUSED_MARKER, SessionState
from proctor_ingress.postgres.tracking import Command


class ClientSide(SessionState):
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
        assert self.life is not None
        self.life.received(
            Ask(command.command_id, command.text, binding=str),
            text=oversize.excerpt(command.text, size, sha256),
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
        """Put the statement through the lifecycle; None means run it, else the refusal to
        send. `parameters` are the execution's (b"" for a simple Query); None at a Parse,
        where they are not known yet (a review is then made at each execution's Bind)."""
        assert self.life is not None
        values = None
        if parameters is not None:

            def values() -> list[str]:
                return pgwire.parameter_values(parameters, command.parameter_types)

        human, resource = self.identity.human, self.resource.name

        def binding() -> str:
            return command_binding(command.text, parameters or b"", human, resource)

        outcome = await self.life.decide(
            Ask(
                command.command_id,
                command.text,
                binding,
                judged=judged,
                values=values,
                executing=parameters is not None,
            )
        )
        command.changes_catalog = outcome.changes_catalog
        if outcome.runs:
            command.reviewed = outcome.later
            return None
        return refusals.render(outcome)
