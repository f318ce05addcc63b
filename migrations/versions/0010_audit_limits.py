"""audit trail bounds: capped resource, suppressed count, index for pruning by age

Revision ID: 0010
Revises: 0006_audit
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0006_audit"  # the audit branch
branch_labels = None
depends_on = None

S = "hub_audit"
MAX_RESOURCE_CHARS = 1024
KEEP = MAX_RESOURCE_CHARS - 32  # as toolkit.web.audit.capped: head, then "…[+N chars]"


def upgrade() -> None:
    # Rows written before the cap (up to ~125 KB each) are cut the way new ones are.
    op.execute(
        f"UPDATE {S}.access_denials SET resource = left(resource, {KEEP}) || '…[+' "
        f"|| (length(resource) - {KEEP}) || ' chars]' "
        f"WHERE length(resource) > {MAX_RESOURCE_CHARS}"
    )
    op.alter_column("access_denials", "resource", schema=S, type_=sa.String(MAX_RESOURCE_CHARS),
                    existing_type=sa.Text, existing_nullable=False)
    op.add_column("access_denials",
                  sa.Column("suppressed", sa.Integer, nullable=False, server_default="0"),
                  schema=S)
    op.create_index("ix_access_denials_at", "access_denials", ["at"], schema=S)


def downgrade() -> None:
    op.drop_index("ix_access_denials_at", "access_denials", schema=S)
    op.drop_column("access_denials", "suppressed", schema=S)
    op.alter_column("access_denials", "resource", schema=S, type_=sa.Text,
                    existing_type=sa.String(MAX_RESOURCE_CHARS), existing_nullable=False)
