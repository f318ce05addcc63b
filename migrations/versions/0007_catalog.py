"""recipe catalogs loaded at run time

Revision ID: 0007_catalog
Revises: 0001
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0007_catalog"
down_revision = "0001"
branch_labels = None
depends_on = None

S = "hub_catalog"


def upgrade() -> None:
    op.execute(f"CREATE SCHEMA IF NOT EXISTS {S}")
    op.create_table(
        "catalogs",
        sa.Column("version", sa.String(64), primary_key=True),
        sa.Column("document", JSONB, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False, server_default="false"),
        sa.Column(
            "loaded_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        schema=S,
    )
    # At most one active catalog.
    op.create_index(
        "ux_catalogs_one_active", "catalogs", ["active"], unique=True, schema=S,
        postgresql_where=sa.text("active"),
    )


def downgrade() -> None:
    op.execute(f"DROP SCHEMA IF EXISTS {S} CASCADE")
