"""An interactive shell on a host, for an identity the policy lets have one (rule
shell.interactive allows it; it blocks by default). The client's keystrokes go to the host as
they come, on a pty of the client's terminal type and size; what the host writes comes back
masked line by line, and a line not yet ended (a prompt, an echoed keystroke) after a short
idle. Each line typed (up to CR or LF) is recorded as a CommandReceived, as typed and not
judged: a password typed at a prompt is recorded too, which is why a policy should allow
interactive shells only to people who know it."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import asyncssh

from proctor.classifier.v1 import classifier_pb2 as cpb
from proctor.errors import MaskUnavailable, UpstreamError
from proctor.events import codec
from proctor_ingress.lifecycle import Ask
from proctor_ingress.masking import MaskStats
from proctor_ingress.shell.hosts import Host, Terminal
from proctor_ingress.shell.runner import (
    BINARY_ENTITY,
    READ_SIZE,
    UNAVAILABLE,
    WITHHELD,
    Ended,
    exit_status,
    shell_detail,
    stop,
    unreachable,
)
from proctor_ingress.shell.sessions import ShellSession
from proctor_ingress.textmask import LogMasker, masker_over_nats

SHELL_TEXT = "(interactive shell)"  # CommandReceived.text of the session itself
IDLE_FLUSH = 0.075  # seconds without output after which a line not yet ended is sent
TYPED_LINE_CAP = 4096  # bytes of a typed line recorded as one CommandReceived
EXIT_WAIT = 5.0  # seconds the host has to report the exit status once its output ended
_LINE_END = re.compile(rb"[\r\n]")


class TypedLines:
    """Keystrokes cut into the lines a person enters, at CR or LF. A line longer than `cap`
    bytes is recorded in pieces of `cap` bytes (memory stays bounded whatever is pasted);
    empty lines are not recorded."""

    def __init__(self, cap: int = TYPED_LINE_CAP) -> None:
        self.cap = cap
        self._line = bytearray()

    def feed(self, data: bytes) -> list[str]:
        """The lines `data` ends."""
        lines: list[str] = []
        first, *rest = _LINE_END.split(data)
        self._take(first, lines)
        for part in rest:
            self._end(lines)
            self._take(part, lines)
        return lines

    def finish(self) -> list[str]:
        """The last line, typed without its end."""
        lines: list[str] = []
        self._end(lines)
        return lines

    def _take(self, part: bytes, lines: list[str]) -> None:
        self._line += part
        while len(self._line) >= self.cap:
            lines.append(self._line[: self.cap].decode(errors="replace"))
            del self._line[: self.cap]

    def _end(self, lines: list[str]) -> None:
        if self._line:
            lines.append(self._line.decode(errors="replace"))
            self._line.clear()


def terminal_of(client: asyncssh.SSHServerProcess[bytes]) -> Terminal | None:
    """The client's terminal, or None when it asked for no pty."""
    if client.term_type is None:
        return None
    width, height, pixwidth, pixheight = client.term_size
    return Terminal(
        client.term_type, (width or 80, height or 24, pixwidth, pixheight), dict(client.term_modes)
    )


@dataclass
class _Tally:
    """What the session produced, for CommandExecuted."""

    lines: int = 0
    stats: MaskStats = field(default_factory=MaskStats)
    error: str = ""


async def relay_shell(
    session: ShellSession,
    host: Host,
    command_id: str,
    client: asyncssh.SSHServerProcess[bytes],
    gone: asyncio.Future[None],
) -> Ended:
    """The shell the lifecycle let run (`command_id`), relayed until either side ends it."""
    started = time.perf_counter()
    tally = _Tally()
    ended = await _relay(session, host, client, gone, tally)
    session.life.executed(
        command_id,
        tally.lines,
        int((time.perf_counter() - started) * 1e6),
        str(ended.status) if ended.status else "",
        tally.error or ended.message,
        tally.stats,
    )
    return ended


def _recorder(session: ShellSession) -> Callable[[list[str]], None]:
    host = session.resource.name

    def record(lines: list[str]) -> None:
        for line in lines:
            detail = shell_detail(host, line, [], "ssh", interactive=True)
            ask = Ask(
                codec.new_hex_id(), line, lambda: "", kind=cpb.COMMAND_KIND_SHELL, detail=detail
            )
            session.life.received(ask)

    return record


