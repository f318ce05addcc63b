"""Portfolio projection: value statement items per session and each learner's current one."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncConnection

from consumers.portfolio import tables
from consumers.portfolio.decide import (
    PortfolioItem,
    SessionStatement,
    item_id_for,
    make_facts,
    portfolio_items,
    session_facts,
)
from schemas.registry import AnyEvent
from toolkit.lifecycle import LearnerState
from toolkit.lifecycle_store import ColumnsRow, LifecycleStore
from toolkit.streaming.bulk_fold import LearnerBulk
from toolkit.streaming.projection import LearnerProjection
from toolkit.streaming.setsql import any_of, insert_rows, unnest_insert

ITEM_COLUMNS = (
    "user_id", "profiler_session_id", "title", "statement", "track", "core_values",
    "motivation", "impact_goal", "status", "created_at", "withdrawn_at",
)
CURRENT_COLUMNS = ("item_id", "cohort_id", "enterprise_id", "updated_at")

_items = unnest_insert(tables.items, ("item_id", *ITEM_COLUMNS))
UPSERT_ITEMS = _items.on_conflict_do_update(
    index_elements=["item_id"],
    set_={c: _items.excluded[c] for c in ITEM_COLUMNS},
)
_current = unnest_insert(tables.current_statements, ("user_id", *CURRENT_COLUMNS))
UPSERT_CURRENT = _current.on_conflict_do_update(
    index_elements=["user_id"], set_={c: _current.excluded[c] for c in CURRENT_COLUMNS}
)


def facts_to_columns(facts: SessionStatement) -> dict[str, Any]:
    return {
        "track": facts.track, "core_values": list(facts.core_values),
        "motivation": facts.motivation, "impact_goal": facts.impact_goal,
        "cohort_id": facts.cohort_id, "enterprise_id": facts.enterprise_id,
    }


def columns_to_facts(row: ColumnsRow) -> SessionStatement:
    return make_facts(
        row["track"], tuple(row["core_values"]), row["motivation"], row["impact_goal"],
        row["cohort_id"], row["enterprise_id"],
    )


def item_row(user_id: str, item: PortfolioItem) -> dict[str, Any]:
    facts = item.facts
    return {
        "item_id": item.item_id, "user_id": user_id,
        "profiler_session_id": item.profiler_session_id, "title": facts.title,
        "statement": facts.statement, "track": facts.track,
        "core_values": list(facts.core_values), "motivation": facts.motivation,
        "impact_goal": facts.impact_goal, "status": item.status,
        "created_at": item.created_at, "withdrawn_at": item.withdrawn_at,
    }


def current_key(
    user_id: str, state: LearnerState[SessionStatement]
) -> tuple[UUID, str | None, str | None] | None:
    """What the learner's `current_statements` row holds (None: no row)."""
    session = state.current()
    if session is None:
        return None
    facts = session.facts
    return item_id_for(user_id, session.session_id), facts.cohort_id, facts.enterprise_id


def current_row(user_id: str, key: tuple[UUID, str | None, str | None], now: datetime) -> dict:
    item_id, cohort_id, enterprise_id = key
    return {"user_id": user_id, "item_id": item_id, "cohort_id": cohort_id,
            "enterprise_id": enterprise_id, "updated_at": now}


class PortfolioBulk(LearnerBulk):
    def read_rows(self, user_id: str, state: LearnerState[SessionStatement], note: None) -> None:
        items = portfolio_items(user_id, state)
        if items:
            self.out.add(tables.items, [item_row(user_id, item) for item in items.values()])
        key = current_key(user_id, state)
        if key is not None:
            self.out.add(tables.current_statements, [current_row(user_id, key, self.now)])


class PortfolioProjection(LearnerProjection):
    name = "portfolio"
    metadata = tables.metadata
    positions = tables.positions

    def __init__(self, erasure_secret: bytes | None) -> None:
        # Settings.erasure_secret; None builds a projection for its name, topics and tables
        # only, which BatchApplier refuses.
        self.erasure_secret = erasure_secret
        self._store: LifecycleStore[SessionStatement] = LifecycleStore(
            tables.sessions, tables.invalidations, tables.erasures,
            facts_to_columns=facts_to_columns, columns_to_facts=columns_to_facts,
            erasure_secret=erasure_secret,
        )

    session_facts = staticmethod(session_facts)

    def bulk(self, now: datetime) -> PortfolioBulk:
        return PortfolioBulk(self._store, now)

    async def apply(self, conn: AsyncConnection, events: Sequence[AnyEvent]) -> None:
        before, after = await self._store.fold_batch(conn, events, session_facts)

        now = datetime.now(UTC)
        item_upserts, items_gone, current_upserts, current_gone = [], [], [], []
        for user_id, state in after.items():
            old = before[user_id]
            if state is old:
                continue
            old_items = portfolio_items(user_id, old)
            new_items = portfolio_items(user_id, state)
            item_upserts += [
                item_row(user_id, item)
                for sid, item in new_items.items()
                if old_items.get(sid) != item
            ]
            items_gone += [item.item_id for sid, item in old_items.items() if sid not in new_items]
            key, old_key = current_key(user_id, state), current_key(user_id, old)
            if key == old_key:
                continue
            if key is None:
                current_gone.append(user_id)
            else:
                current_upserts.append(current_row(user_id, key, now))
        await self._write_items(conn, item_upserts, items_gone)
        await self._write_current(conn, current_upserts, current_gone)

    async def _write_items(self, conn: AsyncConnection, upserts: list, gone: list) -> None:
        table = tables.items
        if gone:
            await conn.execute(delete(table).where(any_of(table.c.item_id, gone)))
        await insert_rows(conn, UPSERT_ITEMS, ("item_id", *ITEM_COLUMNS), upserts,
                          unique=("item_id",))

    async def _write_current(self, conn: AsyncConnection, upserts: list, gone: list) -> None:
        table = tables.current_statements
        if gone:
            await conn.execute(delete(table).where(any_of(table.c.user_id, gone)))
        await insert_rows(conn, UPSERT_CURRENT, ("user_id", *CURRENT_COLUMNS), upserts,
                          last=True)  # apply's last statement: rides in the advance
