"""The proxy's write-ahead outbox: every event is appended to a file of this process before the
statement it records goes on (to the target, or its result to the client), and a drainer
publishes the file's records to JetStream in order, each with its event id as `Nats-Msg-Id`.

An event the proxy accepted therefore outlives the proxy process (the file is in the page
cache once written; `fsync_interval` bounds what a machine crash may take) and a broker outage
(the drainer sends again until the stream acknowledges; JetStream drops the duplicates). The
next process on the same directory replays the records a dead one left unacknowledged; so does
any live process that finds such a file. The records not yet acknowledged are bounded
(`max_bytes`): past it, new commands wait for room (see `room`) and then are refused.

A file holds records `[u32 length][u32 crc32]` then `length` bytes: `[u16 subject length]
[u16 id length] subject id data`, the CRC taken over those; a sidecar `<file>.acked` holds the
offset up to which the stream acknowledged them.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import struct
import time
import weakref
import zlib
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js import api as js_api

from proctor.errors import BusError
from proctor.faults import Backoff, Outage

log = logging.getLogger("proctor.ingress.outbox")

_HEAD = struct.Struct("!IIHH")
_OFFSET = struct.Struct("!Q")
SUFFIX = ".outbox"
WINDOW = 512  # records in flight at once
ACK_TIMEOUT = 2.0  # seconds to wait for a window's acknowledgement before sending it again
COALESCE = 0.005  # seconds an idle drainer lets events gather before it sends them
TRUNCATE_AT = 4 << 20  # a file fully acknowledged past this size starts again from empty
HEADERS_ROOM = 1024  # bytes of a message left for its headers (id, expected stream)
ORPHAN_SCAN = 5.0  # seconds between looks for files left by dead processes
_MSG_ID = str(js_api.Header.MSG_ID.value)
_EXPECTED_STREAM = str(js_api.Header.EXPECTED_STREAM.value)
_STATUS = str(js_api.Header.STATUS.value)


class OutboxFull(BusError):
    """The broker has not taken the outbox's records for so long that it is full."""


@dataclass(slots=True)
class Record:
    number: int  # in this process, from 1
    end: int  # file offset just past it
    subject: str
    msg_id: str
    data: bytes
    stored: asyncio.Future[None] | None = None  # for a caller that waits for the stream
    attempts: int = 0  # times it was sent


def encode_record(subject: str, msg_id: str, data: bytes) -> bytes:
    s, m = subject.encode(), msg_id.encode()
    rest = s + m + data
    body = struct.pack("!HH", len(s), len(m)) + rest
    return _HEAD.pack(len(body), zlib.crc32(body), len(s), len(m)) + rest


def read_records(data: bytes, start: int = 0) -> list[tuple[int, str, str, bytes]]:
    """The whole records of a file from `start`: (end offset, subject, id, data); stops at a
    torn or corrupt tail (a crash mid-write)."""
    found = []
    pos = start
    while len(data) - pos >= _HEAD.size:
        length, crc, slen, mlen = _HEAD.unpack_from(data, pos)
        end = pos + 8 + length
        if end > len(data) or slen + mlen > length - 4:
            break
        if zlib.crc32(data[pos + 8 : end]) != crc:
            break
        body = pos + _HEAD.size
        subject = data[body : body + slen].decode()
        msg_id = data[body + slen : body + slen + mlen].decode()
        found.append((end, subject, msg_id, data[body + slen + mlen : end]))
        pos = end
    return found


