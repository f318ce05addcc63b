"""analytics projection: sessions, invalidations, erasures, group totals, group skills,
placements, positions

Revision ID: 0005_analytics
Revises: 0001
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0005_analytics"
down_revision = "0001"
branch_labels = None
depends_on = None

S = "analytics"


def upgrade() -> None:
    op.execute(f"CREATE SCHEMA IF NOT EXISTS {S}")
    op.create_table(
        "sessions",
        sa.Column("session_id", sa.Uuid, primary_key=True),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cohort_id", sa.String(64)),
        sa.Column("enterprise_id", sa.String(64)),
        sa.Column("overall_score", sa.Numeric, nullable=False),
        sa.Column("difficulty", sa.SmallInteger, nullable=False),
        sa.Column("skill_scores", JSONB, nullable=False),
        schema=S,
    )
    op.create_index("ix_analytics_sessions_user", "sessions", ["user_id"], schema=S)
    op.create_table(
        "invalidations",
        sa.Column("session_id", sa.Uuid, primary_key=True),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        schema=S,
    )
    op.create_index("ix_analytics_invalidations_user", "invalidations", ["user_id"], schema=S)
    op.create_table(
        "erasures",
        sa.Column("user_hash", sa.String(64), primary_key=True),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=False),
        schema=S,
    )
    op.create_table(
        "group_totals",
        sa.Column("scope", sa.String(16), primary_key=True),
        sa.Column("group_id", sa.String(64), primary_key=True),
        sa.Column("learners", sa.Integer, nullable=False),
        sa.Column("score_sum", sa.Numeric, nullable=False),
        sa.Column("difficulty_1", sa.Integer, nullable=False),
        sa.Column("difficulty_2", sa.Integer, nullable=False),
        sa.Column("difficulty_3", sa.Integer, nullable=False),
        sa.Column("difficulty_4", sa.Integer, nullable=False),
        sa.Column("difficulty_5", sa.Integer, nullable=False),
        sa.Column("sessions_completed", sa.Integer, nullable=False),
        schema=S,
    )
    op.create_table(
        "group_skills",
        sa.Column("scope", sa.String(16), primary_key=True),
        sa.Column("group_id", sa.String(64), primary_key=True),
        sa.Column("skill", sa.String(64), primary_key=True),
        sa.Column("score_sum", sa.Numeric, nullable=False),
        sa.Column("scores", sa.Integer, nullable=False),
        schema=S,
    )
    op.create_table(
        "placements",
        sa.Column("cohort_id", sa.String(64), primary_key=True),
        sa.Column("enterprise_id", sa.String(64), primary_key=True),
        sa.Column("learners", sa.Integer, nullable=False),
        schema=S,
    )
    op.create_index(
        "ix_analytics_placements_enterprise", "placements", ["enterprise_id"], schema=S
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
