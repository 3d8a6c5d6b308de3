"""One shell command through the gateway, for either entrance: put it through the lifecycle,
and if it may run, run it on the host with the gateway's credentials and stream what it writes
to the agent, each stream masked line by line; then its exit status.

Exit statuses the gateway gives (the command's own otherwise; 128 + N after signal N):

    126  refused: blocked by a rule, denied, pending approval, expired, withdrawn
     75  a service the decision or the masking needs did not answer (try again)
     69  the host could not be reached, or refused the gateway
     64  the request names no host resource the gateway knows, or no command
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from dataclasses import dataclass, field
from typing import Protocol

import asyncssh

from proctor.classifier.v1 import classifier_pb2 as cpb
from proctor.errors import MaskUnavailable, SessionEnded, UpstreamError
from proctor.events import codec
from proctor.events.v1 import events_pb2 as pb
from proctor_ingress.lifecycle import Ask, binding_of
from proctor_ingress.masking import MaskStats
from proctor_ingress.outcomes import Kind, Outcome
from proctor_ingress.shell.hosts import Host
from proctor_ingress.shell.sessions import ShellSession, client_gone
from proctor_ingress.textmask import LogMasker, masker_over_nats

log = logging.getLogger("proctor.ingress.shell")

REFUSED = 126
UNAVAILABLE = 75
UNREACHABLE = 69
USAGE = 64
READ_SIZE = 64 * 1024
WITHHELD = b"<withheld by Proctor: the gateway's own credential>"
BINARY_ENTITY = "BINARY_UNMASKED"  # MaskCount entity of binary lines passed as they are


class Output(Protocol):
    """Where an entrance sends what the agent reads."""

    async def stdout(self, data: bytes) -> None: ...

    async def stderr(self, data: bytes) -> None: ...


@dataclass(frozen=True, slots=True)
class Ended:
    """How a command ended, for the entrance to render: its status, and, when the gateway
    did not run it (or could not finish it), what it says why."""

    status: int
    outcome: str = "run"
    message: str = ""
    detail: str = ""
    hint: str = ""
    rule_ids: tuple[str, ...] = ()
    approval_id: str = ""

    def text(self) -> bytes:
        """The gateway's words for stderr (empty when the command simply ran)."""
        lines = [self.message, self.detail, f"hint: {self.hint}" if self.hint else ""]
        said = "\n".join(line for line in lines if line)
        return (said + "\n").encode() if said else b""


def refusal(outcome: Outcome) -> Ended:
    message, detail, hint = outcome.words("command")
    status = UNAVAILABLE if outcome.kind is Kind.UNAVAILABLE else REFUSED
    return Ended(
        status,
        outcome.kind.value,
        message,
        detail,
        hint,
        outcome.rule_ids,
        outcome.approval_id,
    )


def unreachable(exc: UpstreamError, what: str = "command") -> Ended:
    return Ended(
        UNREACHABLE,
        "unreachable",
        f"Proctor: {exc}. The {what} was not run.",
        hint="Retry later; if it persists, the operator needs to look at the host.",
    )


def shell_detail(
    host: str, text: str, argv: list[str], entrance: str, interactive: bool = False
) -> pb.CommandDetail:
    return pb.CommandDetail(
        shell=pb.ShellDetail(
            argv=argv, text=text, host=host, interactive=interactive, entrance=entrance
        )
    )


async def decide(
    session: ShellSession, text: str, detail: pb.CommandDetail, gone: asyncio.Future[None]
) -> tuple[str, Outcome]:
    """The command's id and its outcome; a client that leaves while it is held withdraws it
    (WITHDRAWN)."""
    material = detail.SerializeToString(deterministic=True)
    human, resource = session.identity.human.encode(), session.resource.name.encode()
    ask = Ask(
        codec.new_hex_id(),
        text,
        lambda: binding_of(material, human, resource),
        kind=cpb.COMMAND_KIND_SHELL,
        detail=detail,
    )
    token = client_gone.set(gone)
    try:
        return ask.command_id, await session.life.decide(ask)
    except SessionEnded:
        return ask.command_id, Outcome(Kind.WITHDRAWN)
    finally:
        client_gone.reset(token)


