"""One trace from the producer's transaction to every projection: the event is enqueued in the
outbox inside a span, the relay publishes it and every consumer applies it, all in this process
(so the in-memory exporter sees their spans), against the real Kafka and PostgreSQL."""

from __future__ import annotations

import asyncio

from opentelemetry.trace import SpanKind

from hub.projections import all_projections
from producers.outbox import enqueue
from producers.relay import run_relay
from tests.support import db
from tests.support.events import completed
from tests.support.kafka import read_all
from tests.support.tracing import recorded_spans
from toolkit.db import create_engine
from toolkit.streaming.applier import BatchApplier
from toolkit.streaming.bulk import replay_to_end
from toolkit.streaming.dead_letters import DeadLetterSink
from toolkit.streaming.runtime import dead_letter_producer
from toolkit.tracing import tracer


async def apply_everywhere(settings) -> None:
    """Every projection's applier over the topics, to their end (what each worker does)."""
    engine = create_engine(settings)
    producer = dead_letter_producer(settings)
    await producer.start()
    try:
        for name, projection in all_projections(settings).items():
            sink = DeadLetterSink(producer, settings.dead_letter_topic(name), name)
            applier = BatchApplier(projection, engine, sink, settings)
            await replay_to_end(applier, settings.kafka_bootstrap, projection.topics(settings))
    finally:
        await producer.stop()
        await engine.dispose()


async def test_one_trace_reaches_the_relay_and_every_consumers_apply(settings, unique):
    event = completed(f"{unique}-learner", minute=0, level="advanced")
    engine = create_engine(settings)
    with recorded_spans() as spans:
        try:
            with tracer("tests.profiler").start_as_current_span("profiler saves a result") as root:
                async with engine.begin() as conn:
                    await enqueue(conn, event, settings.profiler_topic)
        finally:
            await engine.dispose()
        assert await run_relay(settings, asyncio.Event(), once=True) == 1
        await apply_everywhere(settings)
        finished = spans.get_finished_spans()
    trace_id = root.get_span_context().trace_id
    [stored] = await db.fetch(settings.database_url,
                              "select trace_context from hub_outbox.outbox")
    assert f"{trace_id:032x}" in stored["trace_context"]
    [record] = await read_all(settings.kafka_bootstrap, settings.profiler_topic, 1)

    in_trace = [s for s in finished if s.context.trace_id == trace_id]
    [publish] = [s for s in in_trace if s.kind is SpanKind.PRODUCER]
    assert publish.attributes is not None
    assert publish.attributes["messaging.client_id"] == "profiler-hub-relay"
    assert publish.attributes["event_id"] == str(event.event_id)
    assert publish.parent is not None and publish.parent.span_id == root.get_span_context().span_id
    # The record names the relay's publish span as its parent.
    traceparent = dict(record.headers)["traceparent"].decode()
    assert traceparent.split("-")[2] == f"{publish.context.span_id:016x}"

    applies = {s.attributes["consumer"]: s for s in in_trace
               if s.kind is SpanKind.CONSUMER and s.attributes is not None}
    assert set(applies) == set(all_projections())
    for consumer, span in applies.items():
        assert span.attributes is not None
        assert span.attributes["event_id"] == str(event.event_id), consumer
        assert span.attributes["outcome"] == "applied", consumer
        assert span.parent is not None and span.parent.span_id == publish.context.span_id


class OtlpCollector:
    """An OTLP/HTTP traces endpoint on loopback that keeps every span it receives."""

    def __init__(self) -> None:
        import http.server
        import threading

        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTraceServiceRequest,
        )

        self.spans: list = []
        collector = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                request = ExportTraceServiceRequest.FromString(body)
                for resource in request.resource_spans:
                    service = {a.key: a.value.string_value
                               for a in resource.resource.attributes}.get("service.name")
                    for scope in resource.scope_spans:
                        collector.spans += [(service, span) for span in scope.spans]
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


async def test_a_hub_process_exports_its_spans_over_otlp_when_told(settings, unique):
    from tests.conftest import settings_env
    from tests.support.procs import run_hub

    event = completed(f"{unique}-learner", minute=0)
    engine = create_engine(settings)
    with recorded_spans():  # the enqueuer's trace is sampled, as a traced profiler's would be
        try:
            with tracer("tests.profiler").start_as_current_span("profiler saves a result") as root:
                async with engine.begin() as conn:
                    await enqueue(conn, event, settings.profiler_topic)
        finally:
            await engine.dispose()
    collector = OtlpCollector()
    try:
        env = {**settings_env(settings), "OTEL_TRACES_EXPORTER": "otlp",
               "OTEL_EXPORTER_OTLP_ENDPOINT": collector.endpoint}
        done = await asyncio.to_thread(run_hub, ["relay", "--once"], env)
        assert done.returncode == 0, done.stderr
    finally:
        collector.close()
    [(service, publish)] = collector.spans  # the provider flushes when the process exits
    assert service == "profiler-hub-relay"
    assert publish.trace_id == root.get_span_context().trace_id.to_bytes(16, "big")
    assert publish.parent_span_id == root.get_span_context().span_id.to_bytes(8, "big")
