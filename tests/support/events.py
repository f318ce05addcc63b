"""Small builders of valid events for tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from schemas.learner_erased import LearnerErasedV1
from schemas.mentorship_assignment_changed import MentorshipAssignmentChangedV1
from schemas.registry import new_event
from schemas.session_completed import SessionCompletedV1
from schemas.session_invalidated import SessionInvalidatedV1

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def completed(
    user_id: str,
    *,
    minute: float,
    level: str | None = "intermediate",
    score: float = 50.0,
    session_id: uuid.UUID | None = None,
    cohort_id: str | None = "cohort-01",
    enterprise_id: str | None = "enterprise-a",
    occurred_minute: float | None = None,
    event_id: uuid.UUID | None = None,
    opt_in: bool = False,
):
    data = SessionCompletedV1(
        session_id=session_id or uuid.uuid4(),
        user_id=user_id,
        cohort_id=cohort_id,
        enterprise_id=enterprise_id,
        track="defender",
        completed_at=at(minute),
        overall_score=score,
        recommended_level=level,
        skill_scores={"network_security": score, "incident_response": min(100.0, score + 5)},
        value_answers={"core_values": ["integrity"], "motivation": "m", "impact_goal": "g"},
        anti_cheat={"duration_seconds": 900, "flags": [], "suspicion_score": 0.05},
        marketplace_opt_in=opt_in,
    )
    return new_event(
        data,
        event_id=event_id or uuid.uuid4(),
        occurred_at=at(minute if occurred_minute is None else occurred_minute),
    )


def invalidated(
    user_id: str, session_id: uuid.UUID, *, minute: float, event_id: uuid.UUID | None = None
):
    data = SessionInvalidatedV1(
        session_id=session_id,
        user_id=user_id,
        reason="anti-cheat review",
        invalidated_at=at(minute),
    )
    return new_event(data, event_id=event_id or uuid.uuid4(), occurred_at=at(minute))


def assignment(mentor_id: str, mentee_id: str, *, active: bool, minute: float):
    data = MentorshipAssignmentChangedV1(
        mentor_id=mentor_id, mentee_id=mentee_id, active=active, changed_at=at(minute)
    )
    return new_event(data, event_id=uuid.uuid4(), occurred_at=at(minute))


def erased(user_id: str, *, minute: float, event_id: uuid.UUID | None = None):
    data = LearnerErasedV1(user_id=user_id, erased_at=at(minute))
    return new_event(data, event_id=event_id or uuid.uuid4(), occurred_at=at(minute))
