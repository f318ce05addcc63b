"""The outbox row and its table's DDL, with no database driver of its own.

A producer writes an event's row in the same transaction as the fact it records, so the event
exists exactly when the fact does; `hub relay` publishes pending rows to Kafka and marks them
sent. Django: `profiler_hub_kit.django.publish`. Anything else on PostgreSQL: run `ddl()` once
(or `hub outbox install --database-url …`), then execute `INSERT_SQL` with `insert_params(row)`
on the connection of the business transaction (any DB-API driver with the `%s` paramstyle:
psycopg 3, psycopg2). The hub's SQLAlchemy helper is `producers.outbox.enqueue`.

Tracing: when the producer runs OpenTelemetry (the `opentelemetry-api` package, optional), the
row keeps the caller's current trace context (`trace_context`: W3C `traceparent`/`tracestate`),
and the relay publishes the event in that trace.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from pydantic import BaseModel

from profiler_hub_kit.models.registry import encode

SCHEMA = "hub_outbox"
TABLE = f"{SCHEMA}.outbox"
# CONTRACT: an envelope is at most 1 MiB; a larger one is refused in the business transaction
# rather than left as a row Kafka would refuse forever (blocking its key).
MAX_EVENT_BYTES = 1_048_576

# CONTRACT topics per event type (the hub's defaults; deployments may rename topics).
DEFAULT_TOPICS = {
    "profiler.session.completed": "profiler.events",
    "profiler.session.invalidated": "profiler.events",
    "learner.erased": "profiler.events",
    "mentorship.assignment.changed": "mentorship.assignments",
}

INSERT_SQL = (
    f"INSERT INTO {TABLE} (topic, key, value, headers, trace_context) "  # noqa: S608
    "VALUES (%s, %s, %s, %s::jsonb, %s::jsonb) RETURNING id"
)
DROP_SQL = f"DROP TABLE IF EXISTS {TABLE}"
DROP_TRACE_CONTEXT_SQL = f"ALTER TABLE {TABLE} DROP COLUMN IF EXISTS trace_context"
DROP_POSITION_SQL = (
    f"DROP INDEX IF EXISTS {SCHEMA}.outbox_event_id; "
    f"ALTER TABLE {TABLE} DROP COLUMN IF EXISTS sent_offset; "
    f"ALTER TABLE {TABLE} DROP COLUMN IF EXISTS sent_partition"
)
# Where the relay published an event: the consistency token of the hub's read API
# (`Hub-Min-Position: topic:partition:offset`); no row until it is sent.
POSITION_SQL = (
    f"SELECT topic, sent_partition, sent_offset FROM {TABLE} "  # noqa: S608 (a constant)
    "WHERE headers ->> 'event_id' = %s AND sent_offset IS NOT NULL"
)


def ddl() -> str:
    """The outbox's DDL (`sql/outbox.sql`), idempotent: schema, table, indexes."""
    return resources.files("profiler_hub_kit").joinpath("sql/outbox.sql").read_text("utf-8")


def default_topic(event: BaseModel) -> str:
    """The CONTRACT topic of `event`'s type."""
    return DEFAULT_TOPICS[event.event_type]  # type: ignore[attr-defined]


def outbox_row(event: BaseModel, topic: str | None = None) -> dict[str, Any]:
    """The row for `event`: wire bytes (`encode`), CONTRACT key, headers; `topic` defaults to
    the CONTRACT topic of the event's type. Refuses an event over the CONTRACT's 1 MiB."""
    value = encode(event)
    if len(value) > MAX_EVENT_BYTES:
        raise ValueError(f"event is {len(value)} bytes; the contract allows {MAX_EVENT_BYTES}")
    headers = {"event_id": str(event.event_id), "event_type": event.event_type}  # type: ignore[attr-defined]
    if event.correlation_id:  # type: ignore[attr-defined]
        headers["correlation_id"] = event.correlation_id  # type: ignore[attr-defined]
    return {
        "topic": topic or default_topic(event),
        "key": event.key,  # type: ignore[attr-defined]
        "value": value,
        "headers": headers,
        "trace_context": current_trace_context(),
    }


def current_trace_context() -> dict[str, str] | None:
    """The caller's current W3C trace context (`traceparent`, `tracestate`), or None: outside
    a trace, or without OpenTelemetry installed (the kit does not require it)."""
    try:
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
    except ImportError:
        return None
    carrier: dict[str, str] = {}
    TraceContextTextMapPropagator().inject(carrier)
    return carrier or None


def insert_params(row: dict[str, Any]) -> list[Any]:
    """Parameters of `INSERT_SQL` for a row of `outbox_row` (headers and trace context as JSON
    text)."""
    trace_context = row.get("trace_context")
    return [row["topic"], row["key"], row["value"], json.dumps(row["headers"]),
            json.dumps(trace_context) if trace_context else None]
