"""Persists `toolkit.lifecycle.LearnerState` in a projection's own table set.

A projection supplies its sessions table (user_id, session_id, completed_at, occurred_at and
its own fact columns) and how facts map to columns; invalidations and erasures tables have
the same shape in every projection (`lifecycle_tables`). Sessions and invalidations are keyed
by `(user_id, session_id)`: one learner's rows are never another's, even when two learners'
events name the same session id (see `toolkit.lifecycle`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Generic, Protocol

from sqlalchemy import (
    ARRAY,
    Column,
    DateTime,
    Delete,
    MetaData,
    String,
    Table,
    Uuid,
    any_,
    bindparam,
    cast,
    delete,
    func,
    literal,
    null,
    select,
    tuple_,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from schemas.registry import AnyEvent
from schemas.session_completed import SessionCompletedV1
from toolkit.lifecycle import FactsT, LearnerState, Session, erasure_key, fold
from toolkit.streaming import direct
from toolkit.streaming.grouping import by_learner
from toolkit.streaming.setsql import insert_rows, unnest_insert


class ColumnsRow(Protocol):
    """A stored sessions row read by column name (an asyncpg record on the live path)."""

    def __getitem__(self, column: str, /) -> Any: ...


def lifecycle_tables(metadata: MetaData, schema: str) -> tuple[Table, Table]:
    invalidations = Table(
        "invalidations",
        metadata,
        # user_id first: the primary key's index also serves loading a learner's rows.
        Column("user_id", String(64), primary_key=True),
        Column("session_id", Uuid, primary_key=True),
        Column("occurred_at", DateTime(timezone=True), nullable=False),
        schema=schema,
    )
    # Erased learners by a keyed one-way hash of their id (`erasure_key`): enough to ignore
    # their older events without keeping the id itself.
    erasures = Table(
        "erasures",
        metadata,
        Column("user_hash", String(64), primary_key=True),
        Column("erased_at", DateTime(timezone=True), nullable=False),
        schema=schema,
    )
    return invalidations, erasures


INVALIDATION_COLUMNS = ("user_id", "session_id", "occurred_at")
ERASURE_COLUMNS = ("user_hash", "erased_at")
SESSION_KEY = ("user_id", "session_id")


async def delete_pairs(
    conn: AsyncConnection, table: Table, pairs: Sequence[tuple[str, Any]]
) -> None:
    """Delete the rows keyed by these (user_id, session_id) pairs: two arrays through
    `unnest`, so a bulk batch's erasures stay one statement of two parameters."""
    if not pairs:
        return
    await direct.run(conn, _delete_pairs(table), {
        "pair_users": [u for u, _ in pairs], "pair_sessions": [s for _, s in pairs],
    })


@functools.cache
def _delete_pairs(table: Table) -> Delete:
    users = bindparam("pair_users", type_=ARRAY(table.c.user_id.type))
    sessions = bindparam("pair_sessions", type_=ARRAY(table.c.session_id.type))
    gone = func.unnest(users, sessions).table_valued("user_id", "session_id").render_derived()
    key = tuple_(table.c.user_id, table.c.session_id)
    return delete(table).where(key.in_(select(gone.c.user_id, gone.c.session_id)))


