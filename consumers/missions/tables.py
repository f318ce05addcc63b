"""Table set of the missions projection (schema `missions`)."""

from __future__ import annotations

from sqlalchemy import (
    Column,
    DateTime,
    Index,
    MetaData,
    SmallInteger,
    String,
    Table,
    Uuid,
)

from toolkit.lifecycle_store import lifecycle_tables
from toolkit.streaming.projection import positions_table

SCHEMA = "missions"
metadata = MetaData()

# Valid completed sessions of each learner (only what the difficulty rule needs).
sessions = Table(
    "sessions",
    metadata,
    # Keyed by learner and session: session ids of different learners never meet.
    Column("user_id", String(64), primary_key=True),
    Column("session_id", Uuid, primary_key=True),
    Column("completed_at", DateTime(timezone=True), nullable=False),
    Column("difficulty", SmallInteger, nullable=False),
    Column("cohort_id", String(64)),
    Column("enterprise_id", String(64)),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    schema=SCHEMA,
)

invalidations, erasures = lifecycle_tables(metadata, SCHEMA)

# The read model: one row per learner with a current session. No row means difficulty 1,
# source `default`.
difficulty = Table(
    "difficulty",
    metadata,
    Column("user_id", String(64), primary_key=True),
    Column("difficulty", SmallInteger, nullable=False),
    Column("session_id", Uuid, nullable=False),
    Column("completed_at", DateTime(timezone=True), nullable=False),
    # Where the current session places the learner; the read API's admin rules need it.
    Column("cohort_id", String(64)),
    Column("enterprise_id", String(64)),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_missions_difficulty_level", "difficulty"),
    schema=SCHEMA,
)

positions = positions_table(metadata, SCHEMA)
