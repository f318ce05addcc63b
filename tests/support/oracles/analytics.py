"""Cohort and enterprise analytics for a set of published events, computed from scratch the
simplest way the CONTRACT reads ("Cohort analytics"), independently of the incremental
projection and of its rules (the difficulty is `missions.difficulty`, written from the
CONTRACT). Tests compare the projection and the read API with it.

Each group maps to the body the read API returns for it, without its id and freshness.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from statistics import fmean
from typing import Any

from schemas.registry import AnyEvent, LearnerErased, SessionCompleted, SessionInvalidated
from tests.support.oracles.missions import difficulty


def valid_sessions(events: Iterable[AnyEvent]) -> dict[str, list[SessionCompleted]]:
    """Learner -> their valid completed sessions (each session once), ignoring whatever
    occurred before the learner's latest erasure."""
    unique = list({e.event_id: e for e in events}.values())
    erased_at: dict[str, Any] = {}
    for e in unique:
        if isinstance(e, LearnerErased):
            erased_at[e.key] = max(erased_at.get(e.key, e.data.erased_at), e.data.erased_at)
    alive = [e for e in unique if e.key not in erased_at or e.occurred_at >= erased_at[e.key]]
    # Sessions are per learner: another learner's invalidation never retracts one.
    invalid = {(e.key, e.data.session_id) for e in alive if isinstance(e, SessionInvalidated)}
    sessions: dict[str, dict[Any, SessionCompleted]] = defaultdict(dict)
    for e in alive:
        if isinstance(e, SessionCompleted) and (e.key, e.data.session_id) not in invalid:
            sessions[e.key].setdefault(e.data.session_id, e)
    return {user: list(by_id.values()) for user, by_id in sessions.items()}


def _summary(current: list[SessionCompleted], completed: int) -> dict[str, Any]:
    difficulties = Counter(
        difficulty(s.data.recommended_level, s.data.overall_score) for s in current
    )
    skills: dict[str, list[float]] = defaultdict(list)
    for s in current:
        for skill, score in s.data.skill_scores.items():
            skills[skill].append(score)
    return {
        "learners": len(current),
        "sessions_completed": completed,
        "average_overall_score": (
            fmean(s.data.overall_score for s in current) if current else None
        ),
        "difficulty_distribution": {str(d): difficulties[d] for d in range(1, 6)},
        "skill_averages": {skill: fmean(scores) for skill, scores in sorted(skills.items())},
    }


def analytics(
    events: Iterable[AnyEvent],
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """(cohort id -> its analytics, enterprise id -> its analytics) for every group that has
    a current learner or a valid session. Cohorts also list `enterprise_ids` (of their current
    learners); enterprises list `cohorts` (cohort id and current learners of the enterprise)."""
    valid = valid_sessions(events)
    current = {
        user: max(sessions, key=lambda s: (s.data.completed_at, str(s.data.session_id)))
        for user, sessions in valid.items()
    }
    result = []
    for field in ("cohort_id", "enterprise_id"):
        completed = Counter(
            getattr(s.data, field) for sessions in valid.values() for s in sessions
        )
        members: dict[str, list[SessionCompleted]] = defaultdict(list)
        for s in current.values():
            members[getattr(s.data, field)].append(s)
        groups = (set(completed) | set(members)) - {None}
        result.append({g: _summary(members[g], completed[g]) for g in sorted(groups)})
    cohorts, enterprises = result
    for cohort_id, body in cohorts.items():
        body["enterprise_ids"] = sorted(
            {s.data.enterprise_id for s in current.values()
             if s.data.cohort_id == cohort_id and s.data.enterprise_id is not None}
        )
    for enterprise_id, body in enterprises.items():
        placed = Counter(
            s.data.cohort_id for s in current.values()
            if s.data.enterprise_id == enterprise_id and s.data.cohort_id is not None
        )
        body["cohorts"] = [{"cohort_id": c, "learners": n} for c, n in sorted(placed.items())]
    return cohorts, enterprises
