"""Mentorship projection: mentor assignments and each learner's full session history.

Consumes both topics. A batch applies its profiler events first (the learner lifecycle, which
records erasures), then the assignment changes against every erasure known by then, so
whatever the interleaving of the two topics the result is the same.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from uuid import UUID

from sqlalchemy import delete, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection

from consumers.mentorship import tables
from consumers.mentorship.decide import (
    Change,
    Front,
    Invalidation,
    Pair,
    SessionDetails,
    assignments_after,
    invalidation_changes,
    session_facts,
    winner,
)
from schemas.registry import CURRENT, AnyEvent, MentorshipAssignmentChanged
from toolkit.lifecycle import LearnerState
from toolkit.lifecycle_store import SESSION_KEY, LifecycleStore, delete_pairs
from toolkit.settings import Settings
from toolkit.streaming.bulk_fold import LearnerBulk
from toolkit.streaming.grouping import by_learner
from toolkit.streaming.setsql import any_of, insert_rows, unnest_insert

DETAIL_COLUMNS = ("user_id", "session_id", "reason", "invalidated_at")
_details = unnest_insert(tables.invalidation_details, DETAIL_COLUMNS)
UPSERT_DETAILS = _details.on_conflict_do_update(
    index_elements=list(SESSION_KEY),
    set_={"reason": _details.excluded.reason, "invalidated_at": _details.excluded.invalidated_at},
)
CHANGE_COLUMNS = ("mentor_id", "mentee_id", "changed_at", "active", "occurred_at")
INSERT_CHANGES = unnest_insert(tables.assignment_changes, CHANGE_COLUMNS).on_conflict_do_nothing()
ASSIGNMENT_COLUMNS = ("mentor_id", "mentee_id", "active", "changed_at")
_assignments = unnest_insert(tables.assignments, ASSIGNMENT_COLUMNS)
UPSERT_ASSIGNMENTS = _assignments.on_conflict_do_update(
    index_elements=["mentor_id", "mentee_id"],
    set_={"active": _assignments.excluded.active,
          "changed_at": _assignments.excluded.changed_at},
)


def detail_row(user_id: str, session_id: UUID, invalidation: Invalidation) -> dict:
    return {"session_id": session_id, "user_id": user_id, "reason": invalidation.reason,
            "invalidated_at": invalidation.invalidated_at}


def observe_invalidations(
    note: dict[UUID, Invalidation] | None, events: Sequence[AnyEvent],
    before: LearnerState, after: LearnerState,
) -> dict[UUID, Invalidation]:
    """The learner's invalidation details after a batch of their events: the same
    `invalidation_changes` the live path writes, kept in memory by the bulk path."""
    taken, dropped = invalidation_changes(events, before, after)
    details = {sid: i for sid, i in (note or {}).items() if sid not in dropped}
    details.update(taken)
    return details


class MentorshipBulk(LearnerBulk):
    def read_rows(
        self, user_id: str, state: LearnerState[SessionDetails],
        note: dict[UUID, Invalidation] | None,
    ) -> None:
        if note:
            self.out.add(tables.invalidation_details,
                         [detail_row(user_id, sid, i) for sid, i in note.items()])

    def finish(self, others: Sequence[AnyEvent], erased_at: Mapping[str, datetime]) -> None:
        changes = [e for e in others if isinstance(e, MentorshipAssignmentChanged)]
        fronts = assignments_after({}, erased_at, changes)
        self.out.add(tables.assignment_changes, [
            {"mentor_id": pair[0], "mentee_id": pair[1], "changed_at": c.changed_at,
             "active": c.active, "occurred_at": c.occurred_at}
            for pair, front in sorted(fronts.items()) for c in front
        ])
        self.out.add(tables.assignments, [
            {"mentor_id": pair[0], "mentee_id": pair[1], "active": w.active,
             "changed_at": w.changed_at}
            for pair, front in sorted(fronts.items()) if (w := winner(front)) is not None
        ])


class MentorshipProjection:
    name = "mentorship"
    metadata = tables.metadata
    positions = tables.positions

    def __init__(self, erasure_secret: bytes | None) -> None:
        # Settings.erasure_secret; None builds a projection for its name, topics and tables
        # only, which BatchApplier refuses.
        self.erasure_secret = erasure_secret
        self._store: LifecycleStore[SessionDetails] = LifecycleStore(
            tables.sessions,
            tables.invalidations,
            tables.erasures,
            facts_to_columns=lambda f: {"facts": f.to_document()},
            columns_to_facts=lambda row: SessionDetails.from_document(row["facts"]),
            erasure_secret=erasure_secret,
        )

    # All four: sessions, invalidations, erasures and assignment changes.
    event_types = frozenset(CURRENT)
    session_facts = staticmethod(session_facts)
    bulk_observe = staticmethod(observe_invalidations)

    def topics(self, settings: Settings) -> list[str]:
        return [settings.profiler_topic, settings.mentorship_topic]

    def accepts(self, event: AnyEvent) -> bool:
        return event.event_type in self.event_types

    def bulk(self, now: datetime) -> MentorshipBulk:
        return MentorshipBulk(self._store, now)

    async def apply(self, conn: AsyncConnection, events: Sequence[AnyEvent]) -> None:
        changes = [e for e in events if isinstance(e, MentorshipAssignmentChanged)]
        profiler = [e for e in events if not isinstance(e, MentorshipAssignmentChanged)]
        erased = await self._apply_profiler(conn, profiler) if profiler else set()
        if changes or erased:
            await self._apply_assignments(conn, changes, erased)

    async def _apply_profiler(
        self, conn: AsyncConnection, events: Sequence[AnyEvent]
    ) -> set[str]:
        """Sessions, invalidations and erasures; returns the learners erased by this batch."""
        before, after = await self._store.fold_batch(conn, events, session_facts)

        details, gone = [], []
        for user_id, evs in by_learner(events).items():
            if after[user_id] is before[user_id]:
                continue
            taken, dropped = invalidation_changes(evs, before[user_id], after[user_id])
            details += [detail_row(user_id, sid, i) for sid, i in taken.items()]
            gone += [(user_id, sid) for sid in dropped]
        await delete_pairs(conn, tables.invalidation_details, gone)
        await insert_rows(conn, UPSERT_DETAILS, DETAIL_COLUMNS, details, unique=SESSION_KEY)
        return {u for u in after if after[u].erased_at != before[u].erased_at}

    async def _apply_assignments(
        self, conn: AsyncConnection, changes: list[MentorshipAssignmentChanged],
        erased: set[str],
    ) -> None:
        before = await self._load_fronts(conn, {e.data.mentee_id for e in changes}, erased)
        people = {p for pair in before for p in pair}
        people |= {p for e in changes for p in (e.data.mentor_id, e.data.mentee_id)}
        after = assignments_after(before, await self._erasures(conn, people), changes)

        empty: Front = frozenset()
        stale = [
            (*pair, c.changed_at, c.active, c.occurred_at)
            for pair, front in before.items() for c in front - after[pair]
        ]
        fresh = [
            {"mentor_id": pair[0], "mentee_id": pair[1], "changed_at": c.changed_at,
             "active": c.active, "occurred_at": c.occurred_at}
            for pair, front in after.items() for c in front - before.get(pair, empty)
        ]
        upserts, removed = [], []
        for pair, front in after.items():
            new, old = winner(front), winner(before.get(pair, empty))
            if new is None:
                if old is not None:
                    removed.append(pair)
            elif old is None or (new.active, new.changed_at) != (old.active, old.changed_at):
                upserts.append({"mentor_id": pair[0], "mentee_id": pair[1],
                                "active": new.active, "changed_at": new.changed_at})

        ac = tables.assignment_changes
        if stale:
            key = tuple_(ac.c.mentor_id, ac.c.mentee_id, ac.c.changed_at, ac.c.active,
                         ac.c.occurred_at)
            await conn.execute(delete(ac).where(key.in_(stale)))
        await insert_rows(conn, INSERT_CHANGES, CHANGE_COLUMNS, fresh)
        a = tables.assignments
        if removed:
            await conn.execute(delete(a).where(tuple_(a.c.mentor_id, a.c.mentee_id).in_(removed)))
        await insert_rows(conn, UPSERT_ASSIGNMENTS, ASSIGNMENT_COLUMNS, upserts)

    @staticmethod
    async def _load_fronts(
        conn: AsyncConnection, mentees: Collection[str], erased: Collection[str]
    ) -> dict[Pair, Front]:
        """Stored fronts of the changed mentees' pairs and of every pair of an erased person."""
        ac = tables.assignment_changes
        rows = await conn.execute(
            select(ac).where(
                or_(any_of(ac.c.mentee_id, [*mentees, *erased]), any_of(ac.c.mentor_id, erased))
            )
        )
        fronts: dict[Pair, set[Change]] = {}
        for row in rows.mappings():
            fronts.setdefault((row["mentor_id"], row["mentee_id"]), set()).add(
                Change(row["changed_at"], row["active"], row["occurred_at"])
            )
        return {pair: frozenset(front) for pair, front in fronts.items()}

    async def _erasures(
        self, conn: AsyncConnection, people: Collection[str]
    ) -> dict[str, datetime]:
        """Latest erasure of each of these people (the lifecycle's table, this batch's too)."""
        keys = {self._store.erasure_key(p): p for p in people}
        er = tables.erasures
        rows = await conn.execute(
            select(er.c.user_hash, er.c.erased_at).where(any_of(er.c.user_hash, keys))
        )
        return {keys[h]: at for h, at in rows}
