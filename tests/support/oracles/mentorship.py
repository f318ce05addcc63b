"""What the mentorship projection must serve for a set of published events, computed the
simplest way from the CONTRACT (whole history at once, independently of the projection's
incremental code). Tests compare the projection and the API with it.

Reading of the CONTRACT used here (and by the projection):
- an event is forgotten when it occurred before the latest erasure of anyone it concerns (the
  learner; for an assignment change, its mentor or its mentee);
- per (mentor, mentee) the change with the newest `changed_at` wins; on a tie, inactive wins;
- a mentee's results list every remembered completed session, newest (completed_at,
  session_id) first, each with its invalidation if one is remembered. Producers invalidate a
  session once (re-deliveries share the event_id); were there several, the one that
  occurred latest counts (the lifecycle's rule); of several at the very same time the
  projection keeps the first to arrive, which no whole-history reading can know.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from pydantic_core import to_jsonable_python

from consumers.recipes.catalog import Catalog  # the catalog data (shared), no rule used
from schemas.registry import (
    AnyEvent,
    LearnerErased,
    MentorshipAssignmentChanged,
    SessionCompleted,
    SessionInvalidated,
)
from tests.support.oracles.recipes import skill_gaps
from tests.support.oracles.sessions import current_sessions

Pair = tuple[str, str]  # (mentor_id, mentee_id)


def remembered(events: Iterable[AnyEvent]) -> list[AnyEvent]:
    """Each fact once, minus what occurred before an erasure of someone it concerns."""
    unique = list({e.event_id: e for e in events}.values())
    erased_at: dict[str, datetime] = {}
    for e in unique:
        if isinstance(e, LearnerErased):
            erased_at[e.key] = max(erased_at.get(e.key, e.data.erased_at), e.data.erased_at)

    def concerns(e: AnyEvent) -> tuple[str, ...]:
        if isinstance(e, MentorshipAssignmentChanged):
            return (e.data.mentor_id, e.data.mentee_id)
        return (e.key,)

    return [
        e for e in unique
        if all(e.occurred_at >= erased_at[p] for p in concerns(e) if p in erased_at)
    ]


def assignments(events: Iterable[AnyEvent]) -> dict[Pair, tuple[bool, datetime]]:
    """(mentor, mentee) -> (active, changed_at) of the winning change."""
    best: dict[Pair, MentorshipAssignmentChanged] = {}
    for e in remembered(events):
        if not isinstance(e, MentorshipAssignmentChanged):
            continue
        pair = (e.data.mentor_id, e.data.mentee_id)
        held = best.get(pair)
        if held is None or (e.data.changed_at, not e.data.active) > (
            held.data.changed_at, not held.data.active
        ):
            best[pair] = e
    return {pair: (e.data.active, e.data.changed_at) for pair, e in best.items()}


def mentee_results(events: Iterable[AnyEvent], catalog: Catalog) -> dict[str, dict[str, Any]]:
    """Mentee -> the JSON body of `GET /api/v1/profiler/mentees/{mentee_id}/results`, for every
    learner with a remembered session or assignment (the others are unknown: 404)."""
    events = list(events)
    alive = remembered(events)
    invalidations = {}
    for invalidation in sorted(  # the earliest first, so the latest stays (per learner)
        (e for e in alive if isinstance(e, SessionInvalidated)),
        key=lambda e: (e.occurred_at, str(e.event_id)),
    ):
        invalidations[(invalidation.key, invalidation.data.session_id)] = invalidation.data
    sessions: dict[str, dict] = {}
    for e in alive:
        if isinstance(e, SessionCompleted):
            sessions.setdefault(e.key, {}).setdefault(e.data.session_id, e.data)
    current = {user: e.data.session_id for user, e in current_sessions(events).items()}

    def session(data) -> dict[str, Any]:
        invalid = invalidations.get((data.user_id, data.session_id))
        return {
            "session_id": data.session_id,
            "track": data.track,
            "completed_at": data.completed_at.astimezone(UTC),
            "overall_score": data.overall_score,
            "recommended_level": data.recommended_level,
            "skill_scores": dict(data.skill_scores),
            "cohort_id": data.cohort_id,
            "enterprise_id": data.enterprise_id,
            "gaps": gaps(catalog, data.track, data.skill_scores),
            "anti_cheat": {
                "duration_seconds": data.anti_cheat.duration_seconds,
                "flags": list(data.anti_cheat.flags),
                "suspicion_score": data.anti_cheat.suspicion_score,
            },
            "invalidated": None if invalid is None else {
                "reason": invalid.reason,
                "invalidated_at": invalid.invalidated_at.astimezone(UTC),
            },
        }

    mentees = set(sessions) | {mentee for _, mentee in assignments(events)}
    out = {}
    for mentee in mentees:
        own = sorted(
            sessions.get(mentee, {}).values(),
            key=lambda d: (d.completed_at, str(d.session_id)), reverse=True,
        )
        chosen = current.get(mentee)
        out[mentee] = to_jsonable_python({
            "mentee_id": mentee,
            "current_session": next(
                (session(d) for d in own if d.session_id == chosen), None
            ),
            "sessions": [session(d) for d in own],
        })
    return out


def gaps(catalog: Catalog, track: str, scores: dict[str, float]) -> list[dict[str, Any]]:
    """CONTRACT "Skill gaps" as the endpoint shows them (the recipes oracle's reading, not
    the recipe engine's `skill_gaps`)."""
    return [
        {"skill": skill, "score": score, "target": target, "gap": gap,
         "recipe_skill_codes": codes}
        for skill, score, target, gap, codes in skill_gaps(catalog, track, scores)
    ]
