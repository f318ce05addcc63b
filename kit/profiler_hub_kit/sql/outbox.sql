-- The transactional outbox of a producer (profiler_hub_kit). The one source of its DDL:
-- Django's `migrate` (profiler_hub_kit.django) and `hub outbox install` run this file; the
-- hub's Alembic migrations (0009_outbox, 0012_outbox_pruning, 0013_outbox_position,
-- 0014_outbox_trace_context) build the same table, and
-- tests/integration/test_outbox_install.py compares the three catalogs.
-- Idempotent: running it again changes nothing.
CREATE SCHEMA IF NOT EXISTS hub_outbox;

CREATE TABLE IF NOT EXISTS hub_outbox.outbox (
    id bigserial NOT NULL,
    topic varchar(255) NOT NULL,
    key varchar(255) NOT NULL,
    value bytea NOT NULL,
    headers jsonb DEFAULT '{}'::jsonb NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    sent_at timestamp with time zone,
    CONSTRAINT outbox_pkey PRIMARY KEY (id)
);

-- The relay walks pending rows in id order; sent rows never slow it down.
CREATE INDEX IF NOT EXISTS outbox_pending ON hub_outbox.outbox (id) WHERE sent_at IS NULL;

-- The relay prunes sent rows older than its retention, oldest first, in small batches.
CREATE INDEX IF NOT EXISTS outbox_sent ON hub_outbox.outbox (sent_at) WHERE sent_at IS NOT NULL;

-- Where the relay's publish landed (the acked record's partition and offset, with `topic`): the
-- consistency token a reader passes to the hub's read API to read its own write
-- (`Hub-Min-Position: topic:partition:offset`). Added by Alembic 0013_outbox_position and the
-- kit's Django migration 0002; looked up by the event's id.
ALTER TABLE hub_outbox.outbox ADD COLUMN IF NOT EXISTS sent_partition integer;
ALTER TABLE hub_outbox.outbox ADD COLUMN IF NOT EXISTS sent_offset bigint;
CREATE INDEX IF NOT EXISTS outbox_event_id ON hub_outbox.outbox ((headers ->> 'event_id'));

-- The trace context of the transaction that enqueued the event (W3C `traceparent`/`tracestate`,
-- as JSON), so the relay publishes it in that trace; NULL outside a trace. Added by Alembic
-- 0014_outbox_trace_context and the kit's Django migration 0003.
ALTER TABLE hub_outbox.outbox ADD COLUMN IF NOT EXISTS trace_context jsonb;
