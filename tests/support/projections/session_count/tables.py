"""Table set of the session-count projection (schema `session_count`)."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, Uuid

from toolkit.lifecycle_store import lifecycle_tables
from toolkit.streaming.projection import positions_table

SCHEMA = "session_count"
metadata = MetaData()

# Completed sessions (the lifecycle store's), with what the count's row needs of each.
sessions = Table(
    "sessions",
    metadata,
    Column("user_id", String(64), primary_key=True),
    Column("session_id", Uuid, primary_key=True),
    Column("completed_at", DateTime(timezone=True), nullable=False),
    Column("cohort_id", String(64)),
    Column("enterprise_id", String(64)),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    schema=SCHEMA,
)

invalidations, erasures = lifecycle_tables(metadata, SCHEMA)

# The read model: one row per learner with a valid session; no row means none.
counts = Table(
    "counts",
    metadata,
    Column("user_id", String(64), primary_key=True),
    Column("sessions", Integer, nullable=False),
    Column("latest_completed_at", DateTime(timezone=True), nullable=False),
    # The current session's placement: the read's access rule needs it.
    Column("cohort_id", String(64)),
    Column("enterprise_id", String(64)),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    schema=SCHEMA,
)

positions = positions_table(metadata, SCHEMA)
