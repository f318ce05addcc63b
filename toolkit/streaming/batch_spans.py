"""The spans of a worker's batches: how each consumer continues the trace of every record.

Each batch is one span (`<consumer> apply`, kind consumer) with a link per record to the
record's own trace context (its `traceparent` header), up to `MAX_LINKS`. A batch of at most
`RECORD_SPANS_MAX` records also gets a span per record in that record's own trace, so the trace
of one event reaches every consumer that applied it. Links and record spans carry `event_id`,
`event_type`, topic, partition, offset, consumer and outcome: `applied`, `skipped` (a
redelivery, below the stored position) or `dead_lettered` with its `reason`.

Nothing per record is built unless the batch span records (an exporter is configured): with
tracing off a batch costs one non-recording span.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from opentelemetry import trace
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

from schemas.registry import AnyEvent
from toolkit.streaming.dead_letters import Refusal, event_identity
from toolkit.streaming.records import Record
from toolkit.tracing import context_of_headers, tracer

# A batch this small gets a span per record (a trickle of live events: one or a few each).
RECORD_SPANS_MAX = 16
# The SDK's default limit of links per span (OTEL_SPAN_LINK_COUNT_LIMIT): more are dropped, so
# they are not built.
MAX_LINKS = 128

APPLIED = "applied"
SKIPPED = "skipped"
DEAD_LETTERED = "dead_lettered"

_tracer = tracer(__name__)

RecordKey = tuple[str, int, int]


def record_key(record: Record) -> RecordKey:
    return record.topic, record.partition, record.offset


class BatchNotes:
    """What became of each record of one batch; kept only while its span records."""

    __slots__ = ("consumer", "outcomes", "span", "started_ns")

    def __init__(self, span: trace.Span, consumer: str) -> None:
        self.span = span
        self.consumer = consumer
        self.started_ns = time.time_ns()
        self.outcomes: dict[RecordKey, tuple[str, str | None]] = {}

    def note(self, record: Record, outcome: str, reason: str | None = None) -> None:
        # A retried attempt notes again; the last (committed) attempt wins.
        self.outcomes[record_key(record)] = (outcome, reason)

    def finish(self, records: Sequence[Record],
               screened: Sequence[AnyEvent | Refusal]) -> None:
        """Links (and, for a small batch, record spans) with each record's outcome."""
        batch_context = self.span.get_span_context()
        counts = {APPLIED: 0, SKIPPED: 0, DEAD_LETTERED: 0}
        small = len(records) <= RECORD_SPANS_MAX
        for index, (record, item) in enumerate(zip(records, screened, strict=True)):
            outcome, reason = self.outcomes.get(record_key(record), (SKIPPED, None))
            counts[outcome] += 1
            if index >= MAX_LINKS and not small:
                continue
            attributes = record_attributes(record, item, self.consumer, outcome, reason)
            parent = context_of_headers(record.headers)
            if parent is not None:
                self.span.add_link(trace.get_current_span(parent).get_span_context(), attributes)
            if small:
                span = _tracer.start_span(
                    f"{self.consumer} apply", context=parent, kind=SpanKind.CONSUMER,
                    attributes=attributes, links=[Link(batch_context)],
                    start_time=self.started_ns)
                if outcome == DEAD_LETTERED:
                    span.set_status(Status(StatusCode.ERROR, reason))
                span.end()
        self.span.set_attributes({
            "consumer": self.consumer,
            "messaging.batch.message_count": len(records),
            **{f"outcome.{name}": count for name, count in counts.items()},
        })


def record_attributes(record: Record, item: AnyEvent | Refusal, consumer: str, outcome: str,
                      reason: str | None) -> dict[str, str | int]:
    if isinstance(item, Refusal):
        identity = dict(_header_identity(record)) or event_identity(record.value)
        event_id, event_type = identity.get("event_id", ""), identity.get("event_type", "")
    else:
        event_id, event_type = str(item.event_id), item.event_type
    attributes: dict[str, str | int] = {
        "event_id": event_id,
        "event_type": event_type,
        "messaging.system": "kafka",
        "messaging.destination.name": record.topic,
        "messaging.destination.partition.id": str(record.partition),
        "messaging.kafka.offset": record.offset,
        "consumer": consumer,
        "outcome": outcome,
    }
    if reason is not None:
        attributes["reason"] = reason
    return attributes


def _header_identity(record: Record) -> Iterator[tuple[str, str]]:
    for name, value in record.headers:
        if name in ("event_id", "event_type"):
            yield name, value.decode("utf-8", "replace")


@contextmanager
def batch_span(consumer: str) -> Iterator[BatchNotes | None]:
    """The batch's span, current inside the block (logs carry its ids); the notes to fill
    when it records, else None."""
    with _tracer.start_as_current_span(f"{consumer} apply", kind=SpanKind.CONSUMER) as span:
        yield BatchNotes(span, consumer) if span.is_recording() else None