class LifecycleStore(Generic[FactsT]):
    def __init__(
        self,
        sessions: Table,
        invalidations: Table,
        erasures: Table,
        facts_to_columns: Callable[[FactsT], dict[str, Any]],
        columns_to_facts: Callable[[ColumnsRow], FactsT],
        *,
        erasure_secret: bytes | None,
    ) -> None:
        # The key comes from settings through the projection's constructor; a store built
        # without one (a projection used only for its name or tables) refuses to touch data.
        self._erasure_secret = erasure_secret
        self.sessions = sessions
        self.invalidations = invalidations
        self.erasures = erasures
        self._to_columns = facts_to_columns
        self._to_facts = columns_to_facts
        self._session_columns = tuple(c.name for c in sessions.columns)
        self._insert_sessions = unnest_insert(
            sessions, self._session_columns
        ).on_conflict_do_nothing()
        stmt = unnest_insert(invalidations, INVALIDATION_COLUMNS)
        # The batch's folded state is authoritative (it was loaded under the partition's
        # position lock): a later invalidation of the session replaces the stored time (the
        # lifecycle remembers the latest), so the stored time is overwritten.
        self._upsert_invalidations = stmt.on_conflict_do_update(
            index_elements=list(SESSION_KEY),
            set_={"occurred_at": stmt.excluded.occurred_at},
        )
        stmt = unnest_insert(erasures, ERASURE_COLUMNS)
        self._upsert_erasures = stmt.on_conflict_do_update(
            index_elements=["user_hash"], set_={"erased_at": stmt.excluded.erased_at}
        )
        # Loading a batch's learners is one statement (one round trip): their sessions, their
        # invalidations and their erasures as one union, told apart by `kind`. The sessions
        # part carries the table's own columns; the marks part fills them with NULLs and
        # carries its key and time in three trailing columns. Built once with named
        # parameters, so every batch reuses SQLAlchemy's cache key and compiled statement.
        users = bindparam("users", type_=ARRAY(sessions.c.user_id.type))
        hashes = bindparam("hashes", type_=ARRAY(erasures.c.user_hash.type))
        inv = invalidations
        no_session = [cast(null(), c.type).label(c.name) for c in sessions.columns]
        self._select_state = union_all(
            select(literal("s").label("kind"), *sessions.columns,
                   cast(null(), inv.c.user_id.type).label("mark_key"),
                   cast(null(), inv.c.session_id.type).label("mark_session_id"),
                   cast(null(), inv.c.occurred_at.type).label("mark_at"))
            .where(sessions.c.user_id == any_(users)),
            select(literal("i"), *no_session, inv.c.user_id, inv.c.session_id,
                   inv.c.occurred_at)
            .where(inv.c.user_id == any_(users)),
            select(literal("e"), *no_session, erasures.c.user_hash,
                   cast(null(), inv.c.session_id.type), erasures.c.erased_at)
            .where(erasures.c.user_hash == any_(hashes)),
        )

    def erasure_key(self, user_id: str) -> str:
        if self._erasure_secret is None:
            raise RuntimeError(
                "projection built without an erasure key; pass it Settings.erasure_secret"
            )
        return erasure_key(user_id, self._erasure_secret)

    def session_row(self, user_id: str, session: Session[FactsT]) -> dict[str, Any]:
        """The sessions row of one remembered session (the bulk path writes these by COPY)."""
        return {
            "session_id": session.session_id,
            "user_id": user_id,
            "completed_at": session.completed_at,
            "occurred_at": session.occurred_at,
            **self._to_columns(session.facts),
        }

    async def load(
        self, conn: AsyncConnection, user_ids: Iterable[str]
    ) -> dict[str, LearnerState[FactsT]]:
        users = list(user_ids)
        sessions: dict[str, dict] = {u: {} for u in users}
        invalidated: dict[str, dict] = {u: {} for u in users}
        keys = {self.erasure_key(u): u for u in users}
        erased: dict[str, Any] = {}
        rows = await direct.run(conn, self._select_state, {"users": users, "hashes": list(keys)})
        for row in rows:
            kind = row["kind"]
            if kind == "s":
                sessions[row["user_id"]][row["session_id"]] = Session(
                    row["session_id"], row["completed_at"], row["occurred_at"],
                    self._to_facts(row),
                )
            elif kind == "i":
                invalidated[row["mark_key"]][row["mark_session_id"]] = row["mark_at"]
            else:
                erased[keys[row["mark_key"]]] = row["mark_at"]
        return {u: LearnerState(sessions[u], invalidated[u], erased.get(u)) for u in users}

    async def fold_batch(
        self,
        conn: AsyncConnection,
        events: Sequence[AnyEvent],
        summarize: Callable[[SessionCompletedV1], FactsT],
    ) -> tuple[dict[str, LearnerState[FactsT]], dict[str, LearnerState[FactsT]]]:
        """Fold a batch into each of its learners' stored states and save them; returns the
        states before and after, so the projection can update its read model from the change
        (an unchanged learner's state is the same object in both)."""
        grouped = by_learner(events)
        before = await self.load(conn, grouped)
        after = {u: fold(before[u], evs, summarize) for u, evs in grouped.items()}
        await self.save(conn, before, after)
        return before, after

    async def save(
        self,
        conn: AsyncConnection,
        before: Mapping[str, LearnerState[FactsT]],
        after: Mapping[str, LearnerState[FactsT]],
    ) -> None:
        new_sessions, gone_sessions, new_invalid, gone_invalid, erasures = [], [], [], [], []
        for user_id, new in after.items():
            old = before[user_id]
            if new is old:
                continue
            new_sessions += [
                {
                    "session_id": s.session_id,
                    "user_id": user_id,
                    "completed_at": s.completed_at,
                    "occurred_at": s.occurred_at,
                    **self._to_columns(s.facts),
                }
                for sid, s in new.sessions.items()
                if sid not in old.sessions
            ]
            gone_sessions += [(user_id, sid) for sid in old.sessions if sid not in new.sessions]
            new_invalid += [
                {"session_id": sid, "user_id": user_id, "occurred_at": at}
                for sid, at in new.invalidated.items()
                if old.invalidated.get(sid) != at
            ]
            gone_invalid += [
                (user_id, sid) for sid in old.invalidated if sid not in new.invalidated
            ]
            if new.erased_at != old.erased_at:
                erasures.append(
                    {"user_hash": self.erasure_key(user_id), "erased_at": new.erased_at}
                )
        await delete_pairs(conn, self.sessions, gone_sessions)
        await delete_pairs(conn, self.invalidations, gone_invalid)
        await insert_rows(conn, self._insert_sessions, self._session_columns, new_sessions)
        await insert_rows(conn, self._upsert_invalidations, INVALIDATION_COLUMNS, new_invalid,
                          unique=SESSION_KEY)
        await insert_rows(conn, self._upsert_erasures, ERASURE_COLUMNS, erasures)
