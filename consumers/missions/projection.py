"""Missions projection: each learner's mission difficulty from their current session."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncConnection

from consumers.missions import tables
from consumers.missions.decide import (
    Difficulty,
    SessionDifficulty,
    learner_difficulty,
    session_facts,
)
from schemas.registry import AnyEvent
from toolkit.lifecycle import LearnerState
from toolkit.lifecycle_store import LifecycleStore
from toolkit.streaming.bulk_fold import LearnerBulk
from toolkit.streaming.projection import LearnerProjection
from toolkit.streaming.setsql import any_of, insert_rows, unnest_insert

UPDATED_COLUMNS = (
    "difficulty", "session_id", "completed_at", "cohort_id", "enterprise_id", "updated_at"
)

_stmt = unnest_insert(tables.difficulty, ("user_id", *UPDATED_COLUMNS))
UPSERT_DIFFICULTY = _stmt.on_conflict_do_update(
    index_elements=["user_id"], set_={c: _stmt.excluded[c] for c in UPDATED_COLUMNS}
)


def difficulty_row(user_id: str, result: Difficulty, now: datetime) -> dict:
    """The read model's row of a learner with a current session (none without one)."""
    return {
        "user_id": user_id,
        "difficulty": result.difficulty,
        "session_id": result.session_id,
        "completed_at": result.completed_at,
        "cohort_id": result.cohort_id,
        "enterprise_id": result.enterprise_id,
        "updated_at": now,
    }


class MissionsBulk(LearnerBulk):
    def read_rows(self, user_id: str, state: LearnerState[SessionDifficulty], note: None) -> None:
        result = learner_difficulty(state)
        if result.session_id is not None:
            self.out.add(tables.difficulty, [difficulty_row(user_id, result, self.now)])


class MissionsProjection(LearnerProjection):
    name = "missions"
    metadata = tables.metadata
    positions = tables.positions

    def __init__(self, erasure_secret: bytes | None) -> None:
        # Settings.erasure_secret; None builds a projection for its name, topics and tables
        # only, which BatchApplier refuses.
        self.erasure_secret = erasure_secret
        self._store: LifecycleStore[SessionDifficulty] = LifecycleStore(
            tables.sessions,
            tables.invalidations,
            tables.erasures,
            facts_to_columns=lambda f: {
                "difficulty": f.difficulty, "cohort_id": f.cohort_id,
                "enterprise_id": f.enterprise_id,
            },
            columns_to_facts=lambda row: SessionDifficulty(
                row["difficulty"], row["cohort_id"], row["enterprise_id"]
            ),
            erasure_secret=erasure_secret,
        )

    session_facts = staticmethod(session_facts)

    def bulk(self, now: datetime) -> MissionsBulk:
        return MissionsBulk(self._store, now)

    async def apply(self, conn: AsyncConnection, events: Sequence[AnyEvent]) -> None:
        before, after = await self._store.fold_batch(conn, events, session_facts)

        now = datetime.now(UTC)
        upserts, removed = [], []
        for user_id, state in after.items():
            if state is before[user_id]:
                continue
            result = learner_difficulty(state)
            if result.session_id is None:
                removed.append(user_id)
            elif result != learner_difficulty(before[user_id]):
                upserts.append(difficulty_row(user_id, result, now))
        table = tables.difficulty
        if removed:
            await conn.execute(delete(table).where(any_of(table.c.user_id, removed)))
        await insert_rows(conn, UPSERT_DIFFICULTY, ("user_id", *UPDATED_COLUMNS), upserts,
                          last=True)  # apply's last statement: rides in the advance
