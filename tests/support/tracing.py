"""Spans of this test process, recorded into memory while a test asks for them.

OpenTelemetry lets a process set its global tracer provider once, so the first test that asks
installs an SDK provider with an in-memory exporter for the whole session; its sampler records
only inside `recorded_spans()`, so the rest of the session runs as production does with
exporting off (spans with ids, never recorded), and memory does not fill with spans.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult


class _Switch(Sampler):
    """Records every span while `on`, none otherwise."""

    on = False

    def should_sample(self, parent_context: Context | None, trace_id: int, name: str,
                      kind=None, attributes=None, links: Sequence | None = None,
                      trace_state=None) -> SamplingResult:
        return SamplingResult(Decision.RECORD_AND_SAMPLE if self.on else Decision.DROP,
                              attributes)

    def get_description(self) -> str:
        return "tests.support.tracing switch"


_switch = _Switch()
_exporter: InMemorySpanExporter | None = None


def _installed() -> InMemorySpanExporter:
    global _exporter
    if _exporter is None:
        exporter = InMemorySpanExporter()
        provider = TracerProvider(sampler=_switch)
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        trace.set_tracer_provider(provider)
        if trace.get_tracer_provider() is not provider:
            raise RuntimeError("another tracer provider was set first in this test process")
        _exporter = exporter
    return _exporter


@contextmanager
def recorded_spans() -> Iterator[InMemorySpanExporter]:
    """Every span this process finishes inside the block, in the exporter yielded."""
    exporter = _installed()
    exporter.clear()
    _switch.on = True
    try:
        yield exporter
    finally:
        _switch.on = False
        exporter.clear()
