"""Session-count projection: the seam the live and bulk paths call
(toolkit/streaming/projection.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncConnection

from schemas.registry import AnyEvent
from tests.support.projections.session_count import tables
from tests.support.projections.session_count.decide import (
    Count,
    Placement,
    learner_count,
    session_facts,
)
from toolkit.lifecycle import LearnerState
from toolkit.lifecycle_store import LifecycleStore
from toolkit.streaming.bulk_fold import LearnerBulk
from toolkit.streaming.projection import LearnerProjection
from toolkit.streaming.setsql import any_of, insert_rows, unnest_insert

COLUMNS = ("user_id", "sessions", "latest_completed_at", "cohort_id", "enterprise_id",
           "updated_at")
_stmt = unnest_insert(tables.counts, COLUMNS)
UPSERT_COUNT = _stmt.on_conflict_do_update(
    index_elements=["user_id"], set_={c: _stmt.excluded[c] for c in COLUMNS[1:]})


def count_row(user_id: str, count: Count, now: datetime) -> dict:
    return {"user_id": user_id, "sessions": count.sessions,
            "latest_completed_at": count.latest_completed_at, "cohort_id": count.cohort_id,
            "enterprise_id": count.enterprise_id, "updated_at": now}


class SessionCountBulk(LearnerBulk):
    def read_rows(self, user_id: str, state: LearnerState[Placement], note: None) -> None:
        count = learner_count(state)
        if count is not None:
            self.out.add(tables.counts, [count_row(user_id, count, self.now)])


class SessionCountProjection(LearnerProjection):
    name = "session_count"
    metadata = tables.metadata
    positions = tables.positions

    def __init__(self, erasure_secret: bytes | None) -> None:
        self.erasure_secret = erasure_secret
        self._store: LifecycleStore[Placement] = LifecycleStore(
            tables.sessions, tables.invalidations, tables.erasures,
            facts_to_columns=lambda f: {"cohort_id": f.cohort_id,
                                        "enterprise_id": f.enterprise_id},
            columns_to_facts=lambda row: Placement(row["cohort_id"], row["enterprise_id"]),
            erasure_secret=erasure_secret,
        )

    session_facts = staticmethod(session_facts)

    def bulk(self, now: datetime) -> SessionCountBulk:
        return SessionCountBulk(self._store, now)

    async def apply(self, conn: AsyncConnection, events: Sequence[AnyEvent]) -> None:
        before, after = await self._store.fold_batch(conn, events, session_facts)
        now = datetime.now(UTC)
        upserts, removed = [], []
        for user_id, state in after.items():
            if state is before[user_id]:
                continue
            count = learner_count(state)
            if count is None:
                removed.append(user_id)
            elif count != learner_count(before[user_id]):
                upserts.append(count_row(user_id, count, now))
        if removed:
            await conn.execute(delete(tables.counts).where(
                any_of(tables.counts.c.user_id, removed)))
        await insert_rows(conn, UPSERT_COUNT, COLUMNS, upserts)
