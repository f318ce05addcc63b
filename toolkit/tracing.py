"""W3C trace context across Kafka, with OpenTelemetry: one place sets it up, the rest use it.

Records carry `traceparent` (and `tracestate` when there is one) headers: the publisher writes
the context of its publish span on every record, the outbox keeps its caller's context in the
row for the relay, dead letters and redrives copy the original headers, and every worker
continues the record's trace (`toolkit.streaming.applier`).

Exporting is off unless the standard variables say otherwise: `OTEL_TRACES_EXPORTER` (`otlp`,
`console`, or `none`, the hub's default), `OTEL_EXPORTER_OTLP_ENDPOINT` /
`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (OTLP over HTTP/protobuf), `OTEL_SERVICE_NAME`,
`OTEL_TRACES_SAMPLER`, `OTEL_SDK_DISABLED`. With no exporter, spans never record
(sampler `always_off`), yet they still get ids, so trace context still crosses every hop and
logs still carry a `trace_id` that joins a publish to what the relay did with it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

if TYPE_CHECKING:
    from opentelemetry.sdk.trace.export import SpanExporter

TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"
TRACE_HEADERS = (TRACEPARENT, TRACESTATE)

Headers = list[tuple[str, bytes]]

# W3C trace context only: the headers the AsyncAPI document names (no baggage on records).
_propagator = TraceContextTextMapPropagator()
_configured_for: str | None = None
_exporting = False


class TracingConfigError(ValueError):
    """An `OTEL_*` setting the hub cannot honour (one line for the operator)."""


def tracer(name: str) -> trace.Tracer:
    """A tracer that follows the process's provider, even one set up after this call."""
    return trace.get_tracer(name)


def service_name(arguments: Sequence[str]) -> str:
    """`profiler-hub-<command>` for `hub <command> …` (`…-worker-missions` for one worker):
    the default `service.name` of the process's spans (`OTEL_SERVICE_NAME` wins)."""
    words = [a for a in arguments if not a.startswith("-")][:2]
    if words[:1] != ["worker"]:
        words = words[:1]
    return "-".join(["profiler-hub", *words])


def configure_tracing(service: str, environ: Mapping[str, str] | None = None) -> bool:
    """Set up this process's tracer provider from the `OTEL_*` variables; once per process
    (later calls change nothing). Returns whether spans are exported."""
    global _configured_for, _exporting
    if _configured_for is not None:
        return _exporting
    env = os.environ if environ is None else environ
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        _configured_for = service
        return False
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

    exporters = _exporters(env.get("OTEL_TRACES_EXPORTER", "none"), env)
    # Resource.create reads OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES over this default.
    resource = Resource.create({"service.name": service})
    if exporters:
        provider = TracerProvider(resource=resource)  # sampler: OTEL_TRACES_SAMPLER, else
        for exporter in exporters:                    # parent-based always-on
            provider.add_span_processor(BatchSpanProcessor(exporter))
    else:
        provider = TracerProvider(resource=resource, sampler=ALWAYS_OFF)
    trace.set_tracer_provider(provider)
    _configured_for, _exporting = service, bool(exporters)
    return _exporting


def exporting() -> bool:
    """Whether this process exports spans (`configure_tracing` said so)."""
    return _exporting


def _exporters(names: str, env: Mapping[str, str]) -> list[SpanExporter]:
    exporters: list[SpanExporter] = []
    for name in (n.strip().lower() for n in names.split(",")):
        if name in ("", "none"):
            continue
        if name == "otlp":
            protocol = env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or env.get(
                "OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
            if protocol.strip() != "http/protobuf":
                raise TracingConfigError(
                    f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol!r}: the hub ships the OTLP "
                    "exporter over HTTP/protobuf only; use http/protobuf")
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            # Headers, timeout, compression: the exporter reads its OTEL_* variables itself.
            exporters.append(OTLPSpanExporter(endpoint=_traces_endpoint(env)))
        elif name == "console":
            from opentelemetry.sdk.trace.export import ConsoleSpanExporter

            exporters.append(ConsoleSpanExporter())
        else:
            raise TracingConfigError(
                f"OTEL_TRACES_EXPORTER={names!r}: the hub knows otlp, console and none")
    return exporters


def _traces_endpoint(env: Mapping[str, str]) -> str | None:
    """The OTLP/HTTP traces URL the variables give (None: the exporter's default,
    http://localhost:4318/v1/traces)."""
    if env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        return env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"]
    base = env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
    return f"{base.rstrip('/')}/v1/traces" if base else None


def trace_headers(context: Context | None = None) -> Headers:
    """The `traceparent`/`tracestate` headers of `context` (default: the current one);
    none when there is no valid span in it."""
    carrier: dict[str, str] = {}
    _propagator.inject(carrier, context)
    return [(name, value.encode()) for name, value in carrier.items()]


def with_trace_headers(headers: Sequence[tuple[str, bytes]] | None,
                       context: Context | None = None) -> Headers:
    """`headers` with their trace headers replaced by those of `context` (default: current)."""
    kept = [(k, v) for k, v in headers or () if k not in TRACE_HEADERS]
    return kept + trace_headers(context)


def captured() -> dict[str, str] | None:
    """The current trace context as `traceparent`/`tracestate` strings, for storing (the
    outbox row); None outside any trace."""
    carrier: dict[str, str] = {}
    _propagator.inject(carrier)
    return carrier or None


def context_from(carrier: Mapping[str, str] | None) -> Context | None:
    """The context stored by `captured`, or None."""
    if not carrier:
        return None
    return _propagator.extract(carrier)


def context_of_headers(headers: Sequence[tuple[str, bytes]]) -> Context | None:
    """The trace context a record's headers carry, or None when they carry none."""
    carrier = {k: v.decode("latin-1") for k, v in headers if k in TRACE_HEADERS}
    if TRACEPARENT not in carrier:
        return None
    context = _propagator.extract(carrier)
    return context if trace.get_current_span(context).get_span_context().is_valid else None


@contextmanager
def attached(context: Context | None) -> Iterator[None]:
    """Make `context` current inside the block (nothing when None)."""
    if context is None:
        yield
        return
    token = otel_context.attach(context)
    try:
        yield
    finally:
        otel_context.detach(token)


def current_ids() -> tuple[str, str] | None:
    """The current span's trace id and span id as hex, or None outside any span."""
    span_context = trace.get_current_span().get_span_context()
    if not span_context.is_valid:
        return None
    return format(span_context.trace_id, "032x"), format(span_context.span_id, "016x")
