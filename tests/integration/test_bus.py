"""The bus wiring against a real nats-server: stream settings, de-duplication, trace headers."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from nats.js import api as js_api

from proctor import bus
from proctor.events import codec
from proctor.settings import Settings
from proctor.telemetry import current_trace_context, setup_tracing
from proctor.testing import lifecycle

pytestmark = pytest.mark.integration


async def test_stream_is_immutable_file_backed_and_idempotent(settings: Settings, js: Any) -> None:
    info = await bus.ensure_stream(js, settings)
    assert info.config.subjects == ["proctor.evt.>"]
    assert info.config.storage == js_api.StorageType.FILE
    assert info.config.deny_delete and info.config.deny_purge
    assert info.config.num_replicas == settings.stream_replicas
    again = await bus.ensure_stream(js, settings)  # every service calls it at start
    assert again.config.name == info.config.name


async def test_republished_event_is_stored_once(settings: Settings, js: Any) -> None:
    event = lifecycle()[0]
    publisher = bus.EventPublisher(js, settings)
    first = await publisher.publish(event)
    second = await publisher.publish(event)  # a retry after a lost acknowledgement
    assert first == second
    info = await js.stream_info(settings.stream_name)
    assert info.state.messages == 1


async def test_trace_context_travels_in_headers_and_event(settings: Settings, js: Any) -> None:
    tracer = setup_tracing("test")
    received: asyncio.Queue[Any] = asyncio.Queue()
    sub = await js.subscribe("proctor.evt.>", ordered_consumer=True, cb=received.put)
    with tracer.start_as_current_span("command") as span:
        event = lifecycle()[0]
        event.trace.CopyFrom(current_trace_context())
        await bus.EventPublisher(js, settings).publish(event)
        trace_id = format(span.get_span_context().trace_id, "032x")
    msg = await asyncio.wait_for(received.get(), 5)
    await sub.unsubscribe()
    assert trace_id in msg.headers["traceparent"]
    assert msg.headers["Nats-Msg-Id"] == event.event_id
    assert trace_id in codec.decode(msg.data).trace.traceparent
