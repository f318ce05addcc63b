"""Mission difficulty (CONTRACT, "Mission difficulty"), written from the CONTRACT's table:
not `consumers.missions.decide.difficulty_for`, so a slip in that rule fails the comparison."""

from __future__ import annotations

from collections.abc import Iterable

from schemas.registry import AnyEvent
from tests.support.oracles.sessions import current_sessions

# CONTRACT: novice→1, beginner→2, intermediate→3, advanced→4, expert→5.
LEVELS = ("novice", "beginner", "intermediate", "advanced", "expert")
# CONTRACT: overall_score bands [0,20)→1, [20,40)→2, [40,60)→3, [60,80)→4, [80,100]→5, as
# (lowest score of the band, difficulty).
SCORE_BANDS = ((80.0, 5), (60.0, 4), (40.0, 3), (20.0, 2), (0.0, 1))


def difficulty(recommended_level: str | None, overall_score: float) -> int:
    """The difficulty a session gives: its recommended level when present, else its band."""
    if recommended_level is not None:
        return LEVELS.index(recommended_level) + 1
    return next(level for lowest, level in SCORE_BANDS if overall_score >= lowest)


def difficulties(events: Iterable[AnyEvent]) -> dict[str, int]:
    """Learner -> difficulty, for learners with a current session (others are 1, default)."""
    return {
        user: difficulty(e.data.recommended_level, e.data.overall_score)
        for user, e in current_sessions(events).items()
    }
