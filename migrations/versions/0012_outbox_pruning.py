"""outbox: index of sent rows, so the relay prunes them oldest first without a scan

The same index as the producer kit's `sql/outbox.sql` (`outbox_sent`): with 0009 it gives the
hub's database exactly the table `hub outbox install` and the kit's Django app create.

Revision ID: 0012_outbox_pruning
Revises: 0009_outbox
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_outbox_pruning"
down_revision = "0009_outbox"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "outbox_sent",
        "outbox",
        ["sent_at"],
        schema="hub_outbox",
        postgresql_where=sa.text("sent_at IS NOT NULL"),
        if_not_exists=True,
    )


def downgrade() -> None:
    op.drop_index("outbox_sent", table_name="outbox", schema="hub_outbox", if_exists=True)
