"""Table set of the portfolio projection (schema `portfolio`)."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Index, MetaData, String, Table, Text, Uuid
from sqlalchemy.dialects.postgresql import ARRAY

from toolkit.lifecycle_store import lifecycle_tables
from toolkit.streaming.projection import positions_table

SCHEMA = "portfolio"
metadata = MetaData()

# Completed sessions of each learner, valid or not (an invalidated one still has its
# withdrawn item): the cleaned answers the statement is made of, and the placement.
sessions = Table(
    "sessions",
    metadata,
    # Keyed by learner and session: session ids of different learners never meet.
    Column("user_id", String(64), primary_key=True),
    Column("session_id", Uuid, primary_key=True),
    Column("completed_at", DateTime(timezone=True), nullable=False),
    Column("track", String(64), nullable=False),
    Column("core_values", ARRAY(Text), nullable=False),
    Column("motivation", Text, nullable=False),
    Column("impact_goal", Text, nullable=False),
    Column("cohort_id", String(64)),
    Column("enterprise_id", String(64)),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    schema=SCHEMA,
)

invalidations, erasures = lifecycle_tables(metadata, SCHEMA)

# The read model: one value statement item per remembered session; `item_id` is derived
# from the session id, so the key itself makes it one item per session.
items = Table(
    "items",
    metadata,
    Column("item_id", Uuid, primary_key=True),
    Column("user_id", String(64), nullable=False),
    Column("profiler_session_id", Uuid, nullable=False),
    Column("title", Text, nullable=False),
    Column("statement", Text, nullable=False),
    Column("track", String(64), nullable=False),
    Column("core_values", ARRAY(Text), nullable=False),
    Column("motivation", Text, nullable=False),
    Column("impact_goal", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("withdrawn_at", DateTime(timezone=True)),
    Index("ix_portfolio_items_user", "user_id", "created_at"),
    schema=SCHEMA,
)

# The read model: which item is the learner's current value statement (no row: none yet),
# and where the current session places the learner for the read API's admin rules.
current_statements = Table(
    "current_statements",
    metadata,
    Column("user_id", String(64), primary_key=True),
    Column("item_id", Uuid, nullable=False),
    Column("cohort_id", String(64)),
    Column("enterprise_id", String(64)),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    schema=SCHEMA,
)

positions = positions_table(metadata, SCHEMA)
