"""Table set of the analytics projection (schema `analytics`).

Per-learner state (sessions with the facts analytics needs, invalidations, erasures) and the
aggregates it is summarised into, so that a read touches one group's rows and never learners.
Groups with nothing left in them have no rows.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    Numeric,
    SmallInteger,
    String,
    Table,
    Uuid,
)
from sqlalchemy.dialects.postgresql import JSONB

from toolkit.lifecycle_store import lifecycle_tables
from toolkit.streaming.projection import positions_table

SCHEMA = "analytics"
metadata = MetaData()

# Completed sessions of each learner; invalidated ones stay (an invalidation may be retracted
# by an erasure) and are excluded by `invalidations`.
sessions = Table(
    "sessions",
    metadata,
    # Keyed by learner and session: session ids of different learners never meet.
    Column("user_id", String(64), primary_key=True),
    Column("session_id", Uuid, primary_key=True),
    Column("completed_at", DateTime(timezone=True), nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("cohort_id", String(64)),
    Column("enterprise_id", String(64)),
    Column("overall_score", Numeric, nullable=False),
    Column("difficulty", SmallInteger, nullable=False),
    Column("skill_scores", JSONB, nullable=False),  # skill -> score
    schema=SCHEMA,
)

invalidations, erasures = lifecycle_tables(metadata, SCHEMA)

# One row per cohort (scope `cohort`) and per enterprise (scope `enterprise`) that has a
# current learner or a valid session. Sums are exact (`numeric`), so deltas cancel exactly.
group_totals = Table(
    "group_totals",
    metadata,
    Column("scope", String(16), primary_key=True),
    Column("group_id", String(64), primary_key=True),
    Column("learners", Integer, nullable=False),
    Column("score_sum", Numeric, nullable=False),
    Column("difficulty_1", Integer, nullable=False),
    Column("difficulty_2", Integer, nullable=False),
    Column("difficulty_3", Integer, nullable=False),
    Column("difficulty_4", Integer, nullable=False),
    Column("difficulty_5", Integer, nullable=False),
    Column("sessions_completed", Integer, nullable=False),
    schema=SCHEMA,
)

# Per group and skill: the sum and number of scores of current sessions that have the skill.
group_skills = Table(
    "group_skills",
    metadata,
    Column("scope", String(16), primary_key=True),
    Column("group_id", String(64), primary_key=True),
    Column("skill", String(64), primary_key=True),
    Column("score_sum", Numeric, nullable=False),
    Column("scores", Integer, nullable=False),
    schema=SCHEMA,
)

# Current learners per (cohort, enterprise): which enterprise a cohort belongs to (RBAC) and
# the cohorts an enterprise's analytics list.
placements = Table(
    "placements",
    metadata,
    Column("cohort_id", String(64), primary_key=True),
    Column("enterprise_id", String(64), primary_key=True),
    Column("learners", Integer, nullable=False),
    Index("ix_analytics_placements_enterprise", "enterprise_id"),
    schema=SCHEMA,
)

positions = positions_table(metadata, SCHEMA)
