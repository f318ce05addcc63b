"""outbox: the trace context of the transaction that enqueued each event

The same column as the producer kit's `sql/outbox.sql`: W3C `traceparent`/`tracestate` as
JSON, which the relay publishes the event with (NULL outside a trace).

Revision ID: 0014_outbox_trace_context
Revises: 0013_outbox_position
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0014_outbox_trace_context"
down_revision = "0013_outbox_position"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("outbox", sa.Column("trace_context", JSONB, nullable=True), schema="hub_outbox")


def downgrade() -> None:
    op.drop_column("outbox", "trace_context", schema="hub_outbox")
