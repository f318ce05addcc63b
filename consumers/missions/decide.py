"""Mission difficulty (CONTRACT, "Mission difficulty"): pure rules, no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from schemas.session_completed import SessionCompletedV1
from toolkit.lifecycle import LearnerState

DEFAULT_DIFFICULTY = 1
LEVEL_DIFFICULTY: Mapping[str, int] = {
    "novice": 1,
    "beginner": 2,
    "intermediate": 3,
    "advanced": 4,
    "expert": 5,
}


def difficulty_for(recommended_level: str | None, overall_score: float) -> int:
    """Recommended level when present, else the overall-score band [0,20)→1 … [80,100]→5."""
    if recommended_level is not None:
        return LEVEL_DIFFICULTY[recommended_level]
    return min(5, int(overall_score // 20) + 1)


@dataclass(frozen=True, slots=True)
class SessionDifficulty:
    """What the missions projection keeps of a completed session."""

    difficulty: int
    cohort_id: str | None
    enterprise_id: str | None


def session_facts(data: SessionCompletedV1) -> SessionDifficulty:
    return SessionDifficulty(
        difficulty_for(data.recommended_level, data.overall_score),
        data.cohort_id,
        data.enterprise_id,
    )


@dataclass(frozen=True, slots=True)
class Difficulty:
    difficulty: int
    source: str  # "profiler" or "default"
    session_id: UUID | None = None
    completed_at: datetime | None = None
    cohort_id: str | None = None
    enterprise_id: str | None = None


def learner_difficulty(state: LearnerState[SessionDifficulty]) -> Difficulty:
    current = state.current()
    if current is None:
        return Difficulty(DEFAULT_DIFFICULTY, "default")
    facts = current.facts
    return Difficulty(
        facts.difficulty, "profiler", current.session_id, current.completed_at,
        facts.cohort_id, facts.enterprise_id,
    )
