"""Each learner's current session (CONTRACT, "Semantics the projections follow"), read from
the whole history at once; the other oracles build on it."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from schemas.registry import AnyEvent, LearnerErased, SessionCompleted, SessionInvalidated


def current_sessions(events: Iterable[AnyEvent]) -> dict[str, SessionCompleted]:
    """Each learner's current session: valid, greatest (completed_at, session_id), ignoring
    whatever occurred before the learner's latest erasure."""
    events = list({e.event_id: e for e in events}.values())
    erased_at: dict[str, datetime] = {}
    for e in events:
        if isinstance(e, LearnerErased):
            erased_at[e.key] = max(erased_at.get(e.key, e.data.erased_at), e.data.erased_at)
    alive = [e for e in events if e.key not in erased_at or e.occurred_at >= erased_at[e.key]]
    # A session is its learner's: an invalidation retracts only its own learner's session.
    invalid = {(e.key, e.data.session_id) for e in alive if isinstance(e, SessionInvalidated)}
    current: dict[str, SessionCompleted] = {}
    for e in alive:
        if not isinstance(e, SessionCompleted) or (e.key, e.data.session_id) in invalid:
            continue
        best = current.get(e.key)
        rank = (e.data.completed_at, str(e.data.session_id))
        if best is None or rank > (best.data.completed_at, str(best.data.session_id)):
            current[e.key] = e
    return current
