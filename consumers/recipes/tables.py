"""Table set of the recipes projection (schema `recipes`).

The projection keeps each learner's current session as a profile and its skill scores one row
per skill; recommendations (gaps against the active catalog) and marketplace talent matches
are computed from these at read time.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Double,
    Index,
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

SCHEMA = "recipes"
metadata = MetaData()

# Valid completed sessions of each learner, with what a profile needs of them.
sessions = Table(
    "sessions",
    metadata,
    # Keyed by learner and session: session ids of different learners never meet.
    Column("user_id", String(64), primary_key=True),
    Column("session_id", Uuid, primary_key=True),
    Column("completed_at", DateTime(timezone=True), nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("track", String(64), nullable=False),
    Column("overall_score", Double, nullable=False),
    Column("recommended_level", String(16)),
    Column("cohort_id", String(64)),
    Column("enterprise_id", String(64)),
    Column("marketplace_opt_in", Boolean, nullable=False),
    Column("skill_scores", JSONB, nullable=False),
    schema=SCHEMA,
)

invalidations, erasures = lifecycle_tables(metadata, SCHEMA)

# The read model: one row per learner with a current session. No row means no profiler data.
profiles = Table(
    "profiles",
    metadata,
    Column("user_id", String(64), primary_key=True),
    Column("session_id", Uuid, nullable=False),
    Column("completed_at", DateTime(timezone=True), nullable=False),
    Column("track", String(64), nullable=False),
    Column("overall_score", Double, nullable=False),
    Column("recommended_level", String(16)),
    Column("difficulty", SmallInteger, nullable=False),
    Column("cohort_id", String(64)),
    Column("enterprise_id", String(64)),
    Column("marketplace_opt_in", Boolean, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    # Marketplace scoping: an enterprise admin's search touches their enterprise only.
    Index("ix_recipes_profiles_enterprise", "enterprise_id"),
    schema=SCHEMA,
)

# The current session's skill scores. Scores are exact decimals (as the event wrote them), so
# the marketplace ranks equal sums as ties whatever order PostgreSQL adds them in.
skill_scores = Table(
    "skill_scores",
    metadata,
    Column("user_id", String(64), primary_key=True),
    Column("skill", String(64), primary_key=True),
    Column("score", Numeric, nullable=False),
    Index("ix_recipes_skill_scores_skill_score", "skill", "score"),
    schema=SCHEMA,
)

positions = positions_table(metadata, SCHEMA)
