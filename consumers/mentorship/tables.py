"""Table set of the mentorship projection (schema `mentorship`)."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, DateTime, Index, MetaData, String, Table, Uuid
from sqlalchemy.dialects.postgresql import JSONB

from toolkit.lifecycle_store import lifecycle_tables
from toolkit.streaming.projection import positions_table

SCHEMA = "mentorship"
metadata = MetaData()

# Every completed session of each learner, valid or not, with all a mentor reads of it
# (`consumers.mentorship.decide.SessionDetails` as a document).
sessions = Table(
    "sessions",
    metadata,
    # Keyed by learner and session: session ids of different learners never meet.
    Column("user_id", String(64), primary_key=True),
    Column("session_id", Uuid, primary_key=True),
    Column("completed_at", DateTime(timezone=True), nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("facts", JSONB, nullable=False),
    schema=SCHEMA,
)

invalidations, erasures = lifecycle_tables(metadata, SCHEMA)

# Why and when each remembered invalidation happened: one row per row of `invalidations`.
invalidation_details = Table(
    "invalidation_details",
    metadata,
    Column("user_id", String(64), primary_key=True),
    Column("session_id", Uuid, primary_key=True),
    Column("reason", String(500), nullable=False),
    Column("invalidated_at", DateTime(timezone=True), nullable=False),
    schema=SCHEMA,
)

# The changes of each pair that may still win after an erasure (its front, see decide.py).
assignment_changes = Table(
    "assignment_changes",
    metadata,
    Column("mentor_id", String(64), primary_key=True),
    Column("mentee_id", String(64), primary_key=True),
    Column("changed_at", DateTime(timezone=True), primary_key=True),
    Column("active", Boolean, primary_key=True),
    Column("occurred_at", DateTime(timezone=True), primary_key=True),
    Index("ix_mentorship_assignment_changes_mentee", "mentee_id"),
    schema=SCHEMA,
)

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
