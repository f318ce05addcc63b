"""The bulk path's fold: every learner's whole history folded in memory with the lifecycle's
pure rules (`toolkit.lifecycle.fold`), then each projection's final rows from its own pure
`bulk_rows`. No I/O: `toolkit.streaming.bulk_load` reads the topics into it and COPYs out of it.

One fold serves every selected projection: a learner's state keeps each remembered session's
decoded payload (`SessionCompletedV1`) as its facts, and each projection summarizes it with its
own `session_facts` only when its rows are computed. What is held per learner: the payloads of
the sessions the lifecycle remembers (duplicates and erased ones are dropped as they are
folded), the time of each invalidation, the erasure time, and what a projection's
`bulk_observe` keeps (mentorship: each invalidation's reason). Events that are not a learner's
(assignment changes) are kept whole, in arrival order, for `bulk_totals`.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Table

from schemas.registry import AnyEvent
from schemas.session_completed import SessionCompletedV1
from toolkit.lifecycle import LearnerState, Session, fold
from toolkit.lifecycle_store import LifecycleStore
from toolkit.streaming.grouping import by_learner
from toolkit.streaming.projection import BulkRows, Projection

EMPTY: LearnerState[Any] = LearnerState()


def _keep(data: SessionCompletedV1) -> SessionCompletedV1:
    return data


@dataclass
class PartitionSeen:
    """What a projection's position row says of one partition after the bulk path."""

    end: int
    # Newest occurred_at of an applied event, per event type (a projection takes its types').
    newest: dict[str, datetime] = field(default_factory=dict)


