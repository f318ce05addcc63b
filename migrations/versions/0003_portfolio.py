"""portfolio projection: sessions, invalidations, erasures, items, current_statements, positions

Revision ID: 0003_portfolio
Revises: 0001
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY

revision = "0003_portfolio"
down_revision = "0001"
branch_labels = None
depends_on = None

S = "portfolio"


def upgrade() -> None:
    op.execute(f"CREATE SCHEMA IF NOT EXISTS {S}")
    op.create_table(
        "sessions",
        sa.Column("session_id", sa.Uuid, primary_key=True),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("track", sa.String(64), nullable=False),
        sa.Column("core_values", ARRAY(sa.Text), nullable=False),
        sa.Column("motivation", sa.Text, nullable=False),
        sa.Column("impact_goal", sa.Text, nullable=False),
        sa.Column("cohort_id", sa.String(64)),
        sa.Column("enterprise_id", sa.String(64)),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        schema=S,
    )
    op.create_index("ix_portfolio_sessions_user", "sessions", ["user_id"], schema=S)
    op.create_table(
        "invalidations",
        sa.Column("session_id", sa.Uuid, primary_key=True),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        schema=S,
    )
    op.create_index("ix_portfolio_invalidations_user", "invalidations", ["user_id"], schema=S)
    op.create_table(
        "erasures",
        sa.Column("user_hash", sa.String(64), primary_key=True),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=False),
        schema=S,
    )
    op.create_table(
        "items",
        sa.Column("item_id", sa.Uuid, primary_key=True),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("profiler_session_id", sa.Uuid, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("statement", sa.Text, nullable=False),
        sa.Column("track", sa.String(64), nullable=False),
        sa.Column("core_values", ARRAY(sa.Text), nullable=False),
        sa.Column("motivation", sa.Text, nullable=False),
        sa.Column("impact_goal", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True)),
        schema=S,
    )
    op.create_index("ix_portfolio_items_user", "items", ["user_id", "created_at"], schema=S)
    op.create_table(
        "current_statements",
        sa.Column("user_id", sa.String(64), primary_key=True),
        sa.Column("item_id", sa.Uuid, nullable=False),
        sa.Column("cohort_id", sa.String(64)),
        sa.Column("enterprise_id", sa.String(64)),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        schema=S,
    )
    op.create_table(
        "positions",
        sa.Column("topic", sa.String(255), primary_key=True),
        sa.Column("partition", sa.Integer, primary_key=True),
        sa.Column("next_offset", sa.BigInteger, nullable=False),
        sa.Column("last_event_at", sa.DateTime(timezone=True)),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        schema=S,
    )


def downgrade() -> None:
    op.execute(f"DROP SCHEMA IF EXISTS {S} CASCADE")
