"""Analytics projection: per-learner state and the cohort / enterprise aggregates it feeds.

Each batch loads its learners' states, folds the events, saves the states, and applies the
difference of the learners' contributions to the aggregate tables with one upsert per table
(`x = x + excluded.x`) and one delete of what became empty, in the batch's transaction.
Rows go in key order, so concurrent workers lock shared group rows in the same order.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table, delete, tuple_
from sqlalchemy.dialects.postgresql import Insert
from sqlalchemy.ext.asyncio import AsyncConnection

from consumers.analytics import tables
from consumers.analytics.decide import (
    DIFFICULTIES,
    Aggregates,
    Contributions,
    SessionContribution,
    batch_change,
    session_facts,
)
from schemas.registry import AnyEvent
from toolkit.decimals import exact
from toolkit.lifecycle import LearnerState
from toolkit.lifecycle_store import LifecycleStore
from toolkit.streaming.bulk_fold import LearnerBulk
from toolkit.streaming.projection import LearnerProjection
from toolkit.streaming.setsql import insert_rows, unnest_insert

DIFFICULTY_COLUMNS = tuple(f"difficulty_{d}" for d in DIFFICULTIES)


def _facts_to_columns(facts: SessionContribution) -> dict[str, Any]:
    return {
        "cohort_id": facts.cohort_id,
        "enterprise_id": facts.enterprise_id,
        "overall_score": facts.overall_score,
        "difficulty": facts.difficulty,
        # JSON numbers are written in their shortest form, which `exact` reads back.
        "skill_scores": {skill: float(score) for skill, score in facts.skill_scores},
    }


def _columns_to_facts(row) -> SessionContribution:
    return SessionContribution(
        row["cohort_id"],
        row["enterprise_id"],
        row["overall_score"],
        row["difficulty"],
        tuple(sorted((skill, exact(score)) for skill, score in row["skill_scores"].items())),
    )


class AnalyticsBulk(LearnerBulk):
    """Aggregates straight from the final states: every learner's contribution summed once
    (exact decimals, as the incremental deltas are), instead of a delta per batch."""

    def __init__(self, store: LifecycleStore[SessionContribution], now: datetime) -> None:
        super().__init__(store, now)
        self._sums = Contributions()

    def read_rows(self, user_id: str, state: LearnerState[SessionContribution], note: None) -> None:
        self._sums.contribute(state, 1)

    def finish(self, others: Sequence[AnyEvent], erased_at: Mapping[str, datetime]) -> None:
        for table, rows in aggregate_rows(self._sums.aggregates()).items():
            self.out.add(table, rows)


class AnalyticsProjection(LearnerProjection):
    name = "analytics"
    metadata = tables.metadata
    positions = tables.positions

    def __init__(self, erasure_secret: bytes | None) -> None:
        # Settings.erasure_secret; None builds a projection for its name, topics and tables
        # only, which BatchApplier refuses.
        self.erasure_secret = erasure_secret
        self._store: LifecycleStore[SessionContribution] = LifecycleStore(
            tables.sessions, tables.invalidations, tables.erasures,
            facts_to_columns=_facts_to_columns, columns_to_facts=_columns_to_facts,
            erasure_secret=erasure_secret,
        )

    session_facts = staticmethod(session_facts)

    def bulk(self, now: datetime) -> AnalyticsBulk:
        return AnalyticsBulk(self._store, now)

    async def apply(self, conn: AsyncConnection, events: Sequence[AnyEvent]) -> None:
        before, after = await self._store.fold_batch(conn, events, session_facts)
        await write_change(conn, batch_change((before[u], after[u]) for u in after))


def aggregate_rows(change: Aggregates) -> dict[Table, list[dict[str, Any]]]:
    """The aggregate tables' rows of a change (or of absolute sums), in key order."""
    return {
        tables.group_totals: [
            {"scope": scope, "group_id": group_id, "learners": t.learners,
             "score_sum": t.score_sum, "sessions_completed": t.sessions_completed,
             **dict(zip(DIFFICULTY_COLUMNS, t.difficulty, strict=True))}
            for (scope, group_id), t in sorted(change.totals.items())
        ],
        tables.group_skills: [
            {"scope": scope, "group_id": group_id, "skill": skill,
             "score_sum": s.score_sum, "scores": s.scores}
            for ((scope, group_id), skill), s in sorted(change.skills.items())
        ],
        tables.placements: [
            {"cohort_id": cohort_id, "enterprise_id": enterprise_id, "learners": n}
            for (cohort_id, enterprise_id), n in sorted(change.placements.items())
        ],
    }


AGGREGATE_KEYS = {
    tables.group_totals: (("scope", "group_id"), ("learners", "sessions_completed")),
    tables.group_skills: (("scope", "group_id", "skill"), ("scores",)),
    tables.placements: (("cohort_id", "enterprise_id"), ("learners",)),
}


async def write_change(conn: AsyncConnection, change: Aggregates) -> None:
    """Add a change to the aggregate tables and drop the rows left empty."""
    for table, rows in aggregate_rows(change).items():
        keys, counts = AGGREGATE_KEYS[table]
        await _add(conn, table, rows, keys=keys, counts=counts)


@functools.cache
def _adding_upsert(table: Table, keys: tuple[str, ...]) -> Insert:
    stmt = unnest_insert(table, [c.name for c in table.columns])
    others = [c.name for c in table.columns if c.name not in keys]
    return stmt.on_conflict_do_update(
        index_elements=list(keys), set_={c: table.c[c] + stmt.excluded[c] for c in others}
    )


async def _add(
    conn: AsyncConnection,
    table: Table,
    rows: list[dict[str, Any]],
    *,
    keys: tuple[str, ...],
    counts: tuple[str, ...],
) -> None:
    """Upsert `x = x + excluded.x` for every other column; then delete the rows whose
    `counts` all reached zero (only rows whose change lowered a count can have)."""
    if not rows:
        return
    await insert_rows(conn, _adding_upsert(table, keys), [c.name for c in table.columns], rows)
    shrunk = [tuple(r[k] for k in keys) for r in rows if any(r[c] < 0 for c in counts)]
    if shrunk:
        await conn.execute(
            delete(table).where(
                tuple_(*(table.c[k] for k in keys)).in_(shrunk),
                *(table.c[c] == 0 for c in counts),
            )
        )
