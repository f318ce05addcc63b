"""The learner lifecycle every profiler projection follows (CONTRACT, "Semantics").

Pure: a learner's state is folded from their events in any order, with any duplicates, and
always ends the same. The rules:
- a completed session counts unless an invalidation of it exists (whichever came first); of
  several invalidations of one session the latest `occurred_at` is remembered (the earliest
  would not be order-free: an erasure between two invalidations forgets the earlier one, and
  had it replaced the later one first, nothing would remain);
- the current session is the valid one with the greatest (completed_at, session_id);
- an erasure forgets every event of the learner that occurred before `erased_at`, and such
  events arriving later are ignored.

Learners never share a session. A session is identified by `(user_id, session_id)`: the
`session_id` alone means nothing outside its learner. Two learners whose events name the same
`session_id` (a buggy or hostile producer; CONTRACT makes it unique per session) have two
unrelated sessions, and each learner's projections are exactly what they would be without the
other learner's events, whatever the arrival order. Every stored row and every id derived from
a session (the portfolio's `item_id`) is therefore keyed by the pair, never by `session_id`
alone; an invalidation retracts only its own learner's session of that id.

Erasures are remembered under `erasure_key(user_id, key)`, a keyed hash (HMAC-SHA256 with the
hub's secret `HUB_ERASURE_KEY`): without the key the erased ids cannot be recovered by hashing
guesses, as they could from a plain SHA-256.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Generic, TypeVar
from uuid import UUID

from schemas.registry import AnyEvent, LearnerErased, SessionCompleted, SessionInvalidated
from schemas.session_completed import SessionCompletedV1

FactsT = TypeVar("FactsT")


@dataclass(frozen=True, slots=True)
class Session(Generic[FactsT]):
    session_id: UUID
    completed_at: datetime
    occurred_at: datetime
    facts: FactsT

    @property
    def rank(self) -> tuple[datetime, UUID]:
        # UUIDs order as their canonical strings do (fixed-width lowercase hex), without
        # formatting one per comparison.
        return (self.completed_at, self.session_id)


@dataclass(frozen=True, slots=True)
class LearnerState(Generic[FactsT]):
    sessions: Mapping[UUID, Session[FactsT]] = field(default_factory=dict)
    # session_id -> when the invalidation occurred
    invalidated: Mapping[UUID, datetime] = field(default_factory=dict)
    erased_at: datetime | None = None

    def current(self) -> Session[FactsT] | None:
        invalidated = self.invalidated
        return max(
            (s for s in self.sessions.values() if s.session_id not in invalidated),
            key=_rank, default=None,
        )


def _rank(session: Session) -> tuple[datetime, UUID]:
    return (session.completed_at, session.session_id)


def erasure_key(user_id: str, key: bytes) -> str:
    """Keyed one-way hash under which an erasure is remembered without keeping the id.

    HMAC over the id's SHA-256 hex digest rather than the id itself: the rows stored before
    the key existed hold that digest, so a migration can rehash them without the ids.
    """
    digest = hashlib.sha256(user_id.encode()).hexdigest()
    return hmac.new(key, digest.encode(), hashlib.sha256).hexdigest()


def apply(
    state: LearnerState[FactsT],
    event: AnyEvent,
    summarize: Callable[[SessionCompletedV1], FactsT],
) -> LearnerState[FactsT]:
    """The learner's state after `event`; events of other types leave it unchanged."""
    if state.erased_at is not None and event.occurred_at < state.erased_at:
        return state
    if isinstance(event, SessionCompleted):
        data = event.data
        if data.session_id in state.sessions:
            return state
        session = Session(data.session_id, data.completed_at, event.occurred_at, summarize(data))
        return replace(state, sessions={**state.sessions, data.session_id: session})
    if isinstance(event, SessionInvalidated):
        # Of several invalidations of one session the latest is remembered: the erasure's
        # filter (`t >= erased_at`) keeps the latest whenever it keeps any, so order is moot.
        known = state.invalidated.get(event.data.session_id)
        if known is not None and known >= event.occurred_at:
            return state
        return replace(
            state, invalidated={**state.invalidated, event.data.session_id: event.occurred_at}
        )
    if isinstance(event, LearnerErased):
        erased_at = event.data.erased_at
        if state.erased_at is not None and erased_at <= state.erased_at:
            return state
        return LearnerState(
            sessions={k: s for k, s in state.sessions.items() if s.occurred_at >= erased_at},
            invalidated={k: t for k, t in state.invalidated.items() if t >= erased_at},
            erased_at=erased_at,
        )
    return state


def fold(
    state: LearnerState[FactsT],
    events: Iterable[AnyEvent],
    summarize: Callable[[SessionCompletedV1], FactsT],
) -> LearnerState[FactsT]:
    """`apply` of each event in turn, with one working copy instead of one state per event
    (the replay hot path); returns `state` itself when nothing changed."""
    sessions, invalidated = dict(state.sessions), dict(state.invalidated)
    erased_at = state.erased_at
    changed = False
    for event in events:
        occurred_at = event.occurred_at
        if erased_at is not None and occurred_at < erased_at:
            continue
        if isinstance(event, SessionCompleted):
            data = event.data
            if data.session_id not in sessions:
                sessions[data.session_id] = Session(
                    data.session_id, data.completed_at, occurred_at, summarize(data)
                )
                changed = True
        elif isinstance(event, SessionInvalidated):
            session_id = event.data.session_id
            known = invalidated.get(session_id)
            if known is None or occurred_at > known:  # the latest (see `apply`)
                invalidated[session_id] = occurred_at
                changed = True
        elif isinstance(event, LearnerErased):
            at = event.data.erased_at
            if erased_at is None or at > erased_at:
                sessions = {k: s for k, s in sessions.items() if s.occurred_at >= at}
                invalidated = {k: t for k, t in invalidated.items() if t >= at}
                erased_at = at
                changed = True
    return LearnerState(sessions, invalidated, erased_at) if changed else state