@dataclass
class BulkFold:
    """Learner states of every learner seen so far, and the other events, for `projections`
    (the selected projections that keep learners)."""

    projections: Sequence[Projection]
    states: dict[str, LearnerState[SessionCompletedV1]] = field(default_factory=dict)
    # projection name -> user_id -> what its `bulk_observe` keeps of the learner
    notes: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Assignment changes, in arrival order.
    others: list[AnyEvent] = field(default_factory=list)
    # user_id -> (topic, event): lifecycle events on a topic other than the profiler topic
    # (CONTRACT puts them there; a producer may not), for the projections reading that topic.
    stray: dict[str, list[tuple[str, AnyEvent]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._observers = [p for p in self.projections if p.bulk_observe is not None]
        for p in self._observers:
            self.notes.setdefault(p.name, {})

    def add(self, events: Sequence[AnyEvent]) -> None:
        """Fold a batch of lifecycle events of the profiler topic (partition order kept)."""
        states = self.states
        for user_id, evs in by_learner(events).items():
            before = states.get(user_id, EMPTY)
            after = fold(before, evs, _keep)
            if after is not before:
                states[user_id] = after
                for p in self._observers:
                    notes = self.notes[p.name]
                    notes[user_id] = p.bulk_observe(notes.get(user_id), evs, before, after)

    def add_stray(self, topic: str, event: AnyEvent) -> None:
        self.stray.setdefault(event.key, []).append((topic, event))

    def erased_at(self) -> dict[str, datetime]:
        """Latest erasure of every erased learner (a stray one included)."""
        erased = {u: s.erased_at for u, s in self.states.items() if s.erased_at is not None}
        for user_id, strays in self.stray.items():
            state = fold(self.states.get(user_id, EMPTY), [e for _, e in strays], _keep)
            if state.erased_at is not None:
                erased[user_id] = state.erased_at
        return erased


def state_for(
    state: LearnerState[SessionCompletedV1], summarize: Callable[[SessionCompletedV1], Any]
) -> LearnerState[Any]:
    """The learner's state with each session's facts as one projection keeps them."""
    if not state.sessions:
        return state
    return LearnerState(
        {
            sid: Session(s.session_id, s.completed_at, s.occurred_at, summarize(s.facts))
            for sid, s in state.sessions.items()
        },
        state.invalidated,
        state.erased_at,
    )


class TableRows:
    """Rows per table as tuples in the table's column order (what COPY takes)."""

    def __init__(self) -> None:
        self.rows: dict[Table, list[tuple]] = {}
        self._getters: dict[Table, Callable[[Mapping[str, Any]], tuple]] = {}

    def add(self, table: Table, rows: Iterable[Mapping[str, Any]]) -> None:
        getter = self._getters.get(table)
        if getter is None:
            names = [c.name for c in table.columns]
            get = operator.itemgetter(*names)
            getter = self._getters[table] = (
                get if len(names) > 1 else lambda row, get=get: (get(row),)  # type: ignore[misc]
            )
        target = self.rows.setdefault(table, [])
        target += map(getter, rows)

    def take(self) -> dict[Table, list[tuple]]:
        rows, self.rows = self.rows, {}
        return rows


def _strays(fold_: BulkFold, topics: Collection[str]) -> dict[str, list[AnyEvent]]:
    return {
        u: evs for u, evs in ((u, [e for t, e in s if t in topics]) for u, s in fold_.stray.items())
        if evs
    }


def learners(fold_: BulkFold, topics: Collection[str]) -> list[str]:
    """Every learner a projection reading `topics` keeps something of."""
    states = fold_.states
    return [*states, *(u for u in _strays(fold_, topics) if u not in states)]


def learner_rows(
    fold_: BulkFold, projection: Projection, topics: Collection[str], bulk: BulkRows,
    users: Iterable[str] | None = None,
) -> None:
    """Hand the folded learners (`users`, default all) to one projection's `bulk.learner`,
    their state's facts as that projection keeps them. `topics`: the ones the projection reads
    (a stray lifecycle event counts only for the projections that read its topic)."""
    states = fold_.states
    notes = fold_.notes.get(projection.name, {})
    observe = projection.bulk_observe
    summarize = projection.session_facts
    strays = _strays(fold_, topics)
    for user_id in learners(fold_, topics) if users is None else users:
        state = states.get(user_id, EMPTY)
        note = notes.get(user_id)
        evs = strays.get(user_id)
        if evs:
            before, state = state, fold(state, evs, _keep)
            if observe is not None and state is not before:
                note = observe(note, evs, before, state)
        bulk.learner(user_id, state_for(state, summarize), note)


class LearnerBulk:
    """`BulkRows` of a projection that keeps learners in a `LifecycleStore`: its lifecycle
    rows, plus the read-model rows of `read_rows(out, user_id, state, note)`."""

    def __init__(self, store: LifecycleStore[Any], now: datetime) -> None:
        self.out = TableRows()
        self.now = now
        self._store = store

    def learner(self, user_id: str, state: LearnerState[Any], note: Any) -> None:
        store, out = self._store, self.out
        if state.sessions:
            out.add(store.sessions,
                    [store.session_row(user_id, s) for s in state.sessions.values()])
        if state.invalidated:
            out.add(store.invalidations, [
                {"user_id": user_id, "session_id": sid, "occurred_at": at}
                for sid, at in state.invalidated.items()
            ])
        if state.erased_at is not None:
            out.add(store.erasures, [
                {"user_hash": store.erasure_key(user_id), "erased_at": state.erased_at}
            ])
        self.read_rows(user_id, state, note)

    def read_rows(self, user_id: str, state: LearnerState[Any], note: Any) -> None:
        """The read model's rows of one learner (none here)."""

    def finish(self, others: Sequence[AnyEvent], erased_at: Mapping[str, datetime]) -> None:
        """No rows beyond the learners' here."""


def positions_rows(
    projection: Projection, topics: Collection[str],
    seen: Mapping[tuple[str, int], PartitionSeen], now: datetime,
) -> Iterator[dict[str, Any]]:
    """Next offsets at the end offsets read, for every partition that had records."""
    for (topic, partition), part in sorted(seen.items()):
        if topic not in topics:
            continue
        newest = [at for t, at in part.newest.items() if t in projection.event_types]
        yield {"topic": topic, "partition": partition, "next_offset": part.end,
               "last_event_at": max(newest, default=None), "updated_at": now}