async def _keys(
    client: asyncssh.SSHServerProcess[bytes],
    upstream: asyncssh.SSHClientProcess[bytes],
    record: Callable[[list[str]], None],
) -> None:
    """The client's keystrokes (and window changes, breaks, signals) to the host."""
    typed = TypedLines()
    with contextlib.suppress(asyncssh.Error, OSError):
        while True:
            try:
                data = await client.stdin.read(READ_SIZE)
            except asyncssh.TerminalSizeChanged as exc:
                upstream.change_terminal_size(exc.width, exc.height, exc.pixwidth, exc.pixheight)
                continue
            except asyncssh.BreakReceived as exc:
                upstream.send_break(exc.msec)
                continue
            except asyncssh.SignalReceived as exc:
                upstream.send_signal(exc.signal)
                continue
            if not data:
                break
            upstream.stdin.write(data)
            record(typed.feed(data))
            await upstream.stdin.drain()
        upstream.stdin.write_eof()
    record(typed.finish())


async def _relay(
    session: ShellSession,
    host: Host,
    client: asyncssh.SSHServerProcess[bytes],
    gone: asyncio.Future[None],
    tally: _Tally,
) -> Ended:
    try:
        upstream, held = await host.start(host.shell_command(), terminal_of(client))
    except UpstreamError as exc:
        return unreachable(exc, "shell")
    gw = session.gw
    mask = masker_over_nats(gw.nc, gw.settings.mask_timeout, gw.prefilter, tally.stats)
    secrets = host.secret_fragments()

    async def show(
        name: str, reader: asyncssh.SSHReader[bytes], writer: asyncssh.SSHWriter[bytes]
    ) -> None:
        masker = LogMasker(mask, hint=name, pass_binary=True)

        async def send(data: bytes) -> None:
            for secret in secrets:
                data = data.replace(secret, WITHHELD)
            if data:
                tally.lines += data.count(b"\n")
                writer.write(data)
                await writer.drain()

        reading = asyncio.ensure_future(reader.read(READ_SIZE))
        try:
            while True:
                idle = IDLE_FLUSH if masker.pending else None
                done, _ = await asyncio.wait((reading,), timeout=idle)
                if not done:  # a prompt, or a keystroke echoed: it must be seen
                    await send(await masker.finish())
                    continue
                chunk = reading.result()
                if not chunk:
                    break
                reading = asyncio.ensure_future(reader.read(READ_SIZE))
                await send(await masker.feed(chunk))
            await send(await masker.finish())
        finally:
            reading.cancel()
            if masker.binary_units:
                tally.stats.counts[name, BINARY_ENTITY] += masker.binary_units

    showing = asyncio.ensure_future(
        asyncio.gather(
            show("stdout", upstream.stdout, client.stdout),
            show("stderr", upstream.stderr, client.stderr),
        )
    )
    typing = asyncio.ensure_future(_keys(client, upstream, _recorder(session)))
    closed = asyncio.ensure_future(client.channel.wait_closed())
    try:
        await asyncio.wait((showing, gone, closed), return_when=asyncio.FIRST_COMPLETED)
        if not showing.done():  # the client left: the shell must not run on for nobody
            tally.error = "the client disconnected; the shell was closed"
            stop(upstream)
            return Ended(255, "disconnected")
        try:
            showing.result()
        except MaskUnavailable as exc:
            tally.error = f"output withheld: masking unavailable: {exc}"
            stop(upstream)
            return Ended(
                UNAVAILABLE,
                "unavailable",
                f"Proctor closed the shell: its output could not be masked ({exc}).",
                hint="Retry in a moment. If it persists, the gateway's masker needs attention.",
            )
        except (asyncssh.Error, OSError):
            tally.error = "the client disconnected; the shell was closed"
            stop(upstream)
            return Ended(255, "disconnected")
        try:
            finished = await asyncio.wait_for(upstream.wait(check=False), EXIT_WAIT)
        except TimeoutError:
            stop(upstream)
            return Ended(255, "no exit status")
        return Ended(exit_status(finished))
    finally:
        for task in (showing, typing, closed):
            if not task.done():
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
        upstream.close()
        host.release(held)
