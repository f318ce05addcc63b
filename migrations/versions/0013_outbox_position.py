"""outbox: where each event was published (partition, offset) and its lookup by event id

The same columns and index as the producer kit's `sql/outbox.sql`: the relay stores the acked
record's partition and offset, the consistency token a reader passes to the read API
(`Hub-Min-Position`).

Revision ID: 0013_outbox_position
Revises: 0012_outbox_pruning
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0013_outbox_position"
down_revision = "0012_outbox_pruning"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("outbox", sa.Column("sent_partition", sa.Integer, nullable=True),
                  schema="hub_outbox")
    op.add_column("outbox", sa.Column("sent_offset", sa.BigInteger, nullable=True),
                  schema="hub_outbox")
    op.create_index("outbox_event_id", "outbox", [sa.text("(headers ->> 'event_id')")],
                    schema="hub_outbox", if_not_exists=True)


def downgrade() -> None:
    op.drop_index("outbox_event_id", table_name="outbox", schema="hub_outbox", if_exists=True)
    op.drop_column("outbox", "sent_offset", schema="hub_outbox")
    op.drop_column("outbox", "sent_partition", schema="hub_outbox")
