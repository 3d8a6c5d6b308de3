"""Tracing for every service: one tracer provider, W3C trace context in NATS headers and events."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

from proctor.events.v1 import events_pb2 as pb

_configured = False

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def setup_logging(level: str) -> None:
    """One log format for every service process (one line per record, to stderr)."""
    logging.basicConfig(level=level.upper(), format=LOG_FORMAT)


def setup_tracing(service_name: str) -> trace.Tracer:
    """Install the SDK tracer provider once per process and return the service's tracer.

    Spans are exported to the console only when PROCTOR_TRACE_CONSOLE=1; otherwise they exist
    for context propagation, and an operator adds an exporter with the standard OTEL_* settings.
    """
    global _configured
    if not _configured:
        provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
        if os.environ.get("PROCTOR_TRACE_CONSOLE") == "1":
            provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
        trace.set_tracer_provider(provider)
        _configured = True
    return trace.get_tracer(f"proctor.{service_name}")


def inject_headers(headers: dict[str, str] | None = None) -> dict[str, str]:
    """Headers carrying the current trace context (`traceparent`, `tracestate`)."""
    carrier: dict[str, str] = dict(headers or {})
    propagate.inject(carrier)
    return carrier


def extract_context(headers: Mapping[str, str] | None) -> Context:
    """The trace context carried by message headers (empty context if none)."""
    return propagate.extract(dict(headers or {}))


def current_trace_context() -> pb.TraceContext:
    """The current span's context as the TraceContext field events carry."""
    carrier = inject_headers()
    return pb.TraceContext(
        traceparent=carrier.get("traceparent", ""), tracestate=carrier.get("tracestate", "")
    )