@dataclass
class Outbox:
    """One process's outbox file and its drainer."""

    directory: Path
    nc: NATS
    stream: str
    max_bytes: int = 64 << 20
    fsync_interval: float = 1.0  # 0: fsync after every append
    path: Path = field(default=Path(), init=False)
    written: int = 0  # file offset of the next record
    acked: int = 0  # file offset up to which the stream acknowledged
    stored_count: int = 0
    replayed: int = 0
    _fd: int = field(default=-1, init=False)
    _acked_fd: int = field(default=-1, init=False)
    _numbers: int = 0
    _unsent: deque[Record] = field(default_factory=deque)
    _acked: asyncio.Future[str | None] | None = None
    _ack_number: int = 0
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    _room: asyncio.Event = field(default_factory=asyncio.Event)
    _empty: asyncio.Event = field(default_factory=asyncio.Event)
    _dirty: bool = False
    _timer: asyncio.TimerHandle | None = None
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _inbox: str = ""
    _closing: bool = False

    # ---- the file ---------------------------------------------------------------------------

    def open(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.path = self.directory / f"ingress-{os.getpid()}-{time.time_ns()}{SUFFIX}"
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # alive while we hold it
        self._acked_fd = os.open(_acked_path(self.path), os.O_WRONLY | os.O_CREAT, 0o600)
        self._room.set()
        self._empty.set()
        _OUTBOXES[self.nc] = self

    @property
    def is_open(self) -> bool:
        return self._fd >= 0

    @property
    def pending_bytes(self) -> int:
        return self.written - self.acked

    def append(self, subject: str, msg_id: str, data: bytes, wait: bool = False) -> Record:
        """Write a record (before what it records goes on); BusError if it cannot be, or if
        the broker could never take it (larger than its max_payload): such a record would
        stop every record behind it, so what it records must not go on instead."""
        limit = self.nc.max_payload
        if limit and len(data) > limit - HEADERS_ROOM:
            raise BusError(
                f"an event of {len(data)} bytes is larger than the NATS server accepts "
                f"({limit} bytes per message); it cannot be recorded"
            )
        frame = encode_record(subject, msg_id, data)
        try:
            os.write(self._fd, frame)
            if self.fsync_interval == 0:
                os.fsync(self._fd)
        except OSError as exc:
            raise BusError(f"the event outbox {self.path} cannot be written: {exc}") from exc
        self.written += len(frame)
        self._dirty = True
        self._numbers += 1
        record = Record(self._numbers, self.written, subject, msg_id, data)
        if wait:
            record.stored = asyncio.get_running_loop().create_future()
        self._unsent.append(record)
        self._empty.clear()
        if self.pending_bytes >= self.max_bytes:
            self._room.clear()
        if wait:
            self._wake.set()  # someone waits for the stream: no gathering
        elif self._timer is None and not self._wake.is_set():
            # Wake the drainer a little later, so a few statements' events go in one window.
            self._timer = asyncio.get_running_loop().call_later(COALESCE, self._wake_up)
        return record

    def _wake_up(self) -> None:
        self._timer = None
        self._wake.set()

    async def flush(self, timeout: float) -> bool:
        """Until the stream has stored every record appended so far (they are acknowledged
        in order); False after `timeout` seconds (they stay in the outbox)."""
        if not self._unsent:
            return True
        last = self._unsent[-1]
        if last.stored is None:
            last.stored = asyncio.get_running_loop().create_future()
        self._wake.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(last.stored), timeout)
        return last.stored.done()

    async def room(self, timeout: float) -> bool:
        """Until the records not yet acknowledged are under `max_bytes`; False after
        `timeout` seconds."""
        if self._room.is_set():
            return True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._room.wait(), timeout)
        return self._room.is_set()

    def _acknowledged_up_to(self, end: int) -> None:
        self.acked = end
        if self.acked == self.written and self.written >= TRUNCATE_AT:
            os.ftruncate(self._fd, 0)  # everything is stored: start the file again
            self.written = self.acked = 0
        with contextlib.suppress(OSError):
            os.pwrite(self._acked_fd, _OFFSET.pack(self.acked), 0)
        if self.pending_bytes < self.max_bytes:
            self._room.set()
        if not self.pending_bytes:
            self._empty.set()

    # ---- draining ----------------------------------------------------------------------------

    async def start(self) -> None:
        self.open()
        self._inbox = f"{self.nc.new_inbox()}."
        await self.nc.subscribe(f"{self._inbox}*", cb=self._on_reply)
        self.replay_orphans()
        self._tasks = [
            asyncio.create_task(self._drain(), name="outbox drainer"),
            asyncio.create_task(self._keep_synced(), name="outbox fsync"),
            asyncio.create_task(self._watch_orphans(), name="outbox orphans"),
        ]

    async def close(self, timeout: float = 5.0) -> None:
        """Drain for up to `timeout` seconds, then stop; a file with records the stream has
        not acknowledged stays for the next process."""
        if self.pending_bytes:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._empty.wait(), timeout)
        self._closing = True
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        with contextlib.suppress(OSError):
            os.fsync(self._fd)
        os.close(self._acked_fd)
        os.close(self._fd)  # releases the lock
        if not self.pending_bytes:
            for path in (self.path, _acked_path(self.path)):
                with contextlib.suppress(OSError):
                    path.unlink()
        else:
            log.warning("%d bytes of events not yet stored stay in %s for the next process",
                        self.pending_bytes, self.path)  # fmt: skip
        if _OUTBOXES.get(self.nc) is self:
            del _OUTBOXES[self.nc]

    async def _drain(self) -> None:
        outage = Outage("the event stream (JetStream)", log)
        backoff = Backoff(0.05, 2.0)
        while True:
            await self._wake.wait()
            self._wake.clear()  # events appended from now on wake it again, COALESCE later
            if not self._unsent:
                continue
            if not self.nc.is_connected:
                outage.failed("not connected", "events wait in the outbox")
                await asyncio.sleep(backoff.next())
                self._wake.set()
                continue
            window = [self._unsent[i] for i in range(min(WINDOW, len(self._unsent)))]
            problem = await self._send(window)
            if problem is not None:
                outage.failed(problem, "sending again")
                await asyncio.sleep(backoff.next())
                self._wake.set()
                continue
            outage.recovered()
            backoff.reset()
            for _ in window:
                self._unsent.popleft()
            self.stored_count += len(window)
            self._acknowledged_up_to(window[-1].end)
            for record in window:
                if record.stored is not None and not record.stored.done():
                    record.stored.set_result(None)
            if len(self._unsent) >= WINDOW or any(r.stored for r in self._unsent):
                self._wake.set()  # a full window, or someone waits for the stream: go on

    async def _send(self, window: list[Record]) -> str | None:
        """Publish a window of records in order, asking the stream to acknowledge the last;
        None once it did, else what went wrong (the whole window then goes again; JetStream
        drops what it stored already, by id).

        One acknowledgement answers for the window: the server stores one connection's
        messages to a stream in the order they came, so the last one stored means every one
        before it was, unless the connection was lost in between (some of them then went
        nowhere), which the reconnect count tells."""
        reconnects = self.nc.stats["reconnects"]
        loop = asyncio.get_running_loop()
        acked: asyncio.Future[str | None] = loop.create_future()
        self._acked = acked
        self._ack_number = window[-1].number
        last = len(window) - 1
        try:
            for i, record in enumerate(window):
                record.attempts += 1
                headers = {_MSG_ID: record.msg_id, _EXPECTED_STREAM: self.stream}
                if i < last:
                    await self.nc.publish(record.subject, record.data, headers=headers)
                else:
                    await self.nc.publish(
                        record.subject, record.data,
                        reply=f"{self._inbox}{record.number}", headers=headers,
                    )  # fmt: skip
        except Exception as exc:  # disconnected, buffer full: the window goes again
            return f"publishing failed: {exc or type(exc).__name__}"
        timer = loop.call_later(ACK_TIMEOUT, _resolve, acked, "no acknowledgement in time")
        try:
            problem = await acked
        finally:
            timer.cancel()
        if problem is None and self.nc.stats["reconnects"] != reconnects:
            return "the connection was lost while they were sent"
        return problem

    async def _on_reply(self, msg: Msg) -> None:
        try:
            number = int(msg.subject[len(self._inbox) :])
        except ValueError:
            return
        acked = self._acked
        if number != self._ack_number or acked is None or acked.done():
            return  # a late reply to an earlier attempt
        if msg.headers and msg.headers.get(_STATUS) == "503":
            _resolve(acked, "no stream answered (503)")
            return
        try:
            reply = json.loads(msg.data)
        except ValueError:
            reply = None
        if isinstance(reply, dict) and "seq" in reply and "error" not in reply:
            _resolve(acked, None)
        else:
            _resolve(acked, f"the stream refused an event: {msg.data[:200]!r}")

    async def _keep_synced(self) -> None:
        interval = self.fsync_interval or 1.0
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(interval)
            if self._dirty and self.fsync_interval:
                self._dirty = False
                with contextlib.suppress(OSError):
                    await loop.run_in_executor(None, os.fsync, self._fd)

    async def _watch_orphans(self) -> None:
        while True:
            await asyncio.sleep(ORPHAN_SCAN)
            try:
                self.replay_orphans()
            except OSError as exc:
                log.warning("looking for outboxes of dead processes failed: %s", exc)

    # ---- replaying what a dead process left ---------------------------------------------------

    def replay_orphans(self) -> int:
        """Take over the records other processes' files hold unacknowledged, where those
        processes are gone: append them here (so they are safe here first), then remove the
        files. Returns how many records were taken over."""
        taken = 0
        for path in sorted(self.directory.glob(f"*{SUFFIX}")):
            records: list[tuple[int, str, str, bytes]] = []
            if path == self.path:
                continue
            try:
                fd = os.open(path, os.O_RDWR)
            except OSError:
                continue
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # its process is alive
                if not _same_file(fd, path):
                    continue  # another process replayed and removed it meanwhile
                data = _read_all(fd)
                start = _read_acked(path)
                if start > len(data):
                    start = 0  # truncated after the offset was written
                records = read_records(data, start)
                for _, subject, msg_id, payload in records:
                    self.append(subject, msg_id, payload)
                taken += len(records)
                for gone in (path, _acked_path(path)):
                    with contextlib.suppress(OSError):
                        gone.unlink()
            finally:
                os.close(fd)
            if records:
                log.warning("replaying %d events that %s left unstored", len(records), path.name)
        self.replayed += taken
        return taken


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.fstat(fd).st_ino == path.stat().st_ino
    except OSError:
        return False


def _acked_path(path: Path) -> Path:
    return path.with_name(path.name + ".acked")


def _read_acked(path: Path) -> int:
    try:
        raw = _acked_path(path).read_bytes()
    except OSError:
        return 0
    return _OFFSET.unpack(raw[:8])[0] if len(raw) >= 8 else 0


def _read_all(fd: int) -> bytes:
    chunks = []
    offset = 0
    while chunk := os.pread(fd, 1 << 20, offset):
        chunks.append(chunk)
        offset += len(chunk)
    return b"".join(chunks)


def _resolve(acked: asyncio.Future[str | None], problem: str | None) -> None:
    if not acked.done():
        acked.set_result(problem)


# The outbox of each connection, for the sessions publishing on it.
_OUTBOXES: weakref.WeakKeyDictionary[NATS, Outbox] = weakref.WeakKeyDictionary()


def outbox_of(nc: NATS) -> Outbox:
    outbox = _OUTBOXES.get(nc)
    if outbox is None:
        raise BusError("no event outbox is open on this connection")
    return outbox
