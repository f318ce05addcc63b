"""How many valid sessions a learner completed: pure rules, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from schemas.session_completed import SessionCompletedV1
from toolkit.lifecycle import LearnerState


@dataclass(frozen=True, slots=True)
class Placement:
    """What the session-count projection keeps of a completed session."""

    cohort_id: str | None
    enterprise_id: str | None


def session_facts(data: SessionCompletedV1) -> Placement:
    return Placement(data.cohort_id, data.enterprise_id)


@dataclass(frozen=True, slots=True)
class Count:
    sessions: int
    latest_completed_at: datetime
    cohort_id: str | None
    enterprise_id: str | None


def learner_count(state: LearnerState[Placement]) -> Count | None:
    """The valid (not invalidated) sessions and the current one's placement; None without."""
    current = state.current()
    if current is None:
        return None
    valid = sum(1 for sid in state.sessions if sid not in state.invalidated)
    return Count(valid, current.completed_at, current.facts.cohort_id,
                 current.facts.enterprise_id)
