"""Riding out faults: outages logged once per change of state, back-off, fatal errors named."""

from __future__ import annotations

import logging

import asyncpg
import pytest

from proctor.children import RestartPolicy
from proctor.errors import StoreError
from proctor.faults import Backoff, Outage, describe, transient_db_error
from proctor.runtime import run_service
from proctor.settings import Settings
from proctor_ingress.outbox import encode_record, read_records


def test_an_outage_is_logged_when_it_starts_and_when_it_ends(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    outage = Outage("the audit store", logging.getLogger("t"))
    outage.recovered()  # nothing was down: nothing to say
    for _ in range(50):
        outage.failed(ConnectionRefusedError(111, "Connection refused"))
    outage.recovered()
    outage.recovered()
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2, messages
    assert messages[0].startswith("the audit store unavailable (ConnectionRefusedError: ")
    assert "available again" in messages[1] and "50 failed attempts" in messages[1]
    assert outage.outages == 1 and not outage.down


def test_backoff_grows_to_its_cap_and_resets() -> None:
    backoff = Backoff(0.1, 1.0)
    delays = [backoff.next() for _ in range(8)]
    assert delays[0] <= 0.1 and max(delays) <= 1.0 and delays[-1] > 0.7
    backoff.reset()
    assert backoff.next() <= 0.1


def test_errors_are_described_by_type_and_message() -> None:
    assert describe(TimeoutError()) == "TimeoutError"
    assert describe(ValueError("bad")) == "ValueError: bad"


def test_transient_database_errors_are_told_from_permanent_ones() -> None:
    assert transient_db_error(TimeoutError())
    assert transient_db_error(asyncpg.exceptions.ConnectionDoesNotExistError("gone"))
    assert transient_db_error(asyncpg.exceptions.AdminShutdownError("shutdown"))
    mapped = StoreError("cannot connect")
    mapped.__cause__ = ConnectionRefusedError()
    assert transient_db_error(mapped)
    assert not transient_db_error(asyncpg.exceptions.UntranslatableCharacterError("\\u0000"))
    assert not transient_db_error(KeyError("x"))


def test_a_fatal_error_without_text_is_printed_with_its_type(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PROCTOR_CONFIG", raising=False)

    async def entry(settings: Settings) -> None:
        raise TimeoutError

    assert run_service("proctor-audit", entry) == 1
    assert capsys.readouterr().err == "proctor-audit: TimeoutError\n"


def test_restart_back_off_grows_and_resets_after_a_healthy_run() -> None:
    policy = RestartPolicy(first=1.0, cap=30.0, healthy_after=30.0)
    policy.started(0.0)
    delays = []
    now = 0.0
    for _ in range(7):  # crash right after each start
        now += 1.0
        delays.append(policy.exited(now))
        policy.started(now)
    assert delays == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    assert policy.exited(now + 60.0) == 1.0  # it ran for a minute: a fresh crash


def test_outbox_records_read_back_and_a_torn_tail_is_left_out() -> None:
    records = [encode_record(f"proctor.evt.x.{n}", f"id{n}", bytes([n]) * n) for n in range(5)]
    data = b"".join(records)
    found = read_records(data)
    assert [(s, i, d) for _, s, i, d in found] == [
        (f"proctor.evt.x.{n}", f"id{n}", bytes([n]) * n) for n in range(5)
    ]
    assert found[-1][0] == len(data)
    assert len(read_records(data[:-3])) == 4  # a crash mid-write
    corrupt = bytearray(data)
    corrupt[len(records[0]) + 10] ^= 0xFF
    assert len(read_records(bytes(corrupt))) == 1
    assert [i for _, _, i, _ in read_records(data, found[1][0])] == ["id2", "id3", "id4"]
