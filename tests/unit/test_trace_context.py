"""Trace context on records, in outbox rows, in logs and in a batch's spans (no I/O)."""

from __future__ import annotations

import json
import logging

import pytest
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from producers.outbox import outbox_row
from tests.support.events import completed
from tests.support.tracing import recorded_spans
from toolkit.logs import json_handler
from toolkit.streaming.batch_spans import RECORD_SPANS_MAX, batch_span
from toolkit.streaming.dead_letters import Refusal
from toolkit.streaming.records import Record
from toolkit.tracing import (
    TracingConfigError,
    configure_tracing,
    context_of_headers,
    service_name,
    trace_headers,
    with_trace_headers,
)

TRACE_ID = 0x0AF7651916CD43DD8448EB211C80319C
SPAN_ID = 0xB7AD6B7169203331
TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def upstream_span() -> NonRecordingSpan:
    return NonRecordingSpan(SpanContext(TRACE_ID, SPAN_ID, is_remote=True,
                                        trace_flags=TraceFlags(TraceFlags.SAMPLED)))


def test_an_outbox_row_keeps_the_callers_trace_context_and_none_outside_a_trace():
    event = completed("learner-1", minute=0)
    assert outbox_row(event, "profiler.events")["trace_context"] is None
    with trace.use_span(upstream_span()):
        row = outbox_row(event, "profiler.events")
    assert row["trace_context"] == {"traceparent": TRACEPARENT}


def test_record_headers_carry_the_current_context_replacing_stale_ones():
    assert trace_headers() == []  # no span: nothing to write
    with trace.use_span(upstream_span()):
        headers = with_trace_headers([("event_id", b"e1"), ("traceparent", b"00-stale-01")])
    assert headers == [("event_id", b"e1"), ("traceparent", TRACEPARENT.encode())]
    context = context_of_headers(headers)
    assert context is not None
    assert trace.get_current_span(context).get_span_context().trace_id == TRACE_ID


@pytest.mark.parametrize("headers", [(), (("traceparent", b"garbage"),),
                                     (("tracestate", b"k=v"),)])
def test_records_without_a_valid_traceparent_have_no_context(headers):
    assert context_of_headers(headers) is None


def test_json_logs_carry_trace_and_span_ids_while_a_span_is_current():
    formatter = json_handler().formatter
    assert formatter is not None

    def line() -> dict:
        record = logging.LogRecord("t", logging.INFO, __file__, 1, "applied", None, None)
        return json.loads(formatter.format(record))

    assert "trace_id" not in line()
    with trace.use_span(upstream_span()):
        logged = line()
    assert logged["trace_id"] == f"{TRACE_ID:032x}" and logged["span_id"] == f"{SPAN_ID:016x}"


@pytest.mark.parametrize("environ, message", [
    ({"OTEL_TRACES_EXPORTER": "zipkin"}, "otlp, console and none"),
    ({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, "http/protobuf"),
])
def test_an_exporter_the_hub_does_not_ship_is_refused_in_one_line(environ, message):
    with pytest.raises(TracingConfigError, match=message):
        configure_tracing("profiler-hub-test", environ)


def test_each_process_names_its_service_by_command():
    assert service_name(["worker", "missions"]) == "profiler-hub-worker-missions"
    assert service_name(["relay", "--once"]) == "profiler-hub-relay"
    assert service_name(["dlq", "list", "missions"]) == "profiler-hub-dlq"
    assert service_name([]) == "profiler-hub"


def record(offset: int, traced: bool = True) -> Record:
    headers = (("traceparent", TRACEPARENT.encode()),) if traced else ()
    return Record("profiler.events", 1, offset, b"k", b"{}", headers)


def test_a_small_batch_continues_each_records_trace_with_its_outcome():
    events = [completed("learner-1", minute=0), completed("learner-2", minute=1)]
    records = [record(10), record(11), record(12, traced=False)]
    screened = [events[0], Refusal(records[1], "schema_unknown", "v9"), events[1]]
    with recorded_spans() as spans:
        with batch_span("missions") as notes:
            assert notes is not None
            notes.note(records[0], "applied")
            notes.note(records[1], "dead_lettered", "schema_unknown")
            notes.note(records[2], "skipped")
            notes.finish(records, screened)
        finished = spans.get_finished_spans()
    batch = finished[-1]
    assert batch.attributes is not None and batch.attributes["outcome.applied"] == 1
    assert [link.context.trace_id for link in batch.links] == [TRACE_ID, TRACE_ID]
    by_offset = {s.attributes["messaging.kafka.offset"]: s for s in finished[:-1]
                 if s.attributes is not None}
    assert by_offset[10].context.trace_id == TRACE_ID
    assert by_offset[10].parent is not None and by_offset[10].parent.span_id == SPAN_ID
    assert by_offset[10].attributes["event_id"] == str(events[0].event_id)
    assert by_offset[11].attributes["outcome"] == "dead_lettered"
    assert by_offset[11].attributes["reason"] == "schema_unknown"
    # No context on the record: its span sits under the batch's.
    assert by_offset[12].context.trace_id == batch.context.trace_id
    assert by_offset[12].attributes["outcome"] == "skipped"


def test_a_large_batch_is_one_span_with_links():
    records = [record(offset) for offset in range(RECORD_SPANS_MAX + 1)]
    events = [completed(f"learner-{i}", minute=0) for i in range(len(records))]
    with recorded_spans() as spans:
        with batch_span("recipes") as notes:
            assert notes is not None
            for r in records:
                notes.note(r, "applied")
            notes.finish(records, events)
        [batch] = spans.get_finished_spans()
    assert len(batch.links) == len(records)
    assert all(link.attributes and link.attributes["outcome"] == "applied"
               for link in batch.links)


def test_outside_recording_a_batch_builds_nothing_per_record():
    with recorded_spans():  # installs the session's provider; it records inside only
        pass
    with batch_span("missions") as notes:
        assert notes is None
