"""recipes projection: sessions, invalidations, erasures, profiles, skill scores, positions

Revision ID: 0002_recipes
Revises: 0001
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0002_recipes"
down_revision = "0001"
branch_labels = None
depends_on = None

S = "recipes"


def upgrade() -> None:
    op.execute(f"CREATE SCHEMA IF NOT EXISTS {S}")
    op.create_table(
        "sessions",
        sa.Column("session_id", sa.Uuid, primary_key=True),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("track", sa.String(64), nullable=False),
        sa.Column("overall_score", sa.Double, nullable=False),
        sa.Column("recommended_level", sa.String(16)),
        sa.Column("cohort_id", sa.String(64)),
        sa.Column("enterprise_id", sa.String(64)),
        sa.Column("marketplace_opt_in", sa.Boolean, nullable=False),
        sa.Column("skill_scores", JSONB, nullable=False),
        schema=S,
    )
    op.create_index("ix_recipes_sessions_user", "sessions", ["user_id"], schema=S)
    op.create_table(
        "invalidations",
        sa.Column("session_id", sa.Uuid, primary_key=True),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        schema=S,
    )
    op.create_index("ix_recipes_invalidations_user", "invalidations", ["user_id"], schema=S)
    op.create_table(
        "erasures",
        sa.Column("user_hash", sa.String(64), primary_key=True),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=False),
        schema=S,
    )
    op.create_table(
        "profiles",
        sa.Column("user_id", sa.String(64), primary_key=True),
        sa.Column("session_id", sa.Uuid, nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("track", sa.String(64), nullable=False),
        sa.Column("overall_score", sa.Double, nullable=False),
        sa.Column("recommended_level", sa.String(16)),
        sa.Column("difficulty", sa.SmallInteger, nullable=False),
        sa.Column("cohort_id", sa.String(64)),
        sa.Column("enterprise_id", sa.String(64)),
        sa.Column("marketplace_opt_in", sa.Boolean, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        schema=S,
    )
    op.create_index("ix_recipes_profiles_enterprise", "profiles", ["enterprise_id"], schema=S)
    op.create_table(
        "skill_scores",
        sa.Column("user_id", sa.String(64), primary_key=True),
        sa.Column("skill", sa.String(64), primary_key=True),
        sa.Column("score", sa.Numeric, nullable=False),
        schema=S,
    )
    op.create_index(
        "ix_recipes_skill_scores_skill_score", "skill_scores", ["skill", "score"], schema=S
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
