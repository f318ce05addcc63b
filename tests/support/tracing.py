"""An in-memory span exporter behind this test process's tracer provider.

OpenTelemetry lets a process set its global provider once, so the first test that asks
installs a recording SDK provider for the whole session; each test clears what it saw.
"""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

_exporter: InMemorySpanExporter | None = None


def memory_exporter() -> InMemorySpanExporter:
    """The session's exporter, emptied; spans of this process end up in it."""
    global _exporter
    if _exporter is None:
        exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        trace.set_tracer_provider(provider)
        if trace.get_tracer_provider() is not provider:
            raise RuntimeError("another tracer provider was set first in this test process")
        _exporter = exporter
    _exporter.clear()
    return _exporter
