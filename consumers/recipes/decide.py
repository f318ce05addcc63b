"""What the recipes projection keeps of a learner: their current session as a profile.

Pure, no I/O. The lifecycle (current session, invalidation, erasure) is
`toolkit.lifecycle`'s; this module says which facts of a session matter and what the
read model holds once the current session is known.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from consumers.missions.decide import difficulty_for
from schemas.session_completed import SessionCompletedV1
from toolkit.lifecycle import LearnerState


@dataclass(frozen=True, slots=True)
class SessionProfile:
    """What the recipes projection keeps of each completed session."""

    track: str
    overall_score: float
    recommended_level: str | None
    cohort_id: str | None
    enterprise_id: str | None
    marketplace_opt_in: bool
    skill_scores: Mapping[str, float]


def session_facts(data: SessionCompletedV1) -> SessionProfile:
    return SessionProfile(
        data.track, data.overall_score, data.recommended_level, data.cohort_id,
        data.enterprise_id, data.marketplace_opt_in, dict(data.skill_scores),
    )


@dataclass(frozen=True, slots=True)
class Profile:
    """A learner's current session as the read model holds it."""

    session_id: UUID
    completed_at: datetime
    track: str
    overall_score: float
    recommended_level: str | None
    difficulty: int
    cohort_id: str | None
    enterprise_id: str | None
    marketplace_opt_in: bool
    skill_scores: Mapping[str, float]


def current_profile(state: LearnerState[SessionProfile]) -> Profile | None:
    """The profile of the learner's current session; None when they have none."""
    current = state.current()
    if current is None:
        return None
    f = current.facts
    return Profile(
        current.session_id, current.completed_at, f.track, f.overall_score,
        f.recommended_level, difficulty_for(f.recommended_level, f.overall_score),
        f.cohort_id, f.enterprise_id, f.marketplace_opt_in, f.skill_scores,
    )
