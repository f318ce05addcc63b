"""Table set of the mentorship projection (schema `mentorship`)."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, DateTime, Index, MetaData, String, Table

from hub.streaming.projection import positions_table

SCHEMA = "mentorship"
metadata = MetaData()

# The newest `changed_at` per (mentor, mentee) wins; the read API's RBAC reads `active`.
assignments = Table(
    "assignments",
    metadata,
    Column("mentor_id", String(64), primary_key=True),
    Column("mentee_id", String(64), primary_key=True),
    Column("active", Boolean, nullable=False),
    Column("changed_at", DateTime(timezone=True), nullable=False),
    Index("ix_mentorship_assignments_mentee", "mentee_id"),
    schema=SCHEMA,
)

positions = positions_table(metadata, SCHEMA)
