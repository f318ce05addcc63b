"""mentorship projection: sessions, invalidations, erasures, invalidation_details,
assignment_changes, assignments, positions

Revision ID: 0004_mentorship
Revises: 0001
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004_mentorship"
down_revision = "0001"
branch_labels = None
depends_on = None

S = "mentorship"


def upgrade() -> None:
    op.execute(f"CREATE SCHEMA IF NOT EXISTS {S}")
    op.create_table(
        "sessions",
        sa.Column("session_id", sa.Uuid, primary_key=True),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("facts", postgresql.JSONB, nullable=False),
        schema=S,
    )
    op.create_index("ix_mentorship_sessions_user", "sessions", ["user_id"], schema=S)
    op.create_table(
        "invalidations",
        sa.Column("session_id", sa.Uuid, primary_key=True),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        schema=S,
    )
    op.create_index("ix_mentorship_invalidations_user", "invalidations", ["user_id"], schema=S)
    op.create_table(
        "erasures",
        sa.Column("user_hash", sa.String(64), primary_key=True),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=False),
        schema=S,
    )
    op.create_table(
        "invalidation_details",
        sa.Column("session_id", sa.Uuid, primary_key=True),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("invalidated_at", sa.DateTime(timezone=True), nullable=False),
        schema=S,
    )
    op.create_index(
        "ix_mentorship_invalidation_details_user", "invalidation_details", ["user_id"], schema=S
    )
    op.create_table(
        "assignment_changes",
        sa.Column("mentor_id", sa.String(64), primary_key=True),
        sa.Column("mentee_id", sa.String(64), primary_key=True),
        sa.Column("changed_at", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("active", sa.Boolean, primary_key=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), primary_key=True),
        schema=S,
    )
    op.create_index(
        "ix_mentorship_assignment_changes_mentee", "assignment_changes", ["mentee_id"], schema=S
    )
    op.create_table(
        "assignments",
        sa.Column("mentor_id", sa.String(64), primary_key=True),
        sa.Column("mentee_id", sa.String(64), primary_key=True),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        schema=S,
    )
    op.create_index("ix_mentorship_assignments_mentee", "assignments", ["mentee_id"], schema=S)
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