@dataclass
class _Relay:
    """What a run produced, for CommandExecuted."""

    lines: int = 0
    stats: MaskStats = field(default_factory=MaskStats)
    error: str = ""


async def run_command(
    session: ShellSession,
    host: Host,
    text: str,
    detail: pb.CommandDetail,
    out: Output,
    gone: asyncio.Future[None],
) -> Ended:
    """The whole life of one command: decided, then run and relayed, or refused."""
    command_id, outcome = await decide(session, text, detail, gone)
    if not outcome.runs:
        return refusal(outcome)
    started = time.perf_counter()
    relay = _Relay()
    ended = await _run(session, host, text, out, gone, relay)
    session.life.executed(
        command_id,
        relay.lines,
        int((time.perf_counter() - started) * 1e6),
        str(ended.status) if ended.status else "",
        relay.error or ended.message,
        relay.stats,
    )
    return ended


async def _run(
    session: ShellSession,
    host: Host,
    text: str,
    out: Output,
    gone: asyncio.Future[None],
    relay: _Relay,
) -> Ended:
    try:
        process, held = await host.start(host.remote_command(text))
    except UpstreamError as exc:
        return unreachable(exc)
    gw = session.gw
    mask = masker_over_nats(gw.nc, gw.settings.mask_timeout, gw.prefilter, relay.stats)
    secrets = host.secret_fragments()
    maskers = {
        "stdout": LogMasker(mask, hint="stdout", pass_binary=True),
        "stderr": LogMasker(mask, hint="stderr", pass_binary=True),
    }
    writers = {"stdout": out.stdout, "stderr": out.stderr}

    async def send(name: str, data: bytes) -> None:
        if not data:
            return
        for secret in secrets:
            if secret in data:
                data = data.replace(secret, WITHHELD)
        relay.lines += data.count(b"\n")
        await writers[name](data)

    async def pump(name: str, reader: asyncssh.SSHReader[bytes]) -> None:
        masker = maskers[name]
        while chunk := await reader.read(READ_SIZE):
            await send(name, await masker.feed(chunk))
        await send(name, await masker.finish())

    pumping = asyncio.ensure_future(
        asyncio.gather(pump("stdout", process.stdout), pump("stderr", process.stderr))
    )
    try:
        await asyncio.wait((pumping, gone), return_when=asyncio.FIRST_COMPLETED)
        if not pumping.done():  # the agent left: the command must not run on for nobody
            relay.error = "the client disconnected; the command was stopped"
            stop(process)
            return Ended(255, "disconnected")
        try:
            pumping.result()
        except MaskUnavailable as exc:
            relay.error = f"output withheld: masking unavailable: {exc}"
            stop(process)
            return Ended(
                UNAVAILABLE,
                "unavailable",
                f"Proctor stopped the command's output: it could not be masked ({exc}).",
                hint="Retry in a moment. If it persists, the gateway's masker needs attention.",
            )
        finished = await process.wait(check=False)
        _count_binary(relay.stats, maskers)
        return Ended(exit_status(finished))
    finally:
        if not pumping.done():
            pumping.cancel()
            with contextlib.suppress(BaseException):
                await pumping
        process.close()
        host.release(held)


def stop(process: asyncssh.SSHClientProcess[bytes]) -> None:
    with contextlib.suppress(Exception):
        process.send_signal("TERM")
    process.close()


def _count_binary(stats: MaskStats, maskers: dict[str, LogMasker]) -> None:
    for name, masker in maskers.items():
        if masker.binary_units:
            stats.counts[name, BINARY_ENTITY] += masker.binary_units


def exit_status(finished: asyncssh.SSHCompletedProcess) -> int:
    if finished.exit_status is not None and finished.exit_status >= 0:
        return int(finished.exit_status)
    if finished.exit_signal is not None:
        name = finished.exit_signal[0]
        with contextlib.suppress(KeyError):
            return 128 + int(signal.Signals["SIG" + name])
        return 128 + 15
    return 255
